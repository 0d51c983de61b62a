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
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity/gateway"
)

// passGateway is a gateway in front of upstream that passes every route it
// may pass through.
func passGateway(t *testing.T, a gwAgent, upstream string) *httptest.Server {
	t.Helper()
	u, err := url.Parse(upstream)
	require.NoError(t, err)
	h, _ := newGateway(gatewayConfig{
		upstream: u, keys: gateway.StaticKeys{a.agent.RuntimeID: a.agent},
		routes: gateway.Routes{BasePath: "/backend-api", Other: gateway.RoutePassThrough, NoCredential: gateway.RoutePassThrough},
		logger: slog.New(slog.DiscardHandler),
	})
	gw := httptest.NewServer(h)
	t.Cleanup(gw.Close)
	return gw
}

// TestGatewayRouteSpellings (finding 1): with --other pass, no case
// spelling of an inference route reaches the upstream without a valid
// AgentAssertion; a signed one does.
func TestGatewayRouteSpellings(t *testing.T) {
	a := newGWAgent(t, "agent-1", "acct-1")
	up := &upstreamRecorder{}
	upstream := httptest.NewServer(up)
	defer upstream.Close()
	gw := passGateway(t, a, upstream.URL)
	for _, p := range []string{
		"/backend-api/CODEX/responses", "/backend-api/codex/Responses", "/Backend-Api/codex/responses",
		"/BACKEND-API/CODEX/RESPONSES", "/backend-api/Codex/Responses/Compact", "/backend-api/codex/responses/COMPACT",
		"/bAcKeNd-ApI/cOdEx/ReSpOnSeS",
	} {
		t.Run(p, func(t *testing.T) {
			n := up.count()
			for _, auth := range []string{"", "Bearer tok"} {
				req, err := http.NewRequest(http.MethodPost, gw.URL+p, strings.NewReader("{}"))
				require.NoError(t, err)
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				resp, err := gw.Client().Do(req)
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			}
			assert.Equal(t, n, up.count(), "an unsigned request reached the upstream")
			resp, err := runAuthClient(t, a, gw.URL, "task-1", "acct-1", nil).Post(gw.URL+p, "application/json", strings.NewReader("{}"))
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode)
		})
	}
}

// switchingUpstream answers 101 to any upgrade request, as an upstream that
// accepts h2c would (always: to every request, as a hostile one would), and
// records the upgrade it saw ("" for none).
type switchingUpstream struct {
	always bool
	mu     sync.Mutex
	seen   []string
}

func (s *switchingUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	up := r.Header.Get("Upgrade")
	s.mu.Lock()
	s.seen = append(s.seen, up)
	s.mu.Unlock()
	if up == "" && !s.always {
		fmt.Fprint(w, "plain")
		return
	}
	if up == "" {
		up = "h2c"
	}
	c, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer c.Close()
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\ntunnel open", up)
	_ = brw.Flush()
}

func (s *switchingUpstream) last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) == 0 {
		return "(nothing)"
	}
	return s.seen[len(s.seen)-1]
}

// rawUpgrade sends one request with an upgrade over a raw connection and
// returns the status line of the answer.
func rawUpgrade(t *testing.T, gw, path, upgrade, authorization, account string) string {
	t.Helper()
	u, _ := url.Parse(gw)
	c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: %s\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n", path, u.Host, upgrade)
	fmt.Fprintf(&b, "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")
	if authorization != "" {
		fmt.Fprintf(&b, "Authorization: %s\r\nChatGPT-Account-ID: %s\r\n", authorization, account)
	}
	b.WriteString("\r\n")
	_, err = io.WriteString(c, b.String())
	require.NoError(t, err)
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	return strings.TrimSpace(line)
}

// TestGatewayUpgrades (finding 2): only a WebSocket upgrade of a verified
// inference request is forwarded; h2c (or anything else) on any route, and
// a WebSocket upgrade of a pass-through route, reach the upstream as plain
// requests, and the tunnel the upstream would open is never opened.
func TestGatewayUpgrades(t *testing.T) {
	a := newGWAgent(t, "agent-1", "acct-1")
	header, err := a.signer.AuthorizationHeader("task-1", time.Now())
	require.NoError(t, err)
	for _, always := range []bool{false, true} {
		up := &switchingUpstream{always: always}
		upstream := httptest.NewServer(up)
		defer upstream.Close()
		gw := passGateway(t, a, upstream.URL)
		// A stripped upgrade reaches the upstream as a plain request (200);
		// an upstream that switches protocols anyway gets 502 from the
		// proxy, which asked for no switch: no tunnel opens.
		stripped := "200"
		if always {
			stripped = "502"
		}
		for _, tc := range []struct {
			name, path, upgrade, auth string
			status                    string // the status line's code
			seen                      string // the upgrade the upstream saw
		}{
			{"h2c on a pass-through route", "/backend-api/codex/models", "h2c", "", stripped, ""},
			{"h2c on a verified inference request", "/backend-api/codex/responses", "h2c", header, stripped, ""},
			{"h2c on jwks", "/backend-api/wham/agent-identities/jwks", "h2c", "", stripped, ""},
			{"h2c outside the base path", "/elsewhere", "h2c", "", stripped, ""},
			{"websocket on a pass-through route", "/backend-api/codex/models", "websocket", "", stripped, ""},
			{"websocket and h2c at once", "/backend-api/codex/responses", "websocket, h2c", header, stripped, ""},
			{"websocket on inference without a credential", "/backend-api/codex/responses", "websocket", "", "401", "(nothing)"},
			{"websocket on a verified inference request", "/backend-api/codex/responses", "websocket", header, "101", "websocket"},
		} {
			t.Run(fmt.Sprintf("%s/always=%v", tc.name, always), func(t *testing.T) {
				up.mu.Lock()
				up.seen = nil
				up.mu.Unlock()
				line := rawUpgrade(t, gw.URL, tc.path, tc.upgrade, tc.auth, "acct-1")
				assert.Contains(t, line, " "+tc.status+" ", line)
				assert.Equal(t, tc.seen, up.last(), "the upgrade the upstream saw")
			})
		}
	}
}

