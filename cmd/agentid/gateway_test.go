package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/internal/netrule"
	"github.com/agentidentity/agentidentity/internal/testkit"
)

type gwAgent struct {
	signer *identity.Signer
	line   string // keys file line
	agent  gateway.Agent
}

func newGWAgent(t testing.TB, runtimeID, account string) gwAgent {
	t.Helper()
	km, err := identity.GenerateKeyMaterial()
	require.NoError(t, err)
	s, err := identity.NewSigner(runtimeID, km.PrivateKeyPKCS8Base64)
	require.NoError(t, err)
	return gwAgent{
		signer: s,
		line:   fmt.Sprintf(`{"runtime_id":%q,"public_key":%q,"account_id":%q}`, runtimeID, km.PublicKeySSH, account),
		agent:  gateway.Agent{RuntimeID: runtimeID, PublicKey: s.PublicKey(), AccountID: account},
	}
}

// runAuthClient is an http.Client that signs every request to origin.
func runAuthClient(t testing.TB, a gwAgent, origin, task, account string, base http.RoundTripper) *http.Client {
	t.Helper()
	auth, err := identity.NewRunAuth(a.signer, &identity.Client{AuthAPIBaseURL: origin}, identity.RunAuthOptions{Account: codexhome.Account{AccountID: account}, TaskID: task, FirstPartyOrigin: origin})
	require.NoError(t, err)
	return &http.Client{Transport: auth.Transport(base), Timeout: 30 * time.Second}
}

// upstreamRecorder is the backend behind the gateway.
type upstreamRecorder struct {
	mu       sync.Mutex
	requests []http.Header
}

func (u *upstreamRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.requests = append(u.requests, r.Header.Clone())
	u.mu.Unlock()
	fmt.Fprintf(w, "upstream saw %s", r.URL.Path)
}

func (u *upstreamRecorder) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.requests)
}

func (u *upstreamRecorder) last() http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.requests[len(u.requests)-1]
}

// TestGatewayCommand runs `agentid gateway` in front of an httptest
// upstream: a request signed by a RunAuth passes with the identity headers
// set, a forged one gets 401 and never reaches the upstream.
func TestGatewayCommand(t *testing.T) {
	up := &upstreamRecorder{}
	upstream := httptest.NewServer(up)
	defer upstream.Close()
	a := newGWAgent(t, "agent-1", "acct-1")
	keys := filepath.Join(t.TempDir(), "agents.jsonl")
	require.NoError(t, os.WriteFile(keys, []byte(a.line+"\n"), 0o600))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, "gateway", "--keys", keys, "--upstream", upstream.URL, "--listen", "127.0.0.1:0")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr testkit.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill() }()
	sc := bufio.NewScanner(stdout)
	require.True(t, sc.Scan(), "no listening line")
	line := sc.Text()
	_, rest, ok := strings.Cut(line, "listening on ")
	require.True(t, ok, line)
	gw, _, _ := strings.Cut(rest, ",")
	require.True(t, strings.HasPrefix(gw, "http://127.0.0.1:"), line)

	client := runAuthClient(t, a, gw, "task-1", "acct-1", nil)
	req, err := http.NewRequest(http.MethodPost, gw+"/backend-api/codex/responses", strings.NewReader("{}"))
	require.NoError(t, err)
	req.Header.Set("X-Agent-Runtime-Id", "agent-evil")
	req.Header["X_Agent_Runtime_Id"] = []string{"agent-evil"}
	req.Header["x-agent-task-id"] = []string{"task-evil"}
	req.Header.Set("Connection", "X-Agent-Task-Id")
	resp, err := client.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, string(body))
	assert.Equal(t, "upstream saw /backend-api/codex/responses", string(body))
	h := up.last()
	assert.Equal(t, []string{"agent-1"}, h["X-Agent-Runtime-Id"])
	assert.Equal(t, []string{"task-1"}, h["X-Agent-Task-Id"])
	for k := range h {
		if k != "X-Agent-Runtime-Id" && k != "X-Agent-Task-Id" {
			assert.NotContains(t, []string{"x-agent-runtime-id", "x-agent-task-id"}, identityHeaderName(k), "incoming copy %s kept", k)
		}
	}
	assert.Empty(t, h.Get("Authorization"), "the assertion is not handed on")
	assert.Empty(t, h.Get("ChatGPT-Account-ID"))

	// Forged: another key under the same runtime id.
	forger := newGWAgent(t, "agent-1", "acct-1")
	n := up.count()
	resp, err = runAuthClient(t, forger, gw, "task-1", "acct-1", nil).Post(gw+"/backend-api/codex/responses", "application/json", nil)
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 401, resp.StatusCode)
	assert.Equal(t, `AgentAssertion error="invalid_token"`, resp.Header.Get("WWW-Authenticate"))
	assert.NotContains(t, string(body), "agent-1")
	assert.Equal(t, n, up.count(), "a forged request never reaches the upstream")

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	require.NoError(t, cmd.Wait(), stderr.String())
	assert.Contains(t, stderr.String(), "reason=bad_signature")
	assert.Contains(t, stderr.String(), "runtime_id=agent-1")
}

