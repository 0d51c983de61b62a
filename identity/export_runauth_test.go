package identity

import "time"

// WithClockForTest exposes withClock to package identity_test.
func WithClockForTest(now func() time.Time) RunAuthOption { return withClock(now) }

// ResetBootstrapCooldownForTest forgets every remembered bootstrap failure.
func ResetBootstrapCooldownForTest() {
	c := processBootstrapCooldown
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
}
