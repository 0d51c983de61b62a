package codexhome

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/internal/strictjson"
)

const testPrivateKey = "MC4CAQAwBQYDK2VwBCIEIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH"

var authSamples = []string{"jwt_form.json", "record_form.json", "chatgpt_only_extra.json"}

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "authfile", name))
	require.NoError(t, err)
	return data
}

// decodeAny decodes JSON keeping numbers as written.
func decodeAny(t testing.TB, data []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	require.NoError(t, dec.Decode(&m))
	return m
}

// compactMembers returns each top-level member's value as compact JSON text.
func compactMembers(t testing.TB, data []byte) map[string]string {
	t.Helper()
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(data, &raw))
	out := map[string]string{}
	for k, v := range raw {
		var b bytes.Buffer
		require.NoError(t, json.Compact(&b, v))
		out[k] = b.String()
	}
	return out
}

func TestAuthFileRoundTripUnchanged(t *testing.T) {
	for _, name := range authSamples {
		t.Run(name, func(t *testing.T) {
			data := readSample(t, name)
			f, err := ParseAuthFile(data)
			require.NoError(t, err)
			assert.True(t, f.Exists())
			assert.False(t, f.dirty)
			out, err := f.Marshal()
			require.NoError(t, err)
			// The samples are written as the Codex CLI writes; an unchanged
			// file comes back byte for byte.
			assert.Equal(t, string(data), string(out))
			assert.Equal(t, decodeAny(t, data), decodeAny(t, out))
			assert.Equal(t, compactMembers(t, data), compactMembers(t, out))
		})
	}
}

