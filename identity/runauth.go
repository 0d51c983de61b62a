package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/internal/netrule"
)

// Task registration back-off after a failed attempt: 1 s, doubling up to
// maxTaskBackoff. A failure is never cached for longer than that.
const (
	minTaskBackoff = time.Second
	maxTaskBackoff = 5 * time.Minute
	// taskSaveTimeout bounds saving a new run task to auth.json.
	taskSaveTimeout = 10 * time.Second
)

// RunAuth is run-scoped Agent Identity auth: an agent key, the backend-owned
// task of the run (registered once, on first use), and the per-session tasks
// of [RunAuth.ForSession]. It makes the AgentAssertion headers that
// [RunAuth.Transport] puts on first-party requests.
//
// A *RunAuth is safe for concurrent use. Copies of the handle (of the pointer
// or of the value) share one run: one task registration serves every caller.
// Task ids live only in memory (and, for an identity provisioned through
// ChatGPT auth, in auth.json unless [LoadOptions].TaskInMemoryOnly is set);
// nothing about tasks is written into session state.
type RunAuth struct {
	run  *runState
	slot *taskSlot
}

// RunAuthOptions configures [NewRunAuth]. The zero value sends no account
// header, registers the run's task on first use and keeps it in memory only,
// has no bearer fallback, signs every first-party request (as for an Agent
// Identity JWT) and gives credentials to the origin of the Client's
// environment. Settings that are invalid, or invalid together, make
// NewRunAuth fail.
type RunAuthOptions struct {
	// Account is the ChatGPT account the identity belongs to, as
	// [RunAuth.Account] reports it. Its AccountID is sent as
	// ChatGPT-Account-ID on every first-party request that gets a
	// credential ("" sends none; a control character is refused), and
	// FedRAMP adds X-OpenAI-Fedramp: true to those requests. The other
	// fields are not sent.
	codexhome.Account

	// FirstPartyOrigin is a base URL whose origin (scheme://host[:port]) is
	// the only one that gets credentials, normally the environment's
	// ChatGPT backend base URL; its path is the base of the route table.
	// "" means the Client's environment's (see [Client.Environment]).
	// Requests to any other origin pass through [RunAuth.Transport]
	// untouched.
	//
	// Credentials travel only over https: an http origin is refused (the
	// error wraps agentidentity.ErrInvalidBaseURL) unless its host is
	// loopback, and so is a host that is not plain ASCII, user info, a query
	// or a fragment. A request gets credentials only when the ASCII host
	// net/http dials equals the origin's under ASCII-only case folding (no
	// Unicode folding, no IDNA mapping).
	FirstPartyOrigin string

	// TaskID starts the run with a task the backend registered earlier (for
	// example the task_id stored in auth.json), so no registration happens;
	// it must pass [ValidateTaskID]. "" registers one on first use.
	TaskID string
	// SaveTask, if set, is called once with each run task the backend
	// registers, to persist it; an error is logged and the task still used.
	// Session tasks are never saved.
	SaveTask func(ctx context.Context, taskID string) error

	// ChatGPTBearer puts the run in ChatGPT opt-in mode (an identity
	// provisioned through a ChatGPT login, as [Load] makes with
	// [PolicyChatGPTAuth]): only inference routes are signed with
	// AgentAssertion; every other first-party route gets "Authorization:
	// Bearer <token>" with the current ChatGPT access token, which
	// ChatGPTBearer returns (asked at most every 30 seconds, so a refreshed
	// login is picked up). It also turns on workspace routing discovery
	// ([RunAuth.InferenceBaseURL]).
	ChatGPTBearer func(ctx context.Context) (codexhome.Secret, error)
	// BearerFallback, if set, returns the ChatGPT access token that a
	// session uses, as "Authorization: Bearer …", for the rest of its life
	// once its task registration fails with [ErrBootstrapUnavailable]
	// (asked at most every 30 seconds while a session uses it). A token
	// that is empty or holds whitespace or a control character is never
	// sent: the request fails. Nil: the registration error is returned.
	BearerFallback func(ctx context.Context) (codexhome.Secret, error)

	// SignAllRoutes signs every first-party route but the no-credential
	// ones (JWKS, /ps/mcp) with AgentAssertion, also in ChatGPT opt-in mode
	// (the behaviour before Codex 0.171). Routing discovery still uses the
	// Bearer token.
	SignAllRoutes bool
	// NoCredentialOffInference sends non-inference first-party requests
	// untouched: no Authorization, no ChatGPT-Account-ID. Inference is still
	// signed, and routing discovery (ChatGPT opt-in mode) still uses the
	// Bearer token. It cannot be combined with SignAllRoutes.
	NoCredentialOffInference bool

	// Expiry is when the credential behind the run (an Agent Identity JWT)
	// stops being valid: from then on, every request through the run and its
	// sessions fails with an error wrapping [ErrJWTExpired], which tells the
	// caller to load a fresh token. Load sets it from the JWT's exp. The zero
	// time means no expiry.
	Expiry time.Time

	// Logger receives the few events worth a line (a bearer fallback, a task
	// that could not be saved); nil discards them.
	Logger *slog.Logger
}

