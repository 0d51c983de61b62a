package codexhome

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
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
			assert.Equal(t, keyringAccount(tt.b), keyringAccount(tt.a))
		})
	}
	// Known answer: printf %s /nonexistent/.codex | sha256sum, first 16 digits.
	assert.Equal(t, "cli|9571d6c99fb0e3f4", keyringAccount("/nonexistent/.codex"))
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
			require.NoError(t, os.WriteFile(filepath.Join(home, configFileName), []byte(tt.toml+"\n"), 0o600))
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
	s := openStoreMode(home, CredentialsStoreEphemeral)
	require.NoError(t, s.Update(t.Context(), func(f *AuthFile) error { return f.SetAuthMode("apikey") }))
	f, src, err := s.ReadSource()
	require.NoError(t, err)
	assert.Equal(t, CredentialsStoreEphemeral, src)
	assert.Equal(t, "apikey", f.AuthMode())
	require.NoError(t, s.Coordinate(t.Context(), func() error { return nil }))
	entries, err := os.ReadDir(home)
	require.NoError(t, err)
	assert.Empty(t, entries, "no auth.json, no lock file")
}

// memKeyring is an in-memory keyringBackend whose reads and writes can be
// made to fail as an unreachable keyring does.
type memKeyring struct {
	mu                 sync.Mutex
	m                  map[string]string
	loadDown, saveDown bool
}

func (k *memKeyring) load(account string) (string, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.loadDown {
		return "", false, fmt.Errorf("%w: test: down", ErrKeyringUnavailable)
	}
	v, ok := k.m[account]
	return v, ok, nil
}

func (k *memKeyring) save(account, value string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.saveDown {
		return fmt.Errorf("%w: test: down", ErrKeyringUnavailable)
	}
	if k.m == nil {
		k.m = map[string]string{}
	}
	k.m[account] = value
	return nil
}

func (k *memKeyring) remove(account string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, account)
	return nil
}

// TestAutoStore pins CredentialsStoreAuto's choice of store for reads and
// writes (the Codex CLI's AutoAuthStorage), with one deliberate difference:
// credentials read from the keyring are never written to auth.json, where
// the keyring's older entry would hide them at the next read.
func TestAutoStore(t *testing.T) {
	const inKeyring = `{"auth_mode":"chatgpt","x_unknown":[1]}`
	const inFile = `{"auth_mode":"chatgpt","x_file":{"a":1}}`
	tests := []struct {
		name               string
		keyring, file      string
		loadDown, saveDown bool
		wantErr            error
		wantKeyring        string // "" means no entry
		wantFile           bool
		wantMember         string
	}{
		{name: "keyring holds them", keyring: inKeyring,
			wantKeyring: `{"auth_mode":"apikey","OPENAI_API_KEY":null,"x_unknown":[1]}`, wantMember: "x_unknown"},
		{name: "auth.json moves to the keyring", file: inFile,
			wantKeyring: `{"auth_mode":"apikey","OPENAI_API_KEY":null,"x_file":{"a":1}}`, wantMember: "x_file"},
		{name: "keyring down: auth.json", file: inFile, loadDown: true, saveDown: true,
			wantFile: true, wantMember: "x_file"},
		{name: "read from the keyring, write fails: nothing written", keyring: inKeyring, file: "", saveDown: true,
			wantErr: ErrKeyringUnavailable, wantKeyring: inKeyring},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			s := openStoreMode(home, CredentialsStoreAuto)
			kr := &memKeyring{loadDown: tt.loadDown, saveDown: tt.saveDown}
			if tt.keyring != "" {
				kr.m = map[string]string{keyringAccount(s.home): tt.keyring}
			}
			s.keyring = kr
			if tt.file != "" {
				require.NoError(t, os.WriteFile(s.Path(), []byte(tt.file), 0o600))
			}
			err := s.Update(t.Context(), func(f *AuthFile) error { return f.SetAuthMode("apikey") })
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			got, ok := kr.m[keyringAccount(s.home)]
			assert.Equal(t, tt.wantKeyring != "", ok, "keyring entry present")
			assert.Equal(t, tt.wantKeyring, got)
			_, statErr := os.Lstat(s.Path())
			assert.Equal(t, tt.wantFile, statErr == nil, "auth.json present")
			if tt.wantErr != nil {
				return
			}
			kr.loadDown = tt.loadDown
			f, err := s.Read()
			require.NoError(t, err)
			assert.Equal(t, "apikey", f.AuthMode(), "the next read sees the update")
			assert.Contains(t, f.memberNames(), tt.wantMember, "unknown members are kept")
		})
	}
}
