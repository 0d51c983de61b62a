package wire

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCheckFreshEdges: the window is compared on instants, so it holds at
// its exact edges and cannot saturate for far-away timestamps or clocks.
func TestCheckFreshEdges(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	skew := 5 * time.Minute
	year := func(y int) time.Time { return time.Date(y, 1, 2, 3, 4, 5, 0, time.UTC) }
	tests := []struct {
		name  string
		ts    time.Time
		now   time.Time
		skew  time.Duration
		want  error // nil: fresh
		fresh bool
	}{
		{name: "same second", ts: now, now: now, skew: skew, fresh: true},
		{name: "exactly -maxSkew", ts: now.Add(-skew), now: now, skew: skew, fresh: true},
		{name: "exactly +maxSkew", ts: now.Add(skew), now: now, skew: skew, fresh: true},
		{name: "one second too old", ts: now.Add(-skew - time.Second), now: now, skew: skew, want: ErrStaleAssertion},
		{name: "one second too new", ts: now.Add(skew + time.Second), now: now, skew: skew, want: ErrStaleAssertion},
		{name: "now not truncated", ts: now.Add(skew), now: now.Add(999 * time.Millisecond), skew: skew, fresh: true},
		{name: "292 years ahead", ts: now.AddDate(292, 0, 0), now: now, skew: skew, want: ErrStaleAssertion},
		{name: "293 years ahead", ts: now.AddDate(293, 0, 0), now: now, skew: skew, want: ErrStaleAssertion},
		{name: "292 years behind", ts: now.AddDate(-292, 0, 0), now: now, skew: skew, want: ErrStaleAssertion},
		{name: "293 years behind", ts: now.AddDate(-293, 0, 0), now: now, skew: skew, want: ErrStaleAssertion},
		{name: "year 2400", ts: year(2400), now: now, skew: skew, want: ErrStaleAssertion},
		{name: "year 9999", ts: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), now: now, skew: skew, want: ErrStaleAssertion},
		{name: "year 0001", ts: year(1), now: now, skew: skew, want: ErrStaleAssertion},
		{name: "clock zero", ts: time.Time{}, now: time.Time{}, skew: skew, want: ErrImplausibleClock},
		{name: "clock year 0001", ts: year(1), now: year(1), skew: skew, want: ErrImplausibleClock},
		{name: "clock year 1999", ts: year(1999), now: year(1999), skew: skew, want: ErrImplausibleClock},
		{name: "clock first instant of 2000", ts: MinPlausibleTime, now: MinPlausibleTime, skew: skew, fresh: true},
		{name: "clock last second before 9000", ts: MaxPlausibleTime.Add(-time.Second), now: MaxPlausibleTime.Add(-time.Second), skew: skew, fresh: true},
		{name: "clock year 9000", ts: year(9000), now: year(9000), skew: skew, want: ErrImplausibleClock},
		{name: "clock year 9999", ts: year(9999), now: year(9999), skew: skew, want: ErrImplausibleClock},
		{name: "zero skew", ts: now, now: now, skew: 0, want: ErrInvalidSkew},
		{name: "negative skew", ts: now, now: now, skew: -time.Second, want: ErrInvalidSkew},
		{name: "minimum duration skew", ts: now, now: now, skew: time.Duration(-1 << 63), want: ErrInvalidSkew},
		{name: "25 h skew", ts: now, now: now, skew: 25 * time.Hour, want: ErrInvalidSkew},
		{name: "24 h skew at its edge", ts: now.Add(-24 * time.Hour), now: now, skew: 24 * time.Hour, fresh: true},
		{name: "maximum duration skew", ts: year(2400), now: now, skew: time.Duration(1<<63 - 1), want: ErrInvalidSkew},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckFresh(tt.ts, tt.now, tt.skew)
			if tt.fresh {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
			if errors.Is(tt.want, ErrStaleAssertion) {
				assert.ErrorIs(t, err, ErrInvalidAssertion)
			}
		})
	}
}

