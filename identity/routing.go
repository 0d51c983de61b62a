package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/agentidentity/agentidentity/internal/limitio"
	"github.com/agentidentity/agentidentity/internal/netrule"
	"github.com/agentidentity/agentidentity/internal/strictjson"
)

const (
	// maxRoutingBody bounds the accounts/check answer.
	maxRoutingBody = 1 << 20
	// routingTimeout bounds one discovery (the Codex CLI's is 15 s).
	routingTimeout = 15 * time.Second
	// noConstraint is the workspace_backend_origin (and
	// account_routing_override) value that means "no routing".
	noConstraint = "NO_CONSTRAINT"
	// hdrRoutingOverride carries account_routing_override "us" / "us_cr" on
	// routed inference requests, as the Codex CLI sends it.
	hdrRoutingOverride = "X-Openai-Account-Routing-Override"
)

// routingState is the run's workspace routing discovery: made once (single
// flight), cached for the run, retried with back-off after a failure.
type routingState struct {
	mu       sync.Mutex
	done     bool
	origin   string   // "" means no routing: the configured base is used
	override []string // nil or the header value ("us", "us_cr")
	flight   chan struct{}
	failures int
	retryAt  time.Time
	lastErr  error
}

// routingEnabled reports whether this run makes workspace routing discovery:
// ChatGPT opt-in mode with an account.
func (r *runState) routingEnabled() bool { return r.chatgpt != nil && r.account.AccountID != "" }

// routing returns the run's routed origin ("" for none) and override header,
// discovering it first if needed. Errors wrap errRoutingUnavailable.
func (r *runState) routing(ctx context.Context) (string, []string, error) {
	if !r.routingEnabled() {
		return "", nil, nil
	}
	rs := &r.route
	for {
		rs.mu.Lock()
		if rs.done {
			o, h := rs.origin, rs.override
			rs.mu.Unlock()
			return o, h, nil
		}
		if rs.flight == nil {
			if rs.lastErr != nil && r.now().Before(rs.retryAt) {
				err := rs.lastErr
				rs.mu.Unlock()
				return "", nil, fmt.Errorf("%w (retried after %s)", err, rs.retryAt.UTC().Format(time.RFC3339))
			}
			rs.flight = make(chan struct{})
			go r.discover(context.WithoutCancel(ctx), rs.flight)
		}
		f := rs.flight
		rs.mu.Unlock()
		select {
		case <-f:
		case <-ctx.Done():
			return "", nil, ctx.Err()
		}
		rs.mu.Lock()
		if !rs.done && rs.lastErr != nil && rs.flight == nil {
			err := rs.lastErr
			rs.mu.Unlock()
			return "", nil, err
		}
		rs.mu.Unlock()
	}
}

// discover runs one discovery and records its outcome.
func (r *runState) discover(ctx context.Context, f chan struct{}) {
	ctx, cancel := context.WithTimeout(ctx, routingTimeout)
	defer cancel()
	origin, override, err := r.fetchRouting(ctx)
	rs := &r.route
	rs.mu.Lock()
	defer rs.mu.Unlock()
	defer close(f)
	rs.flight = nil
	if err != nil {
		rs.failures++
		rs.retryAt = r.now().Add(doublingBackoff(rs.failures, minTaskBackoff, maxTaskBackoff))
		rs.lastErr = err
		r.logger.Warn("agent identity: workspace routing discovery failed", "error", err.Error())
		return
	}
	rs.done, rs.origin, rs.override, rs.lastErr = true, origin, override, nil
}

// checkURL is GET {chatgpt_base}/wham/accounts/check.
func (r *runState) checkURL() string { return r.baseURL() + "/wham/accounts/check" }

// baseURL is the configured ChatGPT backend base without a trailing "/".
func (r *runState) baseURL() string { return r.origin + r.basePath }

