package identity_test

import (
	"context"
	"go/build"
	"io"
	"net/http"
	"net/http/httptest"
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

// checkBackend is a configured ChatGPT backend (plain http on loopback) that
// answers GET /backend-api/wham/accounts/check with whatever answer says and
// counts the discoveries.
type checkBackend struct {
	srv    *httptest.Server
	checks atomic.Int32
	mu     sync.Mutex
	status int
	body   string
	gotHdr http.Header
}

func newCheckBackend(t *testing.T, status int, body string) *checkBackend {
	t.Helper()
	b := &checkBackend{status: status, body: body}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/backend-api/wham/accounts/check" || r.Method != http.MethodGet {
			http.Error(w, "unexpected", http.StatusTeapot)
			return
		}
		b.checks.Add(1)
		b.mu.Lock()
		status, body := b.status, b.body
		b.gotHdr = r.Header.Clone()
		b.mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *checkBackend) set(status int, body string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.status, b.body = status, body
}

func (b *checkBackend) base() string { return b.srv.URL + "/backend-api" }

// reqRecorder is a base RoundTripper that records the requests it is given and
// answers 200 without touching the network.
type reqRecorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (r *reqRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.mu.Unlock()
	if req.Body != nil {
		req.Body.Close()
	}
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}, Request: req}, nil
}

func (r *reqRecorder) last(t *testing.T) *http.Request {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.NotEmpty(t, r.reqs)
	return r.reqs[len(r.reqs)-1]
}

