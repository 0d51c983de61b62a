package identity

import (
	"errors"
	"os"

	"github.com/agentidentity/agentidentity/internal/limitio"
)

// errNotRegular is the cause of a refused file that is not a regular file.
var errNotRegular = errors.New("not a regular file")

// readRegularFile reads at most max bytes of the regular file at path,
// following symbolic links: a FIFO, device, socket or directory is refused
// by stat before it is opened, and again by fstat of a non-blocking open
// (it may have been swapped in between), so that reading never blocks on
// it. A larger file fails with an error wrapping limitio.ErrTooLarge.
func readRegularFile(path string, max int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errNotRegular
	}
	f, err := openNonBlocking(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errNotRegular
	}
	return limitio.ReadAll(f, max)
}
