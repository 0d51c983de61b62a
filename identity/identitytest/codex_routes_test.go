package identitytest_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/identitytest"
	"github.com/agentidentity/agentidentity/internal/jwttest"
)

func newTLSServer(t *testing.T, o identitytest.Options) *identitytest.Server {
	t.Helper()
	key, err := jwttest.LoadKey(jwttest.KeyA)
	require.NoError(t, err)
	o.SigningKey = key
	srv := identitytest.NewUnstartedServer(o)
	require.NoError(t, srv.StartTLS())
	t.Cleanup(srv.Close)
	return srv
}

// tlsAgent registers an agent and a task on a TLS server.
func tlsAgent(t *testing.T, srv *identitytest.Server, o identitytest.LoginOptions) testAgent {
	t.Helper()
	km, err := identity.GenerateKeyMaterial()
	require.NoError(t, err)
	id, err := srv.AddAgent(km.PublicKeySSH, o.Account)
	require.NoError(t, err)
	s, err := identity.NewSigner(id, km.PrivateKeyPKCS8Base64)
	require.NoError(t, err)
	c := &identity.Client{AuthAPIBaseURL: srv.AuthAPIBaseURL, HTTPClient: srv.Client(), MaxAttempts: 1}
	task, err := c.RegisterTask(context.Background(), s)
	require.NoError(t, err)
	return testAgent{signer: s, account: o.AccountID, taskID: task}
}

func (a testAgent) headers(t *testing.T) http.Header {
	t.Helper()
	h, err := a.signer.AuthorizationHeader(a.taskID, time.Now())
	require.NoError(t, err)
	return http.Header{"Authorization": {h}, "Chatgpt-Account-Id": {a.account}}
}

func do(t *testing.T, srv *identitytest.Server, method, path string, header http.Header, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, data
}

func TestTLSTrust(t *testing.T) {
	srv := newTLSServer(t, identitytest.Options{})
	require.True(t, strings.HasPrefix(srv.URL, "https://127.0.0.1:"))

	block, rest := pem.Decode(srv.CACertificatePEM())
	require.NotNil(t, block)
	assert.Equal(t, "CERTIFICATE", block.Type)
	assert.Empty(t, rest, "the PEM holds the CA certificate only, no key")
	ca, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	assert.True(t, ca.IsCA)
	assert.True(t, ca.PermittedDNSDomainsCritical)
	assert.Equal(t, []string{"localhost"}, ca.PermittedDNSDomains)
	require.Len(t, ca.PermittedIPRanges, 2)
	assert.Equal(t, "127.0.0.0/8", ca.PermittedIPRanges[0].String())
	assert.Equal(t, "::1/128", ca.PermittedIPRanges[1].String())

	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(srv.CACertificatePEM()))
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "https://"))
	tests := []struct {
		name   string
		client *http.Client
		url    string
		ok     bool
	}{
		{"Client trusts the CA", srv.Client(), srv.JWKSURL, true},
		{"localhost is in the certificate", srv.Client(), "https://localhost:" + port + "/backend-api/wham/agent-identities/jwks", true},
		{"a pool from CACertificatePEM", &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig(pool)}}, srv.JWKSURL, true},
		{"CertPool", &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig(srv.CertPool())}}, srv.JWKSURL, true},
		{"system roots do not", &http.Client{}, srv.JWKSURL, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := tt.client.Get(tt.url)
			if !tt.ok {
				require.Error(t, err)
				var uerr x509.UnknownAuthorityError
				assert.ErrorAs(t, err, &uerr)
				return
			}
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, 200, resp.StatusCode)
		})
	}

	// The CA cannot vouch for a name outside loopback.
	leafOpts := x509.VerifyOptions{Roots: pool, DNSName: "example.com"}
	_, err = ca.Verify(leafOpts)
	assert.Error(t, err)

	plain := newServer(t, identitytest.Options{})
	assert.Nil(t, plain.CertPool())
	assert.Nil(t, plain.CACertificatePEM())
}

