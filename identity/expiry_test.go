package identity_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/identitytest"
)

// TestRunAuthStopsAtExpiry: a run made from an expiring credential signs
// until the instant before its expiry and never after.
func TestRunAuthStopsAtExpiry(t *testing.T) {
	f := newRunAuthFixture(t)
	exp := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	var now atomic.Pointer[time.Time]
	clock := func() time.Time { return *now.Load() }
	ra := f.runAuthAt(t, clock, identity.RunAuthOptions{TaskID: "task-1", Expiry: exp})
	tests := []struct {
		name    string
		at      time.Time
		expired bool
	}{
		{"an hour before", exp.Add(-time.Hour), false},
		{"one second before", exp.Add(-time.Second), false},
		{"one nanosecond before", exp.Add(-time.Nanosecond), false},
		{"at exp", exp, true},
		{"one second after", exp.Add(time.Second), true},
		{"a year after", exp.AddDate(1, 0, 0), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := tt.at
			now.Store(&at)
			_, err := identity.AuthorizationHeaderForTest(context.Background(), ra)
			session := ra.ForSession("s")
			_, serr := identity.AuthorizationHeaderForTest(context.Background(), session)
			if !tt.expired {
				require.NoError(t, err)
				require.NoError(t, serr)
				return
			}
			require.ErrorIs(t, err, identity.ErrJWTExpired)
			require.ErrorIs(t, serr, identity.ErrJWTExpired)
			req, rerr := http.NewRequest(http.MethodPost, f.srv.ChatGPTBaseURL+"/codex/responses", http.NoBody)
			require.NoError(t, rerr)
			_, err = ra.Transport(roundTripFunc(func(*http.Request) (*http.Response, error) {
				t.Error("an expired run sent a request")
				return nil, nil
			})).RoundTrip(req)
			require.ErrorIs(t, err, identity.ErrJWTExpired)
		})
	}
}

// TestLoadRefusesExpiredJWT: an expired JWT, from the environment or stored,
// is refused with ErrJWTExpired, and one that is valid gives a run that
// carries its expiry.
func TestLoadRefusesExpiredJWT(t *testing.T) {
	f := newLoadFixture(t, identitytest.CodexHomeOptions{})
	expired, err := f.srv.MintAgentJWT(identitytest.JWTOptions{IssuedAt: time.Now().Add(-3 * time.Hour), TTL: time.Hour})
	require.NoError(t, err)
	ctx := context.Background()

	_, err = f.load(ctx, identity.PolicyJWTOnly, map[string]string{identity.EnvAccessToken: expired.Reveal()})
	require.ErrorIs(t, err, identity.ErrJWTExpired)
	assert.ErrorIs(t, err, identity.ErrInvalidJWT)
	assert.Contains(t, err.Error(), "load a fresh token")

	f.write(t, identitytest.CodexHomeOptions{AgentJWT: expired})
	_, err = f.load(ctx, identity.PolicyJWTOnly, nil)
	require.ErrorIs(t, err, identity.ErrJWTExpired)
}
