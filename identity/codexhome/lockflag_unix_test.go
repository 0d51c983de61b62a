//go:build unix

package codexhome

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLockOpenFlagRefusesSymlink: even if a link is planted after the Lstat
// check, opening the lock file does not follow it (and creates nothing at
// its target).
func TestLockOpenFlagRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere")
	link := filepath.Join(dir, authLockFileName)
	require.NoError(t, os.Symlink(target, link))
	f, err := os.OpenFile(link, lockOpenFlag, 0o600)
	if f != nil {
		f.Close()
	}
	require.ErrorIs(t, err, syscall.ELOOP)
	_, err = os.Lstat(target)
	require.ErrorIs(t, err, os.ErrNotExist)
}
