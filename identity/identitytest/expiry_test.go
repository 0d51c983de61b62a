package identitytest_test

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/identitytest"
)

// fakeClock is a clock a test moves by hand, for Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// registrationBody is a valid agent registration body for a new key.
func registrationBody(t *testing.T) string {
	t.Helper()
	km, err := identity.GenerateKeyMaterial()
	require.NoError(t, err)
	return `{"abom":{"agent_version":"1","agent_harness_id":"h","running_location":"l"},"agent_public_key":"` +
		km.PublicKeySSH + `","capabilities":["responsesapi"],"ttl":null}`
}

// registerWith posts an agent registration with the Bearer token tok and
// returns the status and the answer.
func registerWith(t *testing.T, srv *identitytest.Server, tok codexhome.Secret, fedRAMP bool) (int, map[string]string) {
	t.Helper()
	h := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + tok.Reveal()}}
	if fedRAMP {
		h.Set("X-OpenAI-Fedramp", "true")
	}
	return post(t, srv, srv.AuthAPIBaseURL+"/v1/agent/register", registrationBody(t), h)
}

// bearerGet calls GET {ChatGPTBaseURL}+path with the Bearer token tok and
// the account headers of acct, and returns the status and the body.
func bearerGet(t *testing.T, srv *identitytest.Server, path string, tok codexhome.Secret, acct codexhome.Account) (int, []byte) {
	t.Helper()
	h := http.Header{"Authorization": {"Bearer " + tok.Reveal()}, "Chatgpt-Account-Id": {acct.AccountID}}
	if acct.FedRAMP {
		h.Set("X-Openai-Fedramp", "true")
	}
	resp, body := do(t, srv, http.MethodGet, "/backend-api"+path, h, "")
	return resp.StatusCode, body
}

// refresh redeems l's refresh token at the server and returns the new
// access token.
func refresh(t *testing.T, srv *identitytest.Server, l identitytest.ChatGPTLogin) codexhome.Secret {
	t.Helper()
	body, err := json.Marshal(map[string]string{"client_id": "app_x", "grant_type": "refresh_token", "refresh_token": l.RefreshToken.Reveal()})
	require.NoError(t, err)
	status, out := post(t, srv, srv.RefreshTokenURL, string(body), http.Header{"Content-Type": {"application/json"}})
	require.Equal(t, http.StatusOK, status, out)
	return codexhome.NewSecret(out["access_token"])
}

