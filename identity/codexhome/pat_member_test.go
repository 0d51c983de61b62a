package codexhome

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// patMember is a personal_access_token member as `codex login
// --with-access-token` could have written it, with escapes that a
// re-encoding would change.
const patMember = `"personal_access_token": "at-\u0041bc\/d_e"`

// TestPersonalAccessTokenMemberKept: every rewrite of auth.json keeps the
// personal_access_token member (unknown to this package) byte for byte,
// in its place, through each setter and through Store.Update
// (docs/protocol.md#personal-access-tokens).
func TestPersonalAccessTokenMemberKept(t *testing.T) {
	file := `{
  "auth_mode": "chatgpt",
  "OPENAI_API_KEY": null,
  "tokens": {
    "id_token": "old-id",
    "access_token": "old-access",
    "refresh_token": "old-refresh",
    "account_id": "acc-1"
  },
  "last_refresh": "2020-01-01T00:00:00Z",
  ` + patMember + `
}`
	tests := []struct {
		name string
		edit func(f *AuthFile) error
	}{
		{"SetAgentIdentityRecord", func(f *AuthFile) error {
			return f.SetAgentIdentityRecord(&AgentIdentityRecord{AgentRuntimeID: "a", AgentPrivateKey: NewSecret("k"), Account: Account{AccountID: "acc-1", UserID: "u"}})
		}},
		{"SetAgentIdentityJWT", func(f *AuthFile) error { return f.SetAgentIdentityJWT(NewSecret("h.p.s")) }},
		{"ClearAgentIdentity after a record", func(f *AuthFile) error {
			if err := f.SetAgentIdentityRecord(&AgentIdentityRecord{AgentRuntimeID: "a", AgentPrivateKey: NewSecret("k")}); err != nil {
				return err
			}
			f.ClearAgentIdentity()
			return nil
		}},
		{"SetRefreshedTokens", func(f *AuthFile) error {
			return f.SetRefreshedTokens(Tokens{AccessToken: NewSecret("new-access"), RefreshToken: NewSecret("new-refresh")}, time.Unix(1_800_000_000, 0))
		}},
		{"SetAuthMode", func(f *AuthFile) error { return f.SetAuthMode("agentIdentity") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseAuthFile([]byte(file))
			require.NoError(t, err)
			require.NoError(t, tt.edit(f))
			out, err := f.Marshal()
			require.NoError(t, err)
			assert.Equal(t, 1, strings.Count(string(out), patMember), "kept byte for byte:\n%s", out)

			// The same through the store, as Load and the CLI rewrite it.
			home := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(home, "auth.json"), []byte(file), 0o600))
			require.NoError(t, OpenStore(home).Update(context.Background(), tt.edit))
			data, err := os.ReadFile(filepath.Join(home, "auth.json"))
			require.NoError(t, err)
			assert.Equal(t, 1, strings.Count(string(data), patMember), "kept byte for byte on disk:\n%s", data)
		})
	}
}

// TestPersonalAccessToken: the member is read in the file's one walk: a
// string is returned (unjudged), absent, null and "" are no token, and any
// other type makes the file corrupt, naming the member and not the value.
func TestPersonalAccessToken(t *testing.T) {
	tests := []struct {
		name    string
		member  string // "" for none
		want    string
		ok      bool
		corrupt bool
	}{
		{name: "absent"},
		{name: "null", member: `null`},
		{name: "empty", member: `""`},
		{name: "a token", member: `"at-abc"`, want: "at-abc", ok: true},
		{name: "escapes decoded", member: `"at-\u0041bc\/d_e"`, want: "at-Abc/d_e", ok: true},
		{name: "not judged here", member: `"not-a-token"`, want: "not-a-token", ok: true},
		{name: "a number", member: `7`, corrupt: true},
		{name: "an object", member: `{"token":"at-secret-x"}`, corrupt: true},
		{name: "an array", member: `["at-secret-x"]`, corrupt: true},
		{name: "a boolean", member: `true`, corrupt: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := `{"OPENAI_API_KEY": null}`
			if tt.member != "" {
				file = `{"OPENAI_API_KEY": null, "personal_access_token": ` + tt.member + `}`
			}
			f, err := ParseAuthFile([]byte(file))
			if tt.corrupt {
				require.ErrorIs(t, err, ErrCorruptAuthFile)
				assert.Contains(t, err.Error(), "personal_access_token")
				assert.NotContains(t, err.Error(), "secret")
				return
			}
			require.NoError(t, err)
			tok, ok := f.PersonalAccessToken()
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, tok.Reveal())
		})
	}
	var zero AuthFile
	tok, ok := zero.PersonalAccessToken()
	assert.False(t, ok, "the zero AuthFile holds none")
	assert.True(t, tok.IsZero())
}
