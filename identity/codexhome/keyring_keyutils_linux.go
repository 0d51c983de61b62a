//go:build linux

package codexhome

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// keyutilsDescription is the description the keyring crate gives its
// keyutils entry: "keyring-rs:<user>@<service>".
func keyutilsDescription(account string) string {
	return "keyring-rs:" + account + "@" + keyringService
}

// maxKeyutilsPayload is the kernel's limit on a "user" key.
const maxKeyutilsPayload = 32767

// keyutilsSet adds (or replaces) the "user" key in the session keyring and
// links it into the persistent keyring, as the keyring crate does.
func keyutilsSet(account string, value []byte) error {
	if len(value) == 0 || len(value) > maxKeyutilsPayload {
		return fmt.Errorf("codexhome: a keyutils entry holds 1 to %d bytes, not %d", maxKeyutilsPayload, len(value))
	}
	session, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false)
	if err != nil {
		return fmt.Errorf("codexhome: find the session keyring: %w", err)
	}
	id, err := unix.AddKey("user", keyutilsDescription(account), value, session)
	if err != nil {
		return fmt.Errorf("codexhome: add the keyutils entry: %w", err)
	}
	if persistent, err := unix.KeyctlInt(unix.KEYCTL_GET_PERSISTENT, -1, unix.KEY_SPEC_SESSION_KEYRING, 0, 0); err == nil {
		if _, err := unix.KeyctlInt(unix.KEYCTL_LINK, id, persistent, 0, 0); err != nil {
			return fmt.Errorf("codexhome: link the keyutils entry into the persistent keyring: %w", err)
		}
	}
	return nil
}

// keyutilsGet reads the entry through a search of the session keyring
// (tests and status use it; the Store never reads credentials from it).
func keyutilsGet(account string) ([]byte, bool, error) {
	id, err := unix.KeyctlSearch(unix.KEY_SPEC_SESSION_KEYRING, "user", keyutilsDescription(account), 0)
	if err != nil {
		if errors.Is(err, unix.ENOKEY) || errors.Is(err, unix.EKEYEXPIRED) || errors.Is(err, unix.EKEYREVOKED) || errors.Is(err, unix.EACCES) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("codexhome: search the keyutils entry: %w", err)
	}
	buf := make([]byte, maxKeyutilsPayload+1)
	n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, id, buf, 0)
	if err != nil {
		return nil, false, fmt.Errorf("codexhome: read the keyutils entry: %w", err)
	}
	if n > len(buf) {
		return nil, false, fmt.Errorf("codexhome: the keyutils entry is larger than %d bytes", maxKeyutilsPayload)
	}
	return buf[:n], true, nil
}

// keyutilsInvalidate removes the entry, if there is one.
func keyutilsInvalidate(account string) error {
	id, err := unix.KeyctlSearch(unix.KEY_SPEC_SESSION_KEYRING, "user", keyutilsDescription(account), 0)
	if err != nil {
		return nil
	}
	if _, err := unix.KeyctlInt(unix.KEYCTL_INVALIDATE, id, 0, 0, 0); err != nil {
		return fmt.Errorf("codexhome: invalidate the keyutils entry: %w", err)
	}
	return nil
}

// systemKeyring is the Secret Service, with the keyutils entry that the
// keyring crate's persistent credential keeps as a mirror: written before
// the Secret Service (restored when that fails, as the crate does), and
// invalidated when it cannot be written, so no stale copy is left.
type systemKeyring struct{ ss secretService }

func newSystemKeyring() keyringBackend { return systemKeyring{} }

func (k systemKeyring) load(account string) (string, bool, error) { return k.ss.load(account) }

func (k systemKeyring) save(account, value string) error {
	prev, hadPrev, _ := keyutilsGet(account)
	if err := keyutilsSet(account, []byte(value)); err != nil {
		if ierr := keyutilsInvalidate(account); ierr != nil {
			return fmt.Errorf("%w (and the old entry could not be removed: %v)", err, ierr)
		}
		hadPrev = false
	}
	if err := k.ss.save(account, value); err != nil {
		if hadPrev {
			_ = keyutilsSet(account, prev)
		} else {
			_ = keyutilsInvalidate(account)
		}
		return err
	}
	return nil
}

func (k systemKeyring) remove(account string) error {
	_ = keyutilsInvalidate(account)
	return k.ss.remove(account)
}
