package main

import (
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/identity/gateway/gatewaymetrics"
	"github.com/agentidentity/agentidentity/internal/netrule"
	"github.com/agentidentity/agentidentity/internal/routes"
)

const (
	hdrAgentRuntimeID = "X-Agent-Runtime-Id"
	hdrAgentTaskID    = "X-Agent-Task-Id"
)

// gatewayConfig is what newGateway needs; runGateway fills it from flags,
// tests directly.
type gatewayConfig struct {
	upstream  *url.URL
	keys      gateway.Keys
	keep      bool // keep Authorization and ChatGPT-Account-ID
	routes    gateway.Routes
	maxSkew   time.Duration
	logger    *slog.Logger
	now       func() time.Time
	onOutcome func(gateway.Outcome)
	transport http.RoundTripper
	cache     int // Verifier.CacheEntries
	// verifier, when set, is the Verifier to configure (so that metrics
	// made before it can read its cache); nil: a new one.
	verifier *gateway.Verifier
	// metrics, when set, counts outcomes and upstream errors.
	metrics *gatewaymetrics.Metrics
}

// newGateway returns the verifying reverse proxy and its Verifier. It logs
// one line per request to cfg.logger (see logRequests).
//
// The proxy uses Rewrite, not Director: hop-by-hop headers, and every header
// a client names in Connection, are removed from the outgoing request before
// Rewrite runs, so a client cannot remove what Rewrite adds. Rewrite then
// removes every header by which a client could claim an address or an
// identity, sets X-Forwarded-For itself, and strips any protocol upgrade
// but a WebSocket one on a verified inference request.
func newGateway(cfg gatewayConfig) (http.Handler, *gateway.Verifier) {
	logger := loggerOr(cfg.logger)
	v := cfg.verifier
	if v == nil {
		v = new(gateway.Verifier)
	}
	v.Keys, v.MaxSkew, v.Now, v.Routes, v.CacheEntries = cfg.keys, cfg.maxSkew, cfg.now, cfg.routes, cfg.cache
	// The Verifier's refusal lines are folded into the request's one line.
	v.Logger = slog.New(foldRefusals{logger.Handler()})
	v.OnOutcome = cfg.onOutcome
	if m := cfg.metrics; m != nil {
		v.OnOutcome = func(o gateway.Outcome) {
			m.Observe(o)
			if cfg.onOutcome != nil {
				cfg.onOutcome(o)
			}
		}
	}
	upstream := cfg.upstream
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			id, verified := gateway.FromContext(pr.In.Context())
			// An upgrade would tunnel raw bytes after a 101: later requests
			// on that connection would reach the upstream unverified. Only
			// a verified WebSocket upgrade of the inference route is
			// forwarded; every other one (h2c, a WebSocket elsewhere) goes
			// on as a plain request, and a 101 the upstream might still
			// answer is refused by the proxy (502): none was asked for.
			upgrade := verified && websocketRoute(cfg.routes.BasePath, pr.In)
			// An assertion is replayable at the real backend within its
			// window: a verified one is not handed on.
			credentials := !verified || cfg.keep
			// Before SetXForwarded, which sets X-Forwarded-For itself.
			scrubHeaders(pr.Out.Header, upgrade, credentials)
			pr.SetURL(upstream)
			pr.SetXForwarded()
			// Request trailers arrive after the body, when nothing checks
			// them any more: a client could send identity headers (or
			// anything else) that way. None are forwarded.
			pr.Out.Trailer = nil
			n := noteOf(pr.In.Context())
			if !verified {
				n.outcome = "passed"
				return // a pass-through route: its credentials are left as they are
			}
			n.outcome, n.runtimeID = "verified", id.AgentRuntimeID
			pr.Out.Header[hdrAgentRuntimeID] = []string{id.AgentRuntimeID}
			pr.Out.Header[hdrAgentTaskID] = []string{id.TaskID}
		},
		Transport: cfg.transport,
		ErrorLog:  slog.NewLogLogger(logger.Handler(), slog.LevelError),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			noteOf(r.Context()).err = err
			if cfg.metrics != nil {
				cfg.metrics.UpstreamError(err)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(`{"error":"bad_gateway"}` + "\n"))
		},
	}
	// A verified WebSocket upgrade outlives the request's read deadline
	// (the server's ReadTimeout): net/http clears a connection's deadlines
	// when ReverseProxy hijacks it (TestGatewayWebSocket).
	return logRequests(logger, cfg.routes.BasePath, v.Middleware(proxy)), v
}

// websocketRoute reports whether r asks for a WebSocket upgrade (and no
// other protocol) of the inference route.
func websocketRoute(basePath string, r *http.Request) bool {
	up := r.Header.Values("Upgrade")
	return len(up) == 1 && netrule.ASCIIEqualFold(strings.TrimSpace(up[0]), "websocket") &&
		routes.Canonical(r.URL.Path) && r.URL.RawPath == "" && routes.ClassifyFold(basePath, r.URL.Path) == routes.Inference
}

func loggerOr(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}

// scrubHeaders removes, in one pass over the outgoing headers, every
// header by which a client could claim an address (X-Real-Ip,
// True-Client-Ip, X-Client-Ip, every X-Forwarded-*, Forwarded, …) or an identity
// (X-Agent-Runtime-Id, X-Agent-Task-Id), the protocol upgrade unless
// upgrade, and Authorization and ChatGPT-Account-ID unless credentials.
// Names are compared as CGI-style servers compare them: ASCII case
// ignored, '_' read as '-' (X_Real_IP is X-Real-Ip). It allocates nothing.
func scrubHeaders(h http.Header, upgrade, credentials bool) {
	var buf [32]byte // longer than every name removed but X-Forwarded-*
	for k := range h {
		n := buf[:min(len(k), len(buf))]
		for i := range n {
			c := k[i]
			switch {
			case 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
			case c == '_':
				c = '-'
			}
			n[i] = c
		}
		if strings.HasPrefix(string(n), "x-forwarded-") { // -Port, -Prefix, -Server, …
			delete(h, k)
			continue
		}
		if len(k) > len(buf) {
			continue
		}
		switch string(n) {
		case "forwarded",
			"x-real-ip", "true-client-ip", "x-client-ip", "x-cluster-client-ip",
			"cf-connecting-ip", "fastly-client-ip", "x-original-forwarded-for",
			"x-agent-runtime-id", "x-agent-task-id":
			delete(h, k)
		case "upgrade", "connection", "http2-settings":
			if !upgrade {
				delete(h, k)
			}
		case "authorization", "chatgpt-account-id":
			if !credentials {
				delete(h, k)
			}
		}
	}
}
