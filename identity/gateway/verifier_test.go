package gateway_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/internal/wire"
)

var testNow = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

type testAgent struct {
	signer *identity.Signer
	agent  gateway.Agent
}

func newTestAgent(t testing.TB, runtimeID, account string, fedRAMP bool) testAgent {
	t.Helper()
	km, err := identity.GenerateKeyMaterial()
	require.NoError(t, err)
	s, err := identity.NewSigner(runtimeID, km.PrivateKeyPKCS8Base64)
	require.NoError(t, err)
	return testAgent{signer: s, agent: gateway.Agent{RuntimeID: runtimeID, PublicKey: s.PublicKey(), AccountID: account, FedRAMP: fedRAMP}}
}

func (a testAgent) header(t testing.TB, task string, at time.Time) string {
	t.Helper()
	h, err := a.signer.AuthorizationHeader(task, at)
	require.NoError(t, err)
	return h
}

// tamper flips one bit of the signature inside the envelope.
func tamper(t testing.TB, header string) string {
	tok := strings.TrimPrefix(header, "AgentAssertion ")
	env, err := base64.RawURLEncoding.DecodeString(tok)
	require.NoError(t, err)
	i := bytes.Index(env, []byte(`"signature":"`)) + len(`"signature":"`)
	if env[i] == 'A' {
		env[i] = 'B'
	} else {
		env[i] = 'A'
	}
	return "AgentAssertion " + base64.RawURLEncoding.EncodeToString(env)
}

// signatureOf returns the signature member of an AgentAssertion header,
// "" when the header does not decode.
func signatureOf(header string) string {
	env, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(header, "AgentAssertion "))
	if err != nil {
		return ""
	}
	_, sig, ok := bytes.Cut(env, []byte(`"signature":"`))
	if !ok || len(sig) < 88 {
		return ""
	}
	return string(sig[:88])
}

type recorder struct {
	mu       sync.Mutex
	outcomes []gateway.Outcome
}

func (r *recorder) record(o gateway.Outcome) {
	r.mu.Lock()
	r.outcomes = append(r.outcomes, o)
	r.mu.Unlock()
}

func (r *recorder) last() gateway.Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.outcomes[len(r.outcomes)-1]
}

// sentinelOf is the sentinel that Outcome.Err wraps for each refusal label.
var sentinelOf = map[string]error{
	"no_assertion":     gateway.ErrNoAssertion,
	"malformed":        gateway.ErrMalformedAssertion,
	"unknown_agent":    gateway.ErrUnknownAgent,
	"bad_signature":    gateway.ErrBadSignature,
	"stale":            gateway.ErrStaleAssertion,
	"account_mismatch": gateway.ErrAccountMismatch,
	"fedramp_mismatch": gateway.ErrFedRAMPMismatch,
	"task_refused":     gateway.ErrTaskRefused,
}

