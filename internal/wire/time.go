package wire

import (
	"fmt"
	"time"
)

// The clock limits. They are instants, compared as instants: a time.Duration
// between two arbitrary times saturates at about ±292 years, and a check
// written with one fails open.
var (
	// MinPlausibleTime is the earliest clock reading a verifier accepts, and
	// the earliest time a signer signs.
	MinPlausibleTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	// MaxPlausibleTime is the first clock reading a verifier refuses, and the
	// first time a signer refuses to sign.
	MaxPlausibleTime = time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC)
)

const (
	// MaxSkewLimit is the largest maximum clock skew a verifier may be given.
	MaxSkewLimit = 24 * time.Hour
	// DefaultMaxSkew is the window a gateway uses when none is configured.
	DefaultMaxSkew = 5 * time.Minute
	// TimestampLen is the length of "YYYY-MM-DDTHH:MM:SSZ".
	TimestampLen = 20
)

// Plausible reports whether t lies in [MinPlausibleTime, MaxPlausibleTime).
func Plausible(t time.Time) bool {
	return !t.Before(MinPlausibleTime) && t.Before(MaxPlausibleTime)
}

// CheckClock refuses a verifier clock outside the plausible range with an
// error wrapping ErrImplausibleClock.
func CheckClock(now time.Time) error {
	if !Plausible(now) {
		return fmt.Errorf("%w: it reads year %d, outside [%d, %d)", ErrImplausibleClock,
			now.Year(), MinPlausibleTime.Year(), MaxPlausibleTime.Year())
	}
	return nil
}

// CheckSkew refuses a maximum clock skew outside (0, MaxSkewLimit] with an
// error wrapping ErrInvalidSkew.
func CheckSkew(maxSkew time.Duration) error {
	if maxSkew <= 0 || maxSkew > MaxSkewLimit {
		return fmt.Errorf("%w: %v is not in (0, %v]", ErrInvalidSkew, maxSkew, MaxSkewLimit)
	}
	return nil
}

// CheckFresh reports whether the signed timestamp ts lies within maxSkew of
// now, comparing instants: ts must not be before now-maxSkew nor after
// now+maxSkew, with now truncated to whole seconds. now must pass CheckClock
// and maxSkew CheckSkew; both are checked here too, so a caller cannot fail
// open by skipping them. A refusal wraps ErrInvalidAssertion and
// ErrStaleAssertion.
func CheckFresh(ts, now time.Time, maxSkew time.Duration) error {
	if err := CheckClock(now); err != nil {
		return err
	}
	if err := CheckSkew(maxSkew); err != nil {
		return err
	}
	now = now.Truncate(time.Second)
	if ts.Before(now.Add(-maxSkew)) {
		return fmt.Errorf("%w: %w: the timestamp is more than %v before now", ErrInvalidAssertion, ErrStaleAssertion, maxSkew)
	}
	if ts.After(now.Add(maxSkew)) {
		return fmt.Errorf("%w: %w: the timestamp is more than %v after now", ErrInvalidAssertion, ErrStaleAssertion, maxSkew)
	}
	return nil
}

// SigningTime converts at to the signed form: UTC, truncated to whole
// seconds. A time outside [MinPlausibleTime, MaxPlausibleTime) is refused, so
// a signer never makes a header that no verifier accepts.
func SigningTime(at time.Time) (time.Time, error) {
	t := at.UTC().Truncate(time.Second)
	if !Plausible(t) {
		return time.Time{}, fmt.Errorf("%w: year %d is outside [%d, %d); check the clock",
			ErrInvalidSigningTime, t.Year(), MinPlausibleTime.Year(), MaxPlausibleTime.Year())
	}
	return t, nil
}

// AppendTimestamp appends t (already UTC, whole seconds, year 0..9999) as
// YYYY-MM-DDTHH:MM:SSZ.
func AppendTimestamp(b []byte, t time.Time) []byte {
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	return append(b,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), 'Z')
}

// ParseTimestamp parses exactly YYYY-MM-DDTHH:MM:SSZ and refuses anything
// that does not format back to the same bytes (out-of-range fields).
func ParseTimestamp[T string | []byte](s T) (time.Time, bool) {
	if len(s) != TimestampLen || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
		s[13] != ':' || s[16] != ':' || s[19] != 'Z' {
		return time.Time{}, false
	}
	num := func(i, n int) (int, bool) {
		v := 0
		for j := i; j < i+n; j++ {
			c := s[j]
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 2)
	day, ok3 := num(8, 2)
	hour, ok4 := num(11, 2)
	minute, ok5 := num(14, 2)
	sec, ok6 := num(17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
	var buf [TimestampLen]byte
	if string(AppendTimestamp(buf[:0], t)) != string(s) {
		return time.Time{}, false
	}
	return t, true
}