// runInternals are the settings only Load (and the tests) make.
type runInternals struct {
	// renewTask, if set, replaces a refused run task (runState.renewTask).
	renewTask func(ctx context.Context, stale func(string) bool, register func(context.Context) (string, error)) (string, error)
	// recoverBearer lets the Transport replace a ChatGPT access token that a
	// Bearer route refused with 401, once, retrying the request when its
	// body can be replayed (Load sets it to its refresh of the login). The
	// bearer fallback then shares the ChatGPT token's cache, so a replaced
	// token is never sent again by a session on the fallback.
	recoverBearer func(ctx context.Context, rejected string) (string, error)
	// inferenceOrigin is the origin openai_base_url moved inference to.
	inferenceOrigin string
	// now replaces time.Now.
	now func() time.Time
	// bearerSource, if not "", makes a run with no agent (bearer.go): it
	// names the credential ("personal access token", "workload
	// identity"), the Signer is nil, and every first-party request that
	// gets a credential gets ChatGPTBearer's token.
	bearerSource string
}

func checkBearerToken(t string) error {
	if t == "" || strings.ContainsFunc(t, func(c rune) bool { return c <= ' ' || c == 0x7f }) {
		return errors.New("identity: the bearer token is empty or holds whitespace or a control character")
	}
	return nil
}

// bearerRefresh is how long a Bearer token from RunAuthOptions.ChatGPTBearer
// or BearerFallback is reused before it is asked for again.
const bearerRefresh = 30 * time.Second

type runState struct {
	signer      *Signer
	client      *Client
	origin      string // lower-case scheme://host[:port], default port elided
	account     codexhome.Account
	bearer      *tokenSource // nil: no bearer fallback
	initialTask string
	saveTask    func(context.Context, string) error
	logger      *slog.Logger
	now         func() time.Time
	expires     time.Time // zero: the credential does not expire
	// bearerSource names the credential of a run with no agent (signer
	// nil; bearer.go), "" for an agent's run.
	bearerSource string

	// Route policy (see header.go). chatgpt is set in ChatGPT opt-in mode:
	// the source of the Bearer token for non-inference first-party routes.
	chatgpt   *tokenSource
	offPolicy offInferencePolicy
	basePath  string // path of the ChatGPT backend base, no trailing "/"
	// inferenceOrigin is a second origin of the run's environment that
	// openai_base_url moved inference to ("" for none): inference only,
	// AgentAssertion only (Load, openai.go).
	inferenceOrigin string
	route           routingState

	// Precomputed header values, shared read-only.
	accountHeader []string
	fedRAMPHeader []string

	// renewTask, if set, replaces the run task after the backend refused it
	// (see heal.go): Load's version re-reads auth.json under the module's
	// lock, adopts a task another process saved meanwhile unless stale says
	// it was refused already, and otherwise calls register and saves the
	// result. Nil: register, then saveTask.
	renewTask func(ctx context.Context, stale func(string) bool, register func(context.Context) (string, error)) (string, error)

	runSlot  *taskSlot
	mu       sync.Mutex
	sessions map[string]*taskSlot
}

