package identitytest

import (
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/internal/limitio"
	"github.com/agentidentity/agentidentity/internal/netrule"
	"github.com/agentidentity/agentidentity/internal/strictjson"
)

// Constants of the fake backend.
const (
	// Issuer is the "iss" of the Agent Identity JWTs the server mints (the
	// production issuer, docs/protocol.md#environment-table).
	Issuer = agentidentity.ProductionIssuer
	// Audience is the "aud" of the Agent Identity JWTs the server mints.
	Audience = agentidentity.ProductionAudience
	// DefaultMaxSkew is the clock skew the server accepts on signed
	// timestamps, as the real backend does.
	DefaultMaxSkew = 5 * time.Minute
	// HugeBodySize is the size of the bodies of BodyHuge and BodyHugeError.
	HugeBodySize = 10 << 20

	maxRequestBody = 1 << 20
)

// TaskIDMode chooses how task registration answers spell the task id.
type TaskIDMode int

// Task id spellings (docs/protocol.md#task-registration-answer).
const (
	// TaskIDPlain answers {"task_id": "task-<n>"} (the default).
	TaskIDPlain TaskIDMode = iota
	// TaskIDCamel answers {"taskId": …}.
	TaskIDCamel
	// TaskIDEncrypted answers {"encrypted_task_id": …}, sealed to the agent key.
	TaskIDEncrypted
	// TaskIDEncryptedCamel answers {"encryptedTaskId": …}, sealed to the agent key.
	TaskIDEncryptedCamel
	// TaskIDBoth answers both "task_id" and a sealed "encrypted_task_id"
	// of the same id (the plaintext wins on the client).
	TaskIDBoth
)

// BodyFault replaces the body of successful registration answers, to test
// how clients handle a broken backend.
type BodyFault int

// Body faults.
const (
	// BodyNormal answers correctly (the default).
	BodyNormal BodyFault = iota
	// BodyMalformedJSON answers 200 with text that is not JSON.
	BodyMalformedJSON
	// BodyHuge answers 200 with a valid JSON object of HugeBodySize bytes.
	BodyHuge
	// BodyHugeError answers 500 with a body of HugeBodySize bytes.
	BodyHugeError
	// BodyEmptyID answers 200 with an empty id ("task_id": "" or
	// "agent_runtime_id": "").
	BodyEmptyID
	// BodyNullID answers 200 with the id member set to null.
	BodyNullID
	// BodyNumberID answers 200 with the id member set to a number.
	BodyNumberID
	// BodyMissingID answers 200 with {} .
	BodyMissingID
	// BodyDuplicateMember answers 200 with the id member written twice.
	BodyDuplicateMember
	// BodyBadCiphertext answers 200 with an encrypted task id that does
	// not open (task registration only).
	BodyBadCiphertext
)

// Options configures NewServerOptions. The zero value is what NewServer uses.
type Options struct {
	// Now is the server's clock (default time.Now), used to check signed
	// timestamps and to mint tokens.
	Now func() time.Time
	// MaxSkew is the accepted clock skew of signed timestamps (default
	// DefaultMaxSkew).
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
	// TLS serves https with a leaf certificate from a certificate authority
	// made for this server alone: ECDSA P-256, valid for a day,
	// name-constrained to 127.0.0.0/8, ::1 and localhost, its private key
	// kept in memory only. [Server.CertPool], [Server.CACertificatePEM] and
	// [Server.Client] give what a client needs to trust it. The Codex CLI
	// needs https: it refuses a workspace backend origin that is not.
	TLS bool
	// AcceptWebSocket makes a verified WebSocket upgrade of
	// GET /backend-api/codex/responses succeed: the server reads the
	// client's first message, answers one response.completed event and
	// closes. By default the upgrade is answered 426 Upgrade Required,
	// after which the Codex CLI falls back to HTTP at once.
	AcceptWebSocket bool
	// ResponseText is the assistant message of model answers (default
	// DefaultResponseText).
	ResponseText string
	// OnRequest, if set, is called once for every request after it was
	// answered (for a WebSocket, after it closed), from the request's
	// goroutine: it must be safe for concurrent use.
	OnRequest func(Exchange)
}

