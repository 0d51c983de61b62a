//go:build unix

package cacert

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPoolFIFO: a CODEX_CA_CERTIFICATE that names a FIFO is refused as not
// a regular file, without blocking on the open until a writer comes.
func TestPoolFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ca.fifo")
	require.NoError(t, syscall.Mkfifo(p, 0o600))
	done := make(chan error, 1)
	go func() {
		_, err := Pool(func(k string) string {
			if k == EnvCodexCACertificate {
				return p
			}
			return ""
		})
		done <- err
	}()
	select {
	case err := <-done:
		require.Error(t, err)
		require.True(t, errors.Is(err, ErrBundle), "%v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("Pool blocked on a FIFO")
	}
}