// taskSlot holds one task: the run's or a session's.
type taskSlot struct {
	session string // "" for the run itself
	isRun   bool

	mu       sync.Mutex
	taskID   string
	flight   *taskFlight
	failures int
	failedAt time.Time
	retryAt  time.Time
	lastErr  error
	ended    bool

	// Self-healing (heal.go), guarded by mu: the task ids replaced after a
	// 401 (never replaced or adopted again), and the back-off after a
	// replacement whose retry was refused too.
	replaced     map[string]struct{}
	healFailures int
	healRetryAt  time.Time
	healBlocked  string

	// gen counts task replacements; a cached header of an older
	// generation is never reused.
	gen atomic.Uint64

	// gone mirrors ended for the lock-free fast path of authorization.
	gone atomic.Bool
	// bearer is set once the slot fell back to bearer auth, for life.
	bearer atomic.Bool
	// header caches the last AgentAssertion made for this slot's task, for
	// reuse within the same second (Ed25519 is deterministic, so the bytes
	// are identical to a fresh signature).
	header atomic.Pointer[cachedHeader]
}

type cachedHeader struct {
	second int64
	gen    uint64
	task   string
	value  []string
}

type taskFlight struct {
	done    chan struct{}
	cancel  context.CancelFunc
	waiters int
	taskID  string
	err     error
	// replaces is the refused task this flight replaces ("" for a first
	// registration).
	replaces string
}

// NewRunAuth returns run-scoped auth for the agent behind s, registering
// tasks through c, configured by o (see [RunAuthOptions]; its zero value is
// a run of an Agent Identity JWT with no account header).
func NewRunAuth(s *Signer, c *Client, o RunAuthOptions) (*RunAuth, error) {
	return newRunAuth(s, c, o, runInternals{})
}

func newRunAuth(s *Signer, c *Client, o RunAuthOptions, in runInternals) (*RunAuth, error) {
	if s == nil && in.bearerSource == "" {
		return nil, errors.New("identity: NewRunAuth needs a Signer")
	}
	if c == nil {
		return nil, errors.New("identity: NewRunAuth needs a Client")
	}
	r := &runState{
		signer:          s,
		client:          c,
		origin:          c.firstPartyOrigin(),
		basePath:        basePathOf(c.Environment.ChatGPTBaseURL),
		account:         o.Account,
		initialTask:     o.TaskID,
		saveTask:        o.SaveTask,
		logger:          o.Logger,
		now:             in.now,
		expires:         o.Expiry,
		inferenceOrigin: in.inferenceOrigin,
		renewTask:       in.renewTask,
		bearerSource:    in.bearerSource,
		sessions:        make(map[string]*taskSlot),
	}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if strings.ContainsAny(o.AccountID, "\r\n\x00") {
		return nil, errors.New("identity: RunAuthOptions.AccountID holds a control character")
	}
	if o.FirstPartyOrigin != "" {
		origin, err := parseOrigin(o.FirstPartyOrigin)
		if err != nil {
			return nil, err
		}
		r.origin, r.basePath = origin, basePathOf(o.FirstPartyOrigin)
	}
	if o.TaskID != "" {
		if err := ValidateTaskID(o.TaskID); err != nil {
			return nil, fmt.Errorf("identity: RunAuthOptions.TaskID: %w", err)
		}
	}
	switch {
	case o.SignAllRoutes && o.NoCredentialOffInference:
		return nil, errors.New("identity: RunAuthOptions.SignAllRoutes and NoCredentialOffInference exclude each other")
	case o.SignAllRoutes:
		r.offPolicy = offSignAll
	case o.NoCredentialOffInference:
		r.offPolicy = offNoCreds
	}
	if o.ChatGPTBearer != nil {
		r.chatgpt = &tokenSource{what: "ChatGPT access token", get: o.ChatGPTBearer, recover: in.recoverBearer}
	}
	if r.bearerSource != "" {
		if r.chatgpt == nil {
			return nil, errors.New("identity: a run without an agent needs a Bearer token")
		}
		// The source keeps its own token fresh (an exchanged token may
		// live less than bearerRefresh).
		r.chatgpt.what, r.chatgpt.uncached = r.bearerSource, true
	}
	switch {
	case o.BearerFallback == nil:
	case r.chatgpt != nil && in.recoverBearer != nil:
		// One cache for both (see runInternals.recoverBearer).
		r.bearer = r.chatgpt
	default:
		r.bearer = &tokenSource{what: "bearer fallback", get: o.BearerFallback}
	}
	if r.account.AccountID != "" {
		r.accountHeader = []string{r.account.AccountID}
	}
	if r.account.FedRAMP {
		r.fedRAMPHeader = []string{"true"}
	}
	r.runSlot = &taskSlot{isRun: true, taskID: r.initialTask}
	return &RunAuth{run: r, slot: r.runSlot}, nil
}