func (r *reqRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

const chatGPTAccessToken = "chatgpt-access-token"

func chatGPTToken(context.Context) (codexhome.Secret, error) {
	return codexhome.NewSecret(chatGPTAccessToken), nil
}

// scheme returns "assertion", "bearer" or "none" for an Authorization value.
func scheme(v []string) string {
	switch {
	case len(v) == 0:
		return "none"
	case len(v) == 1 && strings.HasPrefix(v[0], "AgentAssertion "):
		return "assertion"
	case len(v) == 1 && v[0] == "Bearer "+chatGPTAccessToken:
		return "bearer"
	}
	return "unexpected"
}

func TestRouteCredentialsByMode(t *testing.T) {
	f := newRunAuthFixture(t)
	be := newCheckBackend(t, http.StatusNotFound, "") // no routing
	paths := []struct {
		name, method, path string
		upgrade            bool
	}{
		{"responses", "POST", "/backend-api/codex/responses", false},
		{"responses websocket", "GET", "/backend-api/codex/responses", true},
		{"compaction", "POST", "/backend-api/codex/responses/compact", false},
		{"models", "GET", "/backend-api/codex/models?client_version=0.171.0", false},
		{"settings", "GET", "/backend-api/wham/settings/user", false},
		{"plugins", "GET", "/backend-api/ps/plugins/installed?limit=200", false},
		{"discovery", "GET", "/backend-api/wham/accounts/check", false},
		{"jwks", "GET", "/backend-api/wham/agent-identities/jwks", false},
		{"mcp", "POST", "/backend-api/ps/mcp", false},
		{"outside base path", "GET", "/elsewhere", false},
	}
	modes := []struct {
		name string
		opts identity.RunAuthOptions
		// want per path, in the order of paths
		want []string
	}{
		{"ChatGPT opt-in", identity.RunAuthOptions{ChatGPTBearer: chatGPTToken},
			[]string{"assertion", "assertion", "assertion", "bearer", "bearer", "bearer", "bearer", "none", "none", "bearer"}},
		{"ChatGPT opt-in, sign all", identity.RunAuthOptions{ChatGPTBearer: chatGPTToken, SignAllRoutes: true},
			[]string{"assertion", "assertion", "assertion", "assertion", "assertion", "assertion", "assertion", "none", "none", "assertion"}},
		{"ChatGPT opt-in, nothing off inference", identity.RunAuthOptions{ChatGPTBearer: chatGPTToken, NoCredentialOffInference: true},
			[]string{"assertion", "assertion", "assertion", "none", "none", "none", "none", "none", "none", "none"}},
		{"Agent Identity JWT", identity.RunAuthOptions{},
			[]string{"assertion", "assertion", "assertion", "assertion", "assertion", "assertion", "assertion", "none", "none", "assertion"}},
		{"JWT, nothing off inference", identity.RunAuthOptions{NoCredentialOffInference: true},
			[]string{"assertion", "assertion", "assertion", "none", "none", "none", "none", "none", "none", "none"}},
	}
	for _, m := range modes {
		require.Len(t, m.want, len(paths))
		o := m.opts
		o.FirstPartyOrigin = be.base()
		ra := f.runAuth(t, o)
		rec := &reqRecorder{}
		tr := ra.Transport(rec)
		for i, p := range paths {
			t.Run(m.name+"/"+p.name, func(t *testing.T) {
				req, err := http.NewRequest(p.method, be.srv.URL+p.path, http.NoBody)
				require.NoError(t, err)
				if p.upgrade {
					req.Header.Set("Upgrade", "websocket")
					req.Header.Set("Connection", "Upgrade")
				}
				resp, err := tr.RoundTrip(req)
				require.NoError(t, err)
				resp.Body.Close()
				got := rec.last(t)
				assert.Equal(t, m.want[i], scheme(got.Header.Values("Authorization")))
				if m.want[i] == "none" {
					assert.Empty(t, got.Header.Values("ChatGPT-Account-ID"))
				} else {
					assert.Equal(t, []string{f.login.AccountID}, got.Header.Values("ChatGPT-Account-ID"))
				}
				assert.Empty(t, req.Header.Values("Authorization"), "the caller's request is not modified")

				// Header gives what the Transport adds.
				h, err := ra.Header(context.Background(), be.srv.URL+p.path)
				require.NoError(t, err)
				assert.Equal(t, m.want[i], scheme(h.Values("Authorization")))
				assert.Equal(t, got.Header.Values("ChatGPT-Account-ID"), h.Values("ChatGPT-Account-ID"))
			})
		}
		t.Run(m.name+"/other origin untouched", func(t *testing.T) {
			req, err := http.NewRequest("POST", "https://example.com/backend-api/codex/responses", http.NoBody)
			require.NoError(t, err)
			resp, err := tr.RoundTrip(req)
			require.NoError(t, err)
			resp.Body.Close()
			got := rec.last(t)
			assert.Same(t, req, got, "passed on as is")
			h, err := ra.Header(context.Background(), "https://example.com/backend-api/codex/responses")
			require.NoError(t, err)
			assert.Empty(t, h)
		})
	}
	// ChatGPT mode made exactly one discovery, with Bearer + account.
	assert.EqualValues(t, 3, be.checks.Load(), "one discovery per ChatGPT-mode run")
	assert.Equal(t, "Bearer "+chatGPTAccessToken, be.gotHdr.Get("Authorization"))
	assert.Equal(t, f.login.AccountID, be.gotHdr.Get("ChatGPT-Account-ID"))
}

// TestRunAuthOptionsWithoutChatGPTBearer: with no ChatGPTBearer the run is
// in Agent Identity JWT mode, whatever else is set: a non-inference
// first-party request is signed, never given a Bearer token (not even the
// bearer fallback's while the task registers).
func TestRunAuthOptionsWithoutChatGPTBearer(t *testing.T) {
	f := newRunAuthFixture(t)
	ra := f.runAuth(t, identity.RunAuthOptions{BearerFallback: staticToken(chatGPTAccessToken)})
	rec := &reqRecorder{}
	_, err := ra.Transport(rec).RoundTrip(httptest.NewRequest(http.MethodGet, f.srv.ChatGPTBaseURL+"/wham/tasks", nil))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(rec.last(t).Header.Get("Authorization"), "AgentAssertion "), rec.last(t).Header.Get("Authorization"))
}

func accountsAnswer(account, origin, override string) string {
	return `{"accounts":[{"id":"other","workspace_backend_origin":"https://other.example"},{"id":"` + account +
		`","plan_type":"plus","structure":"personal","workspace_backend_origin":"` + origin +
		`","account_routing_override":"` + override + `"}],"account_ordering":["` + account + `"],"default_account_id":"` + account + `"}`
}

