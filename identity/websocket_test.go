package identity_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/identitytest"
)

// TestWebSocketHandshakeSigned dials the Responses API WebSocket with
// github.com/coder/websocket, its HTTPClient using RunAuth.Transport (or its
// HTTPHeader from RunAuth.Header), against identitytest over https with
// Options.AcceptWebSocket: the backend verifies the signed upgrade, accepts
// it and answers one event. An ended task heals on the handshake too (a GET
// without a body is replayed).
func TestWebSocketHandshakeSigned(t *testing.T) {
	for _, tc := range []struct {
		name      string
		jwt       bool
		useHeader bool // RunAuth.Header instead of the Transport
		endTask   bool
	}{
		{"ChatGPT opt-in, Transport", false, false, false},
		{"JWT, Transport", true, false, false},
		{"ChatGPT opt-in, Header", false, true, false},
		{"JWT, Header", true, true, false},
		{"ChatGPT opt-in, task ended before the handshake", false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			identity.ResetBootstrapCooldownForTest()
			// OnRequest reports an accepted WebSocket once it closed: wait
			// for it on a channel, never by time.
			upgrades := make(chan identitytest.Exchange, 4)
			srv := identitytest.NewUnstartedServer(identitytest.Options{AcceptWebSocket: true,
				OnRequest: func(e identitytest.Exchange) {
					if strings.EqualFold(e.Request.Header.Get("Upgrade"), "websocket") {
						upgrades <- e
					}
				}})
			require.NoError(t, srv.StartTLS())
			t.Cleanup(srv.Close)
			login := srv.MintChatGPTLogin(identitytest.LoginOptions{})
			home := t.TempDir()
			require.NoError(t, srv.WriteCodexHome(home, identitytest.CodexHomeOptions{Login: &login, UseAgentIdentity: true}))
			extra := map[string]string{}
			p := identity.PolicyChatGPTAuth
			if tc.jwt {
				tok, err := srv.MintAgentJWT(identitytest.JWTOptions{})
				require.NoError(t, err)
				extra[identity.EnvAccessToken], p = tok.Reveal(), identity.PolicyJWTOnly
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			ra, err := identity.Load(ctx, identity.LoadOptions{CodexHome: home, Policy: p, HTTPClient: srv.Client(),
				Getenv: srv.Getenv(func(k string) string { return extra[k] })})
			require.NoError(t, err)
			base, err := ra.InferenceBaseURL(ctx)
			require.NoError(t, err)
			if tc.endTask {
				task, err := ra.TaskID(ctx)
				require.NoError(t, err)
				require.True(t, srv.EndTask(ra.AgentRuntimeID(), task))
			}
			url := strings.Replace(base, "https://", "wss://", 1) + "/codex/responses"

			opts := &websocket.DialOptions{HTTPHeader: http.Header{"Openai-Beta": {"responses_websockets=2026-02-06"}}}
			if tc.useHeader {
				h, err := ra.Header(ctx, base+"/codex/responses")
				require.NoError(t, err)
				for k, v := range h {
					opts.HTTPHeader[k] = v
				}
				opts.HTTPClient = srv.Client()
			} else {
				opts.HTTPClient = &http.Client{Transport: ra.Transport(srv.Client().Transport)}
			}
			c, resp, err := websocket.Dial(ctx, url, opts)
			require.NoError(t, err)
			defer func() { _ = c.CloseNow() }()
			assert.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
			require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(`{"type":"response.create"}`)))
			_, msg, err := c.Read(ctx)
			require.NoError(t, err)
			assert.Contains(t, string(msg), "response.completed")

			require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
			assert.Equal(t, 1, srv.Stats().WebSocketsAccepted, "the backend verified and accepted the handshake")
			want := []int{http.StatusSwitchingProtocols}
			if tc.endTask {
				want = []int{http.StatusUnauthorized, http.StatusSwitchingProtocols} // one refusal, one retry
			}
			for _, status := range want {
				select {
				case e := <-upgrades:
					assert.Equal(t, status, e.Status)
					assert.True(t, strings.HasPrefix(e.Request.Header.Get("Authorization"), "AgentAssertion "))
					assert.Equal(t, ra.Account().AccountID, e.Request.Header.Get("ChatGPT-Account-ID"))
					assert.Equal(t, "responses_websockets=2026-02-06", e.Request.Header.Get("Openai-Beta"))
				case <-ctx.Done():
					t.Fatal("the backend never reported the upgrade")
				}
			}
			assert.Empty(t, upgrades, "no other upgrade attempt")
		})
	}
}
