package identity

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Back-off between registration attempts.
const (
	// retryBaseDelay is the back-off before the second attempt; it doubles
	// for each further attempt.
	retryBaseDelay = 250 * time.Millisecond
	// maxRetryDelay caps every wait between registration attempts,
	// including one asked for by a Retry-After header.
	maxRetryDelay = 10 * time.Second
)

// backoff returns the wait after failed attempt number attempt (1-based).
//
// Without Retry-After it is "equal jitter": half of base·2^(attempt-1) plus
// a uniformly random part of the other half, so the wait lies in
// [d/2, d]. A valid Retry-After (delay-seconds or an HTTP date) replaces it
// when it asks for longer. Every result is capped at maxRetryDelay.
func (c *Client) backoff(attempt int, retryAfter string) time.Duration {
	d := retryBaseDelay
	for i := 1; i < attempt && d < maxRetryDelay; i++ {
		d *= 2
	}
	d = min(d, maxRetryDelay)
	half := d / 2
	d = half + time.Duration(c.randN(int64(d-half)+1))
	if ra, ok := parseRetryAfter(retryAfter, c.clock()); ok && ra > d {
		d = ra
	}
	return min(max(d, 0), maxRetryDelay)
}

// randN returns a uniform integer in [0, n).
func (c *Client) randN(n int64) int64 {
	if n <= 0 {
		return 0
	}
	if c.jitter != nil {
		v := c.jitter(n)
		return min(max(v, 0), n-1)
	}
	return rand.Int64N(n)
}

// parseRetryAfter reads a Retry-After header (RFC 9110 §10.2.3): a
// non-negative number of seconds or an HTTP date, taken relative to now.
// Anything else, and a negative delay, reports false. Huge values are
// clamped so that they cannot overflow.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 64 {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		for i := 0; i < len(v); i++ {
			if v[i] < '0' || v[i] > '9' {
				return 0, false
			}
		}
		secs, err := strconv.ParseUint(v, 10, 64)
		if err != nil || secs > uint64(maxRetryDelay/time.Second) {
			// Out of range (or absurdly large): the cap applies.
			return maxRetryDelay, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d < 0 {
		return 0, true
	}
	return d, true
}

// doublingBackoff is the wait after the failures-th consecutive failure
// (1-based) of a cached operation (task registration, task replacement,
// routing discovery, token refresh): lo, doubling per failure, capped at hi.
func doublingBackoff(failures int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < failures && d < hi; i++ {
		d *= 2 // an overflow (lo near MaxInt64) means hi
		if d <= 0 {
			return hi
		}
	}
	return min(d, hi)
}

// sleepCtx waits d, or until ctx ends (then it returns ctx.Err()).
func (c *Client) sleepCtx(ctx context.Context, d time.Duration) error {
	if c.sleep != nil {
		return c.sleep(ctx, d)
	}
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