// TestGatewayProxy checks the forwarding rules in-process.
func TestGatewayProxy(t *testing.T) {
	a := newGWAgent(t, "agent-1", "acct-1")
	now := time.Now()
	for _, tc := range []struct {
		name        string
		keep        bool
		path        string
		bearer      bool
		status      int
		wantAuth    bool
		wantRuntime string
	}{
		{"verified, credentials stripped", false, "/backend-api/codex/responses", false, 200, false, "agent-1"},
		{"verified, credentials kept", true, "/backend-api/codex/responses", false, 200, true, "agent-1"},
		{"pass-through keeps Bearer, no identity", false, "/backend-api/wham/settings/user", true, 200, true, ""},
		{"inference with Bearer refused", false, "/backend-api/codex/responses", true, 401, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := &upstreamRecorder{}
			upstream := httptest.NewServer(up)
			defer upstream.Close()
			u, _ := url.Parse(upstream.URL)
			h, _ := newGateway(gatewayConfig{
				upstream: u, keys: gateway.StaticKeys{"agent-1": a.agent}, keep: tc.keep,
				routes: gateway.Routes{BasePath: "/backend-api", Other: gateway.RoutePassThrough, NoCredential: gateway.RoutePassThrough},
				logger: slog.New(slog.DiscardHandler), now: func() time.Time { return now },
			})
			gw := httptest.NewServer(h)
			defer gw.Close()
			req, _ := http.NewRequest(http.MethodPost, gw.URL+tc.path, nil)
			req.Header.Set("X-Agent-Runtime-Id", "spoofed")
			req.Header["X_AGENT_TASK_ID"] = []string{"spoofed"}
			var resp *http.Response
			var err error
			if tc.bearer {
				req.Header.Set("Authorization", "Bearer tok")
				resp, err = gw.Client().Do(req)
			} else {
				resp, err = runAuthClient(t, a, gw.URL, "task-1", "acct-1", nil).Do(req)
			}
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, tc.status, resp.StatusCode)
			if tc.status != 200 {
				assert.Zero(t, up.count())
				return
			}
			got := up.last()
			assert.Equal(t, tc.wantAuth, got.Get("Authorization") != "")
			assert.Equal(t, tc.wantRuntime, got.Get("X-Agent-Runtime-Id"))
			for k := range got {
				if identityHeaderName(k) == "x-agent-task-id" {
					assert.NotEqual(t, []string{"spoofed"}, got[k])
				}
			}
			if tc.bearer {
				assert.Equal(t, "Bearer tok", got.Get("Authorization"), "Bearer untouched")
			}
		})
	}
}

