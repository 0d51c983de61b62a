package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity/gateway"
)

// watchedOutput collects a child's output and tells when a text appears.
type watchedOutput struct {
	mu      sync.Mutex
	buf     strings.Builder
	waiters map[string]chan struct{}
}

func (w *watchedOutput) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for s, ch := range w.waiters {
		if strings.Contains(w.buf.String(), s) {
			close(ch)
			delete(w.waiters, s)
		}
	}
	return len(p), nil
}

func (w *watchedOutput) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// seen returns a channel closed once s has been written.
func (w *watchedOutput) seen(s string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch := make(chan struct{})
	if strings.Contains(w.buf.String(), s) {
		close(ch)
		return ch
	}
	if w.waiters == nil {
		w.waiters = map[string]chan struct{}{}
	}
	w.waiters[s] = ch
	return ch
}

// gatewayChild is `agentid gateway` started as a child process.
type gatewayChild struct {
	cmd          *exec.Cmd
	proxy, admin string // host:port from the machine-readable line
	url          string // from the listening line
	stderr       *watchedOutput
}

func startGateway(t *testing.T, keysLines []string, upstream string, args ...string) *gatewayChild {
	t.Helper()
	keys := filepath.Join(t.TempDir(), "agents.jsonl")
	content := strings.Join(keysLines, "\n")
	if content != "" {
		content += "\n"
	}
	require.NoError(t, os.WriteFile(keys, []byte(content), 0o600))
	cmd := exec.Command(binPath, append([]string{"gateway", "--keys", keys, "--upstream", upstream, "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	g := &gatewayChild{cmd: cmd, stderr: &watchedOutput{}}
	cmd.Stderr = g.stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	sc := bufio.NewScanner(stdout)
	require.True(t, sc.Scan(), "no listening line; stderr: %s", g.stderr)
	_, rest, ok := strings.Cut(sc.Text(), "listening on ")
	require.True(t, ok, sc.Text())
	g.url, _, _ = strings.Cut(rest, ",")
	require.True(t, sc.Scan(), "no machine-readable line")
	fields := strings.Fields(sc.Text())
	require.Equal(t, "listening", fields[0], sc.Text())
	for _, f := range fields[1:] {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "proxy":
			g.proxy = v
		case "admin":
			g.admin = v
		default:
			t.Fatalf("unknown field in %q", sc.Text())
		}
	}
	require.Equal(t, "http://"+g.proxy, g.url, "the two lines name one address")
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return g
}

// wait waits for the child to exit, within a bound, and returns its code.
func (g *gatewayChild) wait(t *testing.T) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- g.cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		require.NoError(t, err)
		return 0
	case <-time.After(30 * time.Second):
		t.Fatalf("the gateway did not exit; stderr:\n%s", g.stderr)
		return -1
	}
}

// TestGatewayGracefulStop: on SIGTERM (or SIGINT) the gateway stops
// accepting connections at once, lets a request in flight finish, and exits
// 0; a request still running after --shutdown-timeout is cut, exit 1.
func TestGatewayGracefulStop(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sig     syscall.Signal
		timeout string
		release bool // the upstream answers the request in flight
		code    int
	}{
		{"SIGTERM, request finishes", syscall.SIGTERM, "20s", true, 0},
		{"SIGINT, request finishes", syscall.SIGINT, "20s", true, 0},
		{"SIGTERM, request outlives the timeout", syscall.SIGTERM, "300ms", false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entered := make(chan struct{})
			release := make(chan struct{})
			var once sync.Once
			upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				once.Do(func() { close(entered) })
				select {
				case <-release:
					fmt.Fprint(w, "done")
				case <-r.Context().Done():
				}
			}))
			defer upstream.Close()
			defer close(release) // before upstream.Close, which waits for it
			a := newGWAgent(t, "agent-1", "acct-1")
			g := startGateway(t, []string{a.line}, upstream.URL, "--shutdown-timeout", tc.timeout)

			type result struct {
				status int
				body   string
				err    error
			}
			res := make(chan result, 1)
			go func() {
				resp, err := runAuthClient(t, a, g.url, "task-1", "acct-1", nil).Post(g.url+"/backend-api/codex/responses", "application/json", strings.NewReader("{}"))
				if err != nil {
					res <- result{err: err}
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				res <- result{resp.StatusCode, string(body), err}
			}()
			select {
			case <-entered:
			case <-time.After(20 * time.Second):
				t.Fatal("the request did not reach the upstream")
			}
			require.NoError(t, g.cmd.Process.Signal(tc.sig))
			select {
			case <-g.stderr.seen("no new connections"):
			case <-time.After(20 * time.Second):
				t.Fatalf("no shutdown line; stderr:\n%s", g.stderr)
			}
			_, err := net.DialTimeout("tcp", g.proxy, 5*time.Second)
			assert.Error(t, err, "a new connection is refused once stopping")
			if tc.release {
				release <- struct{}{}
				r := <-res
				require.NoError(t, r.err)
				assert.Equal(t, 200, r.status)
				assert.Equal(t, "done", r.body)
			}
			code := g.wait(t)
			assert.Equal(t, tc.code, code, g.stderr.String())
			if tc.code == 0 {
				assert.Contains(t, g.stderr.String(), "gateway: stopped")
			} else {
				assert.Contains(t, g.stderr.String(), "agentid: gateway: requests still in flight after --shutdown-timeout 300ms were cut; ")
			}
		})
	}
}

