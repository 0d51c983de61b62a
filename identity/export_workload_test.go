package identity

import (
	"strings"
	"time"
)

// SetWorkloadClockForTest replaces the clock of exchanged workload
// identity tokens until the returned function restores it.
func SetWorkloadClockForTest(now func() time.Time) (restore func()) {
	old := workloadNow
	workloadNow = now
	return func() { workloadNow = old }
}

// SetExchangeTimeoutForTest shortens the time-out of one token exchange
// until the returned function restores it.
func SetExchangeTimeoutForTest(d time.Duration) (restore func()) {
	old := exchangeTimeout
	exchangeTimeout = d
	return func() { exchangeTimeout = old }
}

// FormEncode exposes the WHATWG form serialiser of the exchange.
func FormEncode(s string) string {
	var b strings.Builder
	formEncode(&b, s)
	return b.String()
}
