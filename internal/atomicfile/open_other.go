//go:build !unix

package atomicfile

import (
	"io/fs"
	"os"
)

// openNoFollow checks with Lstat before opening: platforms without
// O_NOFOLLOW have a small race that unix builds do not.
func openNoFollow(path string) (*os.File, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, errLoop
	}
	return os.Open(path)
}

type loopError struct{}

func (loopError) Error() string { return "symbolic link" }

var errLoop error = loopError{}

func isLoop(err error) bool { return err == errLoop }

// syncDir is a no-op where folders cannot be opened for sync.
func syncDir(string) error { return nil }
