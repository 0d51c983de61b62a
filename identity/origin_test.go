package identity_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/identity"
)

// TestFirstPartyOriginOnlyHTTPS: credentials travel over https, plain http
// only to loopback hosts, and only to plain ASCII hosts.
func TestFirstPartyOriginOnlyHTTPS(t *testing.T) {
	f := newRunAuthFixture(t)
	tests := []struct {
		name   string
		origin string
		ok     bool
	}{
		{"https", "https://chatgpt.com", true},
		{"https with path", "https://chatgpt.com/backend-api", true},
		{"http to a public host", "http://chatgpt.com", false},
		{"http to a private address", "http://10.0.0.1:8080", false},
		{"http to localhost", "http://localhost:8080", true},
		{"http to 127.0.0.1", "http://127.0.0.1:8080", true},
		{"http to ::1", "http://[::1]:8080", true},
		{"http to a look-alike of localhost", "http://localhost.evil.com", false},
		{"user info", "https://user:pass@chatgpt.com", false},
		{"query", "https://chatgpt.com/?token=x", false},
		{"fragment", "https://chatgpt.com/#x", false},
		{"non-ASCII host", "https://chatgpt.cοm", false},
		{"roman numeral m", "https://\u217fybackend.example", false},
		{"punycode host", "https://xn--e1afmkfd.example", true},
		{"ftp", "ftp://chatgpt.com", false},
		{"relative", "/backend-api", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := identity.NewRunAuth(f.signer, f.client, identity.RunAuthOptions{FirstPartyOrigin: tt.origin})
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, agentidentity.ErrInvalidBaseURL)
			assert.NotContains(t, err.Error(), "pass")
			assert.NotContains(t, err.Error(), "token=x")
		})
	}
}

// TestFirstPartyHostComparison: a request gets credentials only when the
// ASCII host net/http dials equals the first-party host under ASCII-only
// case folding.
func TestFirstPartyHostComparison(t *testing.T) {
	f := newRunAuthFixture(t)
	ra, err := identity.NewRunAuth(f.signer, f.client, identity.RunAuthOptions{FirstPartyOrigin: "https://kmbackend.example", TaskID: "task-1"})
	require.NoError(t, err)
	tests := []struct {
		name   string
		url    string
		signed bool
	}{
		{"same", "https://kmbackend.example/x", true},
		{"upper case", "https://KMBACKEND.EXAMPLE/x", true},
		{"explicit default port", "https://kmbackend.example:443/x", true},
		{"other port", "https://kmbackend.example:8443/x", false},
		{"http", "http://kmbackend.example/x", false},
		{"kelvin sign", "https://\u212ambackend.example/x", false},
		{"roman numeral m", "https://k\u217fbackend.example/x", false},
		{"long s in scheme host", "https://kmbackend.exa\u017fple/x", false},
		{"trailing dot", "https://kmbackend.example./x", false},
		{"suffix", "https://kmbackend.example.evil.com/x", false},
		{"user info", "https://u@kmbackend.example/x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			tr := ra.Transport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
				got = r.Header.Get("Authorization")
				return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
			}))
			req, err := http.NewRequest(http.MethodGet, tt.url, nil)
			require.NoError(t, err)
			_, err = tr.RoundTrip(req)
			require.NoError(t, err)
			assert.Equal(t, tt.signed, got != "", "Authorization: %q", got)
		})
	}
}

// TestDefaultOriginNeedsHTTPS: a Client whose AuthAPI base is plain http to
// a public host gives credentials to no origin at all.
func TestDefaultOriginNeedsHTTPS(t *testing.T) {
	f := newRunAuthFixture(t)
	ra, err := identity.NewRunAuth(f.signer, &identity.Client{AuthAPIBaseURL: "http://auth.example.com/api/accounts"}, identity.RunAuthOptions{TaskID: "task-1"})
	require.NoError(t, err)
	for _, u := range []string{"http://auth.example.com/x", "https://auth.example.com/x", "https://chatgpt.com/x"} {
		var got string
		tr := ra.Transport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
			got = r.Header.Get("Authorization")
			return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
		}))
		req, err := http.NewRequest(http.MethodGet, u, nil)
		require.NoError(t, err)
		_, err = tr.RoundTrip(req)
		require.NoError(t, err)
		assert.Empty(t, got, u)
	}
}

// TestZeroRunAuth: a zero or nil RunAuth (what a failed Load leaves) errs
// instead of panicking.
func TestZeroRunAuth(t *testing.T) {
	var nilAuth *identity.RunAuth
	for name, a := range map[string]*identity.RunAuth{"zero": {}, "nil": nilAuth} {
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, "https://chatgpt.com/backend-api/x", http.NoBody)
			require.NoError(t, err)
			resp, err := a.Transport(nil).RoundTrip(req)
			require.ErrorIs(t, err, identity.ErrNoAgentIdentity)
			assert.Nil(t, resp)
			_, err = a.Client().Get("https://chatgpt.com/backend-api/x")
			require.ErrorIs(t, err, identity.ErrNoAgentIdentity)
			_, err = a.TaskID(context.Background())
			require.ErrorIs(t, err, identity.ErrNoAgentIdentity)
			_, err = identity.AuthorizationHeaderForTest(context.Background(), a)
			require.ErrorIs(t, err, identity.ErrNoAgentIdentity)
			_, err = a.ForkSession("a", "b")
			require.ErrorIs(t, err, identity.ErrNoAgentIdentity)
			a.EndSession("a")
			assert.Empty(t, a.AgentRuntimeID())
			assert.Zero(t, identity.SessionsForTest(a))
			assert.NotPanics(t, func() { _ = a.String() })
			_, err = a.ForSession("s").TaskID(context.Background())
			require.ErrorIs(t, err, identity.ErrNoAgentIdentity)
		})
	}
}
