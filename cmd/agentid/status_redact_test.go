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
			})
		}
	}
}
