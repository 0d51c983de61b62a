package gateway

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/agentidentity/agentidentity/internal/netrule"
	"github.com/agentidentity/agentidentity/internal/wire"
)

// Identity is who a verified request comes from.
type Identity struct {
	// AgentRuntimeID is the agent that signed.
	AgentRuntimeID string
	// TaskID is the backend-owned task the request runs under.
	TaskID string
	// AccountID is the account of the registered Agent (Agent.AccountID),
	// never the unsigned ChatGPT-Account-ID header; "" when the agent has
	// none.
	AccountID string
	// Timestamp is the signing time, UTC, whole seconds.
	Timestamp time.Time
}

type contextKey struct{}

// FromContext returns the Identity that Verifier.Middleware put into the
// context of a verified request. ok is false for requests that did not go
// through the middleware's verification (pass-through routes among them).
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(contextKey{}).(Identity)
	return id, ok
}

// RouteMode says what Middleware does with the requests of a route other
// than inference (which is always verified).
type RouteMode int

const (
	// RouteVerify verifies the request as an inference request: it must
	// carry a valid AgentAssertion. It is the zero value.
	RouteVerify RouteMode = iota
	// RoutePassThrough calls next without looking at the request: its
	// Authorization (a Bearer token, or nothing) is left untouched and the
	// context holds no Identity.
	RoutePassThrough
	// RouteRefuse answers 403 without calling next.
	RouteRefuse
)

// Routes configures which requests Middleware verifies. The zero value
// verifies every request.
//
// Paths are matched exactly under BasePath, except that the inference
// routes, /codex/responses (POST, and the GET of its WebSocket upgrade) and
// /codex/responses/compact, are matched under ASCII case folding, BasePath
// included (/Backend-Api/CODEX/Responses is one too: many servers route
// without regard to case). They are always verified, whatever the modes say,
// and so is every path that is not in canonical form (an empty, "." or ".."
// segment, a trailing "/", ';', '\\', '%', a non-ASCII character, or an
// escaped spelling), which the server behind might read as an inference
// route.
type Routes struct {
	// BasePath is the path of the ChatGPT backend base URL the server
	// answers as, for example "/backend-api" ("" for the root).
	BasePath string
	// Other applies to first-party paths that are neither inference nor
	// no-credential routes, and to paths outside BasePath.
	Other RouteMode
	// NoCredential applies to the JWKS fetch (/wham/agent-identities/jwks)
	// and /ps/mcp, which carry no credential.
	NoCredential RouteMode
}

// The reasons of Outcome: short stable labels for logs and metrics.
const (
	reasonVerified        = "verified"
	reasonPassThrough     = "pass_through"
	reasonRouteRefused    = "route_refused"
	reasonNoAssertion     = "no_assertion"
	reasonMalformed       = "malformed"
	reasonUnknownAgent    = "unknown_agent"
	reasonBadSignature    = "bad_signature"
	reasonStale           = "stale"
	reasonAccountMismatch = "account_mismatch"
	reasonFedRAMPMismatch = "fedramp_mismatch"
	reasonTaskRefused     = "task_refused"
	reasonUnavailable     = "keys_unavailable"
	reasonMisconfigured   = "misconfigured"
	reasonError           = "error"
)

// reasonOf maps an error of Verify to its reason (reasonVerified for nil).
func reasonOf(err error) string {
	switch {
	case err == nil:
		return reasonVerified
	case errors.Is(err, ErrTaskRefused):
		return reasonTaskRefused
	case errors.Is(err, ErrKeysUnavailable):
		return reasonUnavailable
	case errors.Is(err, ErrNoAssertion):
		return reasonNoAssertion
	case errors.Is(err, ErrAccountMismatch):
		return reasonAccountMismatch
	case errors.Is(err, ErrFedRAMPMismatch):
		return reasonFedRAMPMismatch
	case errors.Is(err, ErrUnknownAgent):
		return reasonUnknownAgent
	case errors.Is(err, ErrBadSignature):
		return reasonBadSignature
	case errors.Is(err, ErrStaleAssertion):
		return reasonStale
	case errors.Is(err, ErrMalformedAssertion):
		return reasonMalformed
	case errors.Is(err, ErrImplausibleClock), errors.Is(err, ErrInvalidSkew), errors.Is(err, wire.ErrInvalidKey), errors.Is(err, errMisconfigured):
		return reasonMisconfigured
	}
	return reasonError
}

