package identity_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/identitytest"
)

const (
	testRuleID    = "fedrule_interop_0123"
	testAssertion = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3b3JrbG9hZCJ9.c2lnbmF0dXJl"
)

// workloadFixture is a fake backend with a workload identity (testRuleID,
// testAssertion) for an account, a token file holding the assertion, and
// the variables that select it.
type workloadFixture struct {
	*bearerFixture
	account codexhome.Account
	file    string
	env     map[string]string
}

func newWorkloadFixture(t *testing.T, o identitytest.Options, acct codexhome.Account) *workloadFixture {
	t.Helper()
	f := &workloadFixture{bearerFixture: newBearerFixture(t, o)}
	var err error
	f.account, err = f.srv.AddWorkloadIdentity(testRuleID, codexhome.NewSecret(testAssertion), acct)
	require.NoError(t, err)
	f.file = filepath.Join(t.TempDir(), "oidc-token")
	require.NoError(t, os.WriteFile(f.file, []byte("  "+testAssertion+"\n"), 0o600))
	f.env = map[string]string{
		"OPENAI_FEDERATION_RULE_ID":  " " + testRuleID + " ",
		"OPENAI_IDENTITY_TOKEN_FILE": f.file,
	}
	return f
}

// options are the LoadOptions of a run against the fake: its overrides,
// the variables of env (present even when ""), the token exchange of the
// fake through the explicit test option.
func (f *workloadFixture) options(env map[string]string) identity.LoadOptions {
	fakeEnv := f.srv.Env()
	return identity.LoadOptions{
		CodexHome:      f.home,
		ChatGPTBaseURL: f.srv.ChatGPTBaseURL,
		LookupEnv: func(k string) (string, bool) {
			if v, ok := env[k]; ok {
				return v, true
			}
			v, ok := fakeEnv[k]
			return v, ok
		},
		UnsafeTokenExchangeURL: f.srv.RefreshTokenURL,
	}
}

func (f *workloadFixture) load(t *testing.T, env map[string]string) (*identity.RunAuth, error) {
	t.Helper()
	return identity.Load(context.Background(), f.options(env))
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// goldenExchangeBodies are the exchange bodies Codex 0.171 sent (the
// interop record), in file order.
func goldenExchangeBodies(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "interop", "testdata", "codex-0.171", "s-wif-exchange.txt"))
	require.NoError(t, err)
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "grant_type=") {
			out = append(out, line)
		}
	}
	require.Len(t, out, 2)
	return out
}

// exchanges returns the recorded token exchanges.
func (f *workloadFixture) exchanges() []identitytest.Exchange {
	var out []identitytest.Exchange
	for _, e := range f.requests("/oauth/token") {
		if e.Header.Get("Content-Type") == "application/x-www-form-urlencoded" {
			out = append(out, e)
		}
	}
	return out
}

