package identitytest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/internal/limitio"
	"github.com/agentidentity/agentidentity/internal/netrule"
	"github.com/agentidentity/agentidentity/internal/strictjson"
)

const (
	// defaultMaxSkew is the clock skew the server accepts on signed
	// timestamps, as the real backend does.
	defaultMaxSkew = 5 * time.Minute

	maxRequestBody = 1 << 20
)

// Fault is how the AuthAPI (agent and task registration, the personal
// access token lookup) or, with TokenExchange, the workload identity token
// exchange misbehaves, as set by [Server.SetFault], to test how a client
// handles a slow, failing, redirecting, hanging-up or odd backend. The zero
// Fault is a backend that behaves. The steps apply in the order of the
// fields: the delay, then a due Status failure or hang-up, then the
// redirect, then the endpoint's own checks and answer (Body or EditAnswer).
type Fault struct {
	// Delay holds every faulted request this long before it is answered
	// (or until the client gives up).
	Delay time.Duration
	// Status, if not 0, answers faulted requests with this status before
	// any other check (nothing is registered or issued), with a short JSON
	// error body (or Body).
	Status int
	// Count limits Status (and HangUp) to the next Count requests; 0 (or
	// less) means every request, until the next SetFault.
	Count int
	// RetryAfter, if not "", is sent as the Retry-After header of the Status
	// answers (for example "2" or an HTTP date).
	RetryAfter string
	// RedirectTo, if not "", answers every faulted request 307 Temporary
	// Redirect to it.
	RedirectTo string
	// Body, if not nil, is the body (as application/json) of the Status
	// answers and, when no Status failure is due, of the successful
	// answers, whose agent, task or token is still registered or issued
	// and counted: a broken backend for the client's response parser (not
	// JSON, wrong types, another account, huge).
	Body []byte
	// TaskIDMembers are the members of a task registration answer that
	// carry the new task id (nil: just "task_id";
	// docs/protocol.md#task-registration-answer). The id is sealed to the
	// agent's key (gateway.SealTaskID) in "encrypted_task_id" and
	// "encryptedTaskId", and plain in any other member: {"taskId"} is the
	// camel-case spelling, {"task_id", "encrypted_task_id"} both at once.
	TaskIDMembers []string
	// HangUp, if set, closes the connection (over HTTP/2: resets the
	// stream) without an answer, after Delay and in place of a Status
	// failure.
	HangUp bool
	// EditAnswer, if not nil and Body is nil, is called with each
	// successful JSON answer of the faulted endpoints, decoded into a map,
	// before it is sent: it may delete, change or add members (a missing
	// member, "expires_in": "3600", another "user_id", …). The server has
	// done its work (registered, issued) by then. It is called from the
	// requests' goroutines: it must be safe for concurrent use.
	EditAnswer func(answer map[string]any)
	// TokenExchange moves the fault from the AuthAPI to the workload
	// identity token exchange (POST /oauth/token with a form body): the
	// fields above then apply to exchanges only, and the AuthAPI behaves.
	TokenExchange bool
}

// Options configures a server made by [NewUnstartedServer]. The zero value
// is what [NewServer] and [NewTLSServer] use.
type Options struct {
	// Now is the server's clock (default time.Now), used to check signed
	// timestamps, to mint tokens and to expire access tokens.
	Now func() time.Time
	// MaxSkew is the accepted clock skew of signed timestamps (default 5
	// minutes, as the real backend accepts).
	MaxSkew time.Duration
	// SigningKey signs the JWTs the server mints and is published in its
	// JWKS. Nil means a 2048-bit RSA key generated on first use.
	SigningKey *rsa.PrivateKey
	// KeyID is the JWKS "kid" of SigningKey (default "identitytest-1").
	KeyID string
	// Addr is the address to listen on, "host:port" with a loopback host
	// (localhost, 127.0.0.0/8 or ::1); "" means 127.0.0.1 and a free port.
	// The fake backend never listens beyond loopback.
	Addr string
	// AcceptWebSocket makes a verified WebSocket upgrade of
	// GET /backend-api/codex/responses succeed: the server reads the
	// client's first message, answers one response.completed event and
	// closes. By default the upgrade is answered 426 Upgrade Required,
	// after which the Codex CLI falls back to HTTP at once.
	AcceptWebSocket bool
	// ResponseText is the assistant message of model answers (default
	// "Hello from the identitytest fake backend.").
	ResponseText string
	// TokenExchangeTTL is the lifetime of the access tokens of the
	// workload identity token exchange, and its answers' expires_in (0: 1
	// h). It is cut to whole seconds from 1 s to 1 h, what a client must
	// accept; an answer outside that range is Fault.EditAnswer's.
	TokenExchangeTTL time.Duration
	// OnRequest, if set, is called once for every request after it was
	// answered (for a WebSocket, after it closed), from the request's
	// goroutine: it must be safe for concurrent use.
	OnRequest func(Exchange)
}