// Server is a running fake of the AuthAPI and the ChatGPT backend on a
// loopback address, for tests. Its methods are safe for concurrent use.
//
// The URL fields are set by NewServer and must not be changed.
type Server struct {
	// URL is the root of the server, "http://127.0.0.1:<port>" (https with
	// Options.TLS).
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
	// (CODEX_REFRESH_TOKEN_URL_OVERRIDE for the Codex CLI).
	RefreshTokenURL string
	// Issuer and Audience are what minted Agent Identity JWTs carry.
	Issuer, Audience string

	srv          *httptest.Server
	ca           *testCA      // nil without Options.TLS
	client       *http.Client // with Options.TLS
	onRequest    func(Exchange)
	acceptWS     bool
	responseText string
	now          func() time.Time
	maxSkew      time.Duration
	kid          string

	keyOnce sync.Once
	key     *rsa.PrivateKey
	keyErr  error
	jwks    []byte

	mu            sync.Mutex
	agents        map[string]*agent       // by runtime id
	logins        map[string]ChatGPTLogin // by access token
	refreshTokens map[string]*refreshState
	nextAgent     int
	nextTask      int
	nextLogin     int
	taskMode      TaskIDMode
	failLeft      int
	failStatus    int
	retryAfter    string
	redirectTo    string
	delay         time.Duration
	fault         BodyFault
	lastAuthAPI   *Request

	agentsRegistered atomic.Int64
	tasksRegistered  atomic.Int64
	authAPIRequests  atomic.Int64
	verified         atomic.Int64
	rejected         atomic.Int64
	jwksFetches      atomic.Int64
	bearerAccepted   atomic.Int64
	refreshes        atomic.Int64
	refreshesRefused atomic.Int64
	wsAccepted       atomic.Int64
	responses        atomic.Int64

	verifierOnce sync.Once
	verifier     *gateway.Verifier

	idleMu   sync.Mutex
	inflight int
	idle     chan struct{} // closed when inflight drops to 0
}

// refreshState is a refresh token the server minted.
type refreshState struct {
	login ChatGPTLogin
	ttl   time.Duration
	used  bool
}

// agent is a registered agent.
type agent struct {
	runtimeID string
	pub       ed25519.PublicKey
	accountID string
	userID    string
	planType  string
	fedRAMP   bool

	tasks map[string]struct{} // guarded by Server.mu
}

// Request is a copy of a request the server received.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// NewServer starts a server on 127.0.0.1 with default Options. Like
// httptest.NewServer, it panics only if it cannot listen. Call Close when
// done.
func NewServer() *Server { return NewServerOptions(Options{}) }

// NewServerOptions starts a server with o.
func NewServerOptions(o Options) *Server {
	s, err := StartServer(o)
	if err != nil {
		panic(err)
	}
	return s
}