// TestMiddleware is the table of refusals: every row goes through httptest.
func TestMiddleware(t *testing.T) {
	plain := newTestAgent(t, "agent-plain", "acct-1", false)
	fed := newTestAgent(t, "agent-fed", "acct-gov", true)
	free := newTestAgent(t, "agent-free", "", false)
	stranger := newTestAgent(t, "agent-stranger", "acct-1", false) // not registered
	keys := gateway.StaticKeys{"agent-plain": plain.agent, "agent-fed": fed.agent, "agent-free": free.agent}

	type row struct {
		name    string
		headers [][2]string // added with Header.Add, in order
		path    string
		status  int
		reason  string
	}
	auth := func(h string) [2]string { return [2]string{"Authorization", h} }
	acct := func(a string) [2]string { return [2]string{"ChatGPT-Account-ID", a} }
	fedHdr := func(v string) [2]string { return [2]string{"X-OpenAI-Fedramp", v} }
	valid := plain.header(t, "task-1", testNow)
	rows := []row{
		{"valid", [][2]string{auth(valid), acct("acct-1")}, "", 200, "verified"},
		{"valid at +max skew", [][2]string{auth(plain.header(t, "task-1", testNow.Add(5*time.Minute))), acct("acct-1")}, "", 200, "verified"},
		{"valid at -max skew", [][2]string{auth(plain.header(t, "task-1", testNow.Add(-5*time.Minute))), acct("acct-1")}, "", 200, "verified"},
		{"valid without account check", [][2]string{auth(free.header(t, "task-1", testNow))}, "", 200, "verified"},
		{"valid fedramp", [][2]string{auth(fed.header(t, "task-9", testNow)), acct("acct-gov"), fedHdr("true")}, "", 200, "verified"},
		{"missing", [][2]string{acct("acct-1")}, "", 401, "no_assertion"},
		{"empty", [][2]string{auth(""), acct("acct-1")}, "", 401, "no_assertion"},
		{"bearer", [][2]string{auth("Bearer abc.def.ghi"), acct("acct-1")}, "", 401, "malformed"},
		{"malformed base64", [][2]string{auth("AgentAssertion !!!"), acct("acct-1")}, "", 401, "malformed"},
		{"malformed padded", [][2]string{auth(valid + "="), acct("acct-1")}, "", 401, "malformed"},
		{"oversized", [][2]string{auth("AgentAssertion " + strings.Repeat("A", gateway.MaxAuthorizationHeaderLen)), acct("acct-1")}, "", 401, "malformed"},
		{"two Authorization headers", [][2]string{auth(valid), auth(valid), acct("acct-1")}, "", 401, "malformed"},
		{"tampered", [][2]string{auth(tamper(t, valid)), acct("acct-1")}, "", 401, "bad_signature"},
		{"unknown agent", [][2]string{auth(stranger.header(t, "task-1", testNow)), acct("acct-1")}, "", 401, "unknown_agent"},
		{"stale", [][2]string{auth(plain.header(t, "task-1", testNow.Add(-5*time.Minute-time.Second))), acct("acct-1")}, "", 401, "stale"},
		{"far future", [][2]string{auth(plain.header(t, "task-1", time.Date(8999, 12, 31, 23, 59, 59, 0, time.UTC))), acct("acct-1")}, "", 401, "stale"},
		{"year 2000", [][2]string{auth(plain.header(t, "task-1", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))), acct("acct-1")}, "", 401, "stale"},
		{"wrong account", [][2]string{auth(valid), acct("acct-2")}, "", 403, "account_mismatch"},
		{"missing account", [][2]string{auth(valid)}, "", 403, "account_mismatch"},
		{"two accounts", [][2]string{auth(valid), acct("acct-1"), acct("acct-1")}, "", 403, "account_mismatch"},
		{"missing fedramp", [][2]string{auth(fed.header(t, "task-9", testNow)), acct("acct-gov")}, "", 403, "fedramp_mismatch"},
		{"fedramp not exactly true", [][2]string{auth(fed.header(t, "task-9", testNow)), acct("acct-gov"), fedHdr("TRUE")}, "", 403, "fedramp_mismatch"},
		{"non-fedramp claiming it", [][2]string{auth(valid), acct("acct-1"), fedHdr("true")}, "", 403, "fedramp_mismatch"},
		{"ended task", [][2]string{auth(plain.header(t, "task-ended", testNow)), acct("acct-1")}, "", 401, "task_refused"},
		{"non-canonical path is verified", [][2]string{acct("acct-1")}, "/backend-api/wham/agent-identities/jwks/../../../codex/responses", 401, "no_assertion"},
	}
	for _, cached := range []bool{false, true} {
		for _, tc := range rows {
			t.Run(fmt.Sprintf("%s/cached=%v", tc.name, cached), func(t *testing.T) {
				var rec recorder
				var logs bytes.Buffer
				v := &gateway.Verifier{
					Keys: keys, Now: func() time.Time { return testNow.Add(999 * time.Millisecond) },
					Task: func(_ context.Context, _, taskID string) error {
						if taskID == "task-ended" {
							return errors.New("task ended")
						}
						return nil
					},
					Logger:    slog.New(slog.NewTextHandler(&logs, nil)),
					OnOutcome: rec.record,
				}
				if !cached {
					v.CacheEntries = -1
				}
				var reached atomic.Int32
				srv := httptest.NewServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					reached.Add(1)
					id, ok := gateway.FromContext(r.Context())
					if !assert.True(t, ok) {
						return
					}
					fmt.Fprintf(w, "%s %s %s %s", id.AgentRuntimeID, id.TaskID, id.AccountID, id.Timestamp.Format(time.RFC3339))
				})))
				defer srv.Close()
				path := tc.path
				if path == "" {
					path = "/backend-api/codex/responses"
				}
				tries := 1
				if cached {
					tries = 3 // the first fills the cache, the others hit it
				}
				for i := 0; i < tries; i++ {
					req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader("{}"))
					require.NoError(t, err)
					for _, h := range tc.headers {
						req.Header.Add(h[0], h[1])
					}
					resp, err := srv.Client().Do(req)
					require.NoError(t, err)
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					require.Equal(t, tc.status, resp.StatusCode, string(body))
					assert.Equal(t, tc.reason, rec.last().Reason)
					if want, ok := sentinelOf[tc.reason]; ok {
						assert.ErrorIs(t, rec.last().Err, want, "Outcome.Err carries the reason's sentinel")
						assert.ErrorIs(t, rec.last().Err, gateway.ErrInvalidAssertion)
					} else {
						assert.NoError(t, rec.last().Err)
					}
					for _, h := range tc.headers {
						if h[0] != "Authorization" || len(h[1]) <= 40 {
							continue
						}
						// Every token shares its first bytes ({"agent_runtime_id"):
						// look for its end and its signature too.
						tok := strings.TrimPrefix(h[1], "AgentAssertion ")
						secrets := []string{tok[:20], tok[len(tok)-20:]}
						if sig := signatureOf(h[1]); sig != "" {
							secrets = append(secrets, sig[:20])
						}
						for _, x := range secrets {
							assert.NotContains(t, string(body), x)
							assert.NotContains(t, logs.String(), x)
							for k, vs := range resp.Header {
								assert.NotContains(t, k+strings.Join(vs, ","), x)
							}
						}
					}
					switch tc.status {
					case 200:
						assert.Contains(t, string(body), "task-")
					case 401:
						assert.Equal(t, `AgentAssertion error="invalid_token"`, resp.Header.Get("WWW-Authenticate"))
						assert.JSONEq(t, `{"error":"invalid_token","error_description":"the AgentAssertion was refused"}`, string(body))
					case 403:
						assert.Equal(t, `AgentAssertion error="insufficient_scope"`, resp.Header.Get("WWW-Authenticate"))
						assert.Contains(t, string(body), "insufficient_scope")
					}
					if tc.status != 200 {
						assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
						assert.Contains(t, logs.String(), "reason="+tc.reason)
					}
				}
				if tc.status == 200 {
					assert.EqualValues(t, tries, reached.Load())
				} else {
					assert.Zero(t, reached.Load(), "next never runs for a refused request")
				}
				if cached && tc.status != 200 && tc.reason != "account_mismatch" && tc.reason != "fedramp_mismatch" && tc.reason != "task_refused" {
					assert.Zero(t, v.CacheStats().Entries, "only verified signatures are remembered")
				}
			})
		}
	}
}

