package main

import (
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/internal/netrule"
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
}

// newGateway returns the verifying reverse proxy and its Verifier.
//
// The proxy uses Rewrite, not Director: hop-by-hop headers, and every header
// a client names in Connection, are removed from the outgoing request before
// Rewrite runs, so a client cannot remove what Rewrite adds.
func newGateway(cfg gatewayConfig) (http.Handler, *gateway.Verifier) {
	v := &gateway.Verifier{
		Keys: cfg.keys, MaxSkew: cfg.maxSkew, Now: cfg.now, Routes: cfg.routes,
		Logger: cfg.logger, OnOutcome: cfg.onOutcome, CacheEntries: cfg.cache,
	}
	upstream := cfg.upstream
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			pr.SetXForwarded()
			stripIdentityHeaders(pr.Out.Header)
			// Request trailers arrive after the body, when nothing checks
			// them any more: a client could send identity headers (or
			// anything else) that way. None are forwarded.
			pr.Out.Trailer = nil
			id, ok := gateway.FromContext(pr.In.Context())
			if !ok {
				return // a pass-through route: its credentials are left as they are
			}
			pr.Out.Header.Set(hdrAgentRuntimeID, id.AgentRuntimeID)
			pr.Out.Header.Set(hdrAgentTaskID, id.TaskID)
			if !cfg.keep {
				// An assertion is replayable at the real backend within
				// its window: do not hand it on.
				deleteFold(pr.Out.Header, "Authorization")
				deleteFold(pr.Out.Header, "ChatGPT-Account-ID")
			}
		},
		Transport: cfg.transport,
		ErrorLog:  slog.NewLogLogger(loggerOr(cfg.logger).Handler(), slog.LevelError),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			loggerOr(cfg.logger).LogAttrs(r.Context(), slog.LevelError, "gateway: upstream failed",
				slog.String("path", r.URL.Path), slog.String("error", err.Error()))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(`{"error":"bad_gateway"}` + "\n"))
		},
	}
	return v.Middleware(proxy), v
}

func loggerOr(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}

// identityHeaderName maps a header name to the form in which CGI-style
// servers compare names: lower case, '_' read as '-'.
func identityHeaderName(k string) string {
	return strings.ReplaceAll(netrule.ASCIILower(k), "_", "-")
}

// stripIdentityHeaders removes every incoming copy of the identity headers
// the gateway sets, in any case and with '_' for '-'.
func stripIdentityHeaders(h http.Header) {
	for k := range h {
		switch identityHeaderName(k) {
		case "x-agent-runtime-id", "x-agent-task-id":
			delete(h, k)
		}
	}
}

// deleteFold removes name in every spelling of its case and with '_' for
// '-'.
func deleteFold(h http.Header, name string) {
	want := identityHeaderName(name)
	for k := range h {
		if identityHeaderName(k) == want {
			delete(h, k)
		}
	}
}