func TestLoadWorkloadIdentity(t *testing.T) {
	golden := goldenExchangeBodies(t)
	tests := []struct {
		name    string
		account codexhome.Account
		// setup writes $CODEX_HOME and returns extra variables.
		setup    func(t *testing.T, f *workloadFixture) map[string]string
		wantBody func(f *workloadFixture) string
	}{
		{"token file", codexhome.Account{}, nil,
			func(*workloadFixture) string { return strings.Replace(golden[0], "{{ASSERTION}}", testAssertion, 1) }},
		{"FedRAMP account", codexhome.Account{FedRAMP: true}, nil, nil},
		{"odd bytes and a context", codexhome.Account{},
			func(t *testing.T, f *workloadFixture) map[string]string {
				_, err := f.srv.AddWorkloadIdentity("rule~*.-_x", codexhome.NewSecret("ab+/=~*.c d"), f.account)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(f.file, []byte("ab+/=~*.c d\n"), 0o600))
				return map[string]string{"OPENAI_FEDERATION_RULE_ID": "rule~*.-_x", "OPENAI_WORKLOAD_IDENTITY_CONTEXT": ` {"a":"~*+/ é&="} `}
			},
			func(*workloadFixture) string { return golden[1] }},
		{"over an expired ChatGPT login with the opt-in", codexhome.Account{},
			func(t *testing.T, f *workloadFixture) map[string]string {
				login := f.srv.MintChatGPTLogin(identitytest.LoginOptions{TTL: -time.Hour})
				require.NoError(t, f.srv.WriteCodexHome(f.home, identitytest.CodexHomeOptions{Login: &login, UseAgentIdentity: true}))
				return map[string]string{identity.EnvRefreshTokenURLOverride: f.srv.RefreshTokenURL}
			}, nil},
		{"over a personal access token in the environment", codexhome.Account{},
			func(t *testing.T, f *workloadFixture) map[string]string {
				pat, _ := f.srv.MintPersonalAccessToken(codexhome.Account{})
				return map[string]string{identity.EnvAccessToken: pat.Reveal()}
			}, nil},
		{"over an Agent Identity JWT in the environment", codexhome.Account{},
			func(t *testing.T, f *workloadFixture) map[string]string {
				tok, err := f.srv.MintAgentJWT(identitytest.JWTOptions{})
				require.NoError(t, err)
				return map[string]string{identity.EnvAccessToken: tok.Reveal()}
			}, nil},
		{"over a personal access token in auth.json", codexhome.Account{},
			func(t *testing.T, f *workloadFixture) map[string]string {
				pat, _ := f.srv.MintPersonalAccessToken(codexhome.Account{})
				require.NoError(t, f.srv.WriteCodexHome(f.home, identitytest.CodexHomeOptions{PersonalAccessToken: pat}))
				return nil
			}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newWorkloadFixture(t, identitytest.Options{}, tt.account)
			var extra map[string]string
			if tt.setup != nil {
				extra = tt.setup(t, f)
			}
			before, _ := os.ReadFile(filepath.Join(f.home, "auth.json"))
			agentsBefore := f.srv.Stats().AgentsRegistered

			ra, err := f.load(t, merge(f.env, extra))
			require.NoError(t, err)
			assert.Empty(t, ra.AgentRuntimeID())
			want := f.account
			want.Email = "" // the exchange answers no email
			assert.Equal(t, want, ra.Account(), "the account of the exchange")
			tok, err := ra.Header(context.Background(), f.srv.ChatGPTBaseURL+"/codex/models")
			require.NoError(t, err)
			bearer := strings.TrimPrefix(tok.Get("Authorization"), "Bearer ")
			f.exercise(t, ra, bearer, f.account)

			ex := f.exchanges()
			require.Len(t, ex, 1, "one exchange per run")
			if tt.wantBody != nil {
				assert.Equal(t, tt.wantBody(f), string(ex[0].Body), "the body byte for byte as Codex 0.171 sends it")
			}
			var names []string
			for k := range ex[0].Header {
				names = append(names, k)
			}
			slices.Sort(names)
			assert.Subset(t, []string{"Accept", "Accept-Encoding", "Content-Length", "Content-Type"}, names,
				"no Authorization, User-Agent or anything else")
			assert.Equal(t, "*/*", ex[0].Header.Get("Accept"))
			st := f.srv.Stats()
			assert.Equal(t, 1, st.TokenExchanges)
			assert.Zero(t, st.TokenExchangesRefused)
			assert.Equal(t, agentsBefore, st.AgentsRegistered, "no agent is registered")
			assert.Zero(t, st.TasksRegistered+st.Refreshes+st.RefreshesRefused+st.PersonalAccessTokenLookups+st.JWKSFetches+st.RequestsVerified,
				"nothing is done for the losing credentials, nothing is signed")
			after, _ := os.ReadFile(filepath.Join(f.home, "auth.json"))
			assert.Equal(t, string(before), string(after), "auth.json is neither written nor changed")
		})
	}
}