// TestGatewayLoad is `make loadtest`: the gateway on loopback, 64
// concurrent clients, 100,000 requests, one in ten forged or stale, then the
// same load through a bare httputil.ReverseProxy to the same upstream; it
// reports the p50 and p99 latency of both side by side and requires no
// wrong verdict of the gateway. It runs only with AGENTID_LOADTEST=1 (and
// without -race, for speed), and stops after five minutes a run whatever
// happens.
func TestGatewayLoad(t *testing.T) {
	if os.Getenv("AGENTID_LOADTEST") == "" {
		t.Skip("set AGENTID_LOADTEST=1 (make loadtest)")
	}
	const cacheMax = 128 // two seconds of headers: eviction runs all the time
	var upstreamSeen, upstreamBad atomic.Int64
	var counting atomic.Bool
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !counting.Load() {
			return
		}
		upstreamSeen.Add(1)
		if r.Header.Get("X-Test-Kind") != "valid" || r.Header.Get("X-Agent-Runtime-Id") == "" || r.Header.Get("Authorization") != "" {
			upstreamBad.Add(1)
		}
	}))
	defer upstream.Close()
	agents := make([]gwAgent, 8)
	keys := gateway.StaticKeys{}
	for i := range agents {
		agents[i] = newGWAgent(t, fmt.Sprintf("agent-%d", i), fmt.Sprintf("acct-%d", i))
		keys[agents[i].agent.RuntimeID] = agents[i].agent
	}
	u, _ := url.Parse(upstream.URL)
	serve := func(h http.Handler) (string, func()) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		srv := newGatewayServer(h, slog.New(slog.DiscardHandler), time.Minute)
		go func() { _ = srv.Serve(ln) }()
		return "http://" + ln.Addr().String(), func() { _ = srv.Close() }
	}

	// The bare proxy first, as a baseline (its verdicts are not checked).
	bare, stopBare := serve(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() }})
	base := runLoad(t, bare, agents)
	stopBare()

	h, v := newGateway(gatewayConfig{upstream: u, keys: keys, logger: slog.New(slog.DiscardHandler), cache: cacheMax})
	gw, stopGW := serve(h)
	defer stopGW()
	var boundBroken atomic.Value
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			s := v.CacheStats()
			if s.Entries > s.MaxEntries || s.Bytes > s.MaxBytes {
				boundBroken.Store(fmt.Sprintf("%+v", s))
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	counting.Store(true)
	res := runLoad(t, gw, agents)
	counting.Store(false)
	close(stopSampling)
	<-sampled
	runtime.GC()
	runtime.ReadMemStats(&after)
	s := v.CacheStats()

	t.Logf("%-8s %10s %10s %10s %10s", "", "requests/s", "p50", "p99", "p99.9")
	for _, r := range []struct {
		name string
		res  loadResult
	}{{"bare", base}, {"gateway", res}} {
		t.Logf("%-8s %10.0f %10v %10v %10v", r.name, float64(r.res.sent())/r.res.elapsed.Seconds(),
			r.res.percentile(50), r.res.percentile(99), r.res.percentile(99.9))
	}
	t.Logf("gateway/bare: p50 %.2f×, p99 %.2f×", float64(res.percentile(50))/float64(base.percentile(50)), float64(res.percentile(99))/float64(base.percentile(99)))
	t.Logf("gateway: valid %d, forged or stale %d; cache %+v; heap in use: %d KiB before, %d KiB after",
		res.validSent, res.forgedSent, s, before.HeapInuse>>10, after.HeapInuse>>10)

	for _, r := range []loadResult{base, res} {
		require.False(t, r.timedOut, "the load test did not finish within %v", loadMaxTime)
		assert.EqualValues(t, loadTotal, r.sent())
		assert.Zero(t, r.errors, "transport errors")
	}
	assert.EqualValues(t, loadTotal/10, res.forgedSent)
	assert.Zero(t, res.forgedAccepted, "forged or stale accepted")
	assert.Zero(t, res.validRefused, "valid refused")
	assert.Equal(t, res.validSent, upstreamSeen.Load(), "the upstream sees only verified requests")
	assert.Zero(t, upstreamBad.Load())
	assert.Nil(t, boundBroken.Load(), "cache over its bound")
	assert.LessOrEqual(t, s.Entries, cacheMax)
}

const (
	loadClients = 64
	loadTotal   = 100_000
	loadMaxTime = 5 * time.Minute
)

// loadResult is what one run of runLoad saw.
type loadResult struct {
	latencies                                                   []time.Duration // sorted, every request
	validSent, validRefused, forgedSent, forgedAccepted, errors int64
	elapsed                                                     time.Duration
	timedOut                                                    bool
}

func (r loadResult) sent() int64 { return r.validSent + r.forgedSent }

func (r loadResult) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(p / 100 * float64(len(r.latencies)-1))
	return r.latencies[i].Round(time.Microsecond)
}