func TestAuthFileRoundTripAfterChange(t *testing.T) {
	tests := []struct {
		name    string
		sample  string
		change  func(t *testing.T, f *AuthFile)
		changed []string // top-level members whose value may differ
	}{
		{
			name:   "record gets a new task id",
			sample: "record_form.json",
			change: func(t *testing.T, f *AuthFile) {
				r := f.AgentIdentityRecord()
				require.NotNil(t, r)
				r.TaskID = "task-456"
				require.NoError(t, f.SetAgentIdentityRecord(r))
			},
			changed: []string{"agent_identity"},
		},
		{
			name:   "chatgpt login gets a record",
			sample: "chatgpt_only_extra.json",
			change: func(t *testing.T, f *AuthFile) {
				require.NoError(t, f.SetAgentIdentityRecord(&AgentIdentityRecord{
					AgentRuntimeID:  "agent-9",
					AgentPrivateKey: NewSecret(testPrivateKey),
					Account:         Account{AccountID: "acc-123", UserID: "user-123", PlanType: "plus"},
				}))
			},
			changed: []string{"agent_identity"},
		},
		{
			name:   "jwt replaced",
			sample: "jwt_form.json",
			change: func(t *testing.T, f *AuthFile) {
				require.NoError(t, f.SetAgentIdentityJWT(NewSecret("aaa.bbb.ccc")))
			},
			changed: []string{"agent_identity"},
		},
		{
			name:   "identity cleared from record file",
			sample: "record_form.json",
			change: func(t *testing.T, f *AuthFile) {
				f.ClearAgentIdentity()
			},
			changed: []string{"agent_identity"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := readSample(t, tt.sample)
			f, err := ParseAuthFile(data)
			require.NoError(t, err)
			tt.change(t, f)
			assert.True(t, f.dirty)
			out, err := f.Marshal()
			require.NoError(t, err)
			again, err := ParseAuthFile(out)
			require.NoError(t, err)
			before, after := compactMembers(t, data), compactMembers(t, out)
			for k, v := range before {
				if contains(tt.changed, k) {
					continue
				}
				assert.Equal(t, v, after[k], "member %q changed", k)
			}
			// Member order of the original file is kept.
			var kept []string
			for _, n := range again.memberNames() {
				if _, ok := before[n]; ok {
					kept = append(kept, n)
				}
			}
			var orig []string
			for _, n := range mustParse(t, data).memberNames() {
				if _, ok := after[n]; ok {
					orig = append(orig, n)
				}
			}
			assert.Equal(t, orig, kept)
			assert.True(t, strings.HasPrefix(string(out), "{\n  \""), "pretty-printed")
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func mustParse(t testing.TB, data []byte) *AuthFile {
	t.Helper()
	f, err := ParseAuthFile(data)
	require.NoError(t, err)
	return f
}

func TestAgentIdentityRecordKeepsUnknownMembers(t *testing.T) {
	f := mustParse(t, readSample(t, "record_form.json"))
	r := f.AgentIdentityRecord()
	require.NotNil(t, r)
	assert.Equal(t, "agent-123", r.AgentRuntimeID)
	assert.Equal(t, testPrivateKey, r.AgentPrivateKey.Reveal())
	assert.Equal(t, "acc-123", r.AccountID)
	assert.Equal(t, "user-123", r.UserID)
	assert.Equal(t, "user@example.com", r.Email)
	assert.Equal(t, "plus", r.PlanType)
	assert.False(t, r.FedRAMP)
	assert.Equal(t, "task-123", r.TaskID)
	assert.True(t, f.AgentIdentityJWT().IsZero())

	r.TaskID = ""
	r.FedRAMP = true
	require.NoError(t, f.SetAgentIdentityRecord(r))
	raw, ok := f.member(memberAgentIdentity)
	require.True(t, ok)
	assert.Equal(t, `{"agent_runtime_id":"agent-123","agent_private_key":"`+testPrivateKey+`","account_id":"acc-123","chatgpt_user_id":"user-123","email":"user@example.com","plan_type":"plus","chatgpt_account_is_fedramp":true,"registered_with":{"harness":"codex-cli","version":"0.145.0"}}`, string(raw))
}

func TestAuthFileNewFileLayout(t *testing.T) {
	tests := []struct {
		name string
		set  func(f *AuthFile) error
		want string
	}{
		{
			name: "jwt credentials",
			set: func(f *AuthFile) error {
				if err := f.SetAgentIdentityJWT(NewSecret("h.p.s")); err != nil {
					return err
				}
				return f.SetAuthMode(authModeAgentIdentity)
			},
			want: "{\n  \"auth_mode\": \"agentIdentity\",\n  \"OPENAI_API_KEY\": null,\n  \"agent_identity\": \"h.p.s\"\n}",
		},
		{
			name: "record without task or email",
			set: func(f *AuthFile) error {
				return f.SetAgentIdentityRecord(&AgentIdentityRecord{AgentRuntimeID: "a", AgentPrivateKey: NewSecret("k"), Account: Account{AccountID: "acc", UserID: "u", PlanType: "pro"}})
			},
			want: "{\n  \"OPENAI_API_KEY\": null,\n  \"agent_identity\": {\n    \"agent_runtime_id\": \"a\",\n    \"agent_private_key\": \"k\",\n    \"account_id\": \"acc\",\n    \"chatgpt_user_id\": \"u\",\n    \"email\": \"\",\n    \"plan_type\": \"pro\",\n    \"chatgpt_account_is_fedramp\": false\n  }\n}",
		},
		{
			name: "serde string escaping",
			set: func(f *AuthFile) error {
				return f.SetAgentIdentityRecord(&AgentIdentityRecord{AgentRuntimeID: "a", AgentPrivateKey: NewSecret("k"), Account: Account{Email: "é<>&\u2028\"\\\x01\n"}})
			},
			want: "{\n  \"OPENAI_API_KEY\": null,\n  \"agent_identity\": {\n    \"agent_runtime_id\": \"a\",\n    \"agent_private_key\": \"k\",\n    \"account_id\": \"\",\n    \"chatgpt_user_id\": \"\",\n    \"email\": \"é<>&\u2028\\\"\\\\\\u0001\\n\",\n    \"plan_type\": \"\",\n    \"chatgpt_account_is_fedramp\": false\n  }\n}",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &AuthFile{}
			require.NoError(t, tt.set(f))
			out, err := f.Marshal()
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(out))
			mustParse(t, out)
		})
	}
}

func TestAuthFileInsertsKnownMembersInCodexOrder(t *testing.T) {
	f := mustParse(t, []byte(`{"zeta":1,"tokens":{"access_token":"x"},"last_refresh":"2026-01-01T00:00:00Z","omega":2}`))
	require.NoError(t, f.SetAuthMode("chatgpt"))
	require.NoError(t, f.SetAgentIdentityJWT(NewSecret("a.b.c")))
	assert.Equal(t, []string{"zeta", "auth_mode", "tokens", "last_refresh", "agent_identity", "omega"}, f.memberNames())
	out, err := f.Marshal()
	require.NoError(t, err)
	assert.Equal(t, []string{"zeta", "auth_mode", "OPENAI_API_KEY", "tokens", "last_refresh", "agent_identity", "omega"}, mustParse(t, out).memberNames())
}

func TestAuthFileSetSameValueIsNoChange(t *testing.T) {
	f := mustParse(t, readSample(t, "record_form.json"))
	require.NoError(t, f.SetAgentIdentityRecord(f.AgentIdentityRecord()))
	require.NoError(t, f.SetAuthMode("chatgpt"))
	assert.False(t, f.dirty)
	f.ClearAgentIdentity()
	assert.True(t, f.dirty)
}

func TestAuthFileSettersRefuse(t *testing.T) {
	tests := []struct {
		name string
		set  func(f *AuthFile) error
	}{
		{"empty jwt", func(f *AuthFile) error { return f.SetAgentIdentityJWT(NewSecret("")) }},
		{"jwt with space", func(f *AuthFile) error { return f.SetAgentIdentityJWT(NewSecret("a.b c")) }},
		{"jwt with newline", func(f *AuthFile) error { return f.SetAgentIdentityJWT(NewSecret("a.b\nc")) }},
		{"nil record", func(f *AuthFile) error { return f.SetAgentIdentityRecord(nil) }},
		{"record without runtime id", func(f *AuthFile) error {
			return f.SetAgentIdentityRecord(&AgentIdentityRecord{AgentPrivateKey: NewSecret("k")})
		}},
		{"record without key", func(f *AuthFile) error {
			return f.SetAgentIdentityRecord(&AgentIdentityRecord{AgentRuntimeID: "a"})
		}},
		{"record with invalid utf-8", func(f *AuthFile) error {
			return f.SetAgentIdentityRecord(&AgentIdentityRecord{AgentRuntimeID: "a", AgentPrivateKey: NewSecret("k"), Account: Account{Email: "\xff"}})
		}},
		{"auth mode with invalid utf-8", func(f *AuthFile) error { return f.SetAuthMode("\xc3") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &AuthFile{}
			err := tt.set(f)
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "codexhome: "), err.Error())
			assert.False(t, f.dirty)
		})
	}
}

