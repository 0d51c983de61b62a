package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStatusCredentialsStore: status says which store holds the
// credentials, from cli_auth_credentials_store.
func TestStatusCredentialsStore(t *testing.T) {
	tests := []struct {
		name     string
		config   string
		authJSON bool
		wantText string
		store    string
		heldBy   string
	}{
		{"default file", "", true, "in auth.json", "file", "file"},
		{"ephemeral", `cli_auth_credentials_store = "ephemeral"`, true, "absent (store: ephemeral)", "ephemeral", "ephemeral"},
		{"auto without a keyring", `cli_auth_credentials_store = "auto"`, true, "in auth.json", "auto", "file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(home, "config.toml"), []byte(tt.config+"\n"), 0o600))
			if tt.authJSON {
				require.NoError(t, os.WriteFile(filepath.Join(home, "auth.json"), []byte(`{"OPENAI_API_KEY":"sk-status-secret-1"}`), 0o600))
			}
			env := map[string]string{"CODEX_HOME": home, "DBUS_SESSION_BUS_ADDRESS": "unix:path=" + filepath.Join(home, "no-bus"), "XDG_RUNTIME_DIR": home}
			r := runBin(t, invocation{args: []string{"status"}, env: env})
			assert.Contains(t, r.stdout, tt.wantText)
			assert.NotContains(t, r.stdout, "sk-status-secret-1")
			r = runBin(t, invocation{args: []string{"status", "--json"}, env: env})
			var rep struct {
				AuthFile struct {
					Store  string `json:"credentials_store"`
					HeldBy string `json:"held_by"`
				} `json:"auth_file"`
			}
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep), r.stdout)
			assert.Equal(t, tt.store, rep.AuthFile.Store)
			assert.Equal(t, tt.heldBy, rep.AuthFile.HeldBy)
		})
	}
}
