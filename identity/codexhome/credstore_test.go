package codexhome

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeyringAccount(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	require.NoError(t, os.Mkdir(real, 0o700))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(real, link))
	tests := []struct {
		name string
		a, b string
	}{
		{"a symbolic link gives its target's account", link, real},
		{"an unclean path gives the clean one's", real + "/./", real},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, KeyringAccount(tt.b), KeyringAccount(tt.a))
		})
	}
	// Known answer: printf %s /nonexistent/.codex | sha256sum, first 16 digits.
	assert.Equal(t, "cli|9571d6c99fb0e3f4", KeyringAccount("/nonexistent/.codex"))
}

func TestConfigCredentialsStore(t *testing.T) {
	tests := []struct {
		toml    string
		want    CredentialsStore
		wantErr bool
	}{
		{"", "", false},
		{`cli_auth_credentials_store = "file"`, CredentialsStoreFile, false},
		{`cli_auth_credentials_store = "keyring"`, CredentialsStoreKeyring, false},
		{`cli_auth_credentials_store = "auto"`, CredentialsStoreAuto, false},
		{`cli_auth_credentials_store = "ephemeral"`, CredentialsStoreEphemeral, false},
		{`cli_auth_credentials_store = "Keyring"`, "", true},
		{`cli_auth_credentials_store = 1`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.toml, func(t *testing.T) {
			home := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(home, ConfigFileName), []byte(tt.toml+"\n"), 0o600))
			c, err := LoadConfig(home)
			if tt.wantErr {
				assert.ErrorIs(t, err, ErrInvalidConfig)
				_, err = OpenStore(home).Read()
				assert.ErrorIs(t, err, ErrInvalidConfig, "the store refuses an unusable setting")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, c.CredentialsStore)
		})
	}
}

func TestEphemeralWritesNothing(t *testing.T) {
	home := t.TempDir()
	s := OpenStoreMode(home, CredentialsStoreEphemeral)
	require.NoError(t, s.Update(t.Context(), func(f *AuthFile) error { return f.SetAuthMode("apikey") }))
	f, src, err := s.ReadSource()
	require.NoError(t, err)
	assert.Equal(t, BackendEphemeral, src)
	assert.Equal(t, "apikey", f.AuthMode())
	require.NoError(t, s.Coordinate(t.Context(), func() error { return nil }))
	entries, err := os.ReadDir(home)
	require.NoError(t, err)
	assert.Empty(t, entries, "no auth.json, no lock file")
}
