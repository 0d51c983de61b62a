package identity

import (
	"context"
	"time"
)

// WithClockForTest exposes withClock to package identity_test.
func WithClockForTest(now func() time.Time) RunAuthOption { return withClock(now) }

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
