//go:build unix

package identity

import (
	"os"
	"syscall"
)

// openNonBlocking opens path for reading without waiting for a writer (a
// FIFO) and without making a terminal the controlling one.
func openNonBlocking(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
}