// Server is a fake of the AuthAPI and the ChatGPT backend on a loopback
// address, for tests. Its methods are safe for concurrent use.
//
// The URL fields are set when the server starts ([Server.Start] or
// [Server.StartTLS]) and must not be changed.
type Server struct {
	// URL is the root of the server, "http://127.0.0.1:<port>" (https after
	// StartTLS).
	URL string
	// ChatGPTBaseURL is URL + "/backend-api": where first-party requests
	// and the JWKS live.
	ChatGPTBaseURL string
	// AuthAPIBaseURL is URL + "/api/accounts": pass it as
	// identity.Client.AuthAPIBaseURL.
	AuthAPIBaseURL string
	// JWKSURL is ChatGPTBaseURL + "/wham/agent-identities/jwks".
	JWKSURL string
	// RefreshTokenURL is URL + "/oauth/token", the ChatGPT token refresh
	// (CODEX_REFRESH_TOKEN_URL_OVERRIDE for the Codex CLI) and, for a form
	// body, the workload identity token exchange.
	RefreshTokenURL string
	// Issuer and Audience are what minted Agent Identity JWTs carry:
	// agentidentity.ProductionIssuer and agentidentity.ProductionAudience.
	Issuer, Audience string

	listenAddr   string
	started      bool // guarded by mu
	srv          *httptest.Server
	ca           *testCA      // nil without StartTLS
	client       *http.Client // after StartTLS
	onRequest    func(Exchange)
	acceptWS     bool
	responseText string
	now          func() time.Time
	maxSkew      time.Duration
	exchangeTTL  time.Duration
	kid          string

	keyOnce sync.Once
	key     *rsa.PrivateKey
	keyErr  error
	jwks    []byte

	mu            sync.Mutex
	agents        map[string]*agent  // by runtime id
	bearers       map[string]*bearer // the Bearer tokens minted, by token
	workloads     map[workloadKey]codexhome.Account
	refreshTokens map[string]*refreshState
	nextAgent     int
	nextTask      int
	nextLogin     int
	fault         Fault
	failLeft      int // Status failures still due when fault.Count > 0
	lastAuthAPI   *Request

	statsMu   sync.Mutex
	stats     Stats
	responses atomic.Int64 // model answers made, for their ids

	verifierOnce sync.Once
	verifier     *gateway.Verifier

	idleMu   sync.Mutex
	inflight int
	idle     chan struct{} // closed when inflight drops to 0
}

// Stats counts what a server did. [Server.Stats] returns a snapshot: all
// fields read at one instant.
type Stats struct {
	// AgentsRegistered is the number of agents registered (through the
	// AuthAPI, AddAgent or MintAgentJWT).
	AgentsRegistered int
	// TasksRegistered is the number of tasks registered.
	TasksRegistered int
	// AuthAPIRequests is the number of requests the AuthAPI received,
	// failed ones included: the number of attempts a client made.
	AuthAPIRequests int
	// RequestsVerified is the number of first-party requests whose
	// AgentAssertion was accepted.
	RequestsVerified int
	// RequestsRejected is the number of first-party requests refused with
	// 401.
	RequestsRejected int
	// BearerRequestsAccepted is the number of first-party requests accepted
	// with a Bearer token this server minted: a login's access token
	// (workspace discovery, models, settings, plugins), a personal access
	// token or a token exchange's access token (those routes and
	// inference).
	BearerRequestsAccepted int
	// Refreshes is the number of token refreshes that rotated a login.
	Refreshes int
	// RefreshesRefused is the number of token refreshes refused (unknown or
	// reused refresh tokens, malformed requests).
	RefreshesRefused int
	// WebSocketsAccepted is the number of WebSocket handshakes accepted
	// (only with Options.AcceptWebSocket).
	WebSocketsAccepted int
	// JWKSFetches is the number of JWKS requests served.
	JWKSFetches int
	// PersonalAccessTokenLookups is the number of personal access token
	// metadata lookups received, refused and faulted ones included (they
	// count in AuthAPIRequests too).
	PersonalAccessTokenLookups int
	// TokenExchanges is the number of workload identity token exchanges
	// received, refused and faulted ones included: the number of attempts
	// a client made.
	TokenExchanges int
	// TokenExchangesRefused is the number of token exchanges the server's
	// own checks refused (the form, the rule id and assertion), faults
	// aside.
	TokenExchangesRefused int
}