func TestParseAuthFileRefuses(t *testing.T) {
	big := append([]byte(`{"x":"`), bytes.Repeat([]byte("a"), maxAuthFileSize)...)
	big = append(big, `"}`...)
	tests := []struct {
		name string
		data string
		want string // part of the message
	}{
		{"empty", ``, "empty"},
		{"whitespace only", " \n\t", "empty"},
		{"truncated", `{"tokens": {"access_token": "abc"`, "unexpected end"},
		{"array", `[1,2]`, "not an object"},
		{"string", `"x"`, "not an object"},
		{"null", `null`, "not an object"},
		{"trailing data", `{} {}`, "after the top-level value"},
		{"invalid utf-8", "{\"x\":\"\xff\"}", "UTF-8"},
		{"duplicate top-level member", `{"agent_identity":"a.b.c","agent_identity":"d.e.f"}`, "duplicate member"},
		{"duplicate member inside tokens", `{"tokens":{"access_token":"a","access_token":"b"}}`, "duplicate member"},
		{"duplicate member via escape", `{"auth_mode":"a","auth\u005fmode":"b"}`, "duplicate member"},
		{"too large", string(big), "larger than"},
		{"tokens a string", `{"tokens":"abc"}`, `"tokens" is a string`},
		{"tokens an array", `{"tokens":[]}`, `"tokens" is an array`},
		{"access token a number", `{"tokens":{"access_token":1}}`, `"tokens.access_token" is a number`},
		{"id token an object", `{"tokens":{"id_token":{}}}`, `"tokens.id_token" is an object`},
		{"auth mode a number", `{"auth_mode":1}`, `"auth_mode" is a number`},
		{"api key a boolean", `{"OPENAI_API_KEY":true}`, `"OPENAI_API_KEY" is a boolean`},
		{"last refresh an object", `{"last_refresh":{}}`, `"last_refresh" is an object`},
		{"agent identity a number", `{"agent_identity":42}`, `"agent_identity" is a number`},
		{"agent identity an array", `{"agent_identity":["a"]}`, `"agent_identity" is an array`},
		{"agent identity a boolean", `{"agent_identity":true}`, `"agent_identity" is a boolean`},
		{"record runtime id a number", `{"agent_identity":{"agent_runtime_id":1,"agent_private_key":"k","account_id":"a","chatgpt_user_id":"u"}}`, `"agent_identity.agent_runtime_id" is a number`},
		{"record key null", `{"agent_identity":{"agent_runtime_id":"r","agent_private_key":null,"account_id":"a","chatgpt_user_id":"u"}}`, `"agent_identity.agent_private_key" is null`},
		{"record fedramp a string", `{"agent_identity":{"agent_runtime_id":"r","agent_private_key":"k","account_id":"a","chatgpt_user_id":"u","chatgpt_account_is_fedramp":"yes"}}`, `"agent_identity.chatgpt_account_is_fedramp" is a string`},
		{"record task id a number", `{"agent_identity":{"agent_runtime_id":"r","agent_private_key":"k","account_id":"a","chatgpt_user_id":"u","task_id":7}}`, `"agent_identity.task_id" is a number`},
		{"record email an object", `{"agent_identity":{"agent_runtime_id":"r","agent_private_key":"k","account_id":"a","chatgpt_user_id":"u","email":{}}}`, `"agent_identity.email" is an object`},
		{"record without account id", `{"agent_identity":{"agent_runtime_id":"r","agent_private_key":"k","chatgpt_user_id":"u"}}`, `"agent_identity.account_id" is missing`},
		{"record with empty runtime id", `{"agent_identity":{"agent_runtime_id":"","agent_private_key":"k","account_id":"a","chatgpt_user_id":"u"}}`, "empty agent_runtime_id"},
		{"record duplicate member", `{"agent_identity":{"agent_runtime_id":"r","agent_runtime_id":"s","agent_private_key":"k","account_id":"a","chatgpt_user_id":"u"}}`, "duplicate member"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseAuthFile([]byte(tt.data))
			require.Error(t, err)
			assert.Nil(t, f)
			assert.ErrorIs(t, err, ErrCorruptAuthFile)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "codexhome: "), err.Error())
			assert.NotContains(t, err.Error(), `"k"`)
		})
	}
}

