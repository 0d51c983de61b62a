//go:build !unix

package gateway

import "os"

// openNonBlocking opens path for reading; where there are no FIFOs or
// device nodes in the file system, an ordinary open does not block.
func openNonBlocking(path string) (*os.File, error) {
	return os.Open(path)
}

// versionOf knows only size and mtime here: every check hashes the content.
func versionOf(fi os.FileInfo) fileVersion {
	return fileVersion{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
}