// Stats returns the server's counters, all read at one instant.
func (s *Server) Stats() Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return s.stats
}

// bump adds one to the counter c, a field of s.stats.
func (s *Server) bump(c *int) {
	s.statsMu.Lock()
	*c++
	s.statsMu.Unlock()
}

// refreshState is a refresh token the server minted.
type refreshState struct {
	login ChatGPTLogin
	ttl   time.Duration
	used  bool
}

// bearerKind is where a Bearer token the server minted comes from.
type bearerKind int

const (
	// kindLogin is the access token of a ChatGPT login (MintChatGPTLogin
	// or a refresh).
	kindLogin bearerKind = iota
	// kindExchange is an access token of the workload identity token
	// exchange.
	kindExchange
	// kindPAT is a personal access token.
	kindPAT
)

// bearer is a Bearer token the server minted.
type bearer struct {
	kind    bearerKind
	account codexhome.Account
	exp     time.Time // zero: it never expires (personal access tokens)
}

// expired reports whether b has expired at now.
func (b *bearer) expired(now time.Time) bool {
	return !b.exp.IsZero() && !now.Before(b.exp)
}

// lookupBearer returns the Bearer token tok, or nil if the server did not
// mint it.
func (s *Server) lookupBearer(tok string) *bearer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bearers[tok]
}

// agent is a registered agent.
type agent struct {
	runtimeID string
	pub       ed25519.PublicKey
	account   codexhome.Account

	tasks map[string]struct{} // guarded by Server.mu
}

// Request is a copy of a request the server received.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// NewServer starts and returns a plain-http server on 127.0.0.1 and a free
// port with the zero Options. Like httptest.NewServer, it panics only if it
// cannot listen. The caller should call Close when finished.
func NewServer() *Server {
	s := NewUnstartedServer(Options{})
	if err := s.Start(); err != nil {
		panic(err)
	}
	return s
}

// NewTLSServer starts and returns an https server on 127.0.0.1 and a free
// port with the zero Options, as [Server.StartTLS] does. It panics only if
// it cannot listen. The caller should call Close when finished.
func NewTLSServer() *Server {
	s := NewUnstartedServer(Options{})
	if err := s.StartTLS(); err != nil {
		panic(err)
	}
	return s
}

