package identity

import (
	"context"
	"time"
)

// ClientTestHooks replaces the clock, the sleep between attempts, the
// jitter source and the per-attempt time-out of c, for tests in package
// identity_test. A nil function or a zero time-out keeps the real one.
type ClientTestHooks struct {
	Now            func() time.Time
	Sleep          func(ctx context.Context, d time.Duration) error
	Jitter         func(n int64) int64
	AttemptTimeout time.Duration
}

// SetClientTestHooks installs h on c. Call it before c is used.
func SetClientTestHooks(c *Client, h ClientTestHooks) {
	c.now = h.Now
	c.sleep = h.Sleep
	c.jitter = h.Jitter
	c.attemptTimeout = h.AttemptTimeout
}

// ParseRetryAfter exposes parseRetryAfter.
var ParseRetryAfter = parseRetryAfter

// ClientBackoff exposes Client.backoff.
func ClientBackoff(c *Client, attempt int, retryAfter string) time.Duration {
	return c.backoff(attempt, retryAfter)
}

// Conditions the package keeps unexported, for the tests of package
// identity_test.
var (
	ErrInvalidRegistrationResponse = errInvalidRegistrationResponse
	ErrInvalidTaskIDCiphertext     = errInvalidTaskIDCiphertext
	ErrRoutingUnavailable          = errRoutingUnavailable
	ErrSessionEnded                = errSessionEnded
	ErrLoginChanged                = errLoginChanged
)

// RefreshError is the unexported refreshError.
type RefreshError = refreshError
