package identity_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/identity/identitytest"
	"github.com/agentidentity/agentidentity/internal/testkit"
)

// runAuthFixture is an identitytest server with one registered agent.
type runAuthFixture struct {
	srv    *identitytest.Server
	signer *identity.Signer
	client *identity.Client
	login  identitytest.ChatGPTLogin
}

func newRunAuthFixture(t *testing.T) *runAuthFixture {
	t.Helper()
	srv := identitytest.NewServer()
	t.Cleanup(srv.Close)
	login := srv.MintChatGPTLogin(identitytest.LoginOptions{})
	km, err := identity.GenerateKeyMaterial()
	require.NoError(t, err)
	c := &identity.Client{AuthAPIBaseURL: srv.AuthAPIBaseURL}
	id, err := c.RegisterAgent(context.Background(), login.AccessToken, identity.AgentRegistration{
		AgentVersion: "1", AgentHarnessID: "test", RunningLocation: "local", PublicKeySSH: km.PublicKeySSH,
	})
	require.NoError(t, err)
	s, err := identity.NewSigner(id, km.PrivateKeyPKCS8Base64)
	require.NoError(t, err)
	return &runAuthFixture{srv: srv, signer: s, client: c, login: login}
}

// runAuth makes a RunAuth with o, for the fake's ChatGPT origin and the
// login's account unless o names others.
func (f *runAuthFixture) runAuth(t *testing.T, o identity.RunAuthOptions) *identity.RunAuth {
	t.Helper()
	return f.runAuthAt(t, nil, o)
}

// runAuthAt is runAuth with the clock now (nil: time.Now).
func (f *runAuthFixture) runAuthAt(t *testing.T, now func() time.Time, o identity.RunAuthOptions) *identity.RunAuth {
	t.Helper()
	if o.FirstPartyOrigin == "" {
		o.FirstPartyOrigin = f.srv.ChatGPTBaseURL
	}
	if o.AccountID == "" {
		o.AccountID, o.FedRAMP = f.login.AccountID, f.login.FedRAMP
	}
	ra, err := identity.NewRunAuthForTest(f.signer, f.client, o, now)
	require.NoError(t, err)
	return ra
}

// staticToken is a token function that always returns tok.
func staticToken(tok string) func(context.Context) (codexhome.Secret, error) {
	return func(context.Context) (codexhome.Secret, error) { return codexhome.NewSecret(tok), nil }
}

type verifiedResponse struct {
	AgentRuntimeID string `json:"agent_runtime_id"`
	TaskID         string `json:"task_id"`
	BodySHA256     string `json:"body_sha256"`
}

func postJSON(t *testing.T, c *http.Client, url string, body []byte) (int, verifiedResponse) {
	t.Helper()
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var v verifiedResponse
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, json.Unmarshal(data, &v), string(data))
	}
	return resp.StatusCode, v
}

func TestRunAuthOneTaskForConcurrentRequests(t *testing.T) {
	f := newRunAuthFixture(t)
	ra := f.runAuth(t, identity.RunAuthOptions{})
	client := &http.Client{Transport: ra.Transport(nil)}
	const n = 1000
	var wg sync.WaitGroup
	tasks := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			resp, err := client.Post(f.srv.ChatGPTBaseURL+"/codex/responses", "application/json", strings.NewReader(`{"i":1}`))
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			var v verifiedResponse
			if resp.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(resp.Body)
				errs[i] = errors.New(resp.Status + " " + string(b))
				return
			}
			errs[i] = json.NewDecoder(resp.Body).Decode(&v)
			tasks[i] = v.TaskID
		})
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "request %d", i)
	}
	assert.Equal(t, 1, f.srv.Stats().TasksRegistered, "one task for the whole run")
	assert.Equal(t, n, f.srv.Stats().RequestsVerified)
	assert.Equal(t, 0, f.srv.Stats().RequestsRejected)
	for _, id := range tasks {
		require.Equal(t, tasks[0], id)
	}
	// Copies of the handle share the task.
	cp := *ra
	id, err := cp.TaskID(context.Background())
	require.NoError(t, err)
	assert.Equal(t, tasks[0], id)
	assert.Equal(t, 1, f.srv.Stats().TasksRegistered)
}