// NewUnstartedServer returns a server configured by o but not started:
// the caller may prepare it (logins, agents, a Fault) and then calls
// [Server.Start] or [Server.StartTLS], and Close when finished.
func NewUnstartedServer(o Options) *Server {
	s := &Server{
		listenAddr:  o.Addr,
		now:         o.Now,
		maxSkew:     o.MaxSkew,
		exchangeTTL: exchangeTTL(o.TokenExchangeTTL),
		kid:         o.KeyID,
		key:         o.SigningKey,
		agents:      make(map[string]*agent),
		bearers:     make(map[string]*bearer),
		Issuer:      agentidentity.ProductionIssuer,
		Audience:    agentidentity.ProductionAudience,

		refreshTokens: make(map[string]*refreshState),
		onRequest:     o.OnRequest,
		acceptWS:      o.AcceptWebSocket,
		responseText:  o.ResponseText,
	}
	if s.responseText == "" {
		s.responseText = defaultResponseText
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxSkew <= 0 {
		s.maxSkew = defaultMaxSkew
	}
	if s.kid == "" {
		s.kid = "identitytest-1"
	}
	return s
}

// Start starts the server on Options.Addr (127.0.0.1 and a free port when
// empty), serving plain http. It returns an error, and starts nothing, when
// the address is not loopback or cannot be listened on, or when the server
// was already started.
func (s *Server) Start() error { return s.start(false) }

// StartTLS is Start serving https, with a leaf certificate from a
// certificate authority made for this server alone: ECDSA P-256, valid for
// a day, for server authentication only, name-constrained to 127.0.0.0/8,
// ::1 and localhost with every e-mail address and URI excluded, its private
// key kept in memory only. [Server.CertPool], [Server.CACertificatePEM] and
// [Server.Client] give what a client needs to trust it. The Codex CLI needs
// https: it refuses a workspace backend origin that is not.
func (s *Server) StartTLS() error { return s.start(true) }

func (s *Server) start(useTLS bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("identitytest: the server was already started")
	}
	ln, err := listenLoopback(s.listenAddr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/accounts/v1/agent/register", s.handleAgentRegister)
	mux.HandleFunc("POST /api/accounts/v1/agent/{id}/task/register", s.handleTaskRegister)
	mux.HandleFunc("GET /api/accounts/v1/user-auth-credential/whoami", s.handleWhoami)
	mux.HandleFunc("/api/accounts/", func(w http.ResponseWriter, r *http.Request) {
		s.bump(&s.stats.AuthAPIRequests)
		s.record(r, nil)
		writeError(w, http.StatusNotFound, "no such AuthAPI endpoint")
	})
	mux.HandleFunc("GET /backend-api/wham/agent-identities/jwks", s.handleJWKS)
	mux.HandleFunc("/backend-api/", s.handleFirstParty)
	mux.HandleFunc("POST /oauth/token", s.handleToken)
	srv := httptest.NewUnstartedServer(s.observe(mux))
	_ = srv.Listener.Close()
	srv.Listener = ln
	scheme := "http"
	if useTLS {
		ca, err := newTestCA(time.Now())
		if err != nil {
			_ = ln.Close()
			return err
		}
		s.ca = ca
		srv.TLS = ca.config
		srv.EnableHTTP2 = true
		s.client = s.tlsClient()
		scheme = "https"
	}
	// The URLs are set before the first request can be served (the
	// workspace discovery answer names s.URL).
	s.URL = scheme + "://" + ln.Addr().String()
	s.RefreshTokenURL = s.URL + "/oauth/token"
	s.ChatGPTBaseURL = s.URL + "/backend-api"
	s.AuthAPIBaseURL = s.URL + "/api/accounts"
	s.JWKSURL = s.ChatGPTBaseURL + "/wham/agent-identities/jwks"
	s.srv = srv
	s.started = true
	if useTLS {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	return nil
}

// listenLoopback listens on addr, which must have a loopback host.
func listenLoopback(addr string) (net.Listener, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("identitytest: address %q: %w", addr, err)
	}
	if !netrule.IsLoopbackHost(host) {
		return nil, fmt.Errorf("identitytest: address %q: the fake backend listens on loopback hosts only", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("identitytest: listen on %s: %w", addr, err)
	}
	return ln, nil
}

// Close shuts the server down and waits for requests in flight, like
// httptest.Server.Close. Closing a server that was never started does
// nothing.
func (s *Server) Close() {
	s.mu.Lock()
	srv, client := s.srv, s.client
	s.mu.Unlock()
	if srv == nil {
		return
	}
	srv.Close()
	if client != nil {
		client.CloseIdleConnections()
	}
}

// Client returns an *http.Client configured for the started server: plain
// HTTP on loopback, or after StartTLS one that trusts the server's CA (and
// no other). Before the server starts it returns a new default client.
func (s *Server) Client() *http.Client {
	s.mu.Lock()
	srv, client := s.srv, s.client
	s.mu.Unlock()
	switch {
	case client != nil:
		return client
	case srv != nil:
		return srv.Client()
	}
	return &http.Client{}
}

// CodexEnv returns the environment variables that point the Codex CLI at
// this server (besides CODEX_HOME and the trust of StartTLS, which
// belong to the caller): the AuthAPI base under both the newer
// CODEX_AUTHAPI_BASE_URL and CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL, the JWKS
// base CODEX_AGENT_IDENTITY_JWKS_BASE_URL, and CODEX_REFRESH_TOKEN_URL_OVERRIDE.
func (s *Server) CodexEnv() map[string]string {
	env := s.Env()
	env["CODEX_REFRESH_TOKEN_URL_OVERRIDE"] = s.RefreshTokenURL
	return env
}

// Env returns the environment variables that point the agentidentity
// package at this server: the AuthAPI base under both
// CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL and its newer name
// CODEX_AUTHAPI_BASE_URL (which wins when both are set, so a value from the
// caller's environment never leaks in), and CODEX_AGENT_IDENTITY_JWKS_BASE_URL
// (the ChatGPT base, from which the JWKS URL is derived). Use ChatGPTBaseURL
// as the configured ChatGPT base URL with them.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"CODEX_AUTHAPI_BASE_URL":                s.AuthAPIBaseURL,
		"CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL": s.AuthAPIBaseURL,
		"CODEX_AGENT_IDENTITY_JWKS_BASE_URL":    s.ChatGPTBaseURL,
	}
}

