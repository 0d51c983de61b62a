package identity

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
)

// Transport returns an http.RoundTripper that adds Agent Identity auth to
// first-party requests and sends them with base (nil: http.DefaultTransport).
//
// Which request gets which credential depends on the route and the mode
// (see the table in header.go and [RunAuthOptions].ChatGPTBearer). A signed request is
// sent as a clone with "Authorization: AgentAssertion …" (made fresh for the
// current second and this handle's task, registering the task on first use),
// "ChatGPT-Account-ID" when an account is configured and
// "X-OpenAI-Fedramp: true" for FedRAMP accounts; the caller's request and
// its body are never modified. A request to any other origin is passed to
// base untouched, so credentials never reach another host, also not after an
// http.Client follows a redirect there. On every error path the request body
// is closed, as http.RoundTripper requires.
//
// A 401 answer to an AgentAssertion-signed request is taken to mean that the
// task ended at the backend: the task is replaced once (saved where the old
// one was kept, for the run) and the request is sent again once if its body
// can be replayed (no body, or GetBody set). When that is not possible or
// the retry is refused too, RoundTrip returns a [*TaskRejectedError] (find
// it with errors.As) instead of the answer.
//
// The returned RoundTripper is safe for concurrent use.
func (a *RunAuth) Transport(base http.RoundTripper) http.RoundTripper {
	return &transport{auth: a, base: base}
}

type transport struct {
	auth *RunAuth
	base http.RoundTripper
}

var (
	hdrAuthorization = http.CanonicalHeaderKey("Authorization")
	hdrAccountID     = http.CanonicalHeaderKey("ChatGPT-Account-ID")
	hdrFedRAMP       = http.CanonicalHeaderKey("X-OpenAI-Fedramp")
)

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	if req == nil || req.URL == nil {
		closeBody(req)
		return nil, errors.New("identity: RoundTrip needs a request with a URL")
	}
	if !t.auth.usable() {
		closeBody(req)
		return nil, errUnusable
	}
	r := t.auth.run
	c, err := r.credentialFor(req.Context(), t.auth.slot, req.URL)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	if !c.touch {
		return base.RoundTrip(req)
	}
	resp, err := base.RoundTrip(r.apply(req, c))
	if err == nil && c.bearer && resp.StatusCode == http.StatusUnauthorized {
		return t.recoverBearer(base, req, resp, c)
	}
	if err != nil || c.task == "" || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	// A 401 to an AgentAssertion-signed request: the task may have ended
	// (heal.go).
	return t.heal(base, req, resp, c.task)
}

// cloneRequest returns a shallow copy of req with its own header map (room
// for the three headers we add), sharing the body, as RoundTrippers do.
func cloneRequest(req *http.Request) *http.Request {
	out := new(http.Request)
	*out = *req
	h := make(http.Header, len(req.Header)+3)
	for k, v := range req.Header {
		h[k] = v
	}
	out.Header = h
	return out
}

func closeBody(req *http.Request) {
	if req != nil && req.Body != nil {
		req.Body.Close()
	}
}

// recoverBearer handles a 401 to a request that carried the ChatGPT login's
// Bearer token, as the Codex CLI does: the token is refreshed once (reason
// "unauthorized_recovery"; a refresh another writer made is adopted) and a
// replayable request is sent again with the new token. When there is no
// recovery, the token was already replaced, the refresh fails or the body
// cannot be replayed, the 401 is handed back as it came.
func (t *transport) recoverBearer(base http.RoundTripper, req *http.Request, resp *http.Response, c credential) (*http.Response, error) {
	r := t.auth.run
	if r.chatgpt == nil || r.chatgpt.recover == nil || !replayable(req) {
		return resp, nil
	}
	rejected := strings.TrimPrefix(c.authz[0], "Bearer ")
	a, err := r.chatgpt.replace(req.Context(), rejected, r.now())
	if err != nil {
		r.logger.Warn("agent identity: the ChatGPT access token was refused and could not be refreshed",
			slog.String("error", err.Error()))
		return resp, nil
	}
	if a == nil {
		return resp, nil
	}
	again, err := replayRequest(req)
	if err != nil {
		return resp, nil
	}
	discard(resp)
	c.authz = a
	return base.RoundTrip(r.apply(again, c))
}