func TestRunAuthConcurrentTaskIDRegistersOnce(t *testing.T) {
	f := newRunAuthFixture(t)
	f.srv.SetFault(identitytest.Fault{Delay: 50 * time.Millisecond})
	ra := f.runAuth(t, identity.RunAuthOptions{})
	var wg sync.WaitGroup
	ids := make([]string, 1000)
	for i := range ids {
		wg.Go(func() {
			id, err := ra.TaskID(context.Background())
			assert.NoError(t, err)
			ids[i] = id
		})
	}
	wg.Wait()
	assert.Equal(t, 1, f.srv.Stats().TasksRegistered)
	for _, id := range ids {
		require.Equal(t, ids[0], id)
	}
}

func TestRunAuthSessionsAndForks(t *testing.T) {
	f := newRunAuthFixture(t)
	ra := f.runAuth(t, identity.RunAuthOptions{})
	ctx := context.Background()

	run, err := ra.TaskID(ctx)
	require.NoError(t, err)
	parent := ra.ForSession("s1")
	parentTask, err := parent.TaskID(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, run, parentTask, "a session has a task of its own")

	again, err := ra.ForSession("s1").TaskID(ctx)
	require.NoError(t, err)
	assert.Equal(t, parentTask, again, "the same session id keeps its task")

	child, err := ra.ForkSession("s1", "s1-fork")
	require.NoError(t, err)
	childTask, err := child.TaskID(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, parentTask, childTask, "a fork never inherits the parent's task")
	assert.NotEqual(t, run, childTask)

	after, err := parent.TaskID(ctx)
	require.NoError(t, err)
	assert.Equal(t, parentTask, after, "the parent is unchanged by the fork")
	assert.Equal(t, 3, f.srv.Stats().TasksRegistered)
	assert.Equal(t, 2, identity.SessionsForTest(ra))

	// Requests of each session verify with that session's task.
	for _, h := range []struct {
		auth *identity.RunAuth
		task string
	}{{parent, parentTask}, {child, childTask}, {ra, run}} {
		c := &http.Client{Transport: h.auth.Transport(nil)}
		code, v := postJSON(t, c, f.srv.ChatGPTBaseURL+"/codex/responses", []byte(`{}`))
		require.Equal(t, http.StatusOK, code)
		assert.Equal(t, h.task, v.TaskID)
	}

	// Ending a session forgets it; the old handle stops working.
	ra.EndSession("s1")
	assert.Equal(t, 1, identity.SessionsForTest(ra))
	_, err = parent.TaskID(ctx)
	require.ErrorIs(t, err, identity.ErrSessionEnded)
	fresh, err := ra.ForSession("s1").TaskID(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, parentTask, fresh)

	_, err = ra.ForkSession("x", "x")
	require.Error(t, err)
	_, err = ra.ForkSession("x", "")
	require.Error(t, err)
}

// recorder is a server that records the headers it sees.
type recorder struct {
	*httptest.Server
	mu      sync.Mutex
	headers []http.Header
	bodies  [][]byte
}

func newRecorder(t *testing.T, h http.HandlerFunc) *recorder {
	r := &recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.headers = append(r.headers, req.Header.Clone())
		r.bodies = append(r.bodies, body)
		r.mu.Unlock()
		if h != nil {
			h(w, req)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) last() http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.headers[len(r.headers)-1]
}

