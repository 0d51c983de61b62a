package identity

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/internal/netrule"
	"github.com/agentidentity/agentidentity/internal/routes"
)

// Which first-party request gets which credential (docs/protocol.md#route-credentials).
// The route classes come from the module's one route table,
// internal/routes (shared with the gateway):
//
//	mode                         inference          other first-party             no-credential
//	ChatGPT opt-in (default)     AgentAssertion     Bearer <ChatGPT access token>  none
//	ChatGPT + SignAllRoutes      AgentAssertion     AgentAssertion                none
//	+ NoCredentialOffInference   AgentAssertion     none                          none
//	Agent Identity JWT / NewRunAuth without ChatGPTBearer:
//	                             AgentAssertion     AgentAssertion                none
//	routed workspace origin      AgentAssertion     none (never Bearer)           none
//
// (SignAllRoutes, NoCredentialOffInference and ChatGPTBearer are fields of
// RunAuthOptions.)
//
// Inference is POST and the WebSocket upgrade GET of {base}/codex/responses
// and compaction, {base}/codex/responses/compact (the Codex CLI's
// "responses/compact" under its provider base
// https://chatgpt.com/backend-api/codex; docs/protocol.md#route-credentials).
// A path on the first-party origin outside the base path counts as "other".
// Every request that gets AgentAssertion or Bearer also gets
// ChatGPT-Account-ID (when the run has an account) and, for FedRAMP
// accounts, X-OpenAI-Fedramp: true. Requests to any other origin are never
// touched.

// offInferencePolicy says what a non-inference first-party route gets.
type offInferencePolicy int

const (
	offDefault offInferencePolicy = iota // by mode: Bearer (ChatGPT) or AgentAssertion
	offSignAll                           // AgentAssertion
	offNoCreds                           // nothing
)

// basePathOf returns the path of a base URL without its trailing "/"
// ("" when it has none or does not parse).
func basePathOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.TrimRight(u.Path, "/")
}

// tokenSource caches a Bearer token from a function for bearerRefresh: the
// ChatGPT access token of Bearer routes (RunAuthOptions.ChatGPTBearer) and
// the bearer fallback (RunAuthOptions.BearerFallback).
type tokenSource struct {
	what string // names the token in errors
	get  func(context.Context) (codexhome.Secret, error)
	// recover, if set, replaces a token a Bearer route refused with 401
	// (Load's refresh of the ChatGPT login, reason unauthorized_recovery).
	recover func(ctx context.Context, rejected string) (string, error)
	// uncached asks get on every use (a source that caches by itself).
	uncached bool
	mu       sync.Mutex
	value    []string
	at       time.Time
}

