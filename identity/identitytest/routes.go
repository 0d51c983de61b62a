package identitytest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/internal/limitio"
	"github.com/agentidentity/agentidentity/internal/strictjson"
)

// defaultResponseText is the assistant message of model answers when
// Options.ResponseText is empty.
const defaultResponseText = "Hello from the identitytest fake backend."

// route is what a first-party path asks for.
type route int

const (
	routeOther route = iota
	routeResponses
	routeResponsesWebSocket
	routeCompact
	routeModels
	routeAccountsCheck
	routeSettings
	routeConfigBundle
	routePlugins
	routeMCP
)

func routeOf(r *http.Request) route {
	p := strings.TrimPrefix(r.URL.Path, "/backend-api")
	switch {
	case p == "/codex/responses" && r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket"):
		return routeResponsesWebSocket
	case p == "/codex/responses" && r.Method == http.MethodPost:
		return routeResponses
	case p == "/codex/responses/compact" && r.Method == http.MethodPost:
		return routeCompact
	case p == "/codex/models" && r.Method == http.MethodGet:
		return routeModels
	case p == "/wham/accounts/check" && r.Method == http.MethodGet:
		return routeAccountsCheck
	case p == "/wham/settings/user" && r.Method == http.MethodGet:
		return routeSettings
	case p == "/wham/config/bundle" && r.Method == http.MethodGet:
		return routeConfigBundle
	case strings.HasPrefix(p, "/ps/plugins/"):
		return routePlugins
	case p == "/ps/mcp":
		return routeMCP
	}
	return routeOther
}

// inference reports whether a route must be signed with AgentAssertion
// whatever the mode (docs/protocol.md#route-credentials: inference and compaction).
func (rt route) inference() bool {
	return rt == routeResponses || rt == routeResponsesWebSocket || rt == routeCompact
}

// handleFirstParty serves the ChatGPT backend under /backend-api/. A request
// signed with AgentAssertion is verified (known agent, key, freshness, a task
// this server registered for it, ChatGPT-Account-ID and X-OpenAI-Fedramp);
// a Bearer request must carry a token this server minted that has not
// expired (see serveBearer). /ps/mcp, which Codex calls without
// credentials, answers 404.
func (s *Server) handleFirstParty(w http.ResponseWriter, r *http.Request) {
	body, err := limitio.ReadAll(r.Body, maxRequestBody)
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "body too large")
		return
	}
	rt := routeOf(r)
	reject := func(reason string) {
		s.bump(&s.stats.RequestsRejected)
		setVerdict(r, "refused: "+reason)
		writeError(w, http.StatusUnauthorized, reason)
	}
	header := r.Header.Get("Authorization")
	switch n := len(r.Header.Values("Authorization")); {
	case n == 0 && rt == routeMCP:
		setVerdict(r, "no credential needed, not served")
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no MCP server here"})
		return
	case n > 1:
		reject("want exactly one Authorization header")
		return
	}
	if tok, ok := strings.CutPrefix(header, "Bearer "); ok {
		// Inference takes a personal access token or a workload
		// identity's token, never a login's (whose runs sign inference).
		if b := s.lookupBearer(tok); !rt.inference() || b != nil && b.kind != kindLogin {
			s.serveBearer(w, r, rt, b, body, reject)
			return
		}
	}
	if !strings.HasPrefix(header, "AgentAssertion ") {
		reject("Authorization is not an AgentAssertion")
		return
	}
	// The checks of a real gateway (package gateway's Verifier): the
	// signature with the agent's registered key, the window, the account and
	// FedRAMP header of the agent, and a task this server registered for it
	// and has not ended.
	id, err := s.assertionVerifier().Verify(r)
	if err != nil {
		reject(verifyReason(err))
		return
	}
	s.mu.Lock()
	a := s.agents[id.AgentRuntimeID]
	s.mu.Unlock()
	s.bump(&s.stats.RequestsVerified)
	setVerdict(r, "verified")
	s.serveRoute(w, r, rt, body, a.account, map[string]string{
		"agent_runtime_id": id.AgentRuntimeID,
		"task_id":          id.TaskID,
	})
}