// TestVerifyErrors checks that Verify's errors match the documented
// sentinels, and that the 401 classes share one body.
func TestVerifyErrors(t *testing.T) {
	a := newTestAgent(t, "agent-1", "acct-1", false)
	stranger := newTestAgent(t, "agent-2", "", false)
	v := &gateway.Verifier{Keys: gateway.StaticKeys{"agent-1": a.agent}, Now: func() time.Time { return testNow }}
	req := func(h ...string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/codex/responses", nil)
		for _, x := range h {
			r.Header.Add("Authorization", x)
		}
		r.Header.Set("ChatGPT-Account-ID", "acct-1")
		return r
	}
	valid := a.header(t, "task-1", testNow)
	for _, tc := range []struct {
		name string
		r    *http.Request
		want []error
	}{
		{"none", req(), []error{gateway.ErrInvalidAssertion, gateway.ErrNoAssertion}},
		{"two", req(valid, valid), []error{gateway.ErrInvalidAssertion, gateway.ErrMalformedAssertion}},
		{"unknown", req(stranger.header(t, "t", testNow)), []error{gateway.ErrInvalidAssertion, gateway.ErrUnknownAgent}},
		{"tampered", req(tamper(t, valid)), []error{gateway.ErrInvalidAssertion, gateway.ErrBadSignature}},
		{"stale", req(a.header(t, "task-1", testNow.Add(-time.Hour))), []error{gateway.ErrInvalidAssertion, gateway.ErrStaleAssertion}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := v.Verify(tc.r)
			require.Error(t, err)
			assert.Zero(t, id)
			for _, w := range tc.want {
				assert.ErrorIs(t, err, w)
			}
			assert.NotContains(t, err.Error(), strings.TrimPrefix(valid, "AgentAssertion ")[:20])
		})
	}

	t.Run("lower-case key in a hand-built header counts too", func(t *testing.T) {
		r := req(valid)
		r.Header["authorization"] = []string{valid}
		_, err := v.Verify(r)
		assert.ErrorIs(t, err, gateway.ErrMalformedAssertion)
	})
	t.Run("valid", func(t *testing.T) {
		id, err := v.Verify(req(valid))
		require.NoError(t, err)
		assert.Equal(t, gateway.Identity{AgentRuntimeID: "agent-1", TaskID: "task-1", AccountID: "acct-1", Timestamp: testNow}, id)
	})
}