// Outcome is what Middleware did with one request, for Verifier.OnOutcome.
type Outcome struct {
	// Reason is a short stable label of the outcome for logs and metrics:
	// "verified", "pass_through" or "route_refused" when Verify did not
	// refuse, else the refusal's: "no_assertion", "malformed",
	// "unknown_agent", "bad_signature", "stale", "account_mismatch",
	// "fedramp_mismatch", "task_refused", "keys_unavailable",
	// "misconfigured" or "error". Code that decides something branches on
	// Err with errors.Is instead.
	Reason string
	// Status is the status Middleware answered, or 0 when it called next.
	Status int
	// Route is the request's route class: "inference" (also every path not
	// in canonical form), "no-credential" (the JWKS fetch and /ps/mcp),
	// "other" (any other path under Routes.BasePath) or "outside".
	Route string
	// RuntimeID is the runtime id the header named, "" when it could not
	// be read. It is verified only when Reason is "verified".
	RuntimeID string
	// Cached reports that the header's signature was verified earlier.
	Cached bool
	// Duration is the time Middleware spent verifying the request (Keys
	// and Task included); 0 when it verified nothing.
	Duration time.Duration
	// Err is Verify's error, which wraps the sentinel of the reason
	// (ErrNoAssertion, ErrUnknownAgent, ErrKeysUnavailable, ...); nil when
	// next was called or Routes refused the route.
	Err error
}

var errMisconfigured = errors.New("gateway: Verifier is misconfigured")

// Verifier checks AgentAssertion requests against the agents that Keys
// knows. Set its fields before the first call; a Verifier must not be
// changed or copied after that. It is safe for concurrent use.
//
// A Verifier remembers headers whose signature verified, by their full
// bytes, until their timestamp leaves the window (a client reuses one header
// within its second; Ed25519 is deterministic). A remembered header costs a
// map lookup instead of a signature check, but everything else is checked
// again on every request: Keys is asked for the agent and its key compared,
// the window, account and FedRAMP header are checked and Task is called. The
// cache is bounded by CacheEntries and CacheBytes and evicts the oldest
// entries first.
type Verifier struct {
	// Keys finds the agent of a runtime id (required).
	Keys Keys
	// MaxSkew is how far a signed timestamp may be from Now, either way
	// (0: 5 minutes; at most 24 hours, a longer or negative one refuses
	// every request with ErrInvalidSkew). Keep it short: an assertion is
	// replayable within it.
	MaxSkew time.Duration
	// Now is the verifier's clock (nil: time.Now). A reading outside
	// [2000-01-01, 9000-01-01) UTC verifies nothing (ErrImplausibleClock).
	Now func() time.Time
	// Task, if set, is called after the signature verified (and on every
	// cache hit) to refuse unknown or ended tasks; an error refuses the
	// request with ErrTaskRefused.
	Task func(ctx context.Context, runtimeID, taskID string) error

	// JSONArrayPayload verifies signatures over the JSON array payload
	// (the opt-in collision-free form that identity.Signer makes with
	// identity.PayloadJSONArray) instead of the colon payload, the only one
	// the Codex CLI signs and the ChatGPT backend verifies. A header signed
	// in one form never verifies in the other.
	JSONArrayPayload bool
	// Routes says which requests Middleware verifies (zero: all).
	Routes Routes
	// Logger receives one line per refusal from Middleware, with the
	// reason and the runtime id the header named, never the header (nil:
	// slog.Default(); slog.New(slog.DiscardHandler) silences it).
	Logger *slog.Logger
	// OnOutcome, if set, is called by Middleware once per request, before
	// the response is written or next is called, for metrics. It must be
	// safe for concurrent use and quick.
	OnOutcome func(Outcome)
	// CacheEntries and CacheBytes bound the cache of verified headers
	// (0: 4096 entries; 0 or less: 8 MiB, counting header bytes plus 256
	// bytes per entry, so that the entries never exceed CacheBytes/256); a
	// negative CacheEntries turns the cache off. The cache's memory grows
	// with what it holds, not with the bounds. A CacheBytes above 1 GiB is
	// a configuration error: Verify fails and Middleware answers 500.
	CacheEntries int
	CacheBytes   int64

	once    sync.Once
	initErr error
	skew    time.Duration
	format  wire.PayloadFormat
	cache   *verifyCache
	logger  *slog.Logger
	dummy   ed25519.PublicKey
}