// serveRoute answers a first-party request whose credential was accepted,
// for account. who are the members (besides body_sha256) of the answer of
// a route without an answer of its own.
func (s *Server) serveRoute(w http.ResponseWriter, r *http.Request, rt route, body []byte, account codexhome.Account, who map[string]string) {
	switch rt {
	case routeResponses:
		if strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
			s.writeResponseStream(w)
			return
		}
	case routeResponsesWebSocket:
		s.serveWebSocket(w, r)
		return
	case routeCompact:
		writeJSON(w, http.StatusOK, map[string][]any{"output": {}})
		return
	case routeOther:
	default:
		s.serveSide(w, rt, account.AccountID, account.PlanType)
		return
	}
	sum := sha256.Sum256(body)
	who["body_sha256"] = hex.EncodeToString(sum[:])
	writeJSON(w, http.StatusOK, who)
}

// serveBearer answers a request carrying the Bearer token b (nil: one the
// server did not mint). It must not have expired, and must come with the
// X-OpenAI-Fedramp header exactly for FedRAMP accounts. A login's access
// token serves the routes besides inference, with the login's
// ChatGPT-Account-ID or none; a personal access token
// (docs/protocol.md#personal-access-tokens) and a workload identity's
// token (docs/protocol.md#workload-identity) serve every route, inference
// included, and need their ChatGPT-Account-ID. Other paths than the side
// routes answer 404 to a login's token, as before, and
// {"chatgpt_account_id", "body_sha256"} to the others.
func (s *Server) serveBearer(w http.ResponseWriter, r *http.Request, rt route, b *bearer, body []byte, reject func(string)) {
	acct := r.Header.Get("ChatGPT-Account-ID")
	switch {
	case b == nil:
		reject("the Bearer token is not an access token minted by this server")
		return
	case b.expired(s.now()):
		reject("the Bearer access token has expired")
		return
	case b.kind == kindLogin && acct != "" && acct != b.account.AccountID,
		b.kind != kindLogin && acct != b.account.AccountID:
		reject("ChatGPT-Account-ID does not match the access token's account")
		return
	case (r.Header.Get("X-OpenAI-Fedramp") == "true") != b.account.FedRAMP:
		reject("X-OpenAI-Fedramp must be \"true\" exactly for FedRAMP accounts")
		return
	}
	s.bump(&s.stats.BearerRequestsAccepted)
	setVerdict(r, "verified")
	if b.kind == kindLogin {
		s.serveSide(w, rt, b.account.AccountID, b.account.PlanType)
		return
	}
	s.serveRoute(w, r, rt, body, b.account, map[string]string{"chatgpt_account_id": b.account.AccountID})
}

// serveSide answers the side routes Codex calls besides inference.
func (s *Server) serveSide(w http.ResponseWriter, rt route, accountID, planType string) {
	switch rt {
	case routeModels:
		// An empty list: Codex keeps its bundled model catalog.
		writeJSON(w, http.StatusOK, map[string][]any{"models": {}})
	case routeAccountsCheck:
		writeJSON(w, http.StatusOK, s.accountsCheck(accountID, planType))
	case routeSettings:
		writeJSON(w, http.StatusOK, map[string]bool{"commit_attribution_enabled": false})
	case routeConfigBundle:
		// No workspace-managed policies. Codex asks for them first on
		// business and enterprise plans and stops unless it gets a 2xx.
		writeJSON(w, http.StatusOK, map[string]any{})
	default:
		// Plugins, MCP and anything else: Codex tolerates a 404.
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not served by the fake backend"})
	}
}