// TestVerifierClockAndConfig: a zero or implausible clock, a bad window, no
// Keys, a failing Keys.
func TestVerifierClockAndConfig(t *testing.T) {
	a := newTestAgent(t, "agent-1", "", false)
	keys := gateway.StaticKeys{"agent-1": a.agent}
	for _, tc := range []struct {
		name   string
		v      *gateway.Verifier
		want   error
		status int
	}{
		{"zero clock", &gateway.Verifier{Keys: keys, Now: func() time.Time { return time.Time{} }}, gateway.ErrImplausibleClock, 500},
		{"year 1999", &gateway.Verifier{Keys: keys, Now: func() time.Time { return time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC) }}, gateway.ErrImplausibleClock, 500},
		{"year 9000", &gateway.Verifier{Keys: keys, Now: func() time.Time { return time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC) }}, gateway.ErrImplausibleClock, 500},
		{"negative skew", &gateway.Verifier{Keys: keys, MaxSkew: -time.Second, Now: func() time.Time { return testNow }}, gateway.ErrInvalidSkew, 500},
		{"25h skew", &gateway.Verifier{Keys: keys, MaxSkew: 25 * time.Hour, Now: func() time.Time { return testNow }}, gateway.ErrInvalidSkew, 500},
		{"keys down", &gateway.Verifier{Keys: gateway.KeysFunc(func(context.Context, string) (gateway.Agent, error) {
			return gateway.Agent{}, errors.New("database down")
		}), Now: func() time.Time { return testNow }}, gateway.ErrKeysUnavailable, 503},
		{"small-order key", &gateway.Verifier{Keys: gateway.StaticKeys{"agent-1": {PublicKey: make([]byte, 32)}}, Now: func() time.Time { return testNow }}, wire.ErrInvalidKey, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/codex/responses", nil)
			r.Header.Set("Authorization", a.header(t, "task-1", testNow))
			_, err := tc.v.Verify(r)
			assert.ErrorIs(t, err, tc.want)
			tc.v.Logger = slog.New(slog.DiscardHandler)
			w := httptest.NewRecorder()
			tc.v.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("next ran") })).ServeHTTP(w, r)
			assert.Equal(t, tc.status, w.Code)
		})
	}
	t.Run("nil Keys", func(t *testing.T) {
		v := &gateway.Verifier{}
		_, err := v.Verify(httptest.NewRequest(http.MethodGet, "/", nil))
		assert.Error(t, err)
	})
}

// TestRoutes covers the route modes.
func TestRoutes(t *testing.T) {
	a := newTestAgent(t, "agent-1", "", false)
	keys := gateway.StaticKeys{"agent-1": a.agent}
	type row struct {
		name   string
		routes gateway.Routes
		path   string
		auth   string
		status int
		reason string
	}
	pass := gateway.Routes{BasePath: "/backend-api", Other: gateway.RoutePassThrough, NoCredential: gateway.RoutePassThrough}
	refuse := gateway.Routes{BasePath: "/backend-api", Other: gateway.RouteRefuse, NoCredential: gateway.RouteRefuse}
	valid := a.header(t, "task-1", testNow)
	for _, tc := range []row{
		{"zero value verifies jwks", gateway.Routes{}, "/backend-api/wham/agent-identities/jwks", "", 401, "no_assertion"},
		{"jwks passes", pass, "/backend-api/wham/agent-identities/jwks", "", 200, "pass_through"},
		{"mcp passes", pass, "/backend-api/ps/mcp", "", 200, "pass_through"},
		{"bearer passes on other", pass, "/backend-api/wham/settings/user", "Bearer tok", 200, "pass_through"},
		{"outside base follows Other", pass, "/elsewhere", "Bearer tok", 200, "pass_through"},
		{"inference never passes", pass, "/backend-api/codex/responses", "Bearer tok", 401, "malformed"},
		{"compaction never passes", pass, "/backend-api/codex/responses/compact", "", 401, "no_assertion"},
		{"trailing slash is verified", pass, "/backend-api/wham/agent-identities/jwks/", "", 401, "no_assertion"},
		{"encoded slash is verified", pass, "/backend-api/wham/agent-identities%2Fjwks", "", 401, "no_assertion"},
		{"semicolon is verified", pass, "/backend-api/ps/mcp;x", "", 401, "no_assertion"},
		{"inference verifies", pass, "/backend-api/codex/responses", valid, 200, "verified"},
		{"other refused", refuse, "/backend-api/codex/models", "Bearer tok", 403, "route_refused"},
		{"jwks refused", refuse, "/backend-api/wham/agent-identities/jwks", "", 403, "route_refused"},
		{"other verified by default", gateway.Routes{BasePath: "/backend-api"}, "/backend-api/codex/models", valid, 200, "verified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec recorder
			v := &gateway.Verifier{Keys: keys, Now: func() time.Time { return testNow }, Routes: tc.routes, OnOutcome: rec.record, Logger: slog.New(slog.DiscardHandler)}
			var gotAuth string
			h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotAuth = r.Header.Get("Authorization")
				_, ok := gateway.FromContext(r.Context())
				assert.Equal(t, tc.reason == "verified", ok)
			}))
			r := httptest.NewRequest(http.MethodGet, "http://gw.example"+tc.path, nil)
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			assert.Equal(t, tc.status, w.Code)
			assert.Equal(t, tc.reason, rec.last().Reason)
			if tc.status == 200 {
				assert.Equal(t, tc.auth, gotAuth, "pass-through leaves Authorization untouched")
			}
		})
	}
}

