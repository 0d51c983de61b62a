//go:build unix

package gateway

import (
	"os"
	"syscall"
)

// openNonBlocking opens path for reading without waiting for a writer (a
// FIFO) or a device, and without making a terminal the controlling one.
func openNonBlocking(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
}

// versionOf reads the device, inode and change time of a Unix stat, where
// the platform's stat names its change time (statCtime).
func versionOf(fi os.FileInfo) fileVersion {
	v := fileVersion{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		v.dev, v.ino = uint64(st.Dev), uint64(st.Ino)
		v.ctime, v.exact = statCtime(st)
	}
	return v
}