func TestTransportOtherOriginUntouched(t *testing.T) {
	f := newRunAuthFixture(t)
	ra := f.runAuth(t, identity.RunAuthOptions{})
	other := newRecorder(t, nil)
	c := &http.Client{Transport: ra.Transport(nil)}

	req, err := http.NewRequest(http.MethodGet, other.URL+"/x", nil)
	require.NoError(t, err)
	req.Header.Set("X-Mine", "1")
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	h := other.last()
	assert.Empty(t, h.Get("Authorization"))
	assert.Empty(t, h.Get("ChatGPT-Account-ID"))
	assert.Equal(t, "1", h.Get("X-Mine"))
	assert.Equal(t, 0, f.srv.Stats().TasksRegistered, "no task is registered for a third-party request")
}

func TestTransportOriginMatching(t *testing.T) {
	f := newRunAuthFixture(t)
	rec := newRecorder(t, nil)
	ra := f.runAuth(t, identity.RunAuthOptions{FirstPartyOrigin: "https://chatgpt.com/backend-api"})
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{"X-Authz": {r.Header.Get("Authorization")}}}, nil
	})
	_ = rec
	// Pre-set task so no network is needed.
	ra2, err := identity.NewRunAuth(f.signer, f.client, identity.RunAuthOptions{FirstPartyOrigin: "https://chatgpt.com/backend-api", TaskID: "task-1"})
	require.NoError(t, err)
	_ = ra
	tr := ra2.Transport(base)
	tests := []struct {
		url  string
		auth bool
	}{
		{"https://chatgpt.com/backend-api/codex/responses", true},
		{"https://CHATGPT.COM/anything", true},
		{"https://chatgpt.com:443/x", true},
		{"http://chatgpt.com/x", false},
		{"https://chatgpt.com:8443/x", false},
		{"https://chatgpt.com.evil.com/x", false},
		{"https://evil.com/chatgpt.com", false},
		{"https://chatgpt.com./x", false},
		{"https://xn--chatgpt-.com/x", false},
		{"https://chatgpt.co/x", false},
		{"https://api.chatgpt.com/x", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, tt.url, nil)
			require.NoError(t, err)
			resp, err := tr.RoundTrip(req)
			require.NoError(t, err)
			got := resp.Header.Get("X-Authz")
			if tt.auth {
				assert.True(t, strings.HasPrefix(got, "AgentAssertion "), got)
			} else {
				assert.Empty(t, got)
			}
			assert.Empty(t, req.Header.Get("Authorization"), "the caller's request is never modified")
		})
	}
	// A user-info URL is never first-party.
	req := &http.Request{Method: "GET", URL: mustParseURL(t, "https://user@chatgpt.com/x"), Header: http.Header{}}
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	assert.Empty(t, resp.Header.Get("X-Authz"))
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTransportCrossOriginRedirectDropsCredentials(t *testing.T) {
	f := newRunAuthFixture(t)
	other := newRecorder(t, nil)
	first := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/landed", http.StatusFound)
	})
	ra, err := identity.NewRunAuth(f.signer, f.client, identity.RunAuthOptions{Account: codexhome.Account{AccountID: "acct", FedRAMP: true}, FirstPartyOrigin: first.URL, TaskID: "task-1"})
	require.NoError(t, err)
	c := &http.Client{Transport: ra.Transport(nil)}
	resp, err := c.Get(first.URL + "/start")
	require.NoError(t, err)
	resp.Body.Close()

	h := first.last()
	assert.True(t, strings.HasPrefix(h.Get("Authorization"), "AgentAssertion "))
	assert.Equal(t, "acct", h.Get("ChatGPT-Account-ID"))
	assert.Equal(t, "true", h.Get("X-OpenAI-Fedramp"))
	landed := other.last()
	assert.Empty(t, landed.Get("Authorization"), "a redirect to another origin never carries the header")
	assert.Empty(t, landed.Get("ChatGPT-Account-ID"))
	assert.Empty(t, landed.Get("X-OpenAI-Fedramp"))
}