// A selected workload identity that is configured incompletely or wrongly
// fails before any request, with Codex 0.171's message, and never falls
// back to the personal access token and the login also present.
func TestLoadWorkloadIdentityConfigErrors(t *testing.T) {
	dir := t.TempDir()
	blank := filepath.Join(dir, "blank-token")
	require.NoError(t, os.WriteFile(blank, []byte(" \n\t\n"), 0o600))
	huge := filepath.Join(dir, "huge-token")
	require.NoError(t, os.WriteFile(huge, []byte(strings.Repeat("a", 16<<10+1)), 0o600))
	nul := filepath.Join(dir, "nul-token")
	require.NoError(t, os.WriteFile(nul, []byte("a\x00b"), 0o600))
	notUTF8 := filepath.Join(dir, "latin1-token")
	require.NoError(t, os.WriteFile(notUTF8, []byte("caf\xe9"), 0o600))
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	rule := map[string]string{"OPENAI_FEDERATION_RULE_ID": testRuleID}
	file := func(p string) map[string]string { return map[string]string{"OPENAI_IDENTITY_TOKEN_FILE": p} }
	tests := []struct {
		name    string
		env     map[string]string
		base    string // "" is the fake's
		safe    bool   // without the test option
		wantMsg string
	}{
		{name: "rule only", env: rule, wantMsg: "workload identity requires OPENAI_IDENTITY_TOKEN_FILE"},
		{name: "file only", env: file(blank), wantMsg: "workload identity requires OPENAI_FEDERATION_RULE_ID"},
		{name: "relative file", env: merge(rule, file("oidc-token")), wantMsg: "OPENAI_IDENTITY_TOKEN_FILE must be an absolute path"},
		{name: "empty file variable", env: merge(rule, file("")), wantMsg: "OPENAI_IDENTITY_TOKEN_FILE must be an absolute path"},
		{name: "blank rule", env: merge(map[string]string{"OPENAI_FEDERATION_RULE_ID": "   "}, file(blank)), wantMsg: "workload identity variable OPENAI_FEDERATION_RULE_ID is invalid"},
		{name: "empty rule", env: merge(map[string]string{"OPENAI_FEDERATION_RULE_ID": ""}, file(blank)), wantMsg: "workload identity variable OPENAI_FEDERATION_RULE_ID is invalid"},
		{name: "both empty", env: map[string]string{"OPENAI_FEDERATION_RULE_ID": "", "OPENAI_IDENTITY_TOKEN_FILE": ""}, wantMsg: "workload identity variable OPENAI_FEDERATION_RULE_ID is invalid"},
		{name: "missing file", env: merge(rule, file(filepath.Join(dir, "no-such-token"))), wantMsg: "could not read workload identity assertion file " + filepath.Join(dir, "no-such-token") + ": no such file or directory"},
		{name: "a directory", env: merge(rule, file(dir)), wantMsg: "could not read workload identity assertion file " + dir + ": not a regular file"},
		{name: "a FIFO: refused, not waited on", env: merge(rule, file(fifo)), wantMsg: "could not read workload identity assertion file " + fifo + ": not a regular file"},
		{name: "a character device", env: merge(rule, file(os.DevNull)), wantMsg: "not a regular file"},
		{name: "blank token", env: merge(rule, file(blank)), wantMsg: "the workload identity assertion is invalid"},
		{name: "NUL in the token", env: merge(rule, file(nul)), wantMsg: "the workload identity assertion is invalid"},
		{name: "token not UTF-8", env: merge(rule, file(notUTF8)), wantMsg: "the workload identity assertion is invalid"},
		{name: "token of 16 KiB + 1", env: merge(rule, file(huge)), wantMsg: "the workload identity assertion exceeds 16 KiB"},
		{name: "unknown source", env: merge(rule, file(blank), map[string]string{"OPENAI_IDENTITY_TOKEN_SOURCE": "vault"}), wantMsg: "OPENAI_IDENTITY_TOKEN_SOURCE must be file or spiffe"},
		{name: "spiffe without socket", env: merge(rule, map[string]string{"OPENAI_IDENTITY_TOKEN_SOURCE": "spiffe"}), wantMsg: "workload identity requires SPIFFE_ENDPOINT_SOCKET"},
		{name: "spiffe with a token file", env: merge(rule, file(blank), map[string]string{"OPENAI_IDENTITY_TOKEN_SOURCE": "spiffe"}), wantMsg: "OPENAI_IDENTITY_TOKEN_FILE cannot be used with OPENAI_IDENTITY_TOKEN_SOURCE=spiffe"},
		{name: "a custom deployment without the test option", env: merge(rule, file(blank)), safe: true, wantMsg: "workload identity auth supports only trusted production and staging app routing"},
		{name: "a custom path on chatgpt.com", env: merge(rule, file(blank)), base: agentidentity.ProductionOrigin + "/custom/backend-api", safe: true,
			wantMsg: "workload identity auth supports only trusted production and staging app routing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newWorkloadFixture(t, identitytest.Options{}, codexhome.Account{})
			pat, _ := f.srv.MintPersonalAccessToken(codexhome.Account{})
			login := f.srv.MintChatGPTLogin(identitytest.LoginOptions{})
			require.NoError(t, f.srv.WriteCodexHome(f.home, identitytest.CodexHomeOptions{Login: &login, UseAgentIdentity: true}))
			o := f.options(merge(tt.env, map[string]string{identity.EnvAccessToken: pat.Reveal()}))
			if tt.safe {
				o.UnsafeTokenExchangeURL = ""
			}
			if tt.base != "" {
				o.ChatGPTBaseURL = tt.base
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			ra, err := identity.Load(ctx, o)
			require.Error(t, err)
			assert.Nil(t, ra)
			assert.ErrorIs(t, err, identity.ErrWorkloadIdentityConfig)
			assert.ErrorIs(t, err, identity.ErrWorkloadIdentity)
			assert.NotErrorIs(t, err, identity.ErrNoAgentIdentity)
			assert.NotErrorIs(t, err, context.DeadlineExceeded)
			assert.Contains(t, err.Error(), tt.wantMsg)
			assert.Empty(t, f.log.all(), "no request at all")
		})
	}
}