func TestWorkspaceRoutingDiscovery(t *testing.T) {
	f := newRunAuthFixture(t)
	acct := f.login.AccountID
	cases := []struct {
		name     string
		status   int
		body     string
		routed   string // "" for the configured base
		override string
		wantErr  bool
	}{
		{"routed https origin", 200, accountsAnswer(acct, "https://routed.example", "NO_CONSTRAINT"), "https://routed.example", "", false},
		{"routed with trailing slash and port", 200, accountsAnswer(acct, "https://routed.example:8443/", "NO_CONSTRAINT"), "https://routed.example:8443", "", false},
		{"override us", 200, accountsAnswer(acct, "https://routed.example", "us"), "https://routed.example", "us", false},
		{"NO_CONSTRAINT origin", 200, accountsAnswer(acct, "NO_CONSTRAINT", "NO_CONSTRAINT"), "", "", false},
		{"no entry for the account", 200, accountsAnswer("someone-else", "https://routed.example", "NO_CONSTRAINT"), "", "", false},
		{"map form", 200, `{"accounts":{"` + acct + `":{"account":{"id":"` + acct + `","workspace_backend_origin":"https://routed.example","account_routing_override":"NO_CONSTRAINT"}}}}`, "https://routed.example", "", false},
		{"unknown members ignored", 200, `{"x":{"y":[1]},"accounts":[{"id":"` + acct + `","z":true,"workspace_backend_origin":"https://routed.example"}]}`, "https://routed.example", "", false},
		{"404 means no routing", 404, "", "", "", false},
		{"401", 401, `{"error":"no"}`, "", "", true},
		{"403", 403, `{"error":"no"}`, "", "", true},
		{"500", 500, "", "", "", true},
		{"malformed JSON", 200, `{"accounts":[`, "", "", true},
		{"not an object", 200, `[]`, "", "", true},
		{"no accounts member", 200, `{}`, "", "", true},
		{"duplicate member", 200, `{"accounts":[],"accounts":[{"id":"` + acct + `","workspace_backend_origin":"https://routed.example"}]}`, "", "", true},
		{"duplicate member in entry", 200, `{"accounts":[{"id":"` + acct + `","workspace_backend_origin":"https://a.example","workspace_backend_origin":"https://b.example"}]}`, "", "", true},
		{"duplicate account", 200, `{"accounts":[{"id":"` + acct + `"},{"id":"` + acct + `"}]}`, "", "", true},
		{"map key mismatch", 200, `{"accounts":{"k":{"account":{"id":"` + acct + `"}}}}`, "", "", true},
		{"http origin", 200, accountsAnswer(acct, "http://routed.example", "NO_CONSTRAINT"), "", "", true},
		{"http loopback origin", 200, accountsAnswer(acct, "http://127.0.0.1:9", "NO_CONSTRAINT"), "", "", true},
		{"credentialed origin", 200, accountsAnswer(acct, "https://user:pw@routed.example", "NO_CONSTRAINT"), "", "", true},
		{"origin with path", 200, accountsAnswer(acct, "https://routed.example/backend-api", "NO_CONSTRAINT"), "", "", true},
		{"origin with query", 200, accountsAnswer(acct, "https://routed.example/?a=b", "NO_CONSTRAINT"), "", "", true},
		{"origin with fragment", 200, accountsAnswer(acct, "https://routed.example#f", "NO_CONSTRAINT"), "", "", true},
		{"non-ASCII host", 200, accountsAnswer(acct, "https://rоuted.example", "NO_CONSTRAINT"), "", "", true},
		{"whitespace", 200, accountsAnswer(acct, " https://routed.example", "NO_CONSTRAINT"), "", "", true},
		{"relative", 200, accountsAnswer(acct, "/routed", "NO_CONSTRAINT"), "", "", true},
		{"invalid override", 200, accountsAnswer(acct, "https://routed.example", "eu"), "", "", true},
		{"body over 1 MiB", 200, `{"accounts":[],"pad":"` + strings.Repeat("a", 1<<20) + `"}`, "", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			be := newCheckBackend(t, tc.status, tc.body)
			ra := f.runAuth(t, identity.RunAuthOptions{FirstPartyOrigin: be.base(), ChatGPTBearer: chatGPTToken})
			rec := &reqRecorder{}
			tr := ra.Transport(rec)
			ctx := context.Background()
			base, err := ra.InferenceBaseURL(ctx)
			if tc.wantErr {
				require.ErrorIs(t, err, identity.ErrRoutingUnavailable)
				// No inference is sent, to any origin.
				req, _ := http.NewRequest("POST", be.base()+"/codex/responses", strings.NewReader("{}"))
				_, err = tr.RoundTrip(req)
				require.ErrorIs(t, err, identity.ErrRoutingUnavailable)
				assert.Zero(t, rec.count(), "nothing sent after a failed discovery")
				// Non-inference first-party requests still work (Bearer).
				req, _ = http.NewRequest("GET", be.base()+"/codex/models", http.NoBody)
				resp, err := tr.RoundTrip(req)
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, "bearer", scheme(rec.last(t).Header.Values("Authorization")))
				return
			}
			require.NoError(t, err)
			if tc.routed == "" {
				assert.Equal(t, be.base(), base)
				return
			}
			assert.Equal(t, tc.routed+"/backend-api", base)

			// Inference to the routed origin: AgentAssertion, never Bearer.
			req, _ := http.NewRequest("POST", base+"/codex/responses", strings.NewReader("{}"))
			resp, err := tr.RoundTrip(req)
			require.NoError(t, err)
			resp.Body.Close()
			got := rec.last(t)
			assert.Equal(t, "assertion", scheme(got.Header.Values("Authorization")))
			assert.Equal(t, acct, got.Header.Get("ChatGPT-Account-ID"))
			if tc.override != "" {
				assert.Equal(t, tc.override, got.Header.Get("X-Openai-Account-Routing-Override"))
			} else {
				assert.Empty(t, got.Header.Values("X-Openai-Account-Routing-Override"))
			}
			h, err := ra.Header(ctx, base+"/codex/responses")
			require.NoError(t, err)
			assert.Equal(t, "assertion", scheme(h.Values("Authorization")))

			// Non-inference to the routed origin: nothing.
			for _, p := range []string{"/codex/models", "/wham/settings/user", "/wham/accounts/check"} {
				req, _ := http.NewRequest("GET", base+p, http.NoBody)
				resp, err := tr.RoundTrip(req)
				require.NoError(t, err)
				resp.Body.Close()
				assert.Same(t, req, rec.last(t), p)
			}
			// An origin the answer did not name: nothing.
			req, _ = http.NewRequest("POST", "https://other.example/backend-api/codex/responses", strings.NewReader("{}"))
			resp, err = tr.RoundTrip(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Same(t, req, rec.last(t))
			assert.EqualValues(t, 1, be.checks.Load())
		})
	}
}