// StartServer is NewServerOptions returning an error, rather than
// panicking, when the address is refused or cannot be listened on.
func StartServer(o Options) (*Server, error) {
	ln, err := listenLoopback(o.Addr)
	if err != nil {
		return nil, err
	}
	s := &Server{
		now:     o.Now,
		maxSkew: o.MaxSkew,
		kid:     o.KeyID,
		key:     o.SigningKey,
		agents:  make(map[string]*agent),
		logins:  make(map[string]ChatGPTLogin),

		refreshTokens: make(map[string]*refreshState),
		onRequest:     o.OnRequest,
		acceptWS:      o.AcceptWebSocket,
		responseText:  o.ResponseText,
	}
	if s.responseText == "" {
		s.responseText = DefaultResponseText
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxSkew <= 0 {
		s.maxSkew = DefaultMaxSkew
	}
	if s.kid == "" {
		s.kid = "identitytest-1"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/accounts/v1/agent/register", s.handleAgentRegister)
	mux.HandleFunc("POST /api/accounts/v1/agent/{id}/task/register", s.handleTaskRegister)
	mux.HandleFunc("/api/accounts/", func(w http.ResponseWriter, r *http.Request) {
		s.authAPIRequests.Add(1)
		s.record(r, nil)
		writeError(w, http.StatusNotFound, "no such AuthAPI endpoint")
	})
	mux.HandleFunc("GET /backend-api/wham/agent-identities/jwks", s.handleJWKS)
	mux.HandleFunc("/backend-api/", s.handleFirstParty)
	mux.HandleFunc("POST /oauth/token", s.handleRefresh)
	s.srv = httptest.NewUnstartedServer(s.observe(mux))
	_ = s.srv.Listener.Close()
	s.srv.Listener = ln
	if o.TLS {
		ca, err := newTestCA(time.Now())
		if err != nil {
			_ = ln.Close()
			return nil, err
		}
		s.ca = ca
		s.srv.TLS = ca.config
		s.srv.EnableHTTP2 = true
		s.srv.StartTLS()
		s.client = s.tlsClient()
	} else {
		s.srv.Start()
	}
	s.URL = s.srv.URL
	s.RefreshTokenURL = s.URL + "/oauth/token"
	s.ChatGPTBaseURL = s.URL + "/backend-api"
	s.AuthAPIBaseURL = s.URL + "/api/accounts"
	s.JWKSURL = s.ChatGPTBaseURL + "/wham/agent-identities/jwks"
	s.Issuer = Issuer
	s.Audience = Audience
	return s, nil
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
// httptest.Server.Close.
func (s *Server) Close() {
	s.srv.Close()
	if s.client != nil {
		s.client.CloseIdleConnections()
	}
}

// Client returns an *http.Client configured for the server: plain HTTP on
// loopback, or with Options.TLS one that trusts the server's CA (and no
// other).
func (s *Server) Client() *http.Client {
	if s.client != nil {
		return s.client
	}
	return s.srv.Client()
}

// CodexEnv returns the environment variables that point the Codex CLI at
// this server (besides CODEX_HOME and the trust of Options.TLS, which
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

// SetTaskIDMode chooses how later task registration answers spell the id.
func (s *Server) SetTaskIDMode(m TaskIDMode) {
	s.mu.Lock()
	s.taskMode = m
	s.mu.Unlock()
}

// FailNext makes the next n AuthAPI requests (agent or task registration)
// fail with status and a short JSON error body, before any other check.
// n <= 0 turns failing off.
func (s *Server) FailNext(n, status int) { s.FailNextRetryAfter(n, status, "") }

// FailNextRetryAfter is FailNext with a Retry-After header on the failures
// (for example "2" or an HTTP date); "" sends none.
func (s *Server) FailNextRetryAfter(n, status int, retryAfter string) {
	s.mu.Lock()
	s.failLeft, s.failStatus, s.retryAfter = n, status, retryAfter
	s.mu.Unlock()
}

// RedirectTo makes every AuthAPI request answer 307 Temporary Redirect to
// location; "" turns it off.
func (s *Server) RedirectTo(location string) {
	s.mu.Lock()
	s.redirectTo = location
	s.mu.Unlock()
}

// SetDelay makes every AuthAPI request wait d before it is answered (or
// until the client gives up). Zero turns it off.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// InjectBody makes later successful registration answers use the broken
// body kind; BodyNormal turns it off. An agent or task is still registered
// (and counted) when its answer is broken.
func (s *Server) InjectBody(kind BodyFault) {
	s.mu.Lock()
	s.fault = kind
	s.mu.Unlock()
}

// AgentsRegistered returns the number of agents registered so far (through
// the AuthAPI or MintAgentJWT).
func (s *Server) AgentsRegistered() int { return int(s.agentsRegistered.Load()) }

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

// TasksRegistered returns the number of tasks registered so far.
func (s *Server) TasksRegistered() int { return int(s.tasksRegistered.Load()) }

// AuthAPIRequests returns the number of requests the AuthAPI received,
// failed ones included: the number of attempts a client made.
func (s *Server) AuthAPIRequests() int { return int(s.authAPIRequests.Load()) }

// RequestsVerified returns the number of first-party requests whose
// AgentAssertion was accepted.
func (s *Server) RequestsVerified() int { return int(s.verified.Load()) }

// RequestsRejected returns the number of first-party requests refused with
// 401.
func (s *Server) RequestsRejected() int { return int(s.rejected.Load()) }

// BearerRequestsAccepted returns the number of first-party requests
// accepted with a Bearer access token this server minted (workspace
// discovery, models, settings, plugins).
func (s *Server) BearerRequestsAccepted() int { return int(s.bearerAccepted.Load()) }

// Refreshes returns the number of token refreshes that rotated a login.
func (s *Server) Refreshes() int { return int(s.refreshes.Load()) }

// RefreshesRefused returns the number of token refreshes refused (unknown
// or reused refresh tokens, malformed requests).
func (s *Server) RefreshesRefused() int { return int(s.refreshesRefused.Load()) }

// WebSocketsAccepted returns the number of WebSocket handshakes accepted
// (only with Options.AcceptWebSocket).
func (s *Server) WebSocketsAccepted() int { return int(s.wsAccepted.Load()) }

// JWKSFetches returns the number of JWKS requests served.
func (s *Server) JWKSFetches() int { return int(s.jwksFetches.Load()) }

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

// preamble runs the fault injection common to AuthAPI requests. It reports
// false if it answered the request.
func (s *Server) preamble(w http.ResponseWriter, r *http.Request) ([]byte, BodyFault, bool) {
	s.authAPIRequests.Add(1)
	body, err := limitio.ReadAll(r.Body, maxRequestBody)
	s.record(r, body)
	s.mu.Lock()
	delay, redirect, fault := s.delay, s.redirectTo, s.fault
	fail := s.failLeft > 0
	status, retryAfter := s.failStatus, s.retryAfter
	if fail {
		s.failLeft--
	}
	s.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return nil, 0, false
		}
	}
	switch {
	case fail:
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		writeError(w, status, "injected failure")
		return nil, 0, false
	case redirect != "":
		http.Redirect(w, r, redirect, http.StatusTemporaryRedirect)
		return nil, 0, false
	case err != nil:
		writeError(w, http.StatusRequestEntityTooLarge, "body too large")
		return nil, 0, false
	case r.Header.Get("Content-Type") != "application/json":
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return nil, 0, false
	}
	return body, fault, true
}

func (s *Server) handleAgentRegister(w http.ResponseWriter, r *http.Request) {
	body, fault, ok := s.preamble(w, r)
	if !ok {
		return
	}
	tok, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	login, known := s.logins[tok]
	s.mu.Unlock()
	if !found || !known {
		writeError(w, http.StatusUnauthorized, "a Bearer access token minted by this server is required")
		return
	}
	setVerdict(r, "verified")
	if fr := r.Header.Get("X-OpenAI-Fedramp"); (fr == "true") != login.FedRAMP || (fr != "" && fr != "true") {
		writeError(w, http.StatusForbidden, "X-OpenAI-Fedramp must be \"true\" exactly for FedRAMP accounts")
		return
	}
	pub, err := checkAgentRegistrationBody(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	a := s.addAgent(pub, login.AccountID, login.UserID, login.PlanType, login.FedRAMP)
	if fault != BodyNormal {
		writeFault(w, fault, "agent_runtime_id")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"agent_runtime_id": a.runtimeID})
}

// checkAgentRegistrationBody checks the exact shape of docs/protocol.md#agent-registration.
func checkAgentRegistrationBody(body []byte) (ed25519.PublicKey, error) {
	if err := strictjson.CheckObject(body); err != nil {
		return nil, errors.New("the body is not one strict JSON object")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, errors.New("the body is not a JSON object")
	}
	if len(top) != 4 {
		return nil, errors.New("want exactly abom, agent_public_key, capabilities and ttl")
	}
	var abom map[string]json.RawMessage
	if err := json.Unmarshal(top["abom"], &abom); err != nil || abom == nil || len(abom) != 3 {
		return nil, errors.New("abom must be an object of exactly agent_version, agent_harness_id and running_location")
	}
	for _, name := range []string{"agent_version", "agent_harness_id", "running_location"} {
		if raw := abom[name]; len(raw) == 0 || raw[0] != '"' {
			return nil, fmt.Errorf("abom.%s must be a string", name)
		}
	}
	var caps []string
	if err := json.Unmarshal(top["capabilities"], &caps); err != nil || len(caps) != 1 || caps[0] != "responsesapi" {
		return nil, errors.New(`capabilities must be ["responsesapi"]`)
	}
	if string(top["ttl"]) != "null" {
		return nil, errors.New("ttl must be null")
	}
	var line string
	if raw := top["agent_public_key"]; len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &line) != nil {
		return nil, errors.New("agent_public_key must be a string")
	}
	pub, err := identity.ParsePublicKeySSH(line)
	if err != nil || strings.Count(line, " ") != 1 {
		return nil, errors.New("agent_public_key is not an ssh-ed25519 public key line without a comment")
	}
	return pub, nil
}