func TestTransportBodyAndRequestUnchanged(t *testing.T) {
	f := newRunAuthFixture(t)
	ra := f.runAuth(t, identity.RunAuthOptions{})
	c := &http.Client{Transport: ra.Transport(nil)}
	body := bytes.Repeat([]byte("body\x00\xff<>&\u2028"), 10000)
	req, err := http.NewRequest(http.MethodPost, f.srv.ChatGPTBaseURL+"/codex/responses", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer caller-token")
	before := req.Header.Clone()
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var v verifiedResponse
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	sum := sha256.Sum256(body)
	assert.Equal(t, hex.EncodeToString(sum[:]), v.BodySHA256, "the body arrives byte-identical")
	assert.Equal(t, before, req.Header, "the caller's headers are untouched")
}

type closeTracker struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeTracker) Close() error { c.closed.Store(true); return nil }

func TestTransportClosesBodyOnError(t *testing.T) {
	f := newRunAuthFixture(t)
	f.srv.SetFault(identitytest.Fault{Status: http.StatusBadRequest, Count: 10})
	ra := f.runAuth(t, identity.RunAuthOptions{})
	body := &closeTracker{Reader: strings.NewReader("x")}
	req, err := http.NewRequest(http.MethodPost, f.srv.ChatGPTBaseURL+"/codex/responses", body)
	require.NoError(t, err)
	_, err = ra.Transport(nil).RoundTrip(req)
	require.Error(t, err)
	var re *identity.RegistrationError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, http.StatusBadRequest, re.StatusCode)
	assert.True(t, body.closed.Load(), "the body is closed on the error path")
}

func TestRunAuthCanceledContextStopsPendingRegistration(t *testing.T) {
	f := newRunAuthFixture(t)
	f.srv.SetFault(identitytest.Fault{Delay: 5 * time.Second})
	ra := f.runAuth(t, identity.RunAuthOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := ra.TaskID(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 2*time.Second)

	// The abandoned registration is not a backend failure: the next call
	// tries at once.
	// A caller arriving right after starts a fresh registration instead
	// of joining the abandoned one.
	f.srv.SetFault(identitytest.Fault{})
	id, err := ra.TaskID(context.Background())
	require.NoError(t, err)
	assert.NotEmpty(t, id)
}

func TestRunAuthFailureBackoff(t *testing.T) {
	f := newRunAuthFixture(t)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	ra := f.runAuthAt(t, clock, identity.RunAuthOptions{})

	f.srv.SetFault(identitytest.Fault{Status: http.StatusForbidden, Count: 1})
	_, err := ra.TaskID(context.Background())
	var re *identity.RegistrationError
	require.ErrorAs(t, err, &re)
	requests := f.srv.Stats().AuthAPIRequests

	_, err = ra.TaskID(context.Background())
	var be *identity.BackoffError
	require.ErrorAs(t, err, &be, "a recent failure is returned without a request")
	require.ErrorAs(t, err, &re)
	assert.Equal(t, requests, f.srv.Stats().AuthAPIRequests)

	advance(2 * time.Second)
	id, err := ra.TaskID(context.Background())
	require.NoError(t, err, "after the back-off a call tries again")
	assert.NotEmpty(t, id)
}

func TestRunAuthHeaderReusedWithinSecond(t *testing.T) {
	f := newRunAuthFixture(t)
	var mu sync.Mutex
	now := time.Date(2026, 1, 2, 3, 4, 5, 100, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	set := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }
	ra, err := identity.NewRunAuthForTest(f.signer, f.client, identity.RunAuthOptions{TaskID: "task-9"}, clock)
	require.NoError(t, err)
	ctx := context.Background()

	h1, err := identity.AuthorizationHeaderForTest(ctx, ra)
	require.NoError(t, err)
	set(time.Date(2026, 1, 2, 3, 4, 5, 999_999_999, time.UTC))
	h2, err := identity.AuthorizationHeaderForTest(ctx, ra)
	require.NoError(t, err)
	assert.Equal(t, h1, h2)
	want, err := f.signer.AuthorizationHeader("task-9", now)
	require.NoError(t, err)
	assert.Equal(t, want, h2, "a reused header is byte-identical to a fresh one")

	set(time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC))
	h3, err := identity.AuthorizationHeaderForTest(ctx, ra)
	require.NoError(t, err)
	assert.NotEqual(t, h1, h3, "a new second gets a new header")
	a, err := gateway.VerifyAuthorizationHeader(h3, f.signer.PublicKey(), now, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, "task-9", a.TaskID)
	assert.Equal(t, 0, f.srv.Stats().TasksRegistered)
}