func TestWorkspaceRoutingSingleFlight(t *testing.T) {
	f := newRunAuthFixture(t)
	be := newCheckBackend(t, 200, accountsAnswer(f.login.AccountID, "https://routed.example", "NO_CONSTRAINT"))
	ra := f.runAuth(t, identity.RunAuthOptions{FirstPartyOrigin: be.base(), ChatGPTBearer: chatGPTToken})
	const n = 1000
	var wg sync.WaitGroup
	errs := make([]error, n)
	bases := make([]string, n)
	for i := range n {
		wg.Go(func() { bases[i], errs[i] = ra.InferenceBaseURL(context.Background()) })
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, "https://routed.example/backend-api", bases[i])
	}
	assert.EqualValues(t, 1, be.checks.Load(), "one discovery for %d concurrent first requests", n)
}

func TestWorkspaceRoutingRetriedWithBackoff(t *testing.T) {
	f := newRunAuthFixture(t)
	be := newCheckBackend(t, 401, "")
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	ra := f.runAuthAt(t, clock, identity.RunAuthOptions{FirstPartyOrigin: be.base(), ChatGPTBearer: chatGPTToken})
	ctx := context.Background()
	_, err := ra.InferenceBaseURL(ctx)
	require.ErrorIs(t, err, identity.ErrRoutingUnavailable)
	be.set(200, accountsAnswer(f.login.AccountID, "https://routed.example", "NO_CONSTRAINT"))
	_, err = ra.InferenceBaseURL(ctx)
	require.ErrorIs(t, err, identity.ErrRoutingUnavailable, "within the back-off")
	assert.EqualValues(t, 1, be.checks.Load())
	advance(2 * time.Second)
	base, err := ra.InferenceBaseURL(ctx)
	require.NoError(t, err)
	assert.Equal(t, "https://routed.example/backend-api", base)
	assert.EqualValues(t, 2, be.checks.Load())
	_, err = ra.InferenceBaseURL(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 2, be.checks.Load(), "cached")
}