func (v *Verifier) init() error {
	v.once.Do(func() {
		v.skew = v.MaxSkew
		if v.skew == 0 {
			v.skew = wire.DefaultMaxSkew
		}
		if err := wire.CheckSkew(v.skew); err != nil {
			v.initErr = fmt.Errorf("gateway: Verifier.MaxSkew: %w", err)
			return
		}
		if v.Keys == nil {
			v.initErr = fmt.Errorf("%w: Keys is nil", errMisconfigured)
			return
		}
		v.format = wire.PayloadColon
		if v.JSONArrayPayload {
			v.format = wire.PayloadJSONArray
		}
		if v.CacheEntries >= 0 {
			n, b := v.CacheEntries, v.CacheBytes
			if n == 0 {
				n = defaultCacheEntries
			}
			if b <= 0 {
				b = defaultCacheBytes
			}
			if b > maxCacheBytes {
				v.initErr = fmt.Errorf("%w: CacheBytes is %d, more than 1 GiB", errMisconfigured, b)
				return
			}
			v.cache = newVerifyCache(n, b, v.skew)
		}
		v.logger = v.Logger
		if v.logger == nil {
			v.logger = slog.Default()
		}
		// A key that no agent has: an unknown agent costs a signature check
		// too, so timing does not tell which runtime ids exist.
		v.dummy, _, _ = ed25519.GenerateKey(nil)
	})
	return v.initErr
}

// CacheStats returns the cache's accounting; the zero CacheStats when the
// cache is off or the Verifier unused.
func (v *Verifier) CacheStats() CacheStats {
	if v.init() != nil || v.cache == nil {
		return CacheStats{}
	}
	return v.cache.stats()
}

var (
	hdrAuthorization = http.CanonicalHeaderKey("Authorization")
	hdrAccountID     = http.CanonicalHeaderKey("ChatGPT-Account-ID")
	hdrFedRAMP       = http.CanonicalHeaderKey("X-OpenAI-Fedramp")
)

// Verify checks the request's one Authorization header (docs/protocol.md#assertion-verification, strictly
// as VerifyAuthorizationHeader does) with the key Keys has for the runtime
// id it names, then the agent's account (ChatGPT-Account-ID) and FedRAMP
// header, then Task. It returns the Identity, or the zero Identity and an
// error that errors.Is matches against:
//
//   - ErrNoAssertion: no Authorization header, or an empty one;
//   - ErrMalformedAssertion: more than one Authorization header, or one not
//     in canonical form;
//   - ErrUnknownAgent, ErrBadSignature, ErrStaleAssertion (too old or in
//     the future), ErrTaskRefused;
//   - ErrAccountMismatch, ErrFedRAMPMismatch;
//
// all of which wrap ErrInvalidAssertion as well, or, for failures of the
// server rather than the request, which do not: ErrKeysUnavailable,
// ErrImplausibleClock, ErrInvalidSkew, and errors for a Verifier that cannot
// verify (no Keys, or a registered key that is not a usable Ed25519 key).
// Verify neither logs nor calls OnOutcome; Middleware does. It is safe for
// concurrent use.
func (v *Verifier) Verify(r *http.Request) (Identity, error) {
	id, _, _, err := v.verify(r)
	return id, err
}