// The answers of the exchange, as the interop record has them (Codex
// 0.171's verdict in the comment where ours differs).
func TestWorkloadIdentityExchangeAnswers(t *testing.T) {
	restore := identity.SetExchangeTimeoutForTest(2 * time.Second)
	defer restore()
	var redirected atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { redirected.Add(1) }))
	defer elsewhere.Close()
	const secretMarker = "do-not-echo-this-body"
	edit := func(fn func(m map[string]any)) identitytest.Fault {
		return identitytest.Fault{TokenExchange: true, EditAnswer: fn}
	}
	fault := func(f identitytest.Fault) identitytest.Fault { f.TokenExchange = true; return f }
	jwtWith := func(m map[string]any, claims string) {
		m["access_token"] = "eyJhbGciOiJub25lIn0." + b64url(claims) + ".c2ln"
	}
	tests := []struct {
		name    string
		fault   identitytest.Fault
		wantMsg string // "" means accepted
	}{
		{"valid", identitytest.Fault{}, ""},
		{"token_type bearer (lower case)", edit(func(m map[string]any) { m["token_type"] = "bearer" }), ""},
		{"token_type BEARER", edit(func(m map[string]any) { m["token_type"] = "BEARER" }), ""},
		{"unknown member", edit(func(m map[string]any) { m["x_future"] = []any{1, "two"} }), ""},
		{"no chatgpt_plan_type", edit(func(m map[string]any) { delete(m, "chatgpt_plan_type") }), ""},
		{"null chatgpt_plan_type", edit(func(m map[string]any) { m["chatgpt_plan_type"] = nil }), ""},
		{"expires_in 1", edit(func(m map[string]any) { m["expires_in"] = 1 }), ""},
		{"no scope", edit(func(m map[string]any) { delete(m, "scope") }), "returned an invalid response: scope is missing"},
		{"no chatgpt_account_user_id", edit(func(m map[string]any) { delete(m, "chatgpt_account_user_id") }), "chatgpt_account_user_id is missing"},
		{"no user_id", edit(func(m map[string]any) { delete(m, "user_id") }), "user_id is missing"},
		{"user_id not the token's", edit(func(m map[string]any) { m["user_id"] = "user-someone-else" }), "chatgpt_user_id is not user_id"},
		{"no chatgpt_account_id", edit(func(m map[string]any) { delete(m, "chatgpt_account_id") }), "chatgpt_account_id is missing"},
		// Codex 0.171 accepts this one and sends the other account's id.
		{"chatgpt_account_id not the token's (another account)", edit(func(m map[string]any) { m["chatgpt_account_id"] = "account-someone-else" }), "another account"},
		{"issued_token_type id_token", edit(func(m map[string]any) { m["issued_token_type"] = "urn:ietf:params:oauth:token-type:id_token" }), "issued_token_type is not"},
		{"token_type mac", edit(func(m map[string]any) { m["token_type"] = "mac" }), "token_type is not bearer"},
		{"expires_in 0", edit(func(m map[string]any) { m["expires_in"] = 0 }), "expires_in is not an integer from 1 to 3600"},
		{"expires_in 3601", edit(func(m map[string]any) { m["expires_in"] = 3601 }), "expires_in is not an integer"},
		{`expires_in "3600"`, edit(func(m map[string]any) { m["expires_in"] = "3600" }), "expires_in is not an integer"},
		{"expires_in 3600.5", edit(func(m map[string]any) { m["expires_in"] = 3600.5 }), "expires_in is not an integer"},
		{"expires_in -1", edit(func(m map[string]any) { m["expires_in"] = -1 }), "expires_in is not an integer"},
		{"no expires_in", edit(func(m map[string]any) { delete(m, "expires_in") }), "expires_in is missing"},
		{"access_token not a JWT", edit(func(m map[string]any) { m["access_token"] = "opaque-token" }), "access_token is not a JWT"},
		{"access_token a number", edit(func(m map[string]any) { m["access_token"] = 12 }), "access_token is a number"},
		{"access_token without the auth claim", edit(func(m map[string]any) { jwtWith(m, `{"sub":"x"}`) }), "has no \"https://api.openai.com/auth\" claim"},
		{"access_token expired", edit(func(m map[string]any) {
			jwtWith(m, `{"exp":1000,"https://api.openai.com/auth":{"chatgpt_user_id":"`+m["user_id"].(string)+`","chatgpt_account_id":"`+m["chatgpt_account_id"].(string)+`"}}`)
		}), "access_token has expired"},
		{"account id with a newline", edit(func(m map[string]any) { m["chatgpt_account_id"] = "a\r\nX: y" }), "not printable ASCII"},
		{"scope a number", edit(func(m map[string]any) { m["scope"] = 1 }), "scope is a number"},
		{"not JSON", fault(identitytest.Fault{Body: []byte("<html>" + secretMarker + "</html>")}), "returned an invalid response"},
		{"duplicate members", fault(identitytest.Fault{Body: []byte(`{"scope":"a","scope":"b"}`)}), "returned an invalid response"},
		{"huge", fault(identitytest.Fault{Body: []byte(`{"pad":"` + strings.Repeat("x", 70<<10) + `"}`)}), "returned an invalid response"},
		{"HTTP 401", fault(identitytest.Fault{Status: 401, Body: []byte(`{"error":"` + secretMarker + `"}`)}), "the workload identity token exchange was rejected with HTTP 401"},
		{"HTTP 429", fault(identitytest.Fault{Status: 429, RetryAfter: "1"}), "was rejected with HTTP 429"},
		{"HTTP 503", fault(identitytest.Fault{Status: 503}), "was rejected with HTTP 503"},
		{"HTTP 307 to another place", fault(identitytest.Fault{RedirectTo: elsewhere.URL + "/oauth/token"}), "was rejected with HTTP 307"},
		{"hang up", fault(identitytest.Fault{HangUp: true}), "the workload identity token exchange is unavailable"},
		{"slow", fault(identitytest.Fault{Delay: 8 * time.Second}), "the workload identity token exchange is unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newWorkloadFixture(t, identitytest.Options{}, codexhome.Account{PlanType: "enterprise"})
			f.srv.SetFault(tt.fault)
			start := time.Now()
			ra, err := f.load(t, f.env)
			assert.Less(t, time.Since(start), 6*time.Second, "bounded in time")
			assert.Equal(t, 1, f.srv.Stats().TokenExchanges, "one exchange, never retried")
			assert.Zero(t, redirected.Load(), "a redirect is never followed")
			if tt.wantMsg == "" {
				require.NoError(t, err)
				f.srv.SetFault(identitytest.Fault{})
				code, _ := postJSON(t, ra.Client(), f.srv.ChatGPTBaseURL+"/codex/responses", []byte(`{}`))
				assert.Equal(t, http.StatusOK, code)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, identity.ErrWorkloadIdentity)
			assert.NotErrorIs(t, err, identity.ErrWorkloadIdentityConfig)
			assert.NotErrorIs(t, err, identity.ErrNoAgentIdentity)
			assert.Contains(t, err.Error(), tt.wantMsg)
			assert.NotContains(t, err.Error(), secretMarker, "the answer is never echoed")
			assert.NotContains(t, err.Error(), testAssertion)
			assert.Zero(t, f.srv.Stats().BearerRequestsAccepted+f.srv.Stats().AgentsRegistered)
		})
	}
}