func (s *Server) addAgent(pub ed25519.PublicKey, accountID, userID, planType string, fedRAMP bool) *agent {
	s.mu.Lock()
	s.nextAgent++
	a := &agent{
		runtimeID: "agent-" + strconv.Itoa(s.nextAgent),
		pub:       pub,
		accountID: accountID,
		userID:    userID,
		planType:  planType,
		fedRAMP:   fedRAMP,
		tasks:     make(map[string]struct{}),
	}
	s.agents[a.runtimeID] = a
	s.mu.Unlock()
	s.agentsRegistered.Add(1)
	return a
}

func (s *Server) handleTaskRegister(w http.ResponseWriter, r *http.Request) {
	body, fault, ok := s.preamble(w, r)
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
	mode := s.taskMode
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
	s.tasksRegistered.Add(1)

	switch fault {
	case BodyNormal:
	case BodyBadCiphertext:
		writeJSON(w, http.StatusOK, map[string]string{"encrypted_task_id": base64.StdEncoding.EncodeToString(make([]byte, 64))})
		return
	default:
		writeFault(w, fault, "task_id")
		return
	}
	answer := map[string]string{}
	seal := func() (string, bool) {
		sealed, err := gateway.SealTaskID(a.pub, taskID)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "cannot seal the task id")
			return "", false
		}
		return sealed, true
	}
	switch mode {
	case TaskIDCamel:
		answer["taskId"] = taskID
	case TaskIDEncrypted, TaskIDEncryptedCamel, TaskIDBoth:
		sealed, ok := seal()
		if !ok {
			return
		}
		switch mode {
		case TaskIDEncryptedCamel:
			answer["encryptedTaskId"] = sealed
		case TaskIDBoth:
			answer["task_id"] = taskID
			answer["encrypted_task_id"] = sealed
		default:
			answer["encrypted_task_id"] = sealed
		}
	default:
		answer["task_id"] = taskID
	}
	writeJSON(w, http.StatusOK, answer)
}