// TestCacheRechecks: a hit asks Keys again, re-checks the window and calls
// Task.
func TestCacheRechecks(t *testing.T) {
	a := newTestAgent(t, "agent-1", "acct-1", false)
	other := newTestAgent(t, "agent-1", "acct-1", false) // same id, new key
	var current atomic.Pointer[gateway.Agent]
	agent := a.agent
	current.Store(&agent)
	ended := atomic.Bool{}
	now := testNow
	var nowMu sync.Mutex
	v := &gateway.Verifier{
		Keys: gateway.KeysFunc(func(_ context.Context, id string) (gateway.Agent, error) {
			p := current.Load()
			if p == nil {
				return gateway.Agent{}, gateway.ErrUnknownAgent
			}
			return *p, nil
		}),
		Now: func() time.Time { nowMu.Lock(); defer nowMu.Unlock(); return now },
		Task: func(context.Context, string, string) error {
			if ended.Load() {
				return errors.New("ended")
			}
			return nil
		},
	}
	header := a.header(t, "task-1", testNow)
	do := func() error {
		r := httptest.NewRequest(http.MethodPost, "/codex/responses", nil)
		r.Header.Set("Authorization", header)
		r.Header.Set("ChatGPT-Account-ID", "acct-1")
		_, err := v.Verify(r)
		return err
	}
	require.NoError(t, do())
	require.NoError(t, do())
	assert.EqualValues(t, 1, v.CacheStats().Hits)

	ended.Store(true)
	assert.ErrorIs(t, do(), gateway.ErrTaskRefused)
	ended.Store(false)

	moved := a.agent
	moved.AccountID = "acct-2"
	current.Store(&moved)
	assert.ErrorIs(t, do(), gateway.ErrAccountMismatch)

	rotated := other.agent
	current.Store(&rotated)
	assert.ErrorIs(t, do(), gateway.ErrBadSignature, "a new key is not bypassed by the cache")

	current.Store(nil)
	assert.ErrorIs(t, do(), gateway.ErrUnknownAgent)

	current.Store(&agent)
	require.NoError(t, do())
	nowMu.Lock()
	now = testNow.Add(5*time.Minute + time.Second)
	nowMu.Unlock()
	assert.ErrorIs(t, do(), gateway.ErrStaleAssertion, "a hit re-checks the window")
}

// TestCacheBounds: entries and bytes never exceed the bounds; the oldest go
// first.
func TestCacheBounds(t *testing.T) {
	a := newTestAgent(t, "agent-1", "", false)
	v := &gateway.Verifier{Keys: gateway.StaticKeys{"agent-1": a.agent}, Now: func() time.Time { return testNow }, CacheEntries: 8, CacheBytes: 8 * 1024}
	verify := func(h string) {
		r := httptest.NewRequest(http.MethodPost, "/codex/responses", nil)
		r.Header.Set("Authorization", h)
		_, err := v.Verify(r)
		require.NoError(t, err)
	}
	var headers []string
	for i := 0; i < 40; i++ {
		task := fmt.Sprintf("task-%d-%s", i, strings.Repeat("x", i*40))
		headers = append(headers, a.header(t, task, testNow))
		verify(headers[i])
		s := v.CacheStats()
		require.LessOrEqual(t, s.Entries, s.MaxEntries)
		require.LessOrEqual(t, s.Bytes, s.MaxBytes)
	}
	before := v.CacheStats()
	verify(headers[len(headers)-1]) // newest: a hit
	assert.Equal(t, before.Hits+1, v.CacheStats().Hits)
	verify(headers[0]) // oldest: evicted long ago
	assert.Equal(t, before.Misses+1, v.CacheStats().Misses)
	assert.NotZero(t, v.CacheStats().Evictions)

	huge := a.header(t, strings.Repeat("y", 4000), testNow)
	small := &gateway.Verifier{Keys: gateway.StaticKeys{"agent-1": a.agent}, Now: func() time.Time { return testNow }, CacheBytes: 1024}
	r := httptest.NewRequest(http.MethodPost, "/codex/responses", nil)
	r.Header.Set("Authorization", huge)
	_, err := small.Verify(r)
	require.NoError(t, err)
	assert.Zero(t, small.CacheStats().Entries, "an entry larger than the byte bound is not kept")
}