// fetchRouting asks the configured first-party origin (never anything else)
// for the run's workspace routing.
func (r *runState) fetchRouting(ctx context.Context) (string, []string, error) {
	if r.origin == "" {
		return "", nil, fmt.Errorf("%w: no first-party origin", errRoutingUnavailable)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.checkURL(), http.NoBody)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %w", errRoutingUnavailable, err)
	}
	authz, err := r.chatgpt.header(ctx, r.now())
	if err != nil {
		return "", nil, fmt.Errorf("%w: %w", errRoutingUnavailable, err)
	}
	req.Header[hdrAuthorization] = authz
	req.Header[hdrAccountID] = r.accountHeader
	if r.fedRAMPHeader != nil {
		req.Header[hdrFedRAMP] = r.fedRAMPHeader
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.client.httpClient().Do(req)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %w", errRoutingUnavailable, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		// The deployment has no routing: the configured base. NOTE: the
		// Codex CLI 0.171 instead retries and then fails the turn on a 404
		// (it logs "workspace routing discovery failed" and exits 1); this
		// library treats 404 as "no routing" (docs/protocol.md#codex-0171-differs).
		return "", nil, nil
	case resp.StatusCode != http.StatusOK:
		return "", nil, fmt.Errorf("%w: %s answered %d", errRoutingUnavailable, netrule.Redact(r.checkURL()), resp.StatusCode)
	}
	body, err := limitio.ReadAll(resp.Body, maxRoutingBody)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %w", errRoutingUnavailable, err)
	}
	origin, override, err := parseRouting(body, r.account.AccountID, r.origin)
	if origin == r.origin {
		origin = "" // the configured origin itself: no routing
	}
	return origin, override, err
}

// accountEntry is one accounts/check entry; unknown members are ignored.
// A nil field was absent or null.
type accountEntry struct {
	ID                     *string // id
	AccountID              *string // account_id
	WorkspaceBackendOrigin *string // workspace_backend_origin
	AccountRoutingOverride *string // account_routing_override
}

// readAccountEntry reads an entry object (or null, a zero entry) in the
// walk of the answer; its known members must be strings or null.
func readAccountEntry(d *strictjson.Decoder) (accountEntry, error) {
	var e accountEntry
	if d.Null() {
		return e, nil
	}
	err := d.Object(func(name string) error {
		var err error
		switch name {
		case "id":
			e.ID, err = d.OptionalString()
		case "account_id":
			e.AccountID, err = d.OptionalString()
		case "workspace_backend_origin":
			e.WorkspaceBackendOrigin, err = d.OptionalString()
		case "account_routing_override":
			e.AccountRoutingOverride, err = d.OptionalString()
		}
		return err
	})
	return e, err
}

func (e *accountEntry) id() (string, bool) {
	switch {
	case e.ID != nil && e.AccountID != nil:
		return "", false
	case e.ID != nil:
		return *e.ID, true
	case e.AccountID != nil:
		return *e.AccountID, true
	}
	return "", false
}

// parseRouting reads an accounts/check answer (duplicate member names
// refused, unknown members ignored) and returns the routed origin for
// account ("" for none) and the override header value. "accounts" is a list
// of entries or, as the Codex CLI also accepts, a map of id to
// {"account": entry} whose keys equal the entries' ids.
//
// Differences from the Codex CLI 0.171 (docs/protocol.md#routing-discovery): no
// entry for the account, or an entry without workspace_backend_origin, means
// no routing here (Codex fails the turn); a missing or null
// account_routing_override means NO_CONSTRAINT here (Codex fails); any other
// value than NO_CONSTRAINT, "us" or "us_cr" is refused by both.
func parseRouting(body []byte, account, configured string) (string, []string, error) {
	bad := func(why string) (string, []string, error) {
		return "", nil, fmt.Errorf("%w: malformed accounts/check answer: %s", errRoutingUnavailable, why)
	}
	// One walk checks the answer and decodes "accounts".
	var (
		kind    = "nothing"
		entries []accountEntry
		keys    []string        // map form: the key of each entry
		absent  map[string]bool // map form: keys whose value has no account
	)
	errList := errors.New("accounts is not a list of objects")
	errMap := errors.New("accounts is not a map of objects")
	err := strictjson.DecodeObject(body, func(d *strictjson.Decoder, name string) error {
		if name != "accounts" {
			return nil
		}
		switch kind = d.Kind(); kind {
		case "an array":
			if d.Array(func() error {
				e, err := readAccountEntry(d)
				entries = append(entries, e)
				return err
			}) != nil {
				return errList
			}
		case "an object":
			if d.Object(func(key string) error {
				var e accountEntry
				found := false
				if !d.Null() {
					if err := d.Object(func(name string) error {
						if name != "account" || d.Null() {
							return nil
						}
						var err error
						e, err = readAccountEntry(d)
						found = true
						return err
					}); err != nil {
						return err
					}
				}
				if !found {
					if absent == nil {
						absent = map[string]bool{}
					}
					absent[key] = true
				}
				keys = append(keys, key)
				entries = append(entries, e)
				return nil
			}) != nil {
				return errMap
			}
		}
		return nil
	})
	if err != nil {
		return bad(err.Error())
	}
	switch kind {
	case "an array":
	case "an object":
		for i, k := range keys {
			if absent[k] {
				return bad("an accounts map value has no account")
			}
			if id, ok := entries[i].id(); !ok || id != k {
				return bad("an accounts map key is not its account's id")
			}
		}
	default:
		return bad("accounts is missing or neither a list nor a map")
	}
	var match *accountEntry
	seen := make(map[string]bool, len(entries))
	for i := range entries {
		id, ok := entries[i].id()
		if !ok || strings.TrimSpace(id) == "" {
			return bad("an entry has no id")
		}
		if seen[id] {
			return bad("duplicate account id")
		}
		seen[id] = true
		if id == account {
			match = &entries[i]
		}
	}
	if match == nil || match.WorkspaceBackendOrigin == nil {
		return "", nil, nil
	}
	var override []string
	if o := match.AccountRoutingOverride; o != nil {
		switch *o {
		case noConstraint:
		case "us", "us_cr":
			override = []string{*o}
		default:
			return bad("invalid account_routing_override")
		}
	}
	raw := *match.WorkspaceBackendOrigin
	if raw == noConstraint {
		return "", override, nil
	}
	origin, err := checkWorkspaceOrigin(raw, configured)
	if err != nil {
		return "", nil, err
	}
	return origin, override, nil
}