func TestRunAuthBearerFallbackPerSession(t *testing.T) {
	f := newRunAuthFixture(t)
	var logs testkit.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	rec := newRecorder(t, nil)
	ra, err := identity.NewRunAuthForTest(f.signer, f.client, identity.RunAuthOptions{Account: codexhome.Account{AccountID: "acct"}, FirstPartyOrigin: rec.URL, BearerFallback: staticToken(f.login.AccessToken.Reveal()), Logger: logger}, clock)
	require.NoError(t, err)
	assert.Equal(t, codexhome.Account{AccountID: "acct"}, ra.Account(), "RunAuthOptions.Account as given")
	// Make the retries fast.
	identity.SetClientTestHooks(f.client, identity.ClientTestHooks{Sleep: func(context.Context, time.Duration) error { return nil }})

	f.srv.SetFault(identitytest.Fault{Status: http.StatusServiceUnavailable, Count: 3})
	down := &http.Client{Transport: ra.ForSession("down").Transport(nil)}
	for range 3 {
		resp, err := down.Get(rec.URL + "/x")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, "Bearer "+f.login.AccessToken.Reveal(), rec.last().Get("Authorization"))
	}
	assert.Equal(t, 1, strings.Count(logs.String(), "bearer"), "one log line says so")
	assert.NotContains(t, logs.String(), f.login.AccessToken.Reveal(), "the token is never logged")

	// Another session is not affected: it registers its own task.
	up := &http.Client{Transport: ra.ForSession("up").Transport(nil)}
	resp, err := up.Get(rec.URL + "/x")
	require.NoError(t, err)
	resp.Body.Close()
	assert.True(t, strings.HasPrefix(rec.last().Get("Authorization"), "AgentAssertion "))

	// The fallen-back session stays on bearer for life, even with the backend up.
	resp, err = down.Get(rec.URL + "/x")
	require.NoError(t, err)
	resp.Body.Close()
	assert.True(t, strings.HasPrefix(rec.last().Get("Authorization"), "Bearer "))
}

func TestRunAuthNoBearerFallbackWithoutToken(t *testing.T) {
	f := newRunAuthFixture(t)
	identity.SetClientTestHooks(f.client, identity.ClientTestHooks{Sleep: func(context.Context, time.Duration) error { return nil }})
	f.srv.SetFault(identitytest.Fault{Status: http.StatusServiceUnavailable, Count: 3})
	ra := f.runAuth(t, identity.RunAuthOptions{})
	_, err := identity.AuthorizationHeaderForTest(context.Background(), ra)
	require.ErrorIs(t, err, identity.ErrBootstrapUnavailable)
}

func TestRunAuthDoesNotLeakSecrets(t *testing.T) {
	f := newRunAuthFixture(t)
	ra := f.runAuth(t, identity.RunAuthOptions{BearerFallback: staticToken(f.login.AccessToken.Reveal())})
	for _, s := range []string{ra.String(), fmt.Sprintf("%#v", ra), fmt.Sprintf("%+v", *ra), fmt.Sprintf("%#v", *ra)} {
		assert.NotContains(t, s, f.login.AccessToken.Reveal())
	}
}