// AccountsCheck is the workspace routing discovery answer of docs/protocol.md#routing-discovery for
// one account.
type accountsCheck struct {
	Accounts        []accountEntry `json:"accounts"`
	AccountOrdering []string       `json:"account_ordering"`
	DefaultAccount  string         `json:"default_account_id"`
}

type accountEntry struct {
	ID                     string `json:"id"`
	PlanType               string `json:"plan_type"`
	Structure              string `json:"structure"`
	WorkspaceBackendOrigin string `json:"workspace_backend_origin"`
	AccountRoutingOverride string `json:"account_routing_override"`
}

func (s *Server) accountsCheck(accountID, planType string) accountsCheck {
	return accountsCheck{
		Accounts: []accountEntry{{
			ID: accountID, PlanType: planType, Structure: "personal",
			WorkspaceBackendOrigin: s.URL, AccountRoutingOverride: "NO_CONSTRAINT",
		}},
		AccountOrdering: []string{accountID},
		DefaultAccount:  accountID,
	}
}

// responseEvents are the Responses API events of one model answer.
func (s *Server) responseEvents() []map[string]any {
	n := strconv.FormatInt(s.responses.Add(1), 10)
	id := "resp-" + n
	return []map[string]any{
		{"type": "response.created", "response": map[string]any{"id": id}},
		{"type": "response.output_item.done", "output_index": 0, "item": map[string]any{
			"type": "message", "id": "msg-" + n, "role": "assistant", "status": "completed",
			"content": []any{map[string]any{"type": "output_text", "text": s.responseText, "annotations": []any{}}},
		}},
		{"type": "response.completed", "response": map[string]any{
			"id":    id,
			"usage": map[string]int{"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
		}},
	}
}

// writeResponseStream answers a model request with a short event stream.
func (s *Server) writeResponseStream(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	for _, ev := range s.responseEvents() {
		data, _ := json.Marshal(ev) // maps of strings and numbers always marshal
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev["type"], data); err != nil {
			return
		}
	}
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// serveWebSocket answers a verified WebSocket upgrade: 426 by default (the
// Codex CLI then falls back to HTTP at once), or, with
// Options.AcceptWebSocket, the handshake, one event after the client's first
// message, and a normal close.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	if !s.acceptWS {
		w.Header().Set("Connection", "close")
		writeJSON(w, http.StatusUpgradeRequired, map[string]string{"error": "WebSockets are not served here; use HTTP"})
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept has answered
	}
	s.bump(&s.stats.WebSocketsAccepted)
	defer func() { _ = c.CloseNow() }()
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	c.SetReadLimit(maxRequestBody)
	if _, _, err := c.Read(ctx); err != nil {
		return
	}
	evs := s.responseEvents()
	data, _ := json.Marshal(evs[len(evs)-1])
	if c.Write(ctx, websocket.MessageText, data) != nil {
		return
	}
	_ = c.Close(websocket.StatusNormalClosure, "done")
}

