package identity

import "time"

// SetRefreshClockForTest replaces the clock of token refreshes until the
// returned function restores it.
func SetRefreshClockForTest(now func() time.Time) (restore func()) {
	old := refreshNow
	refreshNow = now
	return func() { refreshNow = old }
}

// AccessTokenExpiry exposes accessTokenExpiry.
var AccessTokenExpiry = accessTokenExpiry

// RefreshErrorCode exposes refreshErrorCode.
var RefreshErrorCode = refreshErrorCode