// testClock is a clock tests move by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// The exchanged token lives in memory: replaced ahead of its expiry (the
// token file read again), once for any number of callers, kept through a
// failed exchange while it is valid, and refused once it has lapsed.
func TestWorkloadIdentityTokenLifetime(t *testing.T) {
	clock := &testClock{now: time.Now()}
	restore := identity.SetWorkloadClockForTest(clock.Now)
	defer restore()
	f := newWorkloadFixture(t, identitytest.Options{Now: clock.Now, TokenExchangeTTL: time.Minute}, codexhome.Account{})
	var logs bytes.Buffer
	opts := f.options(f.env)
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	ra, err := identity.Load(context.Background(), opts)
	require.NoError(t, err)
	models := func() (int, error) {
		resp, err := ra.Client().Get(f.srv.ChatGPTBaseURL + "/codex/models")
		if err != nil {
			return 0, err
		}
		_ = resp.Body.Close()
		return resp.StatusCode, nil
	}
	code, err := models()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	first := f.exchanges()
	require.Len(t, first, 1)

	// 20 s on: the token is kept.
	clock.Add(20 * time.Second)
	code, err = models()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code)
	assert.Len(t, f.exchanges(), 1)

	// 31 s on (less than 30 s left): one new exchange for 50 callers, with
	// what the token file holds now.
	const second = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3b3JrbG9hZC0yIn0.c2lnbmF0dXJlLTI"
	_, err = f.srv.AddWorkloadIdentity(testRuleID, codexhome.NewSecret(second), f.account)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(f.file, []byte(second+"\n"), 0o600))
	clock.Add(11 * time.Second)
	var wg sync.WaitGroup
	codes := make([]int, 50)
	errs := make([]error, len(codes))
	for i := range codes {
		wg.Go(func() { codes[i], errs[i] = models() })
	}
	wg.Wait()
	for i := range codes {
		require.NoError(t, errs[i])
		assert.Equal(t, http.StatusOK, codes[i])
	}
	ex := f.exchanges()
	require.Len(t, ex, 2, "one exchange however many callers")
	assert.Contains(t, string(ex[1].Body), "&assertion="+second+"&", "the token file is read again")

	// The next exchange fails: the valid token is kept, and no exchange is
	// tried again within the back-off.
	f.srv.SetFault(identitytest.Fault{TokenExchange: true, Status: http.StatusServiceUnavailable})
	clock.Add(31 * time.Second)
	for range 3 {
		code, err = models()
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, code)
	}
	assert.Equal(t, 3, f.srv.Stats().TokenExchanges, "one failed exchange, then the back-off")
	assert.Contains(t, logs.String(), "using the current token until it expires", "the fallback is logged")
	assert.NotContains(t, logs.String(), second, "the assertion is never logged")
	assert.NotContains(t, logs.String(), testAssertion, "the assertion is never logged")

	// Past its expiry, with the exchange still failing: requests fail with
	// the exchange's error, and never go out with the lapsed token.
	clock.Add(30 * time.Second)
	_, err = models()
	require.Error(t, err)
	assert.ErrorIs(t, err, identity.ErrWorkloadIdentity)
	assert.Contains(t, err.Error(), "was rejected with HTTP 503")

	// The exchange works again: the run recovers.
	f.srv.SetFault(identitytest.Fault{})
	clock.Add(time.Minute)
	code, err = models()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code)
	assert.NoFileExists(t, filepath.Join(f.home, "auth.json"), "tokens stay in memory")
}