// Getenv returns a getenv function that answers the variables of Env and
// asks fallback (which may be nil) for every other name.
func (s *Server) Getenv(fallback func(string) string) func(string) string {
	env := s.Env()
	return func(name string) string {
		if v, ok := env[name]; ok {
			return v
		}
		if fallback != nil {
			return fallback(name)
		}
		return ""
	}
}

// SetFault replaces the server's fault with f (a copy: later changes to
// f's slices do not reach the server); SetFault(Fault{}) makes the server
// behave again. A Status failure with a Count counts from this call.
func (s *Server) SetFault(f Fault) {
	f.Body = bytes.Clone(f.Body)
	f.TaskIDMembers = slices.Clone(f.TaskIDMembers)
	s.mu.Lock()
	s.fault = f
	s.failLeft = f.Count
	s.mu.Unlock()
}

// EndTask ends the task taskID of the agent runtimeID, as the backend does
// when a task expires: from then on every request signed for it is answered
// 401 (the answer third-party clients of the real backend report for an
// ended or unknown task). It reports whether the task was known.
func (s *Server) EndTask(runtimeID, taskID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.agents[runtimeID]
	if a == nil {
		return false
	}
	_, ok := a.tasks[taskID]
	delete(a.tasks, taskID)
	return ok
}

// LastAuthAPIRequest returns a copy of the last request the AuthAPI
// received, or nil if none. Its body may hold signatures: it is test data.
func (s *Server) LastAuthAPIRequest() *Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastAuthAPI == nil {
		return nil
	}
	r := *s.lastAuthAPI
	r.Header = r.Header.Clone()
	r.Body = append([]byte(nil), r.Body...)
	return &r
}

// TaskIDs returns the task ids registered for agentRuntimeID.
func (s *Server) TaskIDs(agentRuntimeID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.agents[agentRuntimeID]
	if a == nil {
		return nil
	}
	ids := make([]string, 0, len(a.tasks))
	for id := range a.tasks {
		ids = append(ids, id)
	}
	return ids
}

func (s *Server) record(r *http.Request, body []byte) {
	rec := &Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: append([]byte(nil), body...)}
	s.mu.Lock()
	s.lastAuthAPI = rec
	s.mu.Unlock()
}

// preamble runs the fault injection common to AuthAPI requests and checks
// that the body is JSON when wantJSON. It returns the request body and the
// fault of a request to answer, or reports false if it answered the
// request.
func (s *Server) preamble(w http.ResponseWriter, r *http.Request, wantJSON bool) ([]byte, Fault, bool) {
	s.bump(&s.stats.AuthAPIRequests)
	body, err := limitio.ReadAll(r.Body, maxRequestBody)
	s.record(r, body)
	f, ok := s.injectFault(w, r, false)
	switch {
	case !ok:
		return nil, Fault{}, false
	case err != nil:
		writeError(w, http.StatusRequestEntityTooLarge, "body too large")
		return nil, Fault{}, false
	case wantJSON && r.Header.Get("Content-Type") != "application/json":
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return nil, Fault{}, false
	}
	return body, f, true
}