// A routed TLS origin really receives a signed inference request that the
// identitytest verifier would accept (checked here by the header shape and
// by the recorded request reaching the routed server).
func TestWorkspaceRoutingSendsToRoutedOrigin(t *testing.T) {
	f := newRunAuthFixture(t)
	var got atomic.Pointer[http.Header]
	routed := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		got.Store(&h)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(routed.Close)
	be := newCheckBackend(t, 200, accountsAnswer(f.login.AccountID, routed.URL, "us_cr"))
	ra := f.runAuth(t, identity.RunAuthOptions{FirstPartyOrigin: be.base(), ChatGPTBearer: chatGPTToken})
	c := &http.Client{Transport: ra.Transport(routed.Client().Transport)}
	base, err := ra.InferenceBaseURL(context.Background())
	require.NoError(t, err)
	require.Equal(t, routed.URL+"/backend-api", base)
	resp, err := c.Post(base+"/codex/responses", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	resp.Body.Close()
	h := got.Load()
	require.NotNil(t, h)
	assert.Equal(t, "assertion", scheme(h.Values("Authorization")))
	assert.Equal(t, "us_cr", h.Get("X-Openai-Account-Routing-Override"))
}

// JWT mode makes no discovery.
func TestNoDiscoveryInJWTMode(t *testing.T) {
	f := newRunAuthFixture(t)
	be := newCheckBackend(t, 401, "")
	ra := f.runAuth(t, identity.RunAuthOptions{FirstPartyOrigin: be.base()})
	base, err := ra.InferenceBaseURL(context.Background())
	require.NoError(t, err)
	assert.Equal(t, be.base(), base)
	assert.Zero(t, be.checks.Load())
}

// A session that fell back to bearer auth (bootstrap unavailable) sends its
// Bearer token to the configured origin's inference, as before, but never to
// the routed workspace origin: that request fails.
func TestRoutedOriginNeverGetsBearer(t *testing.T) {
	f := newRunAuthFixture(t)
	be := newCheckBackend(t, 200, accountsAnswer(f.login.AccountID, "https://routed.example", "NO_CONSTRAINT"))
	client := &identity.Client{AuthAPIBaseURL: f.srv.AuthAPIBaseURL}
	identity.SetClientTestHooks(client, identity.ClientTestHooks{Sleep: func(context.Context, time.Duration) error { return nil }})
	ra, err := identity.NewRunAuth(f.signer, client, identity.RunAuthOptions{Account: codexhome.Account{AccountID: f.login.AccountID}, FirstPartyOrigin: be.base(), ChatGPTBearer: chatGPTToken, BearerFallback: staticToken(chatGPTAccessToken)})
	require.NoError(t, err)
	f.srv.SetFault(identitytest.Fault{Status: http.StatusServiceUnavailable, Count: 3})
	rec := &reqRecorder{}
	tr := ra.Transport(rec)
	req, _ := http.NewRequest("POST", be.base()+"/codex/responses", strings.NewReader("{}"))
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "bearer", scheme(rec.last(t).Header.Values("Authorization")), "the bearer fallback on the configured origin")
	n := rec.count()
	req, _ = http.NewRequest("POST", "https://routed.example/backend-api/codex/responses", strings.NewReader("{}"))
	_, err = tr.RoundTrip(req)
	require.ErrorIs(t, err, identity.ErrRoutingUnavailable)
	assert.Equal(t, n, rec.count(), "nothing sent to the routed origin")
}

func TestHeaderArguments(t *testing.T) {
	f := newRunAuthFixture(t)
	ra := f.runAuth(t, identity.RunAuthOptions{})
	_, err := ra.Header(context.Background(), "/relative")
	require.ErrorIs(t, err, agentidentity.ErrInvalidBaseURL)
	var zero *identity.RunAuth
	_, err = zero.Header(context.Background(), "https://chatgpt.com/backend-api/codex/responses")
	require.Error(t, err)
	// The returned header is the caller's to modify.
	h, err := ra.Header(context.Background(), f.srv.ChatGPTBaseURL+"/codex/responses")
	require.NoError(t, err)
	h.Set("ChatGPT-Account-ID", "changed")
	h2, err := ra.Header(context.Background(), f.srv.ChatGPTBaseURL+"/codex/responses")
	require.NoError(t, err)
	assert.Equal(t, f.login.AccountID, h2.Get("ChatGPT-Account-ID"))
}

// RunAuth.Header serves WebSocket libraries without the module depending on
// one: package identity does not import github.com/coder/websocket.
func TestHeaderNeedsNoWebSocketLibrary(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	require.NoError(t, err)
	for _, imp := range pkg.Imports {
		assert.NotContains(t, imp, "websocket", "package identity imports %s", imp)
	}
}