func TestBearerSideRoutes(t *testing.T) {
	srv := newTLSServer(t, identitytest.Options{})
	login := srv.MintChatGPTLogin(identitytest.LoginOptions{Account: codexhome.Account{AccountID: "acct-1", PlanType: "pro"}})
	fed := srv.MintChatGPTLogin(identitytest.LoginOptions{Account: codexhome.Account{AccountID: "acct-fed", FedRAMP: true}})
	bearer := func(tok string) http.Header {
		return http.Header{"Authorization": {"Bearer " + tok}, "Chatgpt-Account-Id": {login.AccountID}}
	}
	tests := []struct {
		name       string
		method     string
		path       string
		header     http.Header
		wantStatus int
		wantBody   string // a substring
	}{
		{"models", "GET", "/backend-api/codex/models?client_version=0.171.0", bearer(login.AccessToken.Reveal()), 200, `{"models":[]}`},
		{"settings", "GET", "/backend-api/wham/settings/user", bearer(login.AccessToken.Reveal()), 200, `{"commit_attribution_enabled":false}`},
		{"config bundle", "GET", "/backend-api/wham/config/bundle", bearer(login.AccessToken.Reveal()), 200, `{}`},
		{"plugins 404", "GET", "/backend-api/ps/plugins/installed?limit=200", bearer(login.AccessToken.Reveal()), 404, "not served"},
		{"discovery", "GET", "/backend-api/wham/accounts/check", bearer(login.AccessToken.Reveal()), 200, `"workspace_backend_origin":"` + srv.URL + `"`},
		{"mcp without credentials", "POST", "/backend-api/ps/mcp", nil, 404, "no MCP"},
		{"unknown token", "GET", "/backend-api/codex/models", bearer("not-minted"), 401, "not an access token minted"},
		{"ID token", "GET", "/backend-api/wham/accounts/check", bearer(login.IDToken.Reveal()), 401, "not an access token minted"},
		{"wrong account", "GET", "/backend-api/wham/accounts/check", http.Header{"Authorization": {"Bearer " + login.AccessToken.Reveal()}, "Chatgpt-Account-Id": {"acct-2"}}, 401, "ChatGPT-Account-ID"},
		{"FedRAMP header on a commercial login", "GET", "/backend-api/codex/models", http.Header{"Authorization": {"Bearer " + login.AccessToken.Reveal()}, "X-Openai-Fedramp": {"true"}}, 401, "Fedramp"},
		{"FedRAMP login without the header", "GET", "/backend-api/codex/models", http.Header{"Authorization": {"Bearer " + fed.AccessToken.Reveal()}}, 401, "Fedramp"},
		{"FedRAMP login with the header", "GET", "/backend-api/codex/models", http.Header{"Authorization": {"Bearer " + fed.AccessToken.Reveal()}, "X-Openai-Fedramp": {"true"}}, 200, `{"models":[]}`},
		{"no Authorization", "GET", "/backend-api/codex/models", nil, 401, "not an AgentAssertion"},
		{"Bearer on inference", "POST", "/backend-api/codex/responses", bearer(login.AccessToken.Reveal()), 401, "not an AgentAssertion"},
		{"Bearer on compaction", "POST", "/backend-api/codex/responses/compact", bearer(login.AccessToken.Reveal()), 401, "not an AgentAssertion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, srv, tt.method, tt.path, tt.header, "")
			assert.Equal(t, tt.wantStatus, resp.StatusCode, string(body))
			assert.Contains(t, string(body), tt.wantBody)
			assert.NotContains(t, string(body), login.AccessToken.Reveal())
		})
	}
	assert.Equal(t, 6, srv.Stats().BearerRequestsAccepted)
}

func TestDiscoveryShape(t *testing.T) {
	srv := newTLSServer(t, identitytest.Options{})
	login := srv.MintChatGPTLogin(identitytest.LoginOptions{Account: codexhome.Account{AccountID: "acct-d", PlanType: "team"}})
	resp, body := do(t, srv, "GET", "/backend-api/wham/accounts/check",
		http.Header{"Authorization": {"Bearer " + login.AccessToken.Reveal()}}, "")
	require.Equal(t, 200, resp.StatusCode)
	assert.JSONEq(t, `{"accounts":[{"id":"acct-d","plan_type":"team","structure":"personal",
		"workspace_backend_origin":"`+srv.URL+`","account_routing_override":"NO_CONSTRAINT"}],
		"account_ordering":["acct-d"],"default_account_id":"acct-d"}`, string(body))
}

