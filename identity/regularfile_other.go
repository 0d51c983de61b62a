//go:build !unix

package identity

import "os"

// openNonBlocking opens path for reading (readRegularFile has checked it is
// a regular file just before).
func openNonBlocking(path string) (*os.File, error) { return os.Open(path) }
