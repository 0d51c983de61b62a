package identity

import (
	"context"
	"time"
)

// NewRunAuthForTest is NewRunAuth with the clock now (nil: time.Now).
func NewRunAuthForTest(s *Signer, c *Client, o RunAuthOptions, now func() time.Time) (*RunAuth, error) {
	return newRunAuth(s, c, o, runInternals{now: now})
}

// ResetBootstrapCooldownForTest forgets every remembered bootstrap failure.
func ResetBootstrapCooldownForTest() {
	c := processBootstrapCooldown
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
}

// AuthorizationHeaderForTest exposes RunAuth.authorizationHeader.
func AuthorizationHeaderForTest(ctx context.Context, a *RunAuth) (string, error) {
	return a.authorizationHeader(ctx)
}

// SessionsForTest exposes RunAuth.sessionCount.
func SessionsForTest(a *RunAuth) int { return a.sessionCount() }

// TaskRegistrationBodyForTest exposes Signer.taskRegistrationBody.
func TaskRegistrationBodyForTest(s *Signer, at time.Time) ([]byte, error) {
	return s.taskRegistrationBody(at)
}

// X25519PublicKeyForTest exposes Signer.x25519PublicKey.
func X25519PublicKeyForTest(s *Signer) []byte { return s.x25519PublicKey() }