func TestSignedRoutes(t *testing.T) {
	srv := newTLSServer(t, identitytest.Options{ResponseText: "hi there"})
	a := tlsAgent(t, srv, identitytest.LoginOptions{Account: codexhome.Account{AccountID: "acct-s"}})
	sse := func(h http.Header) http.Header { h.Set("Accept", "text/event-stream"); return h }
	tests := []struct {
		name        string
		method      string
		path        string
		header      http.Header
		wantStatus  int
		wantType    string
		wantContain string
	}{
		{"inference stream", "POST", "/backend-api/codex/responses", sse(a.headers(t)), 200, "text/event-stream", "hi there"},
		{"inference JSON echo", "POST", "/backend-api/codex/responses", a.headers(t), 200, "application/json", `"task_id":"` + a.taskID + `"`},
		{"compaction", "POST", "/backend-api/codex/responses/compact", a.headers(t), 200, "application/json", `{"output":[]}`},
		{"models signed (JWT mode)", "GET", "/backend-api/codex/models", a.headers(t), 200, "application/json", `{"models":[]}`},
		{"plugins signed", "GET", "/backend-api/ps/plugins/installed", a.headers(t), 404, "application/json", "not served"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, srv, tt.method, tt.path, tt.header, `{}`)
			assert.Equal(t, tt.wantStatus, resp.StatusCode, string(body))
			assert.Equal(t, tt.wantType, resp.Header.Get("Content-Type"))
			assert.Contains(t, string(body), tt.wantContain)
		})
	}
	assert.Equal(t, len(tests), srv.Stats().RequestsVerified)
}

func TestResponseStreamShape(t *testing.T) {
	srv := newTLSServer(t, identitytest.Options{})
	a := tlsAgent(t, srv, identitytest.LoginOptions{Account: codexhome.Account{AccountID: "acct-sse"}})
	h := a.headers(t)
	h.Set("Accept", "text/event-stream")
	resp, body := do(t, srv, "POST", "/backend-api/codex/responses", h, `{}`)
	require.Equal(t, 200, resp.StatusCode)

	type event struct {
		name string
		data map[string]any
	}
	var events []event
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	var cur event
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &cur.data))
		case line == "":
			events = append(events, cur)
			cur = event{}
		}
	}
	require.Len(t, events, 3)
	for i, want := range []string{"response.created", "response.output_item.done", "response.completed"} {
		assert.Equal(t, want, events[i].name)
		assert.Equal(t, want, events[i].data["type"], "the data's type matches the event line")
	}
	item := events[1].data["item"].(map[string]any)
	assert.Equal(t, "message", item["type"])
	assert.Equal(t, "assistant", item["role"])
	content := item["content"].([]any)[0].(map[string]any)
	assert.Equal(t, "output_text", content["type"])
	assert.Equal(t, "Hello from the identitytest fake backend.", content["text"])
	completed := events[2].data["response"].(map[string]any)
	assert.NotEmpty(t, completed["id"], "Codex refuses a response.completed without an id")
	assert.Equal(t, events[0].data["response"].(map[string]any)["id"], completed["id"])
}

func TestWebSocketUpgrade(t *testing.T) {
	tests := []struct {
		name       string
		accept     bool
		signed     bool
		wantStatus int
	}{
		{"refused with 426 by default", false, true, http.StatusUpgradeRequired},
		{"accepted with AcceptWebSocket", true, true, http.StatusSwitchingProtocols},
		{"unsigned is refused before the upgrade", true, false, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTLSServer(t, identitytest.Options{AcceptWebSocket: tt.accept})
			a := tlsAgent(t, srv, identitytest.LoginOptions{Account: codexhome.Account{AccountID: "acct-ws"}})
			h := http.Header{"Openai-Beta": {"responses_websockets=2026-02-06"}}
			if tt.signed {
				h = a.headers(t)
			}
			// WebSockets need HTTP/1.1: a transport without h2.
			hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig(srv.CertPool())}}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			wsURL := "wss" + strings.TrimPrefix(srv.ChatGPTBaseURL, "https") + "/codex/responses"
			c, resp, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPClient: hc, HTTPHeader: h})
			require.NotNil(t, resp)
			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			if tt.wantStatus != http.StatusSwitchingProtocols {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			defer c.CloseNow()
			require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(`{"type":"response.create"}`)))
			typ, data, err := c.Read(ctx)
			require.NoError(t, err)
			assert.Equal(t, websocket.MessageText, typ)
			assert.Contains(t, string(data), `"type":"response.completed"`)
			_, _, err = c.Read(ctx)
			assert.Equal(t, websocket.StatusNormalClosure, websocket.CloseStatus(err))
			assert.Equal(t, 1, srv.Stats().WebSocketsAccepted)
		})
	}
}

