package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/agentidentity/agentidentity/internal/routes"
)

// The answers of Middleware. Bodies are fixed: they never say whether the
// agent is unknown or the signature bad, and never hold any part of the
// request.
const (
	// wwwAuthenticate401 is the WWW-Authenticate value of a 401.
	wwwAuthenticate401 = `AgentAssertion error="invalid_token"`
	// wwwAuthenticate403 is the WWW-Authenticate value of a 403 for a valid
	// agent presenting another account or FedRAMP header (RFC 6750
	// §3.1 insufficient_scope).
	wwwAuthenticate403 = `AgentAssertion error="insufficient_scope"`

	body401      = `{"error":"invalid_token","error_description":"the AgentAssertion was refused"}` + "\n"
	body403      = `{"error":"insufficient_scope","error_description":"the agent may not act for this account"}` + "\n"
	bodyRoute403 = `{"error":"forbidden","error_description":"this route is not served"}` + "\n"
	body503      = `{"error":"temporarily_unavailable","error_description":"the agent could not be looked up"}` + "\n"
	body500      = `{"error":"server_error","error_description":"the server cannot verify requests"}` + "\n"
)

// Middleware returns a handler that calls next only for requests allowed by
// v.Routes, with the Identity of a verified request in its context
// (FromContext). Inference routes (in any ASCII case), and every path not in
// canonical form, are always verified; other routes follow v.Routes.
//
// A refused request never reaches next. It is answered with a short JSON
// body, "Cache-Control: no-store" and:
//
//   - 401 and WWW-Authenticate: AgentAssertion error="invalid_token" for a
//     missing, repeated, malformed, tampered, stale or future header, an
//     unknown agent, a bad signature or a refused task (one body for all);
//   - 403 and WWW-Authenticate: AgentAssertion error="insufficient_scope"
//     for a valid agent presenting another account (ErrAccountMismatch) or
//     the wrong X-OpenAI-Fedramp header (ErrFedRAMPMismatch);
//   - 403 without WWW-Authenticate for a route that Routes refuses;
//   - 503 when Keys failed, 500 when the Verifier is misconfigured or its
//     clock implausible.
//
// Each refusal is logged to v.Logger with its reason, status, method, path
// and the runtime id the header named (unverified), never the header.
// v.OnOutcome sees every request.
//
// Middleware decides per request, not per connection: a protocol upgrade
// that next forwards (httputil.ReverseProxy tunnels the bytes after a 101)
// carries later requests that nothing verifies. A proxy behind it should
// forward only the upgrades it means to: agentid gateway forwards only a
// WebSocket upgrade of a verified inference request and strips every other.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		class := routes.ClassifyFold(v.Routes.BasePath, r.URL.Path)
		mode := RouteVerify
		switch {
		case !routes.Canonical(r.URL.Path) || r.URL.RawPath != "":
			class = routes.Inference // the strictest: the server behind may read it as one
		case class == routes.NoCredential:
			mode = v.Routes.NoCredential
		case class == routes.Other || class == routes.Outside:
			mode = v.Routes.Other
		}
		route := class.String()
		switch mode {
		case RoutePassThrough:
			v.outcome(Outcome{Reason: reasonPassThrough, Route: route})
			next.ServeHTTP(w, r)
			return
		case RouteVerify:
		default: // RouteRefuse, and any unknown mode
			o := Outcome{Reason: reasonRouteRefused, Status: http.StatusForbidden, Route: route}
			v.refuse(w, r, o, "", bodyRoute403)
			return
		}
		start := time.Now()
		id, runtimeID, cached, err := v.verify(r)
		took := time.Since(start)
		if err == nil {
			v.outcome(Outcome{Reason: reasonVerified, Route: route, RuntimeID: runtimeID, Cached: cached, Duration: took})
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), contextKey{}, id)))
			return
		}
		o := Outcome{Reason: reasonOf(err), Route: route, RuntimeID: runtimeID, Cached: cached, Duration: took, Err: err}
		switch o.Reason {
		case reasonAccountMismatch, reasonFedRAMPMismatch:
			o.Status = http.StatusForbidden
			v.refuse(w, r, o, wwwAuthenticate403, body403)
		case reasonUnavailable:
			o.Status = http.StatusServiceUnavailable
			v.refuse(w, r, o, "", body503)
		case reasonMisconfigured, reasonError:
			o.Status = http.StatusInternalServerError
			v.refuse(w, r, o, "", body500)
		default:
			o.Status = http.StatusUnauthorized
			v.refuse(w, r, o, wwwAuthenticate401, body401)
		}
	})
}

func (v *Verifier) outcome(o Outcome) {
	if v.OnOutcome != nil {
		v.OnOutcome(o)
	}
}

func (v *Verifier) refuse(w http.ResponseWriter, r *http.Request, o Outcome, wwwAuth, body string) {
	v.outcome(o)
	logger := v.logger
	if logger == nil { // init failed before setting it
		logger = v.Logger
		if logger == nil {
			logger = slog.Default()
		}
	}
	level := slog.LevelInfo
	if o.Status >= 500 {
		level = slog.LevelError
	}
	attrs := []slog.Attr{
		slog.String("reason", o.Reason),
		slog.Int("status", o.Status),
		slog.String("route", o.Route),
		slog.String("method", truncate(r.Method, 20)),
		slog.String("path", truncate(r.URL.Path, 200)),
	}
	if o.RuntimeID != "" {
		attrs = append(attrs, slog.String("runtime_id", o.RuntimeID))
	}
	if o.Err != nil {
		attrs = append(attrs, slog.String("error", o.Err.Error()))
	}
	logger.LogAttrs(r.Context(), level, "gateway: request refused", attrs...)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if wwwAuth != "" {
		h.Set("WWW-Authenticate", wwwAuth)
	}
	w.WriteHeader(o.Status)
	_, _ = w.Write([]byte(body))
}
