package codexhome

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// refreshFixture is an auth.json as the Codex CLI writes it, with unknown
// members inside tokens and at the top level.
const refreshFixture = `{
  "auth_mode": "chatgpt",
  "OPENAI_API_KEY": null,
  "tokens": {
    "id_token": "old-id",
    "access_token": "old-access",
    "refresh_token": "old-refresh",
    "account_id": "acc-1",
    "x_future": {
      "nested": [
        1,
        2.50,
        "\u00e9"
      ]
    }
  },
  "last_refresh": "2020-01-01T00:00:00Z",
  "personal_access_token": null,
  "bedrock_api_key": "keep\u0021me"
}`

// newIDToken is an id token as ChatGPTLogin reads it (payload
// {"email":"a@example.com"}, never verified).
const newIDToken = "e30.eyJlbWFpbCI6ImFAZXhhbXBsZS5jb20ifQ.c2ln"

func TestSetRefreshedTokens(t *testing.T) {
	at := time.Date(2026, 12, 1, 22, 30, 5, 232376000, time.FixedZone("x", 3600))
	tests := []struct {
		name                   string
		in                     Tokens
		wantID, wantAT, wantRT string
	}{
		{"all three", Tokens{IDToken: NewSecret(newIDToken), AccessToken: NewSecret("new-access"), RefreshToken: NewSecret("new-refresh")}, newIDToken, "new-access", "new-refresh"},
		{"access only", Tokens{AccessToken: NewSecret("new-access")}, "old-id", "new-access", "old-refresh"},
		{"the stored account given", Tokens{AccessToken: NewSecret("new-access"), AccountID: "acc-1"}, "old-id", "new-access", "old-refresh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			path := filepath.Join(home, "auth.json")
			require.NoError(t, os.WriteFile(path, []byte(refreshFixture), 0o600))
			s := OpenStore(home)
			require.NoError(t, s.Update(context.Background(), func(f *AuthFile) error {
				return f.SetRefreshedTokens(tt.in, at)
			}))
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			text := string(data)
			// Unknown members, of tokens and of the file, byte for byte.
			for _, keep := range []string{
				"    \"x_future\": {\n      \"nested\": [\n        1,\n        2.50,\n        \"\\u00e9\"\n      ]\n    }\n  },",
				"  \"personal_access_token\": null,\n  \"bedrock_api_key\": \"keep\\u0021me\"\n}",
				"\"account_id\": \"acc-1\",",
			} {
				assert.Contains(t, text, keep)
			}
			f, err := s.Read()
			require.NoError(t, err)
			tok := f.Tokens()
			require.NotNil(t, tok)
			assert.Equal(t, tt.wantID, tok.IDToken.Reveal())
			assert.Equal(t, tt.wantAT, tok.AccessToken.Reveal())
			assert.Equal(t, tt.wantRT, tok.RefreshToken.Reveal())
			assert.Equal(t, "acc-1", tok.AccountID)
			assert.Equal(t, []string{"auth_mode", "OPENAI_API_KEY", "tokens", "last_refresh", "personal_access_token", "bedrock_api_key"}, f.memberNames())
			var m map[string]any
			require.NoError(t, json.Unmarshal(data, &m))
			assert.Equal(t, "2026-12-01T21:30:05.232376Z", m["last_refresh"])
			got, ok := f.LastRefresh()
			require.True(t, ok)
			assert.True(t, got.Equal(at))
			assert.Equal(t, tt.wantAT != "old-access", !strings.Contains(text, "\"old-access\""))
		})
	}
}

func TestSetRefreshedTokensRefusesAFileWithoutLogin(t *testing.T) {
	for _, tt := range []struct{ name, file string }{
		{"no tokens", `{"OPENAI_API_KEY":"sk"}`},
		{"null tokens", `{"tokens":null}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseAuthFile([]byte(tt.file))
			require.NoError(t, err)
			err = f.SetRefreshedTokens(Tokens{AccessToken: NewSecret("a")}, time.Now())
			require.ErrorIs(t, err, ErrInvalidValue)
			assert.False(t, f.dirty)
		})
	}
}

func TestFormatLastRefresh(t *testing.T) {
	base := time.Date(2025, 8, 6, 20, 41, 36, 0, time.UTC)
	for _, tt := range []struct {
		name string
		ns   int
		want string
	}{
		{"whole seconds", 0, "2025-08-06T20:41:36Z"},
		{"milliseconds", 232000000, "2025-08-06T20:41:36.232Z"},
		{"microseconds", 232376000, "2025-08-06T20:41:36.232376Z"},
		{"nanoseconds", 232376001, "2025-08-06T20:41:36.232376001Z"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := formatLastRefresh(base.Add(time.Duration(tt.ns)))
			assert.Equal(t, tt.want, got)
			back, err := time.Parse(time.RFC3339Nano, got)
			require.NoError(t, err)
			assert.True(t, back.Equal(base.Add(time.Duration(tt.ns))))
		})
	}
}

func TestLastRefresh(t *testing.T) {
	for _, tt := range []struct {
		name, file string
		ok         bool
	}{
		{"present", `{"last_refresh":"2025-08-06T20:41:36.232376Z"}`, true},
		{"absent", `{}`, false},
		{"null", `{"last_refresh":null}`, false},
		{"not a time", `{"last_refresh":"yesterday"}`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseAuthFile([]byte(tt.file))
			require.NoError(t, err)
			_, ok := f.LastRefresh()
			assert.Equal(t, tt.ok, ok)
		})
	}
}

// TestSetRefreshedTokensRefusesWhatItsReadersRefuse: a refresh answer whose
// tokens could not be sent as a header, or whose id token ChatGPTLogin
// would refuse, is not written; the old file stays.
func TestSetRefreshedTokensRefusesWhatItsReadersRefuse(t *testing.T) {
	tests := []struct {
		name string
		in   Tokens
	}{
		{"access token with a newline", Tokens{AccessToken: NewSecret("at\r\nX-Evil: 1")}},
		{"refresh token with a space", Tokens{RefreshToken: NewSecret("rt rt")}},
		{"access token not ASCII", Tokens{AccessToken: NewSecret("at\u00e9")}},
		{"id token not a JWT", Tokens{IDToken: NewSecret("not-a-jwt"), AccessToken: NewSecret("zq-access-77")}},
		{"id token payload not JSON", Tokens{IDToken: NewSecret("e30.bm9wZQ.c2ln")}},
		{"another account", Tokens{AccessToken: NewSecret("zq-access-78"), AccountID: "acct-other"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			path := filepath.Join(home, "auth.json")
			require.NoError(t, os.WriteFile(path, []byte(refreshFixture), 0o600))
			err := OpenStore(home).Update(context.Background(), func(f *AuthFile) error {
				return f.SetRefreshedTokens(tt.in, time.Now())
			})
			require.ErrorIs(t, err, ErrInvalidValue)
			assert.NotErrorIs(t, err, ErrCorruptAuthFile, "the file on disk is not corrupt")
			for _, v := range []Secret{tt.in.IDToken, tt.in.AccessToken, tt.in.RefreshToken} {
				if !v.IsZero() {
					assert.NotContains(t, err.Error(), v.Reveal(), "no token in the message")
				}
			}
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, refreshFixture, string(data), "the old file is left as it was")
		})
	}
}