func TestParseAuthFileAcceptsNulls(t *testing.T) {
	f := mustParse(t, []byte(`{"auth_mode":null,"OPENAI_API_KEY":null,"tokens":null,"last_refresh":null,"agent_identity":null}`))
	assert.Empty(t, f.AuthMode())
	_, ok := f.OpenAIAPIKey()
	assert.False(t, ok)
	assert.Nil(t, f.Tokens())
	assert.Nil(t, f.AgentIdentityRecord())
	assert.True(t, f.AgentIdentityJWT().IsZero())
	login, err := f.ChatGPTLogin()
	require.NoError(t, err)
	assert.Nil(t, login)
}

func TestAuthFileAccessors(t *testing.T) {
	f := mustParse(t, readSample(t, "jwt_form.json"))
	assert.Equal(t, authModeAgentIdentity, f.AuthMode())
	assert.True(t, strings.HasPrefix(f.AgentIdentityJWT().Reveal(), "eyJ"))
	assert.Nil(t, f.AgentIdentityRecord())
	assert.Nil(t, f.Tokens())

	f = mustParse(t, []byte(`{"OPENAI_API_KEY":"sk-test"}`))
	key, ok := f.OpenAIAPIKey()
	assert.True(t, ok)
	assert.Equal(t, "sk-test", key.Reveal())

	f = mustParse(t, readSample(t, "record_form.json"))
	tok := f.Tokens()
	require.NotNil(t, tok)
	assert.Equal(t, "acc-123", tok.AccountID)
	assert.Equal(t, "rt_test-refresh-token-not-real", tok.RefreshToken.Reveal())
}

// idToken builds an unsigned compact JWS with the given payload text.
func idToken(payload string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." + enc.EncodeToString([]byte(payload)) + ".c2ln"
}

func loginFile(t *testing.T, tokens string) *AuthFile {
	t.Helper()
	return mustParse(t, []byte(`{"tokens":`+tokens+`}`))
}