// injectFault applies the server's fault to a request of the AuthAPI
// (exchange false) or of the token exchange (exchange true): the delay, a
// due failure or hang-up, the redirect. It returns the fault that applies
// (the zero Fault if it is the other endpoints'), or reports false if it
// answered the request. A hang-up does not return: it panics with
// http.ErrAbortHandler, which the http server turns into a reset.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request, exchange bool) (Fault, bool) {
	s.mu.Lock()
	f := s.fault
	if f.TokenExchange != exchange {
		f = Fault{}
	}
	fail := (f.Status != 0 || f.HangUp) && (f.Count <= 0 || s.failLeft > 0)
	if fail && f.Count > 0 {
		s.failLeft--
	}
	s.mu.Unlock()
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return Fault{}, false
		}
	}
	switch {
	case fail && f.HangUp:
		setVerdict(r, "hung up (fault)")
		panic(http.ErrAbortHandler)
	case fail:
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		if f.Body != nil {
			writeBody(w, f.Status, f.Body)
		} else {
			writeError(w, f.Status, "injected failure")
		}
		return Fault{}, false
	case f.RedirectTo != "":
		http.Redirect(w, r, f.RedirectTo, http.StatusTemporaryRedirect)
		return Fault{}, false
	}
	return f, true
}

// writeAnswer answers 200 with answer as JSON, its members in order (then
// any others, sorted), as f has it: f.Body instead if set, else answer as
// f.EditAnswer left it.
func writeAnswer(w http.ResponseWriter, f Fault, answer map[string]any, order ...string) {
	if f.Body != nil {
		writeBody(w, http.StatusOK, f.Body)
		return
	}
	if f.EditAnswer != nil {
		f.EditAnswer(answer)
	}
	b, err := orderedJSON(answer, order)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "the edited answer does not marshal")
		return
	}
	writeBody(w, http.StatusOK, b)
}