// AgentRuntimeID returns the agent runtime id the backend registered, or
// "" for a run with no agent (a personal access token or a workload
// identity from [Load]).
func (a *RunAuth) AgentRuntimeID() string {
	if !a.usable() || a.run.signer == nil {
		return ""
	}
	return a.run.signer.AgentRuntimeID()
}

// Account returns the ChatGPT account of the run: its AccountID is sent as
// ChatGPT-Account-ID (none when it is ""), and FedRAMP says whether requests
// carry X-OpenAI-Fedramp: true. A run of [Load] has the whole account its
// credential names (the JWT's claims, the login, the personal access token's
// lookup, the workload identity's exchange: fields a source does not give
// are ""); one of [NewRunAuth] has [RunAuthOptions.Account].
func (a *RunAuth) Account() codexhome.Account {
	if !a.usable() {
		return codexhome.Account{}
	}
	return a.run.account
}

// Client returns an *http.Client whose Transport is a.Transport(nil), the
// way x/oauth2's Config.Client does: requests to the first-party origin are
// signed, every other request is sent untouched. It has no overall time-out;
// bound each request with its context.
func (a *RunAuth) Client() *http.Client { return &http.Client{Transport: a.Transport(nil)} }

// String describes the handle without secrets.
func (a *RunAuth) String() string {
	if !a.usable() {
		return "identity.RunAuth(unusable)"
	}
	if a.run.signer == nil {
		return fmt.Sprintf("identity.RunAuth{%s}", a.run.bearerSource)
	}
	if a.slot.session != "" {
		return fmt.Sprintf("identity.RunAuth{agent=%s session=%q}", a.run.signer.AgentRuntimeID(), a.slot.session)
	}
	return fmt.Sprintf("identity.RunAuth{agent=%s}", a.run.signer.AgentRuntimeID())
}

// ForSession returns a handle bound to the session sessionID: it has a task of
// its own, registered on first use and kept in memory, and shares the agent
// key and everything else with a. The same id returns a handle to the same
// task until [RunAuth.EndSession]. An empty id returns the run's handle.
func (a *RunAuth) ForSession(sessionID string) *RunAuth {
	if !a.usable() {
		return &RunAuth{}
	}
	if sessionID == "" {
		return &RunAuth{run: a.run, slot: a.run.runSlot}
	}
	r := a.run
	r.mu.Lock()
	defer r.mu.Unlock()
	slot, ok := r.sessions[sessionID]
	if !ok {
		slot = &taskSlot{session: sessionID}
		r.sessions[sessionID] = slot
	}
	return &RunAuth{run: r, slot: slot}
}

// ForkSession starts the session childID as a fork of parentID: the child
// gets a fresh task of its own, never the parent's, and the parent is left
// unchanged. If childID was in use, its old task is forgotten.
func (a *RunAuth) ForkSession(parentID, childID string) (*RunAuth, error) {
	if !a.usable() {
		return nil, errUnusable
	}
	if childID == "" {
		return nil, errors.New("identity: a forked session needs a non-empty id")
	}
	if childID == parentID {
		return nil, errors.New("identity: a forked session needs an id of its own")
	}
	r := a.run
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.sessions[childID]; ok {
		old.end()
	}
	slot := &taskSlot{session: childID}
	r.sessions[childID] = slot
	return &RunAuth{run: r, slot: slot}, nil
}

// EndSession forgets the session's task. Handles still held for it stop
// working (their requests fail with an error saying the session ended).
func (a *RunAuth) EndSession(sessionID string) {
	if !a.usable() {
		return
	}
	r := a.run
	r.mu.Lock()
	slot, ok := r.sessions[sessionID]
	delete(r.sessions, sessionID)
	r.mu.Unlock()
	if ok {
		slot.end()
	}
}