func TestChatGPTLogin(t *testing.T) {
	tokensWith := func(payload, accountID string) string {
		acc := ""
		if accountID != "" {
			acc = `,"account_id":"` + accountID + `"`
		}
		return `{"id_token":"` + idToken(payload) + `","access_token":"at-secret","refresh_token":"rt"` + acc + `}`
	}
	tests := []struct {
		name   string
		tokens string
		want   ChatGPTLogin
	}{
		{
			name:   "account from tokens",
			tokens: tokensWith(`{"email":"e@x","https://api.openai.com/auth":{"chatgpt_account_id":"acc-id","chatgpt_user_id":"u1","chatgpt_plan_type":"pro"}}`, "acc-tok"),
			want:   ChatGPTLogin{AccessToken: NewSecret("at-secret"), Account: Account{AccountID: "acc-tok", UserID: "u1", Email: "e@x", PlanType: "pro"}},
		},
		{
			name:   "account from id token",
			tokens: tokensWith(`{"https://api.openai.com/auth":{"chatgpt_account_id":"acc-id","chatgpt_user_id":"u1"}}`, ""),
			want:   ChatGPTLogin{AccessToken: NewSecret("at-secret"), Account: Account{AccountID: "acc-id", UserID: "u1"}},
		},
		{
			name:   "older user_id",
			tokens: tokensWith(`{"https://api.openai.com/auth":{"user_id":"u-old"}}`, "a"),
			want:   ChatGPTLogin{AccessToken: NewSecret("at-secret"), Account: Account{AccountID: "a", UserID: "u-old"}},
		},
		{
			name:   "chatgpt_user_id wins over user_id",
			tokens: tokensWith(`{"https://api.openai.com/auth":{"user_id":"u-old","chatgpt_user_id":"u-new"}}`, "a"),
			want:   ChatGPTLogin{AccessToken: NewSecret("at-secret"), Account: Account{AccountID: "a", UserID: "u-new"}},
		},
		{
			name:   "fedramp",
			tokens: tokensWith(`{"https://api.openai.com/auth":{"chatgpt_user_id":"u","chatgpt_account_is_fedramp":true}}`, "a"),
			want:   ChatGPTLogin{AccessToken: NewSecret("at-secret"), Account: Account{AccountID: "a", UserID: "u", FedRAMP: true}},
		},
		{
			name:   "nulls and unknown claims",
			tokens: tokensWith(`{"email":null,"other":[1],"https://api.openai.com/auth":{"chatgpt_plan_type":null,"orgs":{}}}`, "a"),
			want:   ChatGPTLogin{AccessToken: NewSecret("at-secret"), Account: Account{AccountID: "a"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			login, err := loginFile(t, tt.tokens).ChatGPTLogin()
			require.NoError(t, err)
			require.NotNil(t, login)
			assert.Equal(t, tt.want, *login)
		})
	}

	t.Run("sample file", func(t *testing.T) {
		login, err := mustParse(t, readSample(t, "record_form.json")).ChatGPTLogin()
		require.NoError(t, err)
		assert.Equal(t, "acc-123", login.AccountID)
		assert.Equal(t, "user-123", login.UserID)
		assert.Equal(t, "user@example.com", login.Email)
		assert.Equal(t, "plus", login.PlanType)
	})
}

func TestChatGPTLoginRefuses(t *testing.T) {
	enc := base64.RawURLEncoding
	good := `{"https://api.openai.com/auth":{"chatgpt_user_id":"u"}}`
	tok := func(idtok string) string {
		return `{"id_token":"` + idtok + `","access_token":"at-secret","refresh_token":"rt"}`
	}
	tests := []struct {
		name   string
		tokens string
		want   string
	}{
		{"no access token", `{"id_token":"` + idToken(good) + `"}`, "no access_token"},
		{"no id token", `{"access_token":"at-secret"}`, "no id_token"},
		{"two parts", tok("a.b"), "three dot-separated parts"},
		{"four parts", tok(idToken(good) + ".x"), "three dot-separated parts"},
		{"padded payload", tok("e30." + base64.URLEncoding.EncodeToString([]byte(good)) + ".s"), "canonical unpadded base64url"},
		{"std alphabet payload", tok("e30." + base64.RawStdEncoding.EncodeToString([]byte(`{"a":"??>"}`)) + ".s"), "canonical unpadded base64url"},
		{"payload not json", tok(idToken(`nope`)), "invalid JSON"},
		{"payload array", tok(idToken(`[]`)), "not an object"},
		{"payload duplicate", tok(idToken(`{"email":"a","email":"b"}`)), "duplicate member"},
		{"email a number", tok(idToken(`{"email":1}`)), "claim email"},
		{"auth claim a string", tok(idToken(`{"https://api.openai.com/auth":"x"}`)), "is a string, want an object"},
		{"account id a number", tok(idToken(`{"https://api.openai.com/auth":{"chatgpt_account_id":1}}`)), "chatgpt_account_id"},
		{"fedramp a string", tok(idToken(`{"https://api.openai.com/auth":{"chatgpt_account_is_fedramp":"true"}}`)), "chatgpt_account_is_fedramp"},
		{"too long", tok("a." + enc.EncodeToString(bytes.Repeat([]byte("x"), maxIDTokenSize)) + ".c"), "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			login, err := loginFile(t, tt.tokens).ChatGPTLogin()
			require.Error(t, err)
			assert.Nil(t, login)
			assert.ErrorIs(t, err, ErrCorruptAuthFile)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "at-secret")
		})
	}
}

