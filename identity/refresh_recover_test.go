package identity_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRefreshAfterBearer401: a Bearer route that refuses the ChatGPT access
// token with 401 gets the login refreshed once (reason
// unauthorized_recovery) and the request sent again with the new token; a
// request whose body cannot be replayed gets the 401 back as it came.
func TestRefreshAfterBearer401(t *testing.T) {
	f := newRefreshFixture(t, 0, nil) // a fresh token: no proactive refresh
	ra := f.load(t)
	old, err := f.bearer(ra)
	require.NoError(t, err)

	var mu sync.Mutex
	var seen []string
	backend := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		if r.Body != nil {
			_, _ = io.Copy(io.Discard, r.Body)
		}
		status := http.StatusOK
		if r.Header.Get("Authorization") == "Bearer "+old {
			status = http.StatusUnauthorized
		}
		return &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader("{}")), Header: http.Header{}, Request: r}, nil
	})
	client := &http.Client{Transport: ra.Transport(backend)}

	tests := []struct {
		name       string
		body       func() io.Reader
		wantStatus int
	}{
		{"GET is retried with the refreshed token", func() io.Reader { return nil }, http.StatusOK},
		{"a second request uses the refreshed token at once", func() io.Reader { return nil }, http.StatusOK},
		{"a replayable body is sent again", func() io.Reader { return bytes.NewReader([]byte(`{"x":1}`)) }, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, f.srv.ChatGPTBaseURL+"/wham/settings/user", tt.body())
			require.NoError(t, err)
			resp, err := client.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tt.wantStatus, resp.StatusCode)
		})
	}
	assert.Equal(t, 1, f.srv.Stats().Refreshes, "one refresh for the refused token")
	mu.Lock()
	defer mu.Unlock()
	require.GreaterOrEqual(t, len(seen), 4)
	assert.Equal(t, "Bearer "+old, seen[0])
	assert.NotEqual(t, "Bearer "+old, seen[1], "the retry carries the new token")
	for _, s := range seen[1:] {
		assert.NotContains(t, s, old)
	}
	stored := f.storedTokens(t)
	assert.Equal(t, strings.TrimPrefix(seen[1], "Bearer "), stored.AccessToken.Reveal(), "the new token is saved")
}

// TestRefreshAfterBearer401NotReplayable: a body that cannot be sent again
// keeps the 401, and nothing is refreshed for it.
func TestRefreshAfterBearer401NotReplayable(t *testing.T) {
	f := newRefreshFixture(t, 0, nil)
	ra := f.load(t)
	backend := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusUnauthorized, Body: io.NopCloser(strings.NewReader("no")), Header: http.Header{}, Request: r}, nil
	})
	req, err := http.NewRequest(http.MethodPost, f.srv.ChatGPTBaseURL+"/wham/settings/user", io.NopCloser(strings.NewReader("stream")))
	require.NoError(t, err)
	req.GetBody = nil
	resp, err := ra.Transport(backend).RoundTrip(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, "no", string(body), "the 401 comes back as it came")
	assert.Zero(t, f.srv.Stats().Refreshes)
}