// Load with a ChatGPT login runs in ChatGPT opt-in mode: inference signed,
// other first-party routes get the login's access token as Bearer, JWKS
// nothing; a JWT from $CODEX_ACCESS_TOKEN signs every first-party route.
func TestLoadModesCredentials(t *testing.T) {
	f := newLoadFixture(t, identitytest.CodexHomeOptions{})
	f.write(t, identitytest.CodexHomeOptions{Login: &f.login, UseAgentIdentity: true})
	ctx := context.Background()
	chat, err := f.load(ctx, identity.PolicyChatGPTAuth, nil)
	require.NoError(t, err)
	token, err := f.srv.MintAgentJWT(identitytest.JWTOptions{})
	require.NoError(t, err)
	jwt, err := f.load(ctx, identity.PolicyJWTOnly, map[string]string{identity.EnvAccessToken: token.Reveal()})
	require.NoError(t, err)
	for _, tc := range []struct {
		name  string
		ra    *identity.RunAuth
		path  string
		check func(t *testing.T, v []string)
	}{
		{"ChatGPT inference", chat, "/codex/responses", func(t *testing.T, v []string) { assert.Equal(t, "assertion", scheme(v)) }},
		{"ChatGPT models", chat, "/codex/models", func(t *testing.T, v []string) { assert.Equal(t, []string{"Bearer " + f.login.AccessToken.Reveal()}, v) }},
		{"ChatGPT jwks", chat, "/wham/agent-identities/jwks", func(t *testing.T, v []string) { assert.Empty(t, v) }},
		{"JWT inference", jwt, "/codex/responses", func(t *testing.T, v []string) { assert.Equal(t, "assertion", scheme(v)) }},
		{"JWT models", jwt, "/codex/models", func(t *testing.T, v []string) { assert.Equal(t, "assertion", scheme(v)) }},
		{"JWT mcp", jwt, "/ps/mcp", func(t *testing.T, v []string) { assert.Empty(t, v) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := tc.ra.Header(ctx, f.srv.ChatGPTBaseURL+tc.path)
			require.NoError(t, err)
			tc.check(t, h.Values("Authorization"))
		})
	}
}

// Discovery follows no redirect: the Bearer token and account id go to the
// configured origin only, and a 3xx is a failed discovery.
func TestWorkspaceRoutingRedirectNotFollowed(t *testing.T) {
	f := newRunAuthFixture(t)
	var reached atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		io.WriteString(w, accountsAnswer(f.login.AccountID, "https://attacker.example", "NO_CONSTRAINT"))
	}))
	t.Cleanup(target.Close)
	be := httptest.NewServer(http.RedirectHandler(target.URL+"/backend-api/wham/accounts/check", http.StatusTemporaryRedirect))
	t.Cleanup(be.Close)
	client := &identity.Client{AuthAPIBaseURL: f.srv.AuthAPIBaseURL,
		HTTPClient: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}}
	ra, err := identity.NewRunAuth(f.signer, client, identity.RunAuthOptions{Account: codexhome.Account{AccountID: f.login.AccountID}, FirstPartyOrigin: be.URL + "/backend-api", ChatGPTBearer: chatGPTToken})
	require.NoError(t, err)
	_, err = ra.InferenceBaseURL(context.Background())
	require.ErrorIs(t, err, identity.ErrRoutingUnavailable)
	assert.Contains(t, err.Error(), "307")
	assert.Zero(t, reached.Load(), "the redirect target never receives the Bearer token")
}

// 1,000 concurrent first inference requests through the Transport, held
// until all have started, wait for one discovery and are all signed with the
// override it named.
func TestWorkspaceRoutingSingleFlightTransport(t *testing.T) {
	f := newRunAuthFixture(t)
	release := make(chan struct{})
	var checks atomic.Int32
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		checks.Add(1)
		<-release // hold discovery until every request has been started
		io.WriteString(w, accountsAnswer(f.login.AccountID, "NO_CONSTRAINT", "us"))
	}))
	t.Cleanup(be.Close)
	ra := f.runAuth(t, identity.RunAuthOptions{FirstPartyOrigin: be.URL + "/backend-api", ChatGPTBearer: chatGPTToken})
	rec := &reqRecorder{}
	tr := ra.Transport(rec)
	const n = 1000
	var wg, started sync.WaitGroup
	errs := make([]error, n)
	started.Add(n)
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", be.URL+"/backend-api/codex/responses", strings.NewReader("{}"))
			started.Done()
			resp, err := tr.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			}
			errs[i] = err
		})
	}
	started.Wait()
	close(release)
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
	}
	assert.EqualValues(t, 1, checks.Load(), "one discovery for %d concurrent first requests", n)
	require.Equal(t, n, rec.count())
	for _, req := range rec.reqs {
		assert.Equal(t, "assertion", scheme(req.Header.Values("Authorization")))
		assert.Equal(t, "us", req.Header.Get("X-Openai-Account-Routing-Override"))
	}
}