func TestSecretsNeverFormatted(t *testing.T) {
	f := mustParse(t, readSample(t, "record_form.json"))
	rec := f.AgentIdentityRecord()
	login, err := f.ChatGPTLogin()
	require.NoError(t, err)
	tokens := f.Tokens()
	jwtFile := mustParse(t, readSample(t, "jwt_form.json"))
	secrets := []string{testPrivateKey, tokens.AccessToken.Reveal(), tokens.IDToken.Reveal(), tokens.RefreshToken.Reveal(), jwtFile.AgentIdentityJWT().Reveal()}
	type holder struct {
		Exported any
		hidden   any
	}
	type hiddenRecord struct{ r AgentIdentityRecord }
	type hiddenFile struct{ f AuthFile }
	type hiddenTokens struct{ t Tokens }
	type hiddenLogin struct{ l ChatGPTLogin }
	values := map[string]any{
		"record": rec, "record value": *rec, "login": login, "login value": *login,
		"tokens": tokens, "tokens value": *tokens, "file": f, "file value": *f, "jwt file": jwtFile,
		"jwt file value":   *jwtFile,
		"record in struct": holder{*rec, *rec}, "file in struct": holder{*f, *f},
		"tokens in struct": holder{*tokens, *tokens}, "login in struct": holder{*login, *login},
		"record in unexported field": hiddenRecord{*rec}, "file in unexported field": hiddenFile{*f},
		"tokens in unexported field": hiddenTokens{*tokens}, "login in unexported field": hiddenLogin{*login},
		"record slice": []AgentIdentityRecord{*rec}, "record pointer slice": []*AgentIdentityRecord{rec},
		"file slice": []AuthFile{*f, *jwtFile}, "tokens slice": []Tokens{*tokens}, "login slice": []ChatGPTLogin{*login},
		"map": map[string]any{"r": *rec, "t": *tokens},
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %[1]v"} {
			t.Run(name+" "+verb, func(t *testing.T) {
				out := fmt.Sprintf(verb, v)
				for _, s := range secrets {
					assert.NotContains(t, out, s)
				}
			})
		}
		t.Run(name+" slog", func(t *testing.T) {
			var buf bytes.Buffer
			slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "v", v)
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "v", v)
			for _, s := range secrets {
				assert.NotContains(t, buf.String(), s)
			}
		})
	}
	assert.Contains(t, fmt.Sprint(rec), "agent-123")
	assert.Contains(t, fmt.Sprint(rec), "[REDACTED]")
	assert.Contains(t, fmt.Sprintf("%+v", *tokens), "AccessToken:[REDACTED]")
}

func TestAgentIdentityRecordEqual(t *testing.T) {
	a := &AgentIdentityRecord{AgentRuntimeID: "a", AgentPrivateKey: NewSecret("k"), TaskID: "t"}
	b := *a
	assert.True(t, a.equal(&b))
	b.TaskID = "u"
	assert.False(t, a.equal(&b))
	assert.False(t, a.equal(nil))
	assert.True(t, (*AgentIdentityRecord)(nil).equal(nil))
}

func TestChatGPTLoginReadsOnlyTheIDTokenPayload(t *testing.T) {
	// As the Codex CLI does: the header and signature of the id token are
	// not looked at (the token is never trusted, only read).
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"https://api.openai.com/auth":{"chatgpt_user_id":"u"}}`))
	tokens := `{"id_token":"not-json.` + payload + `.not base64","access_token":"at-secret"}`
	login, err := loginFile(t, tokens).ChatGPTLogin()
	require.NoError(t, err)
	assert.Equal(t, "u", login.UserID)

	dup := base64.RawURLEncoding.EncodeToString([]byte(`{"email":"a","email":"b"}`))
	_, err = loginFile(t, `{"id_token":"e30.`+dup+`.c2ln","access_token":"at-secret"}`).ChatGPTLogin()
	require.ErrorIs(t, err, ErrCorruptAuthFile)
	require.ErrorIs(t, err, strictjson.ErrDuplicateMember)
}