// TestGatewayWebSocket: a verified WebSocket upgrade works end to end, a
// coder/websocket client through the gateway to a WebSocket upstream, also
// past the read deadline of the upgrade request.
func TestGatewayWebSocket(t *testing.T) {
	a := newGWAgent(t, "agent-1", "acct-1")
	var seenRuntime string
	var mu sync.Mutex
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seenRuntime = r.Header.Get("X-Agent-Runtime-Id")
		mu.Unlock()
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, append([]byte("echo: "), msg...)); err != nil {
				return
			}
		}
	}))
	defer upstream.Close()
	u, _ := url.Parse(upstream.URL)
	h, _ := newGateway(gatewayConfig{upstream: u, keys: gateway.StaticKeys{"agent-1": a.agent}, logger: slog.New(slog.DiscardHandler),
		routes: gateway.Routes{BasePath: "/backend-api"}})
	gw := httptest.NewUnstartedServer(h)
	gw.Config = newGatewayServer(h, slog.New(slog.DiscardHandler), 200*time.Millisecond)
	gw.Start()
	defer gw.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := runAuthClient(t, a, gw.URL, "task-1", "acct-1", nil)
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(gw.URL, "http")+"/backend-api/codex/responses", &websocket.DialOptions{
		HTTPClient: client,
	})
	require.NoError(t, err)
	defer c.CloseNow()
	assert.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	mu.Lock()
	assert.Equal(t, "agent-1", seenRuntime)
	mu.Unlock()
	for i := range 3 {
		require.NoError(t, c.Write(ctx, websocket.MessageText, fmt.Appendf(nil, "hello %d", i)))
		_, msg, err := c.Read(ctx)
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("echo: hello %d", i), string(msg))
		if i == 0 {
			// Past the 200 ms read timeout of the upgrade request: the
			// tunnel has no deadline. Wait for it by the server's clock.
			deadline := time.Now().Add(400 * time.Millisecond)
			<-time.After(time.Until(deadline))
		}
	}
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
}

// TestGatewayClientAddressHeaders (finding 5): no client-supplied address
// header reaches the upstream, in any case or underscore spelling, and
// X-Forwarded-For is the gateway's.
func TestGatewayClientAddressHeaders(t *testing.T) {
	a := newGWAgent(t, "agent-1", "acct-1")
	up := &upstreamRecorder{}
	upstream := httptest.NewServer(up)
	defer upstream.Close()
	gw := passGateway(t, a, upstream.URL)
	spoofed := map[string]string{
		"X-Real-Ip": "203.0.113.1", "x_real_ip": "203.0.113.2", "X-REAL-IP": "203.0.113.3",
		"True-Client-Ip": "203.0.113.4", "true_client_ip": "203.0.113.5",
		"X-Client-Ip": "203.0.113.6", "X_CLIENT_IP": "203.0.113.7",
		"X-Forwarded-For": "203.0.113.8", "X_Forwarded_For": "203.0.113.9", "Forwarded": "for=203.0.113.10",
		"X-Forwarded-Host": "evil.example", "Cf-Connecting-Ip": "203.0.113.11",
		"X-Forwarded-Port": "203.0.113.12", "x_forwarded_prefix": "/evil.example",
		"X-Forwarded-Server": "evil.example", "X-Forwarded-" + strings.Repeat("X", 40): "203.0.113.13",
	}
	for _, route := range []struct {
		name, path string
		signed     bool
	}{{"verified", "/backend-api/codex/responses", true}, {"passed", "/backend-api/codex/models", false}} {
		t.Run(route.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, gw.URL+route.path, strings.NewReader("{}"))
			require.NoError(t, err)
			for k, v := range spoofed {
				req.Header[k] = []string{v} // as sent, not canonicalised
			}
			client := gw.Client()
			if route.signed {
				client = runAuthClient(t, a, gw.URL, "task-1", "acct-1", nil)
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			got := up.last()
			for k, vs := range got {
				for _, v := range vs {
					assert.NotContains(t, v, "203.0.113.", "header %s", k)
					assert.NotContains(t, v, "evil.example", "header %s", k)
				}
			}
			assert.Equal(t, []string{"127.0.0.1"}, got["X-Forwarded-For"])
		})
	}
}
