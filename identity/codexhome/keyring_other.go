//go:build !linux && !darwin && !freebsd && !openbsd && !netbsd && !dragonfly

package codexhome

import (
	"fmt"
	"runtime"
)

// unsupportedKeyring refuses: on Windows the Codex CLI's default keyring
// backend is an encrypted file whose key is in the Credential Manager, and
// the keyring crate names its credentials differently from
// github.com/zalando/go-keyring, so no entry written here would be the
// Codex CLI's. CredentialsStoreAuto then uses auth.json.
type unsupportedKeyring struct{}

func newSystemKeyring() keyringBackend { return unsupportedKeyring{} }

func (unsupportedKeyring) err() error {
	return fmt.Errorf("%w: the Codex CLI's keyring store is not supported on %s; use cli_auth_credentials_store = \"file\"", ErrKeyringUnavailable, runtime.GOOS)
}

func (u unsupportedKeyring) load(string) (string, bool, error) { return "", false, u.err() }
func (u unsupportedKeyring) save(string, string) error         { return u.err() }
func (u unsupportedKeyring) remove(string) error               { return u.err() }
