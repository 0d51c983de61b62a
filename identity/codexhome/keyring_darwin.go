//go:build darwin

package codexhome

import (
	"errors"
	"fmt"

	"github.com/zalando/go-keyring"
)

// goKeyring is the macOS Keychain through github.com/zalando/go-keyring: a
// generic password with service keyringService and the account, as the
// keyring crate's apple-native store keeps it. Compiled here, never run.
type goKeyring struct{}

func newSystemKeyring() keyringBackend { return goKeyring{} }

func (goKeyring) load(account string) (string, bool, error) {
	v, err := keyring.Get(keyringService, account)
	if errors.Is(err, keyring.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("%w: %v", ErrKeyringUnavailable, err)
	}
	return v, true, nil
}

func (goKeyring) save(account, value string) error {
	if err := keyring.Set(keyringService, account, value); err != nil {
		return fmt.Errorf("%w: %v", ErrKeyringUnavailable, err)
	}
	return nil
}

func (goKeyring) remove(account string) error {
	if err := keyring.Delete(keyringService, account); err != nil && !errors.Is(err, keyring.ErrNotFound) {
		return fmt.Errorf("%w: %v", ErrKeyringUnavailable, err)
	}
	return nil
}
