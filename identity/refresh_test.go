package identity_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/identitytest"
)

// refreshFixture is a $CODEX_HOME whose login's access token was issued at
// issued (TTL 1 h), with an identity of the login's account already
// provisioned.
type refreshFixture struct {
	*loadFixture
	env map[string]string
}

func newRefreshFixture(t *testing.T, issued time.Duration, env map[string]string) *refreshFixture {
	t.Helper()
	f := newLoadFixture(t, identitytest.CodexHomeOptions{})
	// The identity is provisioned with a fresh access token of the
	// account (the fake refuses an expired one at agent registration);
	// then the login under test takes its place in auth.json, byte for
	// byte where the tokens were, so that what these tests exercise is
	// the refresh of the Bearer routes, not provisioning.
	fresh := f.login
	f.write(t, identitytest.CodexHomeOptions{Login: &fresh, UseAgentIdentity: true})
	_, err := f.load(context.Background(), identity.PolicyChatGPTAuth, nil)
	require.NoError(t, err)
	f.login = f.srv.MintChatGPTLogin(identitytest.LoginOptions{Account: fresh.Account, IssuedAt: time.Now().Add(-issued), TTL: time.Hour})
	path := filepath.Join(f.home, "auth.json")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, swap := range [][2]codexhome.Secret{
		{fresh.IDToken, f.login.IDToken}, {fresh.AccessToken, f.login.AccessToken}, {fresh.RefreshToken, f.login.RefreshToken},
	} {
		require.Equal(t, 1, bytes.Count(data, []byte(swap[0].Reveal())))
		data = bytes.Replace(data, []byte(swap[0].Reveal()), []byte(swap[1].Reveal()), 1)
	}
	require.NoError(t, os.WriteFile(path, data, 0o600))
	if env == nil {
		env = map[string]string{identity.EnvRefreshTokenURLOverride: f.srv.RefreshTokenURL}
	}
	return &refreshFixture{loadFixture: f, env: env}
}

func (f *refreshFixture) load(t *testing.T) *identity.RunAuth {
	t.Helper()
	ra, err := f.loadFixture.load(context.Background(), identity.PolicyChatGPTAuth, f.env)
	require.NoError(t, err)
	return ra
}

// bearer returns the access token a Bearer route of ra gets.
func (f *refreshFixture) bearer(ra *identity.RunAuth) (string, error) {
	h, err := ra.Header(context.Background(), f.srv.ChatGPTBaseURL+"/wham/accounts/check")
	if err != nil {
		return "", err
	}
	tok, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
	if !ok {
		return "", errors.New("no Bearer header")
	}
	return tok, nil
}

func (f *refreshFixture) storedTokens(t *testing.T) *codexhome.Tokens {
	t.Helper()
	af, err := codexhome.OpenStore(f.home).Read()
	require.NoError(t, err)
	tok := af.Tokens()
	require.NotNil(t, tok)
	return tok
}