// checkWorkspaceOrigin applies the module's one URL rule (netrule.CheckURL)
// for an origin: no path but "/", no surrounding whitespace, and https only
// (also on loopback). The one exception to https is the configured
// first-party origin itself (an http loopback test backend naming itself):
// it already receives every credential, so naming it changes nothing.
func checkWorkspaceOrigin(raw, configured string) (string, error) {
	u, err := netrule.CheckURL(raw, netrule.URLRule{HTTPOnLoopback: true, Origin: true, TrimSlash: true})
	if err != nil {
		return "", fmt.Errorf("%w: workspace_backend_origin %s %w", errRoutingUnavailable, netrule.Redact(raw), err)
	}
	o := netrule.Origin(u)
	if u.Scheme != "https" && o != configured {
		return "", fmt.Errorf("%w: workspace_backend_origin %s must use https", errRoutingUnavailable, netrule.Redact(raw))
	}
	return o, nil
}

// InferenceBaseURL returns the base a caller sends inference to: in ChatGPT
// opt-in mode with workspace routing, the routed workspace origin with the
// configured base's path ("https://routed.example/backend-api"); otherwise
// the origin openai_base_url moved inference to, with the configured base's
// path (Load, both modes); otherwise the configured ChatGPT backend base. In
// ChatGPT opt-in mode the first call
// makes the run's discovery (GET {chatgpt_base}/wham/accounts/check with the
// ChatGPT Bearer token and ChatGPT-Account-ID). When discovery fails (a 401
// or 403, a malformed answer, a workspace origin that may not receive
// credentials) the error says so and nothing is sent to inference; discovery
// is tried again on a later call, after a back-off (1 s doubling to 5 min).
//
// Trust: the routed origin receives replayable AgentAssertion headers on
// inference, so it is taken only from the configured first-party origin's
// answer (over https; plain http only to a loopback host, the module's
// origin rule), must itself be https, and never receives the Bearer token
// or any non-inference request's credential. Requests to the routed origin
// are not followed through redirects by the registration client; callers
// should not follow them either.
func (a *RunAuth) InferenceBaseURL(ctx context.Context) (string, error) {
	if !a.usable() {
		return "", errUnusable
	}
	r := a.run
	o, _, err := r.routing(ctx)
	if err != nil {
		return "", err
	}
	switch {
	case o != "":
		// Routing wins over openai_base_url (Codex 0.171 sends inference to
		// workspace_backend_origin; the observed runs had both on one origin).
		return o + r.basePath, nil
	case r.inferenceOrigin != "":
		return r.inferenceOrigin + r.basePath, nil
	}
	return r.baseURL(), nil
}
