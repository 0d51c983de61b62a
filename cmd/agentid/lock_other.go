//go:build !unix

package main

const (
	authLockFileName   = "auth.json.lock"
	moduleLockFileName = "agentidentity.lock"
)

// lockHeld cannot look without taking the lock here: it says no.
func lockHeld(string) bool { return false }