func TestNewRunAuthRefusesBadOptions(t *testing.T) {
	f := newRunAuthFixture(t)
	tests := []struct {
		name string
		opts identity.RunAuthOptions
	}{
		{"origin without host", identity.RunAuthOptions{FirstPartyOrigin: "https://"}},
		{"origin with user info", identity.RunAuthOptions{FirstPartyOrigin: "https://u@chatgpt.com"}},
		{"origin ftp", identity.RunAuthOptions{FirstPartyOrigin: "ftp://chatgpt.com"}},
		{"DEL task", identity.RunAuthOptions{TaskID: "\x7f"}},
		{"control char task", identity.RunAuthOptions{TaskID: "a\nb"}},
		{"account with newline", identity.RunAuthOptions{Account: codexhome.Account{AccountID: "a\r\nX-Evil: 1"}}},
		{"sign all and nothing off inference", identity.RunAuthOptions{SignAllRoutes: true, NoCredentialOffInference: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := identity.NewRunAuth(f.signer, f.client, tt.opts)
			require.Error(t, err)
		})
	}
	_, err := identity.NewRunAuth(nil, f.client, identity.RunAuthOptions{})
	require.Error(t, err)
	_, err = identity.NewRunAuth(f.signer, nil, identity.RunAuthOptions{})
	require.Error(t, err)
}

func mustParseURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u
}

func TestNewRunAuthDefaultOrigin(t *testing.T) {
	f := newRunAuthFixture(t)
	probe := func(t *testing.T, ra *identity.RunAuth, rawURL string) bool {
		t.Helper()
		var got string
		tr := ra.Transport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
			got = r.Header.Get("Authorization")
			return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
		}))
		req, err := http.NewRequest(http.MethodGet, rawURL, nil)
		require.NoError(t, err)
		_, err = tr.RoundTrip(req)
		require.NoError(t, err)
		return got != ""
	}
	tests := []struct {
		name     string
		authAPI  string
		signed   []string
		unsigned []string
	}{
		{"production AuthAPI", "https://auth.openai.com/api/accounts",
			[]string{"https://chatgpt.com/backend-api/codex/responses"},
			[]string{"https://auth.openai.com/x", "https://chatgpt-staging.com/x"}},
		{"staging AuthAPI", "https://auth.api.openai.org/api/accounts/",
			[]string{"https://chatgpt-staging.com/backend-api/x"},
			[]string{"https://chatgpt.com/x"}},
		{"custom deployment: its own origin", "http://127.0.0.1:8080/api/accounts",
			[]string{"http://127.0.0.1:8080/backend-api/x"},
			[]string{"https://chatgpt.com/x", "http://127.0.0.1:8081/x"}},
		{"no AuthAPI base", "",
			[]string{"https://chatgpt.com/x"}, []string{"http://127.0.0.1/x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ra, err := identity.NewRunAuth(f.signer, &identity.Client{AuthAPIBaseURL: tt.authAPI}, identity.RunAuthOptions{TaskID: "task-1"})
			require.NoError(t, err)
			for _, u := range tt.signed {
				assert.True(t, probe(t, ra, u), "signed: %s", u)
			}
			for _, u := range tt.unsigned {
				assert.False(t, probe(t, ra, u), "not signed: %s", u)
			}
		})
	}

	// With only a Signer and a Client pointed at a fake backend, requests
	// to that backend are signed and verify.
	ra, err := identity.NewRunAuth(f.signer, f.client, identity.RunAuthOptions{Account: codexhome.Account{AccountID: f.login.AccountID}})
	require.NoError(t, err)
	code, _ := postJSON(t, &http.Client{Transport: ra.Transport(nil)}, f.srv.ChatGPTBaseURL+"/codex/responses", []byte(`{}`))
	assert.Equal(t, http.StatusOK, code)
}