// TestGatewayOperations: the machine-readable line, the admin endpoints,
// the JSON log with one line per request (never a header value), the
// warning for an empty keys file.
func TestGatewayOperations(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	g := startGateway(t, nil, upstream.URL, "--admin", "127.0.0.1:0", "--log-format", "json", "--other", "pass")
	require.NotEmpty(t, g.admin)
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + g.admin + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	code, body := get("/healthz")
	assert.Equal(t, 200, code)
	assert.JSONEq(t, `{"status":"ok"}`, body)
	code, body = get("/readyz")
	assert.Equal(t, 200, code, body)
	assert.JSONEq(t, `{"keys":"loaded","agents":0,"upstream":"reachable"}`, body)

	a := newGWAgent(t, "agent-1", "acct-1")
	header, err := a.signer.AuthorizationHeader("task-1", time.Now())
	require.NoError(t, err)
	for _, path := range []string{"/backend-api/codex/responses", "/backend-api/codex/models"} {
		req, err := http.NewRequest(http.MethodPost, g.url+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", header)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
	}
	code, body = get("/metrics")
	assert.Equal(t, 200, code)
	for _, want := range []string{
		`agentid_gateway_requests_total{outcome="refused",reason="unknown_agent",route="inference"} 1`,
		`agentid_gateway_requests_total{outcome="passed",reason="pass_through",route="other"} 1`,
		`agentid_gateway_keys_reloads_total 1`, `agentid_gateway_keys_agents 0`,
		`agentid_gateway_verification_duration_seconds_count{cached="false"} 1`,
		`agentid_gateway_cache_misses_total 1`, `agentid_gateway_upstream_errors_total{kind="other"} 0`,
		"go_goroutines", "process_open_fds",
	} {
		assert.Contains(t, body, want)
	}

	upstream.Close()
	code, body = get("/readyz")
	assert.Equal(t, 503, code)
	assert.Contains(t, body, `"upstream":"unreachable"`)

	require.NoError(t, g.cmd.Process.Signal(syscall.SIGTERM))
	require.Zero(t, g.wait(t), g.stderr.String())
	tok := strings.TrimPrefix(header, "AgentAssertion ")
	var requests []map[string]any
	warned := false
	for _, line := range strings.Split(strings.TrimSpace(g.stderr.String()), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), "not a JSON line: %q", line)
		assert.NotContains(t, line, tok[:20], "a header value in the log")
		assert.NotContains(t, line, tok[len(tok)-20:], "a header value in the log")
		switch rec["msg"] {
		case "gateway: request":
			requests = append(requests, rec)
		case "gateway: the keys file lists no agent: every AgentAssertion is refused until one is added":
			warned = rec["level"] == "WARN"
		}
	}
	assert.True(t, warned, "a warning for the empty keys file")
	require.Len(t, requests, 2, "one line per request")
	for _, rec := range requests {
		assert.Equal(t, "INFO", rec["level"])
		for _, k := range []string{"outcome", "route", "method", "path", "status", "duration"} {
			assert.Contains(t, rec, k)
		}
	}
	assert.Equal(t, "refused", requests[0]["outcome"])
	assert.Equal(t, "unknown_agent", requests[0]["reason"])
	assert.Equal(t, "agent-1", requests[0]["runtime_id"])
	assert.EqualValues(t, 401, requests[0]["status"])
	assert.Equal(t, "passed", requests[1]["outcome"])
	assert.Equal(t, "other", requests[1]["route"])
	assert.EqualValues(t, 200, requests[1]["status"])
}