func (v *Verifier) verify(r *http.Request) (id Identity, runtimeID string, cached bool, err error) {
	if err := v.init(); err != nil {
		return Identity{}, "", false, err
	}
	header, err := oneAuthorization(r.Header)
	if err != nil {
		return Identity{}, "", false, err
	}
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	if err := wire.CheckClock(now); err != nil {
		return Identity{}, "", false, err
	}
	ctx := r.Context()
	if v.cache != nil {
		if e := v.cache.get(header); e != nil {
			agent, err := v.agent(ctx, e.runtimeID)
			if err != nil {
				v.cache.count(true)
				return Identity{}, e.runtimeID, true, err
			}
			if bytes.Equal(agent.PublicKey, e.pub[:]) {
				v.cache.count(true)
				if err := wire.CheckFresh(e.ts, now, v.skew); err != nil {
					return Identity{}, e.runtimeID, true, err
				}
				id, err := v.authorize(ctx, r, agent, e.taskID, e.ts)
				return id, e.runtimeID, true, err
			}
			// The agent's key changed: verify afresh (and fail).
		}
		v.cache.count(false)
	}
	h, err := wire.DecodeHeader(header)
	if err != nil {
		return Identity{}, "", false, err
	}
	agent, err := v.agent(ctx, h.RuntimeID)
	if err != nil {
		if errors.Is(err, ErrUnknownAgent) {
			_ = h.Verify(v.dummy, now, v.skew, v.format)
		}
		return Identity{}, h.RuntimeID, false, err
	}
	if err := h.Verify(agent.PublicKey, now, v.skew, v.format); err != nil {
		return Identity{}, h.RuntimeID, false, err
	}
	if v.cache != nil {
		e := &cacheEntry{header: header, runtimeID: h.RuntimeID, taskID: h.TaskID, ts: h.Timestamp}
		copy(e.pub[:], agent.PublicKey)
		v.cache.put(e, now)
	}
	id, err = v.authorize(ctx, r, agent, h.TaskID, h.Timestamp)
	return id, h.RuntimeID, false, err
}

// agent asks Keys, classifying its errors.
func (v *Verifier) agent(ctx context.Context, runtimeID string) (Agent, error) {
	a, err := v.Keys.Agent(ctx, runtimeID)
	switch {
	case errors.Is(err, ErrUnknownAgent):
		return Agent{}, fmt.Errorf("%w: %w", ErrInvalidAssertion, err)
	case err != nil:
		return Agent{}, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	case a.RuntimeID != "" && a.RuntimeID != runtimeID:
		return Agent{}, fmt.Errorf("%w: %w: Keys answered for another runtime id", ErrInvalidAssertion, ErrUnknownAgent)
	}
	if err := wire.CheckVerifyKey(a.PublicKey); err != nil {
		return Agent{}, fmt.Errorf("gateway: the key registered for the agent: %w", err)
	}
	a.RuntimeID = runtimeID
	return a, nil
}

// authorize checks what the signature does not cover: the account, the
// FedRAMP header and the task.
func (v *Verifier) authorize(ctx context.Context, r *http.Request, a Agent, taskID string, ts time.Time) (Identity, error) {
	if a.AccountID != "" {
		vals := r.Header[hdrAccountID]
		if len(vals) != 1 || vals[0] != a.AccountID {
			return Identity{}, fmt.Errorf("%w: %w", ErrInvalidAssertion, ErrAccountMismatch)
		}
	}
	fed := r.Header[hdrFedRAMP]
	if a.FedRAMP && (len(fed) != 1 || fed[0] != "true") || !a.FedRAMP && len(fed) != 0 {
		return Identity{}, fmt.Errorf("%w: %w", ErrInvalidAssertion, ErrFedRAMPMismatch)
	}
	if v.Task != nil {
		if err := v.Task(ctx, a.RuntimeID, taskID); err != nil {
			return Identity{}, fmt.Errorf("%w: %w: %w", ErrInvalidAssertion, ErrTaskRefused, err)
		}
	}
	return Identity{AgentRuntimeID: a.RuntimeID, TaskID: taskID, AccountID: a.AccountID, Timestamp: ts}, nil
}

// oneAuthorization returns the value of the one Authorization header,
// looking at every spelling of the name a hand-built Header may hold.
func oneAuthorization(h http.Header) (string, error) {
	vals := h[hdrAuthorization]
	n := len(vals)
	for k, vs := range h {
		if len(k) == len(hdrAuthorization) && k != hdrAuthorization && netrule.ASCIIEqualFold(k, hdrAuthorization) {
			n += len(vs)
			if len(vals) == 0 && len(vs) > 0 {
				vals = vs
			}
		}
	}
	switch {
	case n == 0 || n == 1 && vals[0] == "":
		return "", fmt.Errorf("%w: %w", ErrInvalidAssertion, ErrNoAssertion)
	case n > 1:
		return "", fmt.Errorf("%w: %w: more than one Authorization header", ErrInvalidAssertion, ErrMalformedAssertion)
	case len(vals[0]) > MaxAuthorizationHeaderLen:
		// Before the cache lookup, which would hash all of it.
		return "", fmt.Errorf("%w: %w: the header is longer than %d bytes", ErrInvalidAssertion, ErrMalformedAssertion, MaxAuthorizationHeaderLen)
	}
	return vals[0], nil
}