// TestAccessTokenExpiry: the server refuses a ChatGPT access token at and
// after its "exp", by its own clock, wherever it accepts one: agent
// registration and the Bearer routes; a refresh's tokens expire by their
// TTL too.
func TestAccessTokenExpiry(t *testing.T) {
	tests := []struct {
		name string
		// token makes the token under test; the clock may be moved.
		token   func(t *testing.T, srv *identitytest.Server, clock *fakeClock) (codexhome.Secret, codexhome.Account)
		expired bool
	}{
		{"fresh", func(t *testing.T, srv *identitytest.Server, _ *fakeClock) (codexhome.Secret, codexhome.Account) {
			l := srv.MintChatGPTLogin(identitytest.LoginOptions{})
			return l.AccessToken, l.Account
		}, false},
		{"negative TTL", func(t *testing.T, srv *identitytest.Server, _ *fakeClock) (codexhome.Secret, codexhome.Account) {
			l := srv.MintChatGPTLogin(identitytest.LoginOptions{TTL: -time.Minute})
			return l.AccessToken, l.Account
		}, true},
		{"issued more than TTL ago", func(t *testing.T, srv *identitytest.Server, clock *fakeClock) (codexhome.Secret, codexhome.Account) {
			l := srv.MintChatGPTLogin(identitytest.LoginOptions{IssuedAt: clock.Now().Add(-2 * time.Hour), TTL: time.Hour})
			return l.AccessToken, l.Account
		}, true},
		{"one second before exp", func(t *testing.T, srv *identitytest.Server, clock *fakeClock) (codexhome.Secret, codexhome.Account) {
			l := srv.MintChatGPTLogin(identitytest.LoginOptions{TTL: time.Hour})
			clock.Advance(time.Hour - time.Second)
			return l.AccessToken, l.Account
		}, false},
		{"at exp", func(t *testing.T, srv *identitytest.Server, clock *fakeClock) (codexhome.Secret, codexhome.Account) {
			l := srv.MintChatGPTLogin(identitytest.LoginOptions{TTL: time.Hour})
			clock.Advance(time.Hour)
			return l.AccessToken, l.Account
		}, true},
		{"FedRAMP, expired", func(t *testing.T, srv *identitytest.Server, _ *fakeClock) (codexhome.Secret, codexhome.Account) {
			l := srv.MintChatGPTLogin(identitytest.LoginOptions{Account: codexhome.Account{FedRAMP: true}, TTL: -time.Second})
			return l.AccessToken, l.Account
		}, true},
		{"refreshed, fresh", func(t *testing.T, srv *identitytest.Server, clock *fakeClock) (codexhome.Secret, codexhome.Account) {
			l := srv.MintChatGPTLogin(identitytest.LoginOptions{TTL: 10 * time.Minute})
			clock.Advance(20 * time.Minute)
			return refresh(t, srv, l), l.Account
		}, false},
		{"refreshed, then its TTL passed", func(t *testing.T, srv *identitytest.Server, clock *fakeClock) (codexhome.Secret, codexhome.Account) {
			l := srv.MintChatGPTLogin(identitytest.LoginOptions{TTL: 10 * time.Minute})
			tok := refresh(t, srv, l)
			clock.Advance(10 * time.Minute)
			return tok, l.Account
		}, true},
		{"refreshed from a login minted expired: 1 h", func(t *testing.T, srv *identitytest.Server, clock *fakeClock) (codexhome.Secret, codexhome.Account) {
			l := srv.MintChatGPTLogin(identitytest.LoginOptions{TTL: -time.Hour})
			tok := refresh(t, srv, l)
			clock.Advance(59 * time.Minute)
			return tok, l.Account
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			srv := newServer(t, identitytest.Options{Now: clock.Now})
			tok, acct := tt.token(t, srv, clock)

			status, out := registerWith(t, srv, tok, acct.FedRAMP)
			side, body := bearerGet(t, srv, "/wham/accounts/check", tok, acct)
			models, _ := bearerGet(t, srv, "/codex/models?client_version=1", tok, acct)
			st := srv.Stats()
			if tt.expired {
				assert.Equal(t, http.StatusUnauthorized, status, out)
				assert.Equal(t, "the access token has expired", out["error"])
				assert.Equal(t, http.StatusUnauthorized, side, string(body))
				assert.Contains(t, string(body), "expired")
				assert.Equal(t, http.StatusUnauthorized, models)
				assert.Equal(t, 0, st.AgentsRegistered)
				assert.Equal(t, 0, st.BearerRequestsAccepted)
				assert.Equal(t, 2, st.RequestsRejected)
				return
			}
			assert.Equal(t, http.StatusOK, status, out)
			assert.Equal(t, http.StatusOK, side, string(body))
			assert.Equal(t, http.StatusOK, models)
			assert.Equal(t, 1, st.AgentsRegistered)
			assert.Equal(t, 2, st.BearerRequestsAccepted)
		})
	}
}

// TestExpiredLoginLogLine: the refusal of an expired token says why in the
// request log, without the token.
func TestExpiredLoginLogLine(t *testing.T) {
	var (
		mu    sync.Mutex
		lines []string
	)
	srv := newServer(t, identitytest.Options{OnRequest: func(e identitytest.Exchange) {
		mu.Lock()
		lines = append(lines, e.LogLine())
		mu.Unlock()
	}})
	l := srv.MintChatGPTLogin(identitytest.LoginOptions{TTL: -time.Minute})
	status, _ := registerWith(t, srv, l.AccessToken, false)
	require.Equal(t, http.StatusUnauthorized, status)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, lines, 1)
	assert.Equal(t, "POST /api/accounts/v1/agent/register Bearer refused: the access token has expired 401", lines[0])
	assert.NotContains(t, lines[0], l.AccessToken.Reveal())
}