// TestRunAuthEndSessionRace: once EndSession has returned, the old handle
// never yields a header again, however the calls interleave.
func TestRunAuthEndSessionRace(t *testing.T) {
	f := newRunAuthFixture(t)
	ra := f.runAuth(t, identity.RunAuthOptions{})
	ctx := context.Background()
	for i := range 300 {
		id := fmt.Sprintf("s%d", i)
		h := ra.ForSession(id)
		_, err := h.TaskID(ctx)
		require.NoError(t, err)
		var wg sync.WaitGroup
		wg.Go(func() {
			for range 20 {
				_, _ = identity.AuthorizationHeaderForTest(ctx, h)
			}
		})
		ra.EndSession(id)
		_, err = identity.AuthorizationHeaderForTest(ctx, h)
		require.ErrorIs(t, err, identity.ErrSessionEnded, "iteration %d", i)
		wg.Wait()
		_, err = identity.AuthorizationHeaderForTest(ctx, h)
		require.ErrorIs(t, err, identity.ErrSessionEnded, "iteration %d", i)
	}
}

func TestRunAuthBearerFallbackFollowsTokenRefresh(t *testing.T) {
	f := newRunAuthFixture(t)
	identity.SetClientTestHooks(f.client, identity.ClientTestHooks{Sleep: func(context.Context, time.Duration) error { return nil }})
	var mu sync.Mutex
	now := time.Now()
	token := "token-1"
	asked := 0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	source := func(context.Context) (codexhome.Secret, error) {
		mu.Lock()
		defer mu.Unlock()
		asked++
		return codexhome.NewSecret(token), nil
	}
	ra, err := identity.NewRunAuthForTest(f.signer, f.client, identity.RunAuthOptions{BearerFallback: source}, clock)
	require.NoError(t, err)
	f.srv.SetFault(identitytest.Fault{Status: http.StatusServiceUnavailable, Count: 3})
	s := ra.ForSession("s")
	ctx := context.Background()

	h, err := identity.AuthorizationHeaderForTest(ctx, s)
	require.NoError(t, err)
	assert.Equal(t, "Bearer token-1", h)
	mu.Lock()
	token = "token-2" // the Codex CLI refreshed the login
	mu.Unlock()
	h, err = identity.AuthorizationHeaderForTest(ctx, s)
	require.NoError(t, err)
	assert.Equal(t, "Bearer token-1", h, "reused for a while")
	mu.Lock()
	now = now.Add(31 * time.Second)
	mu.Unlock()
	h, err = identity.AuthorizationHeaderForTest(ctx, s)
	require.NoError(t, err)
	assert.Equal(t, "Bearer token-2", h, "the refreshed token is picked up")
	assert.Equal(t, 2, asked)
}

// TestRunAuthBearerFallbackRefusesBadTokens: a fallback token that is empty
// or would split the header is never sent; the request fails.
func TestRunAuthBearerFallbackRefusesBadTokens(t *testing.T) {
	for _, tok := range []string{"", "tok\nX: y", "tok en", "tok\x7f"} {
		t.Run(fmt.Sprintf("%q", tok), func(t *testing.T) {
			f := newRunAuthFixture(t)
			identity.SetClientTestHooks(f.client, identity.ClientTestHooks{Sleep: func(context.Context, time.Duration) error { return nil }})
			ra, err := identity.NewRunAuth(f.signer, f.client, identity.RunAuthOptions{BearerFallback: staticToken(tok)})
			require.NoError(t, err)
			f.srv.SetFault(identitytest.Fault{Status: http.StatusServiceUnavailable, Count: 3})
			rec := &reqRecorder{}
			_, err = ra.ForSession("s").Transport(rec).RoundTrip(httptest.NewRequest(http.MethodGet, f.srv.ChatGPTBaseURL+"/wham/tasks", nil))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "empty or holds whitespace or a control character")
			assert.Zero(t, rec.count(), "nothing is sent")
		})
	}
}
