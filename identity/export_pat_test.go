package identity

import "time"

// SetWhoamiTimeoutForTest shortens the personal access token lookup's
// time-out until the returned function restores it.
func SetWhoamiTimeoutForTest(d time.Duration) (restore func()) {
	old := whoamiTimeout
	whoamiTimeout = d
	return func() { whoamiTimeout = old }
}