// runLoad sends loadTotal requests from loadClients clients to target, one
// in ten forged (another key under a known runtime id) or stale, and
// counts the verdicts and latencies.
func runLoad(t *testing.T, target string, agents []gwAgent) loadResult {
	ctx, cancel := context.WithTimeout(context.Background(), loadMaxTime)
	defer cancel()
	base := &http.Transport{MaxIdleConnsPerHost: loadClients, MaxConnsPerHost: loadClients}
	defer base.CloseIdleConnections()
	var next, validSent, validRefused, forgedSent, forgedAccepted, errorsSeen atomic.Int64
	lat := make([][]time.Duration, loadClients)
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < loadClients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := agents[c%len(agents)]
			acct := a.agent.AccountID
			task := fmt.Sprintf("task-%d", c)
			signed := runAuthClient(t, a, target, task, acct, base)
			forger := newGWAgent(t, a.agent.RuntimeID, acct)
			plain := &http.Client{Transport: base, Timeout: 30 * time.Second}
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > loadTotal {
					return
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, target+"/backend-api/codex/responses", strings.NewReader("{}"))
				client, kind := signed, "valid"
				switch i % 20 {
				case 0:
					// A forger signs with a key of its own for a runtime id
					// the gateway knows; it sends the header as is (an
					// attacker does not renew tasks).
					hdr, err := forger.signer.AuthorizationHeader(task, time.Now())
					if err != nil {
						errorsSeen.Add(1)
						return
					}
					req.Header.Set("Authorization", hdr)
					req.Header.Set("ChatGPT-Account-ID", acct)
					client, kind = plain, "forged"
				case 10:
					hdr, err := a.signer.AuthorizationHeader(task, time.Now().Add(-10*time.Minute))
					if err != nil {
						errorsSeen.Add(1)
						return
					}
					req.Header.Set("Authorization", hdr)
					req.Header.Set("ChatGPT-Account-ID", acct)
					client, kind = plain, "stale"
				}
				req.Header.Set("X-Test-Kind", kind)
				sent := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						if errorsSeen.Add(1) == 1 {
							t.Logf("first transport error (%s): %v", kind, err)
						}
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[c] = append(lat[c], time.Since(sent))
				if kind == "valid" {
					validSent.Add(1)
					if resp.StatusCode != 200 {
						validRefused.Add(1)
					}
				} else {
					forgedSent.Add(1)
					if resp.StatusCode != 401 {
						forgedAccepted.Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
	r := loadResult{
		validSent: validSent.Load(), validRefused: validRefused.Load(), forgedSent: forgedSent.Load(),
		forgedAccepted: forgedAccepted.Load(), errors: errorsSeen.Load(), elapsed: time.Since(start), timedOut: ctx.Err() != nil,
	}
	for _, l := range lat {
		r.latencies = append(r.latencies, l...)
	}
	slices.Sort(r.latencies)
	return r
}

// TestGatewayDropsRequestTrailers: headers sent as chunked-body trailers
// arrive after verification and the rewrite; none reach the upstream, so a
// client cannot smuggle identity headers that way.
func TestGatewayDropsRequestTrailers(t *testing.T) {
	a := newGWAgent(t, "agent-1", "acct-1")
	var got http.Header
	var mu sync.Mutex
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		got = r.Trailer.Clone()
		mu.Unlock()
	}))
	defer upstream.Close()
	u, _ := url.Parse(upstream.URL)
	h, _ := newGateway(gatewayConfig{upstream: u, keys: gateway.StaticKeys{"agent-1": a.agent}, logger: slog.New(slog.DiscardHandler)})
	gw := httptest.NewServer(h)
	defer gw.Close()

	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPost, gw.URL+"/backend-api/codex/responses", pr)
	require.NoError(t, err)
	req.ContentLength = -1 // chunked, so trailers can follow
	req.Trailer = http.Header{"X-Agent-Runtime-Id": nil, "X-Agent-Task-Id": nil}
	go func() {
		_, _ = pw.Write([]byte("{}"))
		req.Trailer.Set("X-Agent-Runtime-Id", "agent-evil")
		req.Trailer.Set("X-Agent-Task-Id", "task-evil")
		_ = pw.Close()
	}()
	resp, err := runAuthClient(t, a, gw.URL, "task-1", "acct-1", nil).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	mu.Lock()
	defer mu.Unlock()
	// net/http happens to forward only the announced names (the values
	// arrive after the outgoing request was cloned); the gateway forwards no
	// trailer at all, whatever net/http does.
	assert.Empty(t, got, "no request trailer reaches the upstream")
}

// identityHeaderName maps a header name to the form in which CGI-style
// servers compare names: lower case, '_' read as '-'.
func identityHeaderName(k string) string {
	return strings.ReplaceAll(netrule.ASCIILower(k), "_", "-")
}
