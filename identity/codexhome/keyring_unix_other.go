//go:build freebsd || openbsd || netbsd || dragonfly

package codexhome

// On the BSDs the keyring crate uses the Secret Service alone.
func newSystemKeyring() keyringBackend { return secretService{} }