var lastRefreshFormat = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6}|\.\d{9})?Z$`)

func TestRefreshProactive(t *testing.T) {
	tests := []struct {
		name        string
		issued      time.Duration // how long ago the access token was issued (TTL 1 h)
		wantRefresh bool
	}{
		{"fresh token", 0, false},
		{"55 minutes old, 5 minutes left", 55*time.Minute + 10*time.Second, true},
		{"expires in 2 minutes", 58 * time.Minute, true},
		{"expired an hour ago", 2 * time.Hour, true},
		{"6 minutes left", 54 * time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRefreshFixture(t, tt.issued, nil)
			ra := f.load(t)
			before := readAuth(t, f.home)
			start := time.Now()
			tok, err := f.bearer(ra)
			require.NoError(t, err)
			after := readAuth(t, f.home)
			stored := f.storedTokens(t)
			assert.Equal(t, stored.AccessToken.Reveal(), tok, "the Bearer token is the one in auth.json")
			if !tt.wantRefresh {
				assert.Equal(t, 0, f.srv.Stats().Refreshes)
				assert.Equal(t, f.login.AccessToken.Reveal(), tok)
				assert.Equal(t, before, after, "auth.json is not touched")
				return
			}
			assert.Equal(t, 1, f.srv.Stats().Refreshes)
			assert.Equal(t, 0, f.srv.Stats().RefreshesRefused)
			assert.NotEqual(t, f.login.AccessToken.Reveal(), tok)
			assert.NotEqual(t, f.login.RefreshToken.Reveal(), stored.RefreshToken.Reveal(), "the rotated refresh token is saved")
			assert.Equal(t, f.login.AccountID, stored.AccountID)
			lr, _ := after["last_refresh"].(string)
			assert.Regexp(t, lastRefreshFormat, lr)
			got, err := time.Parse(time.RFC3339Nano, lr)
			require.NoError(t, err)
			assert.WithinRange(t, got, start.Add(-time.Second), time.Now().Add(time.Second))
			assert.Equal(t, before["agent_identity"], after["agent_identity"])
			exp, ok := identity.AccessTokenExpiry(tok)
			require.True(t, ok)
			assert.Greater(t, time.Until(exp), 50*time.Minute)
			// A fresh token is not refreshed again.
			ra2 := f.load(t)
			tok2, err := f.bearer(ra2)
			require.NoError(t, err)
			assert.Equal(t, tok, tok2)
			assert.Equal(t, 1, f.srv.Stats().Refreshes)
		})
	}
}

func TestRefreshNotWithoutExp(t *testing.T) {
	f := newRefreshFixture(t, 0, nil)
	ra := f.load(t)
	// An access token that is a JWT without exp, and one that is no JWT.
	for _, tok := range []string{"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln", "opaque-access-token"} {
		m := readAuth(t, f.home)
		tokens := m["tokens"].(map[string]any)
		tokens["access_token"] = tok
		writeMember(t, f.home, "tokens", tokens)
		got, err := f.bearer(f.load(t))
		require.NoError(t, err)
		assert.Equal(t, tok, got)
	}
	_ = ra
	st := f.srv.Stats()
	assert.Equal(t, 0, st.Refreshes+st.RefreshesRefused)
}

// A refresh made by another writer (the Codex CLI) before ours is needed is
// adopted: zero refresh requests.
func TestRefreshAdoptsAConcurrentWriter(t *testing.T) {
	f := newRefreshFixture(t, 58*time.Minute, nil)
	ra := f.load(t)
	theirs := f.srv.MintChatGPTLogin(identitytest.LoginOptions{Account: codexhome.Account{AccountID: f.login.AccountID, UserID: f.login.UserID, Email: f.login.Email}})
	m := readAuth(t, f.home)
	tokens := m["tokens"].(map[string]any)
	tokens["id_token"], tokens["access_token"], tokens["refresh_token"] = theirs.IDToken.Reveal(), theirs.AccessToken.Reveal(), theirs.RefreshToken.Reveal()
	writeMember(t, f.home, "tokens", tokens)
	before := readAuth(t, f.home)

	tok, err := f.bearer(ra)
	require.NoError(t, err)
	assert.Equal(t, theirs.AccessToken.Reveal(), tok)
	assert.Equal(t, 0, f.srv.Stats().Refreshes)
	assert.Equal(t, 0, f.srv.Stats().RefreshesRefused)
	assert.Equal(t, before, readAuth(t, f.home))
}

// Two RunAuths in one home, many goroutines each, all needing a refresh at
// once: exactly one refresh request.
func TestRefreshOnceForConcurrentRunAuths(t *testing.T) {
	f := newRefreshFixture(t, 2*time.Hour, nil)
	ras := []*identity.RunAuth{f.load(t), f.load(t)}
	var wg sync.WaitGroup
	toks := make([]string, 40)
	errs := make([]error, len(toks))
	for i := range toks {
		wg.Go(func() { toks[i], errs[i] = f.bearer(ras[i%2]) })
	}
	wg.Wait()
	stored := f.storedTokens(t)
	for i := range toks {
		require.NoError(t, errs[i])
		assert.Equal(t, stored.AccessToken.Reveal(), toks[i])
	}
	assert.Equal(t, 1, f.srv.Stats().Refreshes)
	assert.Equal(t, 0, f.srv.Stats().RefreshesRefused)
}

func TestRefreshReusedIsPermanent(t *testing.T) {
	f := newRefreshFixture(t, 58*time.Minute, nil)
	ra := f.load(t)
	// Someone redeemed the refresh token without saving the result.
	resp, err := http.Post(f.srv.RefreshTokenURL, "application/json", strings.NewReader(
		`{"client_id":"app_EMoamEEZ73f0CkXaXp7hrann","grant_type":"refresh_token","refresh_token":"`+f.login.RefreshToken.Reveal()+`"}`))
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	before := readAuth(t, f.home)

	for i, r := range []*identity.RunAuth{ra, ra, f.load(t)} {
		_, err := f.bearer(r)
		require.ErrorIs(t, err, identity.ErrLoginExpired, "attempt %d", i)
		var re *identity.RefreshError
		require.ErrorAs(t, err, &re)
		assert.True(t, re.Permanent)
		assert.Equal(t, http.StatusUnauthorized, re.StatusCode)
		assert.Equal(t, "refresh_token_reused", re.Code)
		assert.Contains(t, err.Error(), "codex login")
		for _, secret := range []string{f.login.RefreshToken.Reveal(), f.login.AccessToken.Reveal(), f.login.IDToken.Reveal()} {
			assert.NotContains(t, err.Error(), secret)
		}
	}
	assert.Equal(t, 1, f.srv.Stats().RefreshesRefused, "the refused refresh token is never sent again")
	assert.Equal(t, before, readAuth(t, f.home), "nothing is written")
}

// Unknown members of tokens and of the file survive a refresh byte for
// byte (as auth.json holds them, pretty-printed the Codex CLI's way).
func TestRefreshKeepsUnknownMembers(t *testing.T) {
	f := newRefreshFixture(t, 2*time.Hour, nil)
	ra := f.load(t)
	path := filepath.Join(f.home, "auth.json")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	inTokens := "\"x_future\": {\n      \"n\": [\n        2.50,\n        \"\\u00e9\"\n      ]\n    },\n    "
	top := "  \"bedrock_api_key\": \"keep\\u0021me\",\n"
	text := strings.Replace(string(data), "\"id_token\"", inTokens+"\"id_token\"", 1)
	text = strings.Replace(text, "  \"tokens\"", top+"  \"tokens\"", 1)
	require.NotEqual(t, string(data), text)
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))

	_, err = f.bearer(ra)
	require.NoError(t, err)
	require.Equal(t, 1, f.srv.Stats().Refreshes)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(after), inTokens)
	assert.Contains(t, string(after), top)
	assert.Contains(t, string(after), "\"account_id\": \""+f.login.AccountID+"\"")
}

func TestRefreshURLOverride(t *testing.T) {
	f := newRefreshFixture(t, 2*time.Hour, nil)
	next := f.srv.MintChatGPTLogin(identitytest.LoginOptions{Account: codexhome.Account{AccountID: f.login.AccountID, UserID: f.login.UserID, Email: f.login.Email}})
	var got atomic.Value
	var calls atomic.Int64
	custom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		got.Store(r.Method + " " + r.URL.RequestURI() + " " + r.Header.Get("Content-Type") + " " + r.Header.Get("Authorization") + "|" + string(body))
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"`+next.AccessToken.Reveal()+`","refresh_token":"rt-next"}`)
	}))
	t.Cleanup(custom.Close)
	f.env = map[string]string{identity.EnvRefreshTokenURLOverride: custom.URL + "/custom/token?v=1"}
	tok, err := f.bearer(f.load(t))
	require.NoError(t, err)
	assert.Equal(t, next.AccessToken.Reveal(), tok)
	assert.Equal(t, int64(1), calls.Load())
	assert.Equal(t, "POST /custom/token?v=1 application/json |"+
		`{"client_id":"app_EMoamEEZ73f0CkXaXp7hrann","grant_type":"refresh_token","refresh_reason":"proactive_expiry","refresh_token":"`+f.login.RefreshToken.Reveal()+`"}`,
		got.Load())
	stored := f.storedTokens(t)
	assert.Equal(t, f.login.IDToken.Reveal(), stored.IDToken.Reveal(), "an absent id_token is left as it was")
	assert.Equal(t, "rt-next", stored.RefreshToken.Reveal())
	assert.Equal(t, 0, f.srv.Stats().Refreshes)
}