// orderedJSON marshals m as one JSON object whose members come in order
// (those m has), then the others sorted by name. encoding/json sorts map
// keys, and the answers the Codex CLI saw have their own order.
func orderedJSON(m map[string]any, order []string) ([]byte, error) {
	keys := make([]string, 0, len(m))
	for _, k := range order {
		if _, ok := m[k]; ok && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	var rest []string
	for k := range m {
		if !slices.Contains(keys, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	keys = append(keys, rest...)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		vb, err := json.Marshal(m[k])
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (s *Server) handleAgentRegister(w http.ResponseWriter, r *http.Request) {
	body, fault, ok := s.preamble(w, r, true)
	if !ok {
		return
	}
	// Only a ChatGPT login's access token that has not expired provisions
	// an agent: the Codex CLI refreshes an expired one first
	// (docs/protocol.md#refresh-before-register), and never provisions with
	// a personal access token or a workload identity
	// (docs/protocol.md#source-precedence).
	tok, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	var b *bearer
	if found {
		b = s.lookupBearer(tok)
	}
	switch {
	case b == nil:
		writeError(w, http.StatusUnauthorized, "a Bearer access token minted by this server is required")
		return
	case b.kind == kindPAT:
		writeError(w, http.StatusUnauthorized, "a personal access token cannot register an agent")
		return
	case b.kind == kindExchange:
		writeError(w, http.StatusUnauthorized, "a workload identity's access token cannot register an agent")
		return
	case b.expired(s.now()):
		writeError(w, http.StatusUnauthorized, "the access token has expired")
		return
	}
	acct := b.account
	setVerdict(r, "verified")
	if fr := r.Header.Get("X-OpenAI-Fedramp"); (fr == "true") != acct.FedRAMP || (fr != "" && fr != "true") {
		writeError(w, http.StatusForbidden, "X-OpenAI-Fedramp must be \"true\" exactly for FedRAMP accounts")
		return
	}
	pub, err := checkAgentRegistrationBody(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	a := s.addAgent(pub, acct)
	writeAnswer(w, fault, map[string]any{"agent_runtime_id": a.runtimeID})
}

// checkAgentRegistrationBody checks the exact shape of docs/protocol.md#agent-registration.
func checkAgentRegistrationBody(body []byte) (ed25519.PublicKey, error) {
	// One walk checks the body and reads its members.
	var (
		members, abomMembers int
		abomObject, capsOK   bool
		abomStrings          = map[string]bool{}
		ttlNull, lineOK      bool
		line                 string
	)
	err := strictjson.DecodeObject(body, func(d *strictjson.Decoder, name string) error {
		members++
		switch name {
		case "abom":
			if d.Kind() != "an object" {
				return nil
			}
			abomObject = true
			return d.Object(func(name string) error {
				abomMembers++
				abomStrings[name] = d.Kind() == "a string"
				return nil
			})
		case "capabilities":
			if d.Kind() != "an array" {
				return nil
			}
			var caps []string
			ok := true
			err := d.Array(func() error {
				if d.Null() {
					caps = append(caps, "")
					return nil
				}
				c, err := d.String()
				ok = ok && err == nil
				caps = append(caps, c)
				return nil
			})
			capsOK = ok && len(caps) == 1 && caps[0] == "responsesapi"
			return err
		case "ttl":
			ttlNull = d.Null()
		case "agent_public_key":
			if d.Kind() == "a string" {
				line, _ = d.String()
				lineOK = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, errors.New("the body is not one strict JSON object")
	}
	if members != 4 {
		return nil, errors.New("want exactly abom, agent_public_key, capabilities and ttl")
	}
	if !abomObject || abomMembers != 3 {
		return nil, errors.New("abom must be an object of exactly agent_version, agent_harness_id and running_location")
	}
	for _, name := range []string{"agent_version", "agent_harness_id", "running_location"} {
		if !abomStrings[name] {
			return nil, fmt.Errorf("abom.%s must be a string", name)
		}
	}
	if !capsOK {
		return nil, errors.New(`capabilities must be ["responsesapi"]`)
	}
	if !ttlNull {
		return nil, errors.New("ttl must be null")
	}
	if !lineOK {
		return nil, errors.New("agent_public_key must be a string")
	}
	pub, err := gateway.ParsePublicKeySSH(line)
	if err != nil || strings.Count(line, " ") != 1 {
		return nil, errors.New("agent_public_key is not an ssh-ed25519 public key line without a comment")
	}
	return pub, nil
}

func (s *Server) addAgent(pub ed25519.PublicKey, account codexhome.Account) *agent {
	s.mu.Lock()
	s.nextAgent++
	a := &agent{
		runtimeID: "agent-" + strconv.Itoa(s.nextAgent),
		pub:       pub,
		account:   account,
		tasks:     make(map[string]struct{}),
	}
	s.agents[a.runtimeID] = a
	s.mu.Unlock()
	s.bump(&s.stats.AgentsRegistered)
	return a
}

func (s *Server) handleTaskRegister(w http.ResponseWriter, r *http.Request) {
	body, fault, ok := s.preamble(w, r, true)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if r.Header.Get("Authorization") != "" {
		writeError(w, http.StatusBadRequest, "task registration must not carry an Authorization header")
		return
	}
	s.mu.Lock()
	a := s.agents[id]
	s.mu.Unlock()
	if a == nil {
		writeError(w, http.StatusNotFound, "unknown agent")
		return
	}
	if _, err := gateway.VerifyTaskRegistration(id, body, a.pub, s.now(), s.maxSkew); err != nil {
		writeError(w, http.StatusUnauthorized, err.Error())
		return
	}
	setVerdict(r, "verified")
	s.mu.Lock()
	s.nextTask++
	taskID := "task-" + strconv.Itoa(s.nextTask)
	a.tasks[taskID] = struct{}{}
	s.mu.Unlock()
	s.bump(&s.stats.TasksRegistered)

	members := fault.TaskIDMembers
	if len(members) == 0 {
		members = []string{"task_id"}
	}
	answer := map[string]any{}
	for _, m := range members {
		if m != "encrypted_task_id" && m != "encryptedTaskId" {
			answer[m] = taskID
			continue
		}
		sealed, err := gateway.SealTaskID(a.pub, taskID)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "cannot seal the task id")
			return
		}
		answer[m] = sealed
	}
	writeAnswer(w, fault, answer)
}

func (s *Server) handleJWKS(w http.ResponseWriter, _ *http.Request) {
	s.bump(&s.stats.JWKSFetches)
	if err := s.loadKey(); err != nil {
		writeError(w, http.StatusInternalServerError, "no signing key")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=3600")
	_, _ = w.Write(s.jwks)
}

// writeBody answers status with body as JSON, whatever body holds.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, status int, reason string) {
	writeJSON(w, status, map[string]string{"error": reason})
}