// A 401 from a route to the exchanged token makes one new exchange, and
// the request is sent again with the new token.
func TestWorkloadIdentityRecoversUnauthorized(t *testing.T) {
	f := newWorkloadFixture(t, identitytest.Options{}, codexhome.Account{})
	var refused atomic.Int32
	var seen []string
	var mu sync.Mutex
	o := f.options(f.env)
	o.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if strings.HasSuffix(r.URL.Path, "/codex/models") {
			mu.Lock()
			seen = append(seen, r.Header.Get("Authorization"))
			mu.Unlock()
			if refused.Add(1) == 1 {
				return jsonResponse(http.StatusUnauthorized, `{"error":"token revoked"}`), nil
			}
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	ra, err := identity.Load(context.Background(), o)
	require.NoError(t, err)
	c := &http.Client{Transport: ra.Transport(o.HTTPClient.Transport)}
	resp, err := c.Get(f.srv.ChatGPTBaseURL + "/codex/models")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Len(t, f.exchanges(), 2)
	require.Len(t, seen, 2)
	assert.NotEqual(t, seen[0], seen[1], "sent again with the new token")
}

// The exchange goes to the token endpoint of the environment, and the
// tokens to that environment's backend only. LoadOptions.HTTPClient
// carries every request: here a stand-in that answers for the production
// and staging hosts with the fake (nothing leaves the process).
func TestWorkloadIdentityEnvironments(t *testing.T) {
	staging := stagingEnvironment(t)
	tests := []struct {
		name, base   string
		wantExchange string
		wantBackend  string
	}{
		{"production", "", agentidentity.ChatGPTLoginIssuer + "/oauth/token", agentidentity.DefaultChatGPTBaseURL},
		{"production, another spelling", agentidentity.ProductionOrigin, agentidentity.ChatGPTLoginIssuer + "/oauth/token", agentidentity.DefaultChatGPTBaseURL},
		{"staging", staging.ChatGPTBaseURL, originOf(t, staging.AuthAPIBaseURL) + "/oauth/token", staging.ChatGPTBaseURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newWorkloadFixture(t, identitytest.Options{}, codexhome.Account{})
			fake, err := url.Parse(f.srv.URL)
			require.NoError(t, err)
			var mu sync.Mutex
			var got []string
			client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				mu.Lock()
				got = append(got, r.Method+" "+r.URL.String())
				mu.Unlock()
				if strings.HasSuffix(r.URL.Path, "/wham/accounts/check") {
					return jsonResponse(http.StatusNotFound, `{}`), nil // no routing
				}
				r = r.Clone(r.Context())
				r.URL.Scheme, r.URL.Host = fake.Scheme, fake.Host
				return http.DefaultTransport.RoundTrip(r)
			})}
			env := f.env
			ra, err := identity.Load(context.Background(), identity.LoadOptions{CodexHome: f.home, ChatGPTBaseURL: tt.base, HTTPClient: client,
				LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
			require.NoError(t, err)
			h, err := ra.Header(context.Background(), tt.wantBackend+"/codex/models")
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(h.Get("Authorization"), "Bearer "))
			base, err := ra.InferenceBaseURL(context.Background())
			require.NoError(t, err)
			assert.Equal(t, tt.wantBackend, base)
			for _, other := range agentidentity.Environments() {
				if other.ChatGPTBaseURL != tt.wantBackend {
					h, err := ra.Header(context.Background(), other.ChatGPTBaseURL+"/codex/models")
					require.NoError(t, err)
					assert.Empty(t, h, "no credential for another environment (%s)", other.Name)
				}
			}
			assert.Equal(t, []string{"POST " + tt.wantExchange, "GET " + tt.wantBackend + "/wham/accounts/check"}, got)
		})
	}
}

func originOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u.Scheme + "://" + u.Host
}

func b64url(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// The exchange's form encoding is the WHATWG serialiser, not Go's.
func TestFormEncode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ab+/=~*.c d", "ab%2B%2F%3D%7E*.c+d"},
		{"rule~*.-_x", "rule%7E*.-_x"},
		{` {"a":"~*+/ é&="} `, "+%7B%22a%22%3A%22%7E*%2B%2F+%C3%A9%26%3D%22%7D+"},
		{"urn:ietf:params:oauth:grant-type:jwt-bearer", "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"},
		{"", ""},
		{"\x00\x7f\xff\n", "%00%7F%FF%0A"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, identity.FormEncode(tt.in), "%q", tt.in)
	}
	// Every byte: letters, digits and *-._ kept, space as +, the rest %XX.
	for c := range 256 {
		s := string([]byte{byte(c)})
		got := identity.FormEncode(s)
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.ContainsRune("*-._", rune(c)):
			assert.Equal(t, s, got)
		case c == ' ':
			assert.Equal(t, "+", got)
		default:
			assert.Equal(t, "%"+strings.ToUpper(hex.EncodeToString([]byte{byte(c)})), got)
		}
		back, err := url.QueryUnescape(got)
		require.NoError(t, err)
		assert.Equal(t, s, back)
	}
}