// handleRefresh serves the ChatGPT token refresh of the Codex CLI: POST
// {"client_id", "grant_type": "refresh_token", "refresh_token"} in JSON. A
// refresh token this server minted and never redeemed gets a new login
// (same account, fresh id, access and refresh tokens); one already redeemed
// gets 401 {"error": "refresh_token_reused"}, an unknown one 401
// {"error": "invalid_grant"}.
func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) {
	body, err := limitio.ReadAll(r.Body, 64<<10)
	refuse := func(status int, code, why string) {
		s.bump(&s.stats.RefreshesRefused)
		setVerdict(r, "refused: "+code+" ("+why+")")
		writeJSON(w, status, map[string]string{"error": code, "error_description": why})
	}
	// One walk checks the body and reads the three members (null or
	// absent is nil; another type is refused).
	var req struct{ ClientID, GrantType, RefreshToken *string }
	if err == nil {
		err = strictjson.DecodeObject(body, func(d *strictjson.Decoder, name string) error {
			var err error
			switch name {
			case "client_id":
				req.ClientID, err = d.OptionalString()
			case "grant_type":
				req.GrantType, err = d.OptionalString()
			case "refresh_token":
				req.RefreshToken, err = d.OptionalString()
			}
			return err
		})
		if errors.Is(err, strictjson.ErrWrongType) {
			refuse(http.StatusBadRequest, "invalid_request", "client_id, grant_type and refresh_token must be strings")
			return
		}
	}
	if err != nil {
		refuse(http.StatusBadRequest, "invalid_request", "the body must be one JSON object")
		return
	}
	switch {
	case !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"):
		refuse(http.StatusBadRequest, "invalid_request", "Content-Type must be application/json")
		return
	case req.ClientID == nil || *req.ClientID == "":
		refuse(http.StatusBadRequest, "invalid_request", "client_id is required")
		return
	case req.GrantType == nil || *req.GrantType != "refresh_token":
		refuse(http.StatusBadRequest, "unsupported_grant_type", `grant_type must be "refresh_token"`)
		return
	case req.RefreshToken == nil || *req.RefreshToken == "":
		refuse(http.StatusBadRequest, "invalid_request", "refresh_token is required")
		return
	}
	s.mu.Lock()
	rs, known := s.refreshTokens[*req.RefreshToken]
	used := known && rs.used
	if known {
		rs.used = true
	}
	s.mu.Unlock()
	switch {
	case !known:
		refuse(http.StatusUnauthorized, "invalid_grant", "the refresh token was not minted by this server")
		return
	case used:
		refuse(http.StatusUnauthorized, "refresh_token_reused", "the refresh token was already used")
		return
	}
	old := rs.login
	next := s.mintLogin(LoginOptions{Account: old.Account, TTL: rs.ttl})
	s.bump(&s.stats.Refreshes)
	setVerdict(r, "verified")
	writeJSON(w, http.StatusOK, map[string]string{
		"id_token":      next.IDToken.Reveal(),
		"access_token":  next.AccessToken.Reveal(),
		"refresh_token": next.RefreshToken.Reveal(),
	})
}

// assertionVerifier is the gateway.Verifier of the first-party endpoint,
// over this server's agents, clock and skew.
func (s *Server) assertionVerifier() *gateway.Verifier {
	s.verifierOnce.Do(func() {
		s.verifier = &gateway.Verifier{
			Keys: gateway.KeysFunc(func(_ context.Context, runtimeID string) (gateway.Agent, error) {
				s.mu.Lock()
				defer s.mu.Unlock()
				a := s.agents[runtimeID]
				if a == nil {
					return gateway.Agent{}, gateway.ErrUnknownAgent
				}
				return gateway.Agent{RuntimeID: runtimeID, PublicKey: a.pub, AccountID: a.account.AccountID, FedRAMP: a.account.FedRAMP}, nil
			}),
			MaxSkew: s.maxSkew,
			Now:     s.now,
			Task: func(_ context.Context, runtimeID, taskID string) error {
				s.mu.Lock()
				defer s.mu.Unlock()
				if a := s.agents[runtimeID]; a != nil {
					if _, ok := a.tasks[taskID]; ok {
						return nil
					}
				}
				return errors.New("the task id was not registered for this agent (or it ended)")
			},
			Logger: slog.New(slog.DiscardHandler),
		}
	})
	return s.verifier
}

// verifyReason is the reason a refusal of the fake backend names (a test
// double may say what a real gateway hides).
func verifyReason(err error) string {
	switch {
	case errors.Is(err, gateway.ErrUnknownAgent):
		return "unknown agent runtime id"
	case errors.Is(err, gateway.ErrTaskRefused):
		return "the task id was not registered for this agent"
	case errors.Is(err, gateway.ErrAccountMismatch):
		return "ChatGPT-Account-ID does not match the agent's account"
	case errors.Is(err, gateway.ErrFedRAMPMismatch):
		return "X-OpenAI-Fedramp must be \"true\" exactly for FedRAMP accounts"
	}
	return err.Error()
}