// TestGatewayLogLevel: --log-level warn keeps the request lines out, the
// text format is logfmt.
func TestGatewayLogLevel(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer upstream.Close()
	a := newGWAgent(t, "agent-1", "acct-1")
	for _, tc := range []struct {
		level string
		lines bool
	}{{"info", true}, {"warn", false}} {
		t.Run(tc.level, func(t *testing.T) {
			g := startGateway(t, []string{a.line}, upstream.URL, "--log-level", tc.level)
			resp, err := runAuthClient(t, a, g.url, "task-1", "acct-1", nil).Post(g.url+"/backend-api/codex/responses", "application/json", nil)
			require.NoError(t, err)
			resp.Body.Close()
			require.NoError(t, g.cmd.Process.Signal(syscall.SIGTERM))
			require.Zero(t, g.wait(t))
			out := g.stderr.String()
			assert.Equal(t, tc.lines, strings.Contains(out, `msg="gateway: request" outcome=verified route=inference method=POST path=/backend-api/codex/responses status=200`), out)
			assert.Equal(t, tc.lines, strings.Contains(out, "runtime_id=agent-1"), out)
		})
	}
}

// TestGatewaySlowClients: 1,000 slow clients (half never finish their
// headers, half send a verified request whose body never comes) do not keep
// a valid request from being served, and the server closes every one of
// them within its read timeout.
func TestGatewaySlowClients(t *testing.T) {
	const (
		slow        = 1000
		readTimeout = 2 * time.Second
		bound       = 20 * time.Second // for the valid request, and for every slow client to be closed
	)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer upstream.Close()
	a := newGWAgent(t, "agent-1", "acct-1")
	u, err := url.Parse(upstream.URL)
	require.NoError(t, err)
	h, _ := newGateway(gatewayConfig{upstream: u, keys: gateway.StaticKeys{"agent-1": a.agent}, logger: slog.New(slog.DiscardHandler),
		routes: gateway.Routes{BasePath: "/backend-api"}})
	srv := newGatewayServer(h, slog.New(slog.DiscardHandler), readTimeout)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	addr := ln.Addr().String()

	header, err := a.signer.AuthorizationHeader("task-slow", time.Now())
	require.NoError(t, err)
	conns := make([]net.Conn, 0, slow)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for i := range slow {
		c, err := net.DialTimeout("tcp", addr, bound)
		require.NoError(t, err)
		conns = append(conns, c)
		var partial string
		if i%2 == 0 { // headers that never end
			partial = "POST /backend-api/codex/responses HTTP/1.1\r\nHost: gw\r\nX-Slow: "
		} else { // a verified request whose body never comes
			partial = "POST /backend-api/codex/responses HTTP/1.1\r\nHost: gw\r\nAuthorization: " + header +
				"\r\nChatGPT-Account-ID: acct-1\r\nContent-Length: 1000000\r\n\r\n{"
		}
		_, err = io.WriteString(c, partial)
		require.NoError(t, err)
	}

	start := time.Now()
	client := runAuthClient(t, a, "http://"+addr, "task-1", "acct-1", nil)
	client.Timeout = bound
	resp, err := client.Post("http://"+addr+"/backend-api/codex/responses", "application/json", strings.NewReader("{}"))
	require.NoError(t, err, "a valid request among 1,000 slow clients")
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	t.Logf("the valid request took %v among %d slow clients", time.Since(start).Round(time.Millisecond), slow)

	// Every slow client is closed by the server (or answered) within the
	// read timeout; a read that reaches the test's own deadline means the
	// server kept the connection.
	deadline := time.Now().Add(bound)
	var kept int
	for _, c := range conns {
		require.NoError(t, c.SetReadDeadline(deadline))
		_, err := io.Copy(io.Discard, c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			kept++
		}
	}
	assert.Zero(t, kept, "slow clients the server kept past its read timeout")
}
