//go:build unix

package main

import (
	"os"
	"syscall"

	"github.com/gofrs/flock"
)

// Names of the lock files codexhome takes in $CODEX_HOME.
const (
	authLockFileName   = "auth.json.lock"
	moduleLockFileName = "agentidentity.lock"
)

// lockHeld reports whether another open file holds a lock on path (a lock
// file codexhome takes). It only looks: a shared lock, taken and let go at
// once, on a file opened read-only without following a symbolic link and
// never created.
func lockHeld(path string) bool {
	st, err := os.Lstat(path)
	if err != nil || !st.Mode().IsRegular() {
		return false
	}
	fl := flock.New(path, flock.SetFlag(os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC))
	ok, err := fl.TryRLock()
	if err != nil {
		return false
	}
	if ok {
		_ = fl.Unlock()
		return false
	}
	return true
}