// TestConcurrent: 100 goroutines verifying at once, through one Verifier,
// valid and forged mixed; run with -race.
func TestConcurrent(t *testing.T) {
	agents := make([]testAgent, 4)
	keys := gateway.StaticKeys{}
	for i := range agents {
		agents[i] = newTestAgent(t, fmt.Sprintf("agent-%d", i), "", false)
		keys[agents[i].agent.RuntimeID] = agents[i].agent
	}
	v := &gateway.Verifier{Keys: keys, Now: func() time.Time { return testNow }, CacheEntries: 16, Logger: slog.New(slog.DiscardHandler)}
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := gateway.FromContext(r.Context()); !ok {
			t.Error("next without identity")
		}
	}))
	var wg sync.WaitGroup
	var accepted, refused atomic.Int64
	for g := 0; g < 100; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				a := agents[(g+i)%len(agents)]
				hdr := a.header(t, fmt.Sprintf("task-%d", i%5), testNow)
				forged := (g+i)%3 == 0
				if forged {
					hdr = tamper(t, hdr)
				}
				r := httptest.NewRequest(http.MethodPost, "/codex/responses", nil)
				r.Header.Set("Authorization", hdr)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if forged != (w.Code == 401) || !forged && w.Code != 200 {
					t.Errorf("forged=%v got %d", forged, w.Code)
				}
				if forged {
					refused.Add(1)
				} else {
					accepted.Add(1)
				}
				s := v.CacheStats()
				if s.Entries > s.MaxEntries || s.Bytes > s.MaxBytes {
					t.Errorf("cache over its bounds: %+v", s)
				}
			}
		}()
	}
	wg.Wait()
	assert.EqualValues(t, 2000, accepted.Load()+refused.Load())
}

// TestPayloadForms: a Verifier verifies the colon payload unless
// JSONArrayPayload is set, and a header signed in one form never verifies in
// the other.
func TestPayloadForms(t *testing.T) {
	a := newTestAgent(t, "agent-1", "", false)
	keys := gateway.StaticKeys{"agent-1": a.agent}
	sign := func(f identity.PayloadFormat) string {
		h, err := a.signer.AuthorizationHeaderFormat(`t"a\sk:1`, testNow, f)
		require.NoError(t, err)
		return h
	}
	colon, jsonArray := sign(identity.PayloadColon), sign(identity.PayloadJSONArray)
	require.NotEqual(t, colon, jsonArray)
	for _, tc := range []struct {
		name      string
		jsonArray bool
		header    string
		want      error
	}{
		{"colon verifies by default", false, colon, nil},
		{"json array refused by default", false, jsonArray, gateway.ErrBadSignature},
		{"json array verifies when set", true, jsonArray, nil},
		{"colon refused when set", true, colon, gateway.ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &gateway.Verifier{Keys: keys, Now: func() time.Time { return testNow }, JSONArrayPayload: tc.jsonArray}
			r := httptest.NewRequest(http.MethodPost, "/codex/responses", nil)
			r.Header.Set("Authorization", tc.header)
			id, err := v.Verify(r)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
				require.ErrorIs(t, err, gateway.ErrInvalidAssertion)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, `t"a\sk:1`, id.TaskID)
		})
	}
	_, err := gateway.VerifyAuthorizationHeader(jsonArray, a.signer.PublicKey(), testNow, time.Second)
	require.ErrorIs(t, err, gateway.ErrBadSignature, "VerifyAuthorizationHeader verifies the colon form only")
}

// TestOutcomeRoute: Outcome.Route labels the route class of every request.
func TestOutcomeRoute(t *testing.T) {
	a := newTestAgent(t, "agent-1", "", false)
	routes := gateway.Routes{BasePath: "/backend-api", Other: gateway.RoutePassThrough, NoCredential: gateway.RoutePassThrough}
	for _, tc := range []struct{ path, route string }{
		{"/backend-api/codex/responses", "inference"},
		{"/backend-api/codex/responses/compact", "inference"},
		{"/backend-api/wham/agent-identities/../settings", "inference"},
		{"/backend-api/wham/agent-identities/jwks", "no-credential"},
		{"/backend-api/ps/mcp", "no-credential"},
		{"/backend-api/codex/models", "other"},
		{"/elsewhere", "outside"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			var rec recorder
			v := &gateway.Verifier{Keys: gateway.StaticKeys{"agent-1": a.agent}, Now: func() time.Time { return testNow },
				Routes: routes, OnOutcome: rec.record, Logger: slog.New(slog.DiscardHandler)}
			r := httptest.NewRequest(http.MethodPost, "http://gw.example"+tc.path, nil)
			v.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(httptest.NewRecorder(), r)
			assert.Equal(t, tc.route, rec.last().Route)
		})
	}
}