// FuzzCheckFresh checks CheckFresh against the definition with random
// timestamps, clocks and windows, and that no far-future header ever
// verifies.
func FuzzCheckFresh(f *testing.F) {
	f.Add(int64(1767323045), int64(1767323045), int64(time.Minute))
	f.Add(int64(253402300799), int64(1767323045), int64(1<<63-1))
	f.Add(int64(-62135596800), int64(-62135596800), int64(time.Minute))
	f.Add(int64(1767323045), int64(0), int64(-1<<63))
	f.Add(int64(13569465600), int64(1767323045), int64(24*time.Hour))
	f.Fuzz(func(t *testing.T, tsUnix, nowUnix, skewNS int64) {
		ts := time.Unix(tsUnix, 0).UTC()
		now := time.Unix(nowUnix, 0).UTC()
		skew := time.Duration(skewNS)
		err := CheckFresh(ts, now, skew)
		switch {
		case !Plausible(now):
			if !errors.Is(err, ErrImplausibleClock) {
				t.Fatalf("clock %v accepted: %v", now, err)
			}
		case skew <= 0 || skew > MaxSkewLimit:
			if !errors.Is(err, ErrInvalidSkew) {
				t.Fatalf("skew %v accepted: %v", skew, err)
			}
		default:
			// The definition, with big integers of seconds (no Duration).
			lo, hi := nowUnix-int64(skew/time.Second), nowUnix+int64(skew/time.Second)
			if skew%time.Second != 0 {
				// Sub-second windows: compare exactly on instants.
				fresh := !ts.Before(now.Add(-skew)) && !ts.After(now.Add(skew))
				if (err == nil) != fresh {
					t.Fatalf("ts %v now %v skew %v: err %v, want fresh=%v", ts, now, skew, err, fresh)
				}
				return
			}
			fresh := tsUnix >= lo && tsUnix <= hi
			if (err == nil) != fresh {
				t.Fatalf("ts %v now %v skew %v: err %v, want fresh=%v", ts, now, skew, err, fresh)
			}
			if err == nil && (ts.Sub(now) > MaxSkewLimit || now.Sub(ts) > MaxSkewLimit) {
				t.Fatalf("a timestamp more than %v away verified", MaxSkewLimit)
			}
		}
	})
}

// TestSignerRange: the encoder refuses times no verifier accepts, so every
// header it makes verifies at its own second.
func TestSignerRange(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(make([]byte, 32))
	sign := func(sig, msg []byte) error { copy(sig, ed25519.Sign(priv, msg)); return nil }
	tests := []struct {
		name string
		at   time.Time
		ok   bool
	}{
		{"2000", MinPlausibleTime, true},
		{"1999", MinPlausibleTime.Add(-time.Second), false},
		{"8999", MaxPlausibleTime.Add(-time.Second), true},
		{"9000", MaxPlausibleTime, false},
		{"zero", time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := AuthorizationHeader("agent-1", "task-1", tt.at, PayloadColon, Key{Sign: sign})
			body, berr := TaskRegistrationBody("agent-1", tt.at, Key{Priv: priv})
			if !tt.ok {
				require.ErrorIs(t, err, ErrInvalidSigningTime)
				require.ErrorIs(t, berr, ErrInvalidSigningTime)
				return
			}
			require.NoError(t, err)
			require.NoError(t, berr)
			_, err = VerifyHeader(h, priv.Public().(ed25519.PublicKey), tt.at, time.Second, PayloadColon)
			require.NoError(t, err)
			_, err = VerifyTaskRegistration("agent-1", body, priv.Public().(ed25519.PublicKey), tt.at, time.Second)
			require.NoError(t, err)
		})
	}
}

func TestParseTimestamp(t *testing.T) {
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"canonical", "2026-01-02T03:04:05Z", true},
		{"leap day", "2024-02-29T00:00:00Z", true},
		{"not a leap day", "2025-02-29T00:00:00Z", false},
		{"month 13", "2026-13-02T03:04:05Z", false},
		{"day 0", "2026-01-00T03:04:05Z", false},
		{"hour 24", "2026-01-02T24:04:05Z", false},
		{"leap second", "2026-12-31T23:59:60Z", false},
		{"lower-case t", "2026-01-02t03:04:05Z", false},
		{"lower-case z", "2026-01-02T03:04:05z", false},
		{"offset", "2026-01-02T03:04:05+00:00", false},
		{"fraction", "2026-01-02T03:04:05.0Z", false},
		{"space", "2026-01-02 03:04:05Z", false},
		{"sign", "+026-01-02T03:04:05Z", false},
		{"empty", "", false},
		{"unicode digit", "２026-01-02T03:04:05Z", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ok := ParseTimestamp(tt.in)
			assert.Equal(t, tt.ok, ok)
		})
	}
}
