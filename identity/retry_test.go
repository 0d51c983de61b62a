package identity

import (
	"net/http"
	"testing"
	"time"

	"github.com/agentidentity/agentidentity"
	"github.com/stretchr/testify/assert"
)

func TestClientParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"empty", "", 0, false},
		{"zero", "0", 0, true},
		{"seconds", "3", 3 * time.Second, true},
		{"spaces trimmed", " 3 ", 3 * time.Second, true},
		{"at the cap", "10", 10 * time.Second, true},
		{"over the cap", "11", maxRetryDelay, true},
		{"overflow", "184467440737095516160", maxRetryDelay, true},
		{"leading zeros", "007", 7 * time.Second, true},
		{"negative", "-1", 0, false},
		{"plus sign", "+1", 0, false},
		{"fraction", "1.5", 0, false},
		{"unit", "5s", 0, false},
		{"too long", "1" + string(make([]byte, 80)), 0, false},
		{"IMF date", now.Add(4 * time.Second).Format(http.TimeFormat), 4 * time.Second, true},
		{"RFC 850 date", now.Add(4 * time.Second).Format(time.RFC850), 4 * time.Second, true},
		{"ANSI C date", now.Add(4 * time.Second).Format(time.ANSIC), 4 * time.Second, true},
		{"past date", now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"garbage", "tomorrow", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseRetryAfter(tt.in, now)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestClientBackoffTable(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name       string
		attempt    int
		retryAfter string
		jitter     int64 // -1: the largest
		want       time.Duration
	}{
		{"first, least", 1, "", 0, 125 * time.Millisecond},
		{"first, most", 1, "", -1, 250 * time.Millisecond},
		{"second, least", 2, "", 0, 250 * time.Millisecond},
		{"second, most", 2, "", -1, 500 * time.Millisecond},
		{"sixth, most", 6, "", -1, 8 * time.Second},
		{"large attempt capped", 40, "", -1, maxRetryDelay},
		{"huge attempt capped", 1 << 30, "", -1, maxRetryDelay},
		{"Retry-After longer wins", 1, "4", 0, 4 * time.Second},
		{"Retry-After shorter loses", 2, "0", -1, 500 * time.Millisecond},
		{"Retry-After capped", 1, "3600", 0, maxRetryDelay},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Client{
				now: func() time.Time { return now },
				jitter: func(n int64) int64 {
					if tt.jitter < 0 {
						return n - 1
					}
					return tt.jitter
				},
			}
			assert.Equal(t, tt.want, c.backoff(tt.attempt, tt.retryAfter))
		})
	}
}

func TestDoublingBackoff(t *testing.T) {
	const lo, hi = time.Second, 5 * time.Minute
	for _, tc := range []struct {
		failures int
		want     time.Duration
	}{
		{0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second},
		{9, 256 * time.Second}, {10, hi}, {31, hi}, {64, hi}, {1 << 30, hi},
	} {
		assert.Equal(t, tc.want, doublingBackoff(tc.failures, lo, hi), "failures %d", tc.failures)
	}
	// No overflow into a negative or zero wait for a large lo.
	assert.Equal(t, time.Duration(1<<62), doublingBackoff(40, time.Hour, 1<<62))
}

// TestRegistrationEndpointsNeedHTTPS: the AuthAPI base rule gives
// registration (a ChatGPT access token or a signature) only to https, or
// plain http to a loopback host, with a plain ASCII host.
func TestRegistrationEndpointsNeedHTTPS(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://auth.example/v1/agent/register": true,
		"http://127.0.0.1:8080/v1/task":          true,
		"http://[::1]/v1/task":                   true,
		"http://auth.example/v1/task":            false,
		"ftp://127.0.0.1/v1/task":                false,
		"https://аuth.example/v1/task":           false, // Cyrillic а
		"https://auth.example\x7f/v1/task":       false,
	} {
		_, err := parseBaseURL(raw)
		if ok {
			assert.NoError(t, err, raw)
		} else {
			assert.ErrorIs(t, err, agentidentity.ErrInvalidBaseURL, raw)
		}
	}
}

func TestDoublingBackoffNoOverflow(t *testing.T) {
	for lo := time.Nanosecond; lo < time.Duration(1<<62); lo = lo*3 + 1 {
		for _, f := range []int{1, 2, 40, 63, 64, 100} {
			d := doublingBackoff(f, lo, time.Duration(1<<63-1))
			assert.Positive(t, d)
			assert.GreaterOrEqual(t, d, lo)
		}
	}
}