func TestRefreshURLRefused(t *testing.T) {
	for _, raw := range []string{"http://example.com/oauth/token", "https://user:pw@example.com/oauth/token", "ftp://127.0.0.1/x", "not a url"} {
		t.Run(raw, func(t *testing.T) {
			f := newRefreshFixture(t, 2*time.Hour, map[string]string{identity.EnvRefreshTokenURLOverride: raw})
			_, err := f.bearer(f.load(t))
			require.ErrorIs(t, err, agentidentity.ErrInvalidBaseURL)
			assert.NotErrorIs(t, err, identity.ErrLoginExpired)
			assert.NotContains(t, err.Error(), "pw")
		})
	}
}

// A transient failure is retried only after a back-off; an access token
// that has not expired yet is used meanwhile.
func TestRefreshTransientBackoff(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	defer identity.SetRefreshClockForTest(func() time.Time { return time.Unix(0, now.Load()) })()
	var calls atomic.Int64
	unavailable := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, `{"error":"server_error"}`, http.StatusServiceUnavailable)
	}))
	t.Cleanup(unavailable.Close)
	env := map[string]string{identity.EnvRefreshTokenURLOverride: unavailable.URL}

	t.Run("expired token", func(t *testing.T) {
		calls.Store(0)
		f := newRefreshFixture(t, 2*time.Hour, env)
		_, err := f.bearer(f.load(t))
		var re *identity.RefreshError
		require.ErrorAs(t, err, &re)
		assert.False(t, re.Permanent)
		assert.Equal(t, http.StatusServiceUnavailable, re.StatusCode)
		assert.Equal(t, "server_error", re.Code)
		assert.False(t, re.RetryAt.IsZero())
		assert.NotErrorIs(t, err, identity.ErrLoginExpired)
		_, err = f.bearer(f.load(t))
		require.Error(t, err)
		assert.Equal(t, int64(1), calls.Load(), "no second request during the back-off")
		now.Add(int64(6 * time.Second))
		_, err = f.bearer(f.load(t))
		require.Error(t, err)
		assert.Equal(t, int64(2), calls.Load(), "retried after the back-off")
	})
	t.Run("token still valid", func(t *testing.T) {
		calls.Store(0)
		f := newRefreshFixture(t, 58*time.Minute, env)
		tok, err := f.bearer(f.load(t))
		require.NoError(t, err)
		assert.Equal(t, f.login.AccessToken.Reveal(), tok)
		assert.Equal(t, int64(1), calls.Load())
	})
}