// A later exchange that answers for another account or user than the run's
// is refused: the run's token is kept while it is valid, never replaced by
// the other account's.
func TestWorkloadIdentityReexchangeAnotherAccount(t *testing.T) {
	clock := &testClock{now: time.Now()}
	restore := identity.SetWorkloadClockForTest(clock.Now)
	defer restore()
	f := newWorkloadFixture(t, identitytest.Options{Now: clock.Now, TokenExchangeTTL: time.Minute}, codexhome.Account{})
	ra, err := f.load(t, f.env)
	require.NoError(t, err)
	h, err := ra.Header(context.Background(), f.srv.ChatGPTBaseURL+"/codex/models")
	require.NoError(t, err)
	before := h.Get("Authorization")

	const other = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJvdGhlciJ9.b3RoZXI"
	_, err = f.srv.AddWorkloadIdentity(testRuleID, codexhome.NewSecret(other), codexhome.Account{AccountID: "account-other", UserID: "user-other"})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(f.file, []byte(other), 0o600))
	clock.Add(31 * time.Second)
	h, err = ra.Header(context.Background(), f.srv.ChatGPTBaseURL+"/codex/models")
	require.NoError(t, err)
	assert.Equal(t, before, h.Get("Authorization"), "the run's token is kept")
	assert.Equal(t, f.account.AccountID, h.Get("ChatGPT-Account-ID"))
	assert.Len(t, f.exchanges(), 2)

	clock.Add(30 * time.Second)
	_, err = ra.Header(context.Background(), f.srv.ChatGPTBaseURL+"/codex/models")
	require.Error(t, err)
	assert.ErrorIs(t, err, identity.ErrWorkloadIdentity)
	assert.Contains(t, err.Error(), "the account or user is not the run's")
}