// sessionCount returns the number of sessions currently remembered.
func (a *RunAuth) sessionCount() int {
	if !a.usable() {
		return 0
	}
	a.run.mu.Lock()
	defer a.run.mu.Unlock()
	return len(a.run.sessions)
}

func (s *taskSlot) end() {
	s.gone.Store(true)
	s.mu.Lock()
	s.ended = true
	s.taskID = ""
	if s.flight != nil {
		s.flight.cancel()
	}
	s.mu.Unlock()
	s.header.Store(nil)
}

// usable reports whether a came from NewRunAuth or Load; a nil or zero
// RunAuth (from a failed Load, say) is not, and every method says so with
// an error or a zero value instead of panicking.
func (a *RunAuth) usable() bool { return a != nil && a.run != nil && a.slot != nil }

// errUnusable is returned by a nil or zero RunAuth.
var errUnusable = fmt.Errorf("%w: this RunAuth was not made by NewRunAuth or Load", ErrNoAgentIdentity)

// TaskID returns the backend-owned task of this handle's run or session,
// registering it on first use. However many goroutines ask at once, one
// registration is made; they all get its result. A caller whose ctx ends
// stops waiting at once, and the registration itself is canceled when no
// caller waits for it any more. A failed registration is remembered for a
// short back-off (1 s, doubling up to 5 min), after which a call tries again.
func (a *RunAuth) TaskID(ctx context.Context) (string, error) {
	if !a.usable() {
		return "", errUnusable
	}
	return a.run.task(ctx, a.slot)
}