// spellings returns every case spelling of p that a case-insensitive router
// reads as p: each segment upper-cased and title-cased alone, all upper, and
// alternating case.
func spellings(p string) []string {
	segs := strings.Split(p, "/")[1:]
	seen := map[string]bool{p: true}
	var out []string
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	join := func(segs []string) string { return "/" + strings.Join(segs, "/") }
	for i, s := range segs {
		for _, v := range []string{strings.ToUpper(s), strings.ToUpper(s[:1]) + s[1:], s[:len(s)-1] + strings.ToUpper(s[len(s)-1:])} {
			c := append([]string(nil), segs...)
			c[i] = v
			add(join(c))
		}
	}
	add(strings.ToUpper(p))
	title := []byte(p) // every word title-cased: /Backend-Api/Codex/Responses
	for i := range title {
		if (i == 0 || title[i-1] == '/' || title[i-1] == '-') && 'a' <= title[i] && title[i] <= 'z' {
			title[i] -= 'a' - 'A'
		}
	}
	add(string(title))
	first := strings.Index(p[1:], "/") + 1 // only the base path's words title-cased
	add(string(title[:first]) + p[first:])
	alt := []byte(p)
	for i := range alt {
		if i%2 == 0 && 'a' <= alt[i] && alt[i] <= 'z' {
			alt[i] -= 'a' - 'A'
		}
	}
	add(string(alt))
	return out
}

// TestRouteSpellings: with every other route passed through, no case
// spelling of an inference route (base path included), nor of the
// WebSocket upgrade, reaches next without a valid AgentAssertion.
func TestRouteSpellings(t *testing.T) {
	a := newTestAgent(t, "agent-1", "", false)
	keys := gateway.StaticKeys{"agent-1": a.agent}
	pass := gateway.Routes{BasePath: "/backend-api", Other: gateway.RoutePassThrough, NoCredential: gateway.RoutePassThrough}
	valid := a.header(t, "task-1", testNow)
	paths := append(spellings("/backend-api/codex/responses"), spellings("/backend-api/codex/responses/compact")...)
	require.Contains(t, paths, "/backend-api/CODEX/responses")
	require.Contains(t, paths, "/backend-api/codex/Responses")
	require.Contains(t, paths, "/Backend-Api/codex/responses")
	type attempt struct {
		name, method, auth string
		upgrade            bool
		status             int
		reason             string
	}
	attempts := []attempt{
		{"no credential", http.MethodPost, "", false, 401, "no_assertion"},
		{"bearer", http.MethodPost, "Bearer tok", false, 401, "malformed"},
		{"websocket upgrade without credential", http.MethodGet, "", true, 401, "no_assertion"},
		{"websocket upgrade with bearer", http.MethodGet, "Bearer tok", true, 401, "malformed"},
		{"valid", http.MethodPost, valid, false, 200, "verified"},
		{"valid websocket upgrade", http.MethodGet, valid, true, 200, "verified"},
	}
	for _, p := range paths {
		for _, at := range attempts {
			t.Run(p+"/"+at.name, func(t *testing.T) {
				var rec recorder
				v := &gateway.Verifier{Keys: keys, Now: func() time.Time { return testNow }, Routes: pass, OnOutcome: rec.record, Logger: slog.New(slog.DiscardHandler)}
				reached := false
				h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					reached = true
					_, ok := gateway.FromContext(r.Context())
					assert.True(t, ok, "next runs only with an Identity")
				}))
				r := httptest.NewRequest(at.method, "http://gw.example"+p, nil)
				if at.auth != "" {
					r.Header.Set("Authorization", at.auth)
				}
				if at.upgrade {
					r.Header.Set("Connection", "Upgrade")
					r.Header.Set("Upgrade", "websocket")
					r.Header.Set("Sec-WebSocket-Version", "13")
					r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				assert.Equal(t, at.status, w.Code)
				assert.Equal(t, at.status == 200, reached)
				assert.Equal(t, at.reason, rec.last().Reason)
				assert.Equal(t, "inference", rec.last().Route)
			})
		}
	}
	t.Run("non-ASCII letters that fold to ASCII are verified", func(t *testing.T) {
		for _, p := range []string{"/backend-api/codex/re\u017fponses", "/backend-api/codex/responses/compact\u212a", "/backend-ap\u0131/codex/responses"} {
			var rec recorder
			v := &gateway.Verifier{Keys: keys, Now: func() time.Time { return testNow }, Routes: pass, OnOutcome: rec.record, Logger: slog.New(slog.DiscardHandler)}
			h := v.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Errorf("%q reached next", p) }))
			r := httptest.NewRequest(http.MethodPost, "http://gw.example/", nil)
			r.URL.Path = p
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			assert.Equal(t, 401, w.Code, p)
		}
	})
}