// replace asks recover for a token in place of rejected and caches it.
// It returns the new header value, or ok false when there is no recovery,
// the token was already replaced, or the recovery failed (the error says
// why).
func (t *tokenSource) replace(ctx context.Context, rejected string, now time.Time) ([]string, error) {
	if t.recover == nil {
		return nil, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.value != nil && t.value[0] != "Bearer "+rejected {
		return t.value, nil // another request already recovered
	}
	tok, err := t.recover(ctx, rejected)
	if err != nil {
		return nil, fmt.Errorf("identity: ChatGPT access token refused with 401: %w", err)
	}
	if err := checkBearerToken(tok); err != nil {
		return nil, err
	}
	if tok == rejected {
		return nil, nil
	}
	t.value, t.at = []string{"Bearer " + tok}, now
	return t.value, nil
}

func (t *tokenSource) header(ctx context.Context, now time.Time) ([]string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.value != nil && !t.uncached && now.Sub(t.at) < bearerRefresh {
		return t.value, nil
	}
	sec, err := t.get(ctx)
	if err != nil {
		return nil, fmt.Errorf("identity: %s: %w", t.what, err)
	}
	tok := sec.Reveal()
	if err := checkBearerToken(tok); err != nil {
		return nil, err
	}
	t.value, t.at = []string{"Bearer " + tok}, now
	return t.value, nil
}

// credential is what a request gets: touch false means pass it on as is.
type credential struct {
	touch    bool
	authz    []string
	override []string
	task     string // the task an AgentAssertion was signed for ("" otherwise)
	bearer   bool   // authz is the ChatGPT login's Bearer token
}

// credentialFor decides and makes the credential of a request to u.
func (r *runState) credentialFor(ctx context.Context, slot *taskSlot, u *url.URL) (credential, error) {
	if r.signer == nil {
		return r.bearerCredential(ctx, u)
	}
	if r.isFirstParty(u) {
		class := routes.Classify(r.basePath, u.Path)
		switch {
		case class == routes.NoCredential:
			return credential{}, nil
		case class == routes.Inference:
			return r.inferenceCredential(ctx, slot, nil)
		}
		switch {
		case r.offPolicy == offNoCreds:
			return credential{}, nil
		case r.chatgpt != nil && r.offPolicy == offDefault:
			a, err := r.chatgpt.header(ctx, r.now())
			if err != nil {
				return credential{}, err
			}
			return credential{touch: true, authz: a, bearer: true}, nil
		}
		a, task, err := r.authorization(ctx, slot)
		if err != nil {
			return credential{}, err
		}
		return credential{touch: true, authz: a, task: task}, nil
	}
	// The origin openai_base_url moved inference to: inference only,
	// AgentAssertion only.
	if r.inferenceOrigin != "" && netrule.SameOrigin(u, r.inferenceOrigin) {
		if routes.Classify(r.basePath, u.Path) != routes.Inference {
			return credential{}, nil
		}
		return r.inferenceCredential(ctx, slot,
			invalidURL("this session fell back to bearer auth, which is never sent to the openai_base_url origin"))
	}
	// The routed workspace origin: inference only, AgentAssertion only.
	if !r.routingEnabled() || !r.isRoutedCandidate(u) {
		return credential{}, nil
	}
	origin, override, err := r.routing(ctx)
	if err != nil || origin == "" || !netrule.SameOrigin(u, origin) {
		return credential{}, nil
	}
	if routes.Classify(r.basePath, u.Path) != routes.Inference {
		return credential{}, nil
	}
	a, task, err := r.authorization(ctx, slot)
	if err != nil {
		return credential{}, err
	}
	if strings.HasPrefix(a[0], "Bearer ") {
		return credential{}, fmt.Errorf("%w: this session fell back to bearer auth, which is never sent to the routed workspace origin", errRoutingUnavailable)
	}
	return credential{touch: true, authz: a, override: override, task: task}, nil
}

// inferenceCredential signs an inference request for slot. Inference waits
// for workspace routing discovery where it applies: nothing is sent after a
// failed one. refuseBearer, if set, is the error for a session that fell back
// to bearer auth, at an origin that must never receive the Bearer token.
func (r *runState) inferenceCredential(ctx context.Context, slot *taskSlot, refuseBearer error) (credential, error) {
	var override []string
	if r.routingEnabled() {
		var err error
		if _, override, err = r.routing(ctx); err != nil {
			return credential{}, err
		}
	}
	a, task, err := r.authorization(ctx, slot)
	if err != nil {
		return credential{}, err
	}
	if refuseBearer != nil && strings.HasPrefix(a[0], "Bearer ") {
		return credential{}, refuseBearer
	}
	return credential{touch: true, authz: a, override: override, task: task}, nil
}

// isRoutedCandidate is a cheap check before asking for routing: only https
// URLs can go to a routed origin, and only once discovery has answered.
func (r *runState) isRoutedCandidate(u *url.URL) bool {
	if !strings.EqualFold(u.Scheme, "https") {
		return false
	}
	r.route.mu.Lock()
	defer r.route.mu.Unlock()
	return r.route.done && r.route.origin != ""
}

// apply puts the credential on a clone of req (req is never modified).
func (r *runState) apply(req *http.Request, c credential) *http.Request {
	out := cloneRequest(req)
	r.setHeaders(out.Header, c)
	return out
}

func (r *runState) setHeaders(h http.Header, c credential) {
	h[hdrAuthorization] = c.authz
	if r.accountHeader != nil {
		h[hdrAccountID] = r.accountHeader
	}
	if r.fedRAMPHeader != nil {
		h[hdrFedRAMP] = r.fedRAMPHeader
	} else {
		delete(h, hdrFedRAMP)
	}
	if c.override != nil {
		h[hdrRoutingOverride] = c.override
	}
}

// Header returns the headers [RunAuth.Transport] would add to a request to
// rawURL made now (for WebSocket and other libraries that take headers
// instead of an http.RoundTripper): Authorization, ChatGPT-Account-ID,
// X-OpenAI-Fedramp and, on routed inference, x-openai-account-routing-override.
// It is empty (not nil) for a request that gets no credential. The caller
// must not follow redirects with these headers.
func (a *RunAuth) Header(ctx context.Context, rawURL string) (http.Header, error) {
	if !a.usable() {
		return nil, errUnusable
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, invalidURL("Header needs an absolute URL")
	}
	c, err := a.run.credentialFor(ctx, a.slot, u)
	if err != nil {
		return nil, err
	}
	h := make(http.Header, 4)
	if c.touch {
		a.run.setHeaders(h, c)
		// Header values are shared read-only slices: give the caller copies.
		for k, v := range h {
			h[k] = append([]string(nil), v...)
		}
	}
	return h, nil
}
