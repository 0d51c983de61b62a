package identity

import (
	"net/http"
	"testing"
	"time"

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
		{"over the cap", "11", MaxRetryDelay, true},
		{"overflow", "184467440737095516160", MaxRetryDelay, true},
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
		{"large attempt capped", 40, "", -1, MaxRetryDelay},
		{"huge attempt capped", 1 << 30, "", -1, MaxRetryDelay},
		{"Retry-After longer wins", 1, "4", 0, 4 * time.Second},
		{"Retry-After shorter loses", 2, "0", -1, 500 * time.Millisecond},
		{"Retry-After capped", 1, "3600", 0, MaxRetryDelay},
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