func TestRefreshErrorCode(t *testing.T) {
	for _, tt := range []struct{ name, body, want string }{
		{"error string", `{"error":"refresh_token_reused"}`, "refresh_token_reused"},
		{"error object", `{"error":{"code":"Refresh_Token_Expired","message":"m"}}`, "refresh_token_expired"},
		{"top-level code", `{"code":"refresh_token_invalidated"}`, "refresh_token_invalidated"},
		{"not JSON", `oops`, ""},
		{"not a plain word", `{"error":"rt-abc def"}`, ""},
		{"duplicate members", `{"error":"a","error":"b"}`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, identity.RefreshErrorCode([]byte(tt.body)))
		})
	}
}

// The refresh client follows no redirect: a refresh token goes to the
// configured endpoint only, never to where its answer points.
func TestRefreshRedirectNotFollowed(t *testing.T) {
	var reached atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		_, _ = io.WriteString(w, `{"access_token":"stolen"}`)
	}))
	t.Cleanup(target.Close)
	for _, code := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			redirector := httptest.NewServer(http.RedirectHandler(target.URL+"/oauth/token", code))
			t.Cleanup(redirector.Close)
			f := newRefreshFixture(t, 2*time.Hour, map[string]string{identity.EnvRefreshTokenURLOverride: redirector.URL + "/oauth/token"})
			_, err := f.bearer(f.load(t))
			var re *identity.RefreshError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, code, re.StatusCode)
			assert.False(t, re.Permanent)
			assert.Zero(t, reached.Load(), "the redirect target never receives the refresh token")
		})
	}
}