func (s *Server) handleJWKS(w http.ResponseWriter, _ *http.Request) {
	s.jwksFetches.Add(1)
	if err := s.loadKey(); err != nil {
		writeError(w, http.StatusInternalServerError, "no signing key")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=3600")
	_, _ = w.Write(s.jwks)
}

// writeFault writes the broken body kind, with idMember as the id member.
func writeFault(w http.ResponseWriter, kind BodyFault, idMember string) {
	w.Header().Set("Content-Type", "application/json")
	switch kind {
	case BodyMalformedJSON:
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"`+idMember+`": "x"`)
	case BodyHuge, BodyHugeError:
		status := http.StatusOK
		if kind == BodyHugeError {
			status = http.StatusInternalServerError
		}
		w.WriteHeader(status)
		head := `{"` + idMember + `":"x","padding":"`
		_, _ = io.WriteString(w, head)
		pad := strings.Repeat("a", 64<<10)
		for n := len(head) + 2; n < HugeBodySize; n += len(pad) {
			if _, err := io.WriteString(w, pad); err != nil {
				return
			}
		}
		_, _ = io.WriteString(w, `"}`)
	case BodyEmptyID:
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"`+idMember+`":""}`)
	case BodyNullID:
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"`+idMember+`":null}`)
	case BodyNumberID:
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"`+idMember+`":42}`)
	case BodyMissingID:
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{}`)
	case BodyDuplicateMember:
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"`+idMember+`":"a","`+idMember+`":"b"}`)
	default:
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"`+idMember+`":"x"}`)
	}
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