// TestCacheConfigBounds: every cache bound gives a bounded cache or a
// configuration error (500), never a panic or an allocation the size of the
// bound.
func TestCacheConfigBounds(t *testing.T) {
	a := newTestAgent(t, "agent-1", "", false)
	keys := gateway.StaticKeys{"agent-1": a.agent}
	header := a.header(t, "task-1", testNow)
	for _, tc := range []struct {
		name       string
		entries    int
		bytes      int64
		status     int
		maxEntries int
		maxBytes   int64
	}{
		{"defaults", 0, 0, 200, 4096, 8 << 20},
		{"math.MaxInt entries", math.MaxInt, 0, 200, (8 << 20) / 256, 8 << 20},
		{"math.MaxInt entries, 1 GiB", math.MaxInt, 1 << 30, 200, (1 << 30) / 256, 1 << 30},
		{"negative bytes", 10, -1, 200, 10, 8 << 20},
		{"math.MinInt64 bytes", 10, math.MinInt64, 200, 10, 8 << 20},
		{"bytes below one entry", 10, 100, 200, 0, 100},
		{"more than 1 GiB", 10, 1<<30 + 1, 500, 0, 0},
		{"math.MaxInt64 bytes", math.MaxInt, math.MaxInt64, 500, 0, 0},
		{"cache off", -1, math.MaxInt64, 200, 0, 0},
		{"math.MinInt entries", math.MinInt, 0, 200, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &gateway.Verifier{Keys: keys, Now: func() time.Time { return testNow }, CacheEntries: tc.entries, CacheBytes: tc.bytes, Logger: slog.New(slog.DiscardHandler)}
			h := v.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			for range 2 {
				r := httptest.NewRequest(http.MethodPost, "/codex/responses", nil)
				r.Header.Set("Authorization", header)
				w := httptest.NewRecorder()
				require.NotPanics(t, func() { h.ServeHTTP(w, r) })
				assert.Equal(t, tc.status, w.Code)
			}
			s := v.CacheStats()
			assert.Equal(t, tc.maxEntries, s.MaxEntries)
			if tc.maxEntries > 0 {
				assert.Equal(t, tc.maxBytes, s.MaxBytes)
				assert.Equal(t, 1, s.Entries)
				assert.EqualValues(t, 1, s.Hits)
			}
		})
	}
	t.Run("the cache grows past its first ring and keeps FIFO order", func(t *testing.T) {
		v := &gateway.Verifier{Keys: keys, Now: func() time.Time { return testNow }, CacheEntries: 300}
		var headers []string
		for i := range 400 {
			headers = append(headers, a.header(t, fmt.Sprintf("task-%d", i), testNow))
			r := httptest.NewRequest(http.MethodPost, "/codex/responses", nil)
			r.Header.Set("Authorization", headers[i])
			_, err := v.Verify(r)
			require.NoError(t, err)
		}
		s := v.CacheStats()
		assert.Equal(t, 300, s.Entries)
		assert.EqualValues(t, 100, s.Evictions)
		hit := func(i int) bool {
			r := httptest.NewRequest(http.MethodPost, "/codex/responses", nil)
			r.Header.Set("Authorization", headers[i])
			before := v.CacheStats().Hits
			_, err := v.Verify(r)
			require.NoError(t, err)
			return v.CacheStats().Hits == before+1
		}
		for i := 399; i >= 100; i-- {
			assert.True(t, hit(i), "header %d is among the 300 newest", i)
		}
		assert.False(t, hit(0), "the oldest went first")
		assert.False(t, hit(100), "re-adding header 0 evicted the oldest left, 100")
		assert.True(t, hit(102))
	})
}

// TestOutcomeDuration: Outcome.Duration is the verification's time, 0 when
// nothing was verified.
func TestOutcomeDuration(t *testing.T) {
	a := newTestAgent(t, "agent-1", "", false)
	var rec recorder
	v := &gateway.Verifier{Keys: gateway.StaticKeys{"agent-1": a.agent}, Now: func() time.Time { return testNow },
		Routes: gateway.Routes{BasePath: "/backend-api", Other: gateway.RoutePassThrough}, OnOutcome: rec.record, Logger: slog.New(slog.DiscardHandler)}
	h := v.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, tc := range []struct {
		name, path, auth string
		verified         bool
	}{
		{"verified", "/backend-api/codex/responses", a.header(t, "task-1", testNow), true},
		{"refused", "/backend-api/codex/responses", "", true},
		{"passed", "/backend-api/codex/models", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, tc.path, nil)
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if tc.verified {
				assert.Positive(t, rec.last().Duration)
			} else {
				assert.Zero(t, rec.last().Duration)
			}
		})
	}
}