// A transport error names no part of the endpoint's query (url.Error would
// quote the whole URL).
func TestRefreshTransportErrorHidesURL(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	endpoint := closed.URL + "/oauth/token?key=s3cr3t-query"
	closed.Close()
	f := newRefreshFixture(t, 2*time.Hour, map[string]string{identity.EnvRefreshTokenURLOverride: endpoint})
	_, err := f.bearer(f.load(t))
	var re *identity.RefreshError
	require.ErrorAs(t, err, &re)
	assert.NotContains(t, err.Error(), "s3cr3t")
	assert.NotContains(t, err.Error(), f.login.RefreshToken.Reveal())
}

// TestRefreshKeepsAConcurrentRotation: while our refresh request is in
// flight, another writer (a Codex CLI, which does not take this module's
// lock) rotates the tokens in auth.json. Its file is kept as it is, and our
// fresh access token is used from memory; nothing is sent twice.
func TestRefreshKeepsAConcurrentRotation(t *testing.T) {
	f := newRefreshFixture(t, 58*time.Minute, nil)
	theirs := f.srv.MintChatGPTLogin(identitytest.LoginOptions{Account: codexhome.Account{AccountID: f.login.AccountID, UserID: f.login.UserID, Email: f.login.Email}})
	target, err := url.Parse(f.srv.RefreshTokenURL)
	require.NoError(t, err)
	var once sync.Once
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The other writer rotates the file while our request is in flight.
		once.Do(func() {
			m := readAuth(t, f.home)
			tokens := m["tokens"].(map[string]any)
			tokens["id_token"], tokens["access_token"], tokens["refresh_token"] = theirs.IDToken.Reveal(), theirs.AccessToken.Reveal(), theirs.RefreshToken.Reveal()
			writeMember(t, f.home, "tokens", tokens)
		})
		httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host}).ServeHTTP(w, r)
	}))
	defer front.Close()
	f.env = map[string]string{identity.EnvRefreshTokenURLOverride: front.URL + target.Path}
	ra := f.load(t)
	before := readAuth(t, f.home) // not yet rotated: Load does not refresh

	tok, err := f.bearer(ra)
	require.NoError(t, err)
	assert.NotEqual(t, f.login.AccessToken.Reveal(), tok, "the stale token is not used")
	assert.NotEqual(t, theirs.AccessToken.Reveal(), tok, "our own refresh answered")
	assert.Equal(t, 1, f.srv.Stats().Refreshes, "one refresh request")
	after := readAuth(t, f.home)
	assert.Equal(t, theirs.RefreshToken.Reveal(), after["tokens"].(map[string]any)["refresh_token"], "the other writer's file is kept")
	assert.Equal(t, theirs.AccessToken.Reveal(), after["tokens"].(map[string]any)["access_token"])
	assert.NotEqual(t, before["tokens"], after["tokens"])

	again, err := f.bearer(ra)
	require.NoError(t, err)
	assert.Equal(t, tok, again, "the token from memory is reused, not refreshed again")
	assert.Equal(t, 1, f.srv.Stats().Refreshes)
}
