package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStatusRedactsURLs: a password in user info or a token in a query of a
// configured URL never reaches status output, in text or JSON.
func TestStatusRedactsURLs(t *testing.T) {
	tests := []struct {
		name   string
		config string
		env    map[string]string
		secret string
	}{
		{"chatgpt_base_url user info", `chatgpt_base_url = "https://user:hunter2pass@chatgpt.example/backend-api"`, nil, "hunter2pass"},
		{"chatgpt_base_url query", `chatgpt_base_url = "https://chatgpt.example/backend-api?token=qtok12345"`, nil, "qtok12345"},
		{"chatgpt_base_url fragment", `chatgpt_base_url = "https://chatgpt.example/backend-api#frag12345"`, nil, "frag12345"},
		{"authapi override", "", map[string]string{"CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL": "https://u:envpass999@auth.example/api"}, "envpass999"},
		{"jwks override query", "", map[string]string{"CODEX_AGENT_IDENTITY_JWKS_BASE_URL": "https://jwks.example/?k=envtok777"}, "envtok777"},
		{"newer authapi override", "", map[string]string{"CODEX_AUTHAPI_BASE_URL": "https://u:newpass321@auth.example/api"}, "newpass321"},
		{"refused newer authapi override", "", map[string]string{"CODEX_AUTHAPI_BASE_URL": "http://u:badpass321@auth.example/a b"}, "badpass321"},
		{"refresh URL override", "", map[string]string{"CODEX_REFRESH_TOKEN_URL_OVERRIDE": "https://auth.example/oauth/token?secret=rtok4321"}, "rtok4321"},
		{"openai_base_url", `openai_base_url = "https://u:zwpass55@api.example/v1?key=zwtok55"`, nil, "zw"},
		{"refused chatgpt_base_url", `chatgpt_base_url = "http://u:zqpass77@evil.example/x?q=zqtok77"`, nil, "zq"},
	}
	for _, tt := range tests {
		for _, args := range [][]string{{"status"}, {"status", "--json"}} {
			t.Run(tt.name+" "+args[len(args)-1], func(t *testing.T) {
				home := t.TempDir()
				require.NoError(t, os.WriteFile(filepath.Join(home, "config.toml"), []byte(tt.config+"\n"), 0o600))
				env := map[string]string{"CODEX_HOME": home}
				for k, v := range tt.env {
					env[k] = v
				}
				r := runBin(t, invocation{args: args, env: env})
				assert.NotContains(t, r.stdout, tt.secret)
				assert.NotContains(t, r.stderr, tt.secret)
				for name := range tt.env {
					if args[len(args)-1] == "status" {
						assert.Contains(t, r.stdout, "$"+name, "status names the variable it read")
					}
				}
			})
		}
	}
}

// TestStatusEscapesControlCharacters: values status prints from auth.json (or
// a keyring entry) never bring control characters to the terminal.
func TestStatusEscapesControlCharacters(t *testing.T) {
	home := t.TempDir()
	rec := `{"agent_runtime_id":"rt-1","agent_private_key":"k","account_id":"acc\u001b]0;pwned\u0007",` +
		`"chatgpt_user_id":"u\u009b31m","task_id":"task\r\nforged: line\u007f"}`
	require.NoError(t, os.WriteFile(filepath.Join(home, "auth.json"),
		[]byte(`{"auth_mode":"x\u001b[2J","agent_identity":`+rec+`,"x\u001bname":1}`), 0o600))
	r := runBin(t, invocation{args: []string{"status"}, env: map[string]string{"CODEX_HOME": home}})
	for _, c := range []string{"\x1b", "\x07", "\u009b", "\x7f", "\r"} {
		assert.NotContains(t, r.stdout, c)
		assert.NotContains(t, r.stderr, c)
	}
	assert.NotContains(t, r.stdout, "\nforged", "no line is forged")
	assert.Contains(t, r.stdout, `acc\x1b]0;pwned\x07`, "escaped, not dropped")
	assert.Contains(t, r.stdout, `u\x9b31m`)
}