func TestTokenRefresh(t *testing.T) {
	srv := newTLSServer(t, identitytest.Options{})
	login := srv.MintChatGPTLogin(identitytest.LoginOptions{Account: codexhome.Account{AccountID: "acct-r"}})
	refresh := func(t *testing.T, body string) (int, map[string]string) {
		t.Helper()
		resp, data := do(t, srv, "POST", "/oauth/token", http.Header{"Content-Type": {"application/json"}}, body)
		var out map[string]string
		require.NoError(t, json.Unmarshal(data, &out), string(data))
		return resp.StatusCode, out
	}
	body := func(rt string) string {
		return `{"client_id":"app_EMoamEEZ73f0CkXaXp7hrann","grant_type":"refresh_token","refresh_token":"` + rt + `","refresh_reason":"proactive_expiry"}`
	}

	status, first := refresh(t, body(login.RefreshToken.Reveal()))
	require.Equal(t, 200, status, first)
	for _, k := range []string{"id_token", "access_token", "refresh_token"} {
		assert.NotEmpty(t, first[k])
	}
	assert.NotEqual(t, login.AccessToken.Reveal(), first["access_token"])
	assert.NotEqual(t, login.RefreshToken.Reveal(), first["refresh_token"])

	// The rotated access token is accepted as a Bearer token.
	resp, _ := do(t, srv, "GET", "/backend-api/wham/accounts/check", http.Header{"Authorization": {"Bearer " + first["access_token"]}}, "")
	assert.Equal(t, 200, resp.StatusCode)

	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantError  string
	}{
		{"reused refresh token", body(login.RefreshToken.Reveal()), 401, "refresh_token_reused"},
		{"unknown refresh token", body("rt-made-up"), 401, "invalid_grant"},
		{"wrong grant type", `{"client_id":"c","grant_type":"password","refresh_token":"x"}`, 400, "unsupported_grant_type"},
		{"no client id", `{"grant_type":"refresh_token","refresh_token":"x"}`, 400, "invalid_request"},
		{"not JSON", `grant_type=refresh_token`, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := refresh(t, tt.body)
			assert.Equal(t, tt.wantStatus, status)
			assert.Equal(t, tt.wantError, out["error"])
		})
	}
	// The rotated refresh token works once.
	status, second := refresh(t, body(first["refresh_token"]))
	assert.Equal(t, 200, status, second)
	assert.Equal(t, 2, srv.Stats().Refreshes)
	assert.Equal(t, len(tests), srv.Stats().RefreshesRefused)
}

func TestOnRequestLogLine(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	srv := newTLSServer(t, identitytest.Options{OnRequest: func(e identitytest.Exchange) {
		mu.Lock()
		lines = append(lines, e.LogLine())
		mu.Unlock()
	}})
	login := srv.MintChatGPTLogin(identitytest.LoginOptions{Account: codexhome.Account{AccountID: "acct-log"}})
	a := tlsAgent(t, srv, identitytest.LoginOptions{Account: codexhome.Account{AccountID: "acct-log2"}})
	h := a.headers(t)
	do(t, srv, "GET", "/backend-api/codex/models?client_version=1&token=secret", http.Header{"Authorization": {"Bearer " + login.AccessToken.Reveal()}}, "")
	do(t, srv, "GET", "/backend-api/codex/models", http.Header{"Authorization": {"Bearer not-minted-token"}}, "")
	do(t, srv, "POST", "/backend-api/codex/responses", h, "{}")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, lines, 4) // the task registration, then the three above
	assert.Equal(t, "POST /api/accounts/v1/agent/"+a.signer.AgentRuntimeID()+"/task/register no-auth verified 200", lines[0])
	assert.Equal(t, "GET /backend-api/codex/models Bearer verified 200", lines[1])
	assert.Equal(t, "GET /backend-api/codex/models Bearer refused: the Bearer token is not an access token minted by this server 401", lines[2])
	assert.Equal(t, "POST /backend-api/codex/responses AgentAssertion verified 200", lines[3])
	all := strings.Join(lines, "\n")
	for _, secret := range []string{login.AccessToken.Reveal(), "not-minted-token", "secret", strings.TrimPrefix(h.Get("Authorization"), "AgentAssertion ")} {
		assert.NotContains(t, all, secret)
	}
}

func tlsConfig(pool *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}
