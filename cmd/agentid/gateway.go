package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/internal/netrule"
	"github.com/agentidentity/agentidentity/internal/wire"
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

func parseRouteMode(flagName, s string) (gateway.RouteMode, error) {
	switch s {
	case "verify":
		return gateway.RouteVerify, nil
	case "pass":
		return gateway.RoutePassThrough, nil
	case "refuse":
		return gateway.RouteRefuse, nil
	}
	return 0, usagef("gateway: --%s must be verify, pass or refuse", flagName)
}

func runGateway(c *cli, args []string) error {
	fs := newFlagSet(c, "gateway", "--keys FILE --upstream URL [--listen 127.0.0.1:PORT] [--tls-cert F --tls-key F] [--keep-credentials]", `
Run a verifying reverse proxy in front of a Codex-compatible backend until
SIGINT or SIGTERM. Requests on inference routes (/codex/responses,
/codex/responses/compact under --base-path) must carry a valid AgentAssertion
of an agent listed in the keys file (JSON lines: {"runtime_id":…,
"public_key":"ssh-ed25519 …","account_id":…,"fedramp":false}; edits are picked
up within a second, a broken edit keeps the last good set). Other routes
follow --other and --no-credential.

A verified request is forwarded with X-Agent-Runtime-Id and X-Agent-Task-Id
set (every incoming copy removed, also spellings such as X_Agent_Runtime_Id)
and, unless --keep-credentials, without Authorization and ChatGPT-Account-ID:
an assertion is replayable at the backend until its window closes. A refused
request gets 401 or 403 and never reaches the upstream.

Without --tls-cert and --tls-key the gateway listens on loopback only; Codex
requires https for a workspace origin, so serve it with TLS. The upstream must
be https, or http on a loopback host.`)
	keysFile := fs.String("keys", "", "the keys `FILE` (JSON lines; required)")
	upstreamFlag := fs.String("upstream", "", "the backend `URL` to forward to (required)")
	listen := fs.String("listen", "127.0.0.1:0", "listen `address` host:port; loopback only unless TLS is configured")
	tlsCert := fs.String("tls-cert", "", "TLS certificate chain `FILE` (PEM)")
	tlsKey := fs.String("tls-key", "", "TLS private key `FILE` (PEM)")
	keep := fs.Bool("keep-credentials", false, "forward Authorization and ChatGPT-Account-ID of verified requests")
	maxSkew := fs.Duration("max-skew", wire.DefaultMaxSkew, "accepted clock skew of signed timestamps (at most 24h)")
	basePath := fs.String("base-path", "/backend-api", "the `path` of the ChatGPT backend base URL the gateway answers as")
	other := fs.String("other", "verify", "other first-party routes: verify, pass (Bearer untouched) or refuse")
	noCred := fs.String("no-credential", "pass", "the JWKS fetch and /ps/mcp, which carry no credential: pass, verify or refuse")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	if *keysFile == "" || *upstreamFlag == "" {
		return usagef("gateway: --keys and --upstream are required")
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return usagef("gateway: give both --tls-cert and --tls-key, or neither")
	}
	otherMode, err := parseRouteMode("other", *other)
	if err != nil {
		return err
	}
	noCredMode, err := parseRouteMode("no-credential", *noCred)
	if err != nil {
		return err
	}
	up, err := netrule.CheckURL(*upstreamFlag, netrule.URLRule{HTTPOnLoopback: true, TrimSlash: true})
	if err != nil {
		return fmt.Errorf("gateway: --upstream %s %w", netrule.Redact(*upstreamFlag), err)
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		return usagef("gateway: --listen %q: %v", *listen, err)
	}
	useTLS := *tlsCert != ""
	if !useTLS && !netrule.IsLoopbackHost(host) {
		return usagef("gateway: --listen %q: without TLS the gateway listens on loopback only (localhost, 127.0.0.0/8, ::1)", *listen)
	}
	// Checked here, not at the first request (which would answer 500).
	if wire.CheckSkew(*maxSkew) != nil {
		return usagef("gateway: --max-skew %v: want more than 0 and at most %v", *maxSkew, wire.MaxSkewLimit)
	}
	logger := slog.New(slog.NewTextHandler(c.stderr, nil))
	keys, err := gateway.NewFileKeys(*keysFile, gateway.FileKeysOptions{Logger: logger})
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	handler, _ := newGateway(gatewayConfig{
		upstream: up, keys: keys, keep: *keep, maxSkew: *maxSkew, logger: logger,
		routes: gateway.Routes{BasePath: *basePath, Other: otherMode, NoCredential: noCredMode},
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	// "localhost" is resolved by the system: check what was bound.
	if a, ok := ln.Addr().(*net.TCPAddr); !useTLS && (!ok || !a.IP.IsLoopback()) {
		_ = ln.Close()
		return fmt.Errorf("gateway: --listen %q bound %s, not a loopback address", *listen, ln.Addr())
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	scheme := "http"
	if useTLS {
		scheme = "https"
	}
	fmt.Fprintf(c.stdout, "agentid gateway: listening on %s://%s, forwarding to %s\n", scheme, ln.Addr(), netrule.Redact(*upstreamFlag))
	ctx, cancel := c.signalContext(0)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		if useTLS {
			errc <- srv.ServeTLS(ln, *tlsCert, *tlsKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("gateway: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShutdown()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("gateway: %w", err)
	}
	return nil
}
