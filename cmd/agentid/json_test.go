package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity/identitytest"
)

// oneJSONObject decodes stdout as exactly one JSON object.
func oneJSONObject(t *testing.T, stdout string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	var obj map[string]any
	require.NoError(t, dec.Decode(&obj), "a JSON object: %q", stdout)
	var extra json.RawMessage
	require.True(t, errors.Is(dec.Decode(&extra), io.EOF), "one object only: %q", stdout)
	return obj
}

// TestJSONEverywhere: every command that prints data prints one JSON object
// with --json, with the documented fields; the secret check of TestMain
// covers these outputs too.
func TestJSONEverywhere(t *testing.T) {
	srv := fakeBackend(t)
	home, env, login := loginHome(t, srv, true)
	tok, claims := mintJWT(t, srv, identitytest.JWTOptions{})
	v := loadVectors(t)[0]
	keyFile := writeFile(t, v.PKCS8V1+"\n")
	dir := t.TempDir()

	// provision first: the later rows use its identity.
	r := runBin(t, invocation{args: []string{"provision", "--json"}, env: env})
	require.Equal(t, 0, r.code, r.stderr)
	prov := oneJSONObject(t, r.stdout)
	assert.Equal(t, "registered", prov["identity"])
	assert.Equal(t, "new registration", prov["source"])
	assert.Equal(t, "registered", prov["task"])
	rec := storedRecord(t, home)
	again := runBin(t, invocation{args: []string{"provision", "--json"}, env: env})
	require.Equal(t, 0, again.code, again.stderr)
	reused := oneJSONObject(t, again.stdout)
	assert.Equal(t, map[string]any{
		"agent_runtime_id": rec.AgentRuntimeID, "task_id": rec.TaskID, "account_id": login.AccountID, "fedramp": false,
		"identity": "reused", "source": "auth.json record", "task": "reused",
	}, reused)
	header := runBin(t, invocation{args: []string{"assert", "--runtime-id", v.AgentRuntimeID, "--task-id", v.TaskID, "--timestamp", v.Timestamp, "--key-file", keyFile}, intended: []string{v.Signature}})
	require.Equal(t, 0, header.code)

	tests := []struct {
		name   string
		inv    invocation
		fields []string
	}{
		{"status", invocation{args: []string{"status", "--json"}, env: env}, []string{"ok", "codex_home", "codex_home_exists", "config", "environment", "auth_file", "agent_identity", "chatgpt_login", "variables", "usable"}},
		{"keygen", invocation{args: []string{"keygen", "--out", filepath.Join(dir, "k"), "--json"}}, []string{"public_key_ssh", "private_key_file"}},
		{"register-task", invocation{args: []string{"register-task", "--json"}, env: env}, []string{"task_id", "agent_runtime_id"}},
		{"assert", invocation{args: []string{"assert", "--json", "--runtime-id", v.AgentRuntimeID, "--task-id", v.TaskID, "--timestamp", v.Timestamp, "--key-file", keyFile}, intended: []string{v.Signature}}, []string{"authorization", "agent_runtime_id", "task_id", "timestamp"}},
		{"verify", invocation{args: []string{"verify", "--json", "--public-key", v.PublicKeySSH, "--now", v.Timestamp}, stdin: header.stdout}, []string{"verified", "agent_runtime_id", "task_id", "timestamp"}},
		{"jwt decode", invocation{args: []string{"jwt", "decode", "--insecure", "--json"}, env: map[string]string{envCodexAccessToken: tok}}, []string{"verified", "warning", "claims"}},
		{"jwt verify", invocation{args: []string{"jwt", "verify", "--json", "--chatgpt-base-url", srv.ChatGPTBaseURL}, env: mergeEnv(srv.Env(), map[string]string{envCodexAccessToken: tok})}, []string{"verified", "claims"}},
		{"endpoints one", invocation{args: []string{"endpoints", "--json", "https://chatgpt.com"}}, []string{"name", "chatgpt_base_url", "authapi_base_url", "jwks_url", "issuer", "audience"}},
		{"endpoints all", invocation{args: []string{"endpoints", "--json"}}, []string{"environments"}},
		{"version", invocation{args: []string{"version", "--json"}}, []string{"version", "module", "go"}},
		{"demo", invocation{args: []string{"demo", "--json", "--requests", "2"}, env: map[string]string{"TMPDIR": t.TempDir()}}, []string{"ok", "agent_runtime_id", "task_id", "steps"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBin(t, tt.inv)
			require.Equal(t, 0, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
			obj := oneJSONObject(t, r.stdout)
			for _, f := range tt.fields {
				assert.Contains(t, obj, f)
			}
			assert.NotContains(t, obj, "error")
			if c, ok := obj["claims"].(map[string]any); ok {
				assert.Equal(t, redacted, c["agent_private_key"])
				assert.Equal(t, claims.AgentRuntimeID, c["agent_runtime_id"])
			}
			assert.False(t, bytes.Contains([]byte(r.stdout), []byte(rec.AgentPrivateKey.Reveal())))
		})
	}
}