func (r *runState) task(ctx context.Context, slot *taskSlot) (string, error) {
	if r.signer == nil {
		return "", r.errNoAgent()
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	slot.mu.Lock()
	if slot.ended {
		slot.mu.Unlock()
		return "", errSessionEnded
	}
	if slot.taskID != "" {
		id := slot.taskID
		slot.mu.Unlock()
		return id, nil
	}
	f := slot.flight
	if f == nil {
		if now := r.now(); slot.lastErr != nil && now.Before(slot.retryAt) {
			err := &BackoffError{What: endpointTask, Since: slot.failedAt, RetryAt: slot.retryAt, Err: slot.lastErr}
			slot.mu.Unlock()
			return "", err
		}
		f = r.startFlight(ctx, slot, "")
	}
	f.waiters++
	slot.mu.Unlock()

	select {
	case <-f.done:
		return f.taskID, f.err
	case <-ctx.Done():
		slot.mu.Lock()
		f.waiters--
		if f.waiters == 0 {
			// Nobody waits any more: stop the registration, and let the
			// next caller start a fresh one rather than join this one.
			f.cancel()
			if slot.flight == f {
				slot.flight = nil
			}
		}
		slot.mu.Unlock()
		return "", ctx.Err()
	}
}

// startFlight starts the registration of slot's task (replacing the refused
// task replaces, if not ""). slot.mu must be held.
func (r *runState) startFlight(ctx context.Context, slot *taskSlot, replaces string) *taskFlight {
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f := &taskFlight{done: make(chan struct{}), cancel: cancel, replaces: replaces}
	slot.flight = f
	go r.register(fctx, slot, f)
	return f
}

func (r *runState) register(ctx context.Context, slot *taskSlot, f *taskFlight) {
	defer close(f.done)
	defer f.cancel()
	registerTask := func(ctx context.Context) (string, error) { return r.client.RegisterTask(ctx, r.signer) }
	var (
		id      string
		err     error
		renewed bool // saved (or adopted) by renewTask itself
	)
	if f.replaces != "" && slot.isRun && r.renewTask != nil {
		id, err = r.renewTask(ctx, func(t string) bool { return slot.isStale(t) }, registerTask)
		renewed = true
	} else {
		id, err = registerTask(ctx)
	}

	slot.mu.Lock()
	current := slot.flight == f
	if current {
		slot.flight = nil
	}
	adopted := false
	switch {
	case slot.ended:
		id, err = "", errSessionEnded
	case err == nil && slot.taskID != "":
		// A newer registration won meanwhile; keep one task per slot.
		id = slot.taskID
	case err == nil:
		slot.taskID = id
		slot.failures = 0
		slot.lastErr = nil
		adopted = true
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		// Every caller gave up: not a failure of the backend.
	case current:
		slot.failures++
		slot.lastErr = err
		slot.failedAt = r.now()
		slot.retryAt = slot.failedAt.Add(doublingBackoff(slot.failures, minTaskBackoff, maxTaskBackoff))
	}
	slot.mu.Unlock()
	f.taskID, f.err = id, err

	if adopted && slot.isRun && r.saveTask != nil && !renewed {
		// The backend registered the task: save it even if every caller
		// has given up meanwhile, within a bound of its own.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), taskSaveTimeout)
		serr := r.saveTask(sctx, id)
		cancel()
		if serr != nil {
			r.logger.Warn("agent identity: the run task could not be saved; it is used in memory only",
				slog.String("agent_runtime_id", r.signer.AgentRuntimeID()),
				slog.String("error", serr.Error()))
		}
	}
}

// authorizationHeader returns the value of the Authorization header for a
// first-party request made now: a fresh AgentAssertion for this handle's
// task (registering it if needed), or, for a session that fell back to
// bearer auth, "Bearer <ChatGPT access token>". [RunAuth.Header] gives it
// with the other headers of a request.
func (a *RunAuth) authorizationHeader(ctx context.Context) (string, error) {
	if !a.usable() {
		return "", errUnusable
	}
	v, _, err := a.run.authorization(ctx, a.slot)
	if err != nil {
		return "", err
	}
	return v[0], nil
}

// authorization returns the header value as a one-element slice that can be
// put into an http.Header as is (shared: callers must not modify it), and the
// task it was signed for ("" for a bearer header).
func (r *runState) authorization(ctx context.Context, slot *taskSlot) ([]string, string, error) {
	if slot.gone.Load() {
		return nil, "", errSessionEnded
	}
	if r.signer == nil {
		return nil, "", r.errNoAgent()
	}
	if slot.bearer.Load() {
		v, err := r.bearer.header(ctx, r.now())
		return v, "", err
	}
	now := r.now()
	if !r.expires.IsZero() && !now.Before(r.expires) {
		return nil, "", fmt.Errorf("%w (it expired at %s)", ErrJWTExpired, r.expires.UTC().Format(time.RFC3339))
	}
	sec := now.Unix()
	gen := slot.gen.Load()
	if c := slot.header.Load(); c != nil && c.second == sec && c.gen == gen {
		return c.value, c.task, nil
	}
	task, err := r.task(ctx, slot)
	if err != nil {
		if r.bearer != nil && errors.Is(err, ErrBootstrapUnavailable) {
			if slot.bearer.CompareAndSwap(false, true) {
				r.logger.Warn("agent identity: bootstrap unavailable; this session uses ChatGPT bearer auth for the rest of its life",
					slog.String("agent_runtime_id", r.signer.AgentRuntimeID()),
					slog.String("session", slot.session),
					slog.String("error", err.Error()))
			}
			v, err := r.bearer.header(ctx, r.now())
			return v, "", err
		}
		return nil, "", err
	}
	h, err := r.signer.AuthorizationHeader(task, now)
	if err != nil {
		return nil, "", err
	}
	v := []string{h}
	slot.header.Store(&cachedHeader{second: sec, gen: gen, task: task, value: v})
	if slot.gone.Load() {
		// EndSession ran while we signed: never cache or send a header for
		// a forgotten task.
		slot.header.Store(nil)
		return nil, "", errSessionEnded
	}
	return v, task, nil
}

// parseOrigin checks a first-party origin with the module's one origin rule
// (netrule.CheckOrigin: https, http only on loopback, ASCII host, no user
// info, query or fragment) and returns its canonical form.
func parseOrigin(raw string) (string, error) {
	o, err := netrule.CheckOrigin(raw)
	if err != nil {
		return "", invalidURL("first-party origin: %w", err)
	}
	return o, nil
}

// isFirstParty reports whether u has the first-party origin. It does not
// allocate for the common spellings.
func (r *runState) isFirstParty(u *url.URL) bool { return netrule.SameOrigin(u, r.origin) }
