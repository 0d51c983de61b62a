package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/identity/gateway/gatewaymetrics"
	"github.com/agentidentity/agentidentity/internal/netrule"
	"github.com/agentidentity/agentidentity/internal/wire"
)

// routeModes maps the choices of --other and --no-credential.
var routeModes = map[string]gateway.RouteMode{
	"verify": gateway.RouteVerify,
	"pass":   gateway.RoutePassThrough,
	"refuse": gateway.RouteRefuse,
}

// gatewayFlags are the flags of agentid gateway.
type gatewayFlags struct {
	keysFile, upstream string
	listen             hostPortValue
	tlsCert, tlsKey    string
	keep               bool
	maxSkew            time.Duration
	basePath           string
	other, noCred      *enumValue
	admin              hostPortValue
	shutdownTimeout    time.Duration
	readTimeout        time.Duration
	logFormat, level   *enumValue
}

func newGatewayCmd(c *cli) *cobra.Command {
	g := &gatewayFlags{
		listen:          hostPortValue{value: "127.0.0.1:0"},
		other:           newEnum("verify", "verify", "pass", "refuse"),
		noCred:          newEnum("pass", "pass", "verify", "refuse"),
		shutdownTimeout: 30 * time.Second,
		readTimeout:     time.Minute,
		logFormat:       newEnum("text", "text", "json"),
		level:           newEnum("info", "debug", "info", "warn", "error"),
	}
	cmd := &cobra.Command{
		Use:   "gateway --keys FILE --upstream URL [--listen 127.0.0.1:PORT] [--tls-cert FILE --tls-key FILE] [flags]",
		Short: "Run a reverse proxy that lets only verified agents through",
		Long: `Run a verifying reverse proxy in front of a Codex-compatible backend until
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

Without --tls-cert and --tls-key the gateway listens on loopback only (another
address exits 1); Codex requires https for a workspace origin, so serve it with
TLS. The upstream must be https, or http on a loopback host. Inference routes
are matched in any ASCII case; an upgrade is forwarded only as a WebSocket on a
verified inference request (any other, h2c among them, is stripped). Client
address headers (X-Real-Ip, True-Client-Ip, X-Client-Ip, X-Forwarded-*,
Forwarded, in any spelling) are removed and X-Forwarded-For set by the gateway.

A client has 10s to send its headers and --read-timeout for the whole request
(headers and body); an idle connection is closed after 2m; headers are at most
64 KiB. On SIGTERM or SIGINT the gateway stops accepting connections, lets the
requests in flight finish for up to --shutdown-timeout, and exits 0 (1 when
some had to be cut).

With --admin 127.0.0.1:PORT (off by default; loopback only) a second listener
serves /healthz (200 while the process runs), /readyz (200 when the keys are
loaded and the upstream accepts a TCP connection, else 503) and /metrics
(Prometheus text format: agentid_gateway_requests_total{route,outcome,reason},
agentid_gateway_verification_duration_seconds, agentid_gateway_cache_*,
agentid_gateway_keys_*, agentid_gateway_upstream_errors_total, and the Go and
process collectors).

Standard output gets "agentid gateway: listening on URL, forwarding to URL"
and then one machine-readable line "listening proxy=HOST:PORT" (with
" admin=HOST:PORT" when --admin is set). Standard error gets the log
(--log-format text, logfmt, or json): one line per request at info with its
outcome, route class, method, path, status, duration and runtime id (never a
header value), and a warning at start when the keys file lists no agent.`,
		Example: examples(
			"agentid gateway --keys agents.jsonl --upstream https://backend.example/backend-api",
			"agentid gateway --keys agents.jsonl --upstream http://127.0.0.1:9000 --listen 127.0.0.1:8443 --tls-cert cert.pem --tls-key key.pem",
			"agentid gateway --keys agents.jsonl --upstream https://backend.example/backend-api --admin 127.0.0.1:9090 --log-format json"),
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runGateway(c, cmd, g) },
	}
	f := cmd.Flags()
	f.StringVar(&g.keysFile, "keys", "", "the keys `FILE` (JSON lines; required)")
	f.StringVar(&g.upstream, "upstream", "", "the backend `URL` to forward to (required)")
	f.Var(&g.listen, "listen", "listen `address`; loopback only unless TLS is configured")
	f.StringVar(&g.tlsCert, "tls-cert", "", "TLS certificate chain `FILE` (PEM; with --tls-key)")
	f.StringVar(&g.tlsKey, "tls-key", "", "TLS private key `FILE` (PEM; with --tls-cert)")
	f.BoolVar(&g.keep, "keep-credentials", false, "forward Authorization and ChatGPT-Account-ID of verified requests")
	f.DurationVar(&g.maxSkew, "max-skew", wire.DefaultMaxSkew, "accepted clock skew of signed timestamps (more than 0, at most 24h)")
	f.StringVar(&g.basePath, "base-path", "/backend-api", "the `path` of the ChatGPT backend base URL the gateway answers as")
	f.Var(g.other, "other", "other first-party routes: verify, pass (Bearer untouched) or refuse")
	f.Var(g.noCred, "no-credential", "the JWKS fetch and /ps/mcp, which carry no credential: pass, verify or refuse")
	f.Var(&g.admin, "admin", "serve /healthz, /readyz and /metrics on this loopback `address` (off by default)")
	f.DurationVar(&g.shutdownTimeout, "shutdown-timeout", g.shutdownTimeout, "on SIGTERM or SIGINT, how long requests in flight may take to finish")
	f.DurationVar(&g.readTimeout, "read-timeout", g.readTimeout, "the longest a client may take to send one request, headers and body")
	f.Var(g.logFormat, "log-format", "the log's format on standard error: text (logfmt) or json")
	f.Var(g.level, "log-level", "the least level logged: debug, info, warn or error")
	markRequired(cmd, "keys", "upstream")
	together(cmd, "tls-cert", "tls-key")
	for _, n := range []string{"keys", "tls-cert", "tls-key"} {
		_ = cmd.MarkFlagFilename(n)
	}
	completeChoices(cmd, "other", g.other)
	completeChoices(cmd, "no-credential", g.noCred)
	completeChoices(cmd, "log-format", g.logFormat)
	completeChoices(cmd, "log-level", g.level)
	return cmd
}

// gatewayTimeouts bound what a client may hold: ReadHeaderTimeout for the
// headers, ReadTimeout (--read-timeout) for the whole request, the body's
// read deadline; IdleTimeout for a kept-alive connection; MaxHeaderBytes.
const (
	gatewayHeaderTimeout  = 10 * time.Second
	gatewayIdleTimeout    = 2 * time.Minute
	gatewayMaxHeaderBytes = 64 << 10
)

// newGatewayServer is the gateway's http.Server.
func newGatewayServer(h http.Handler, logger *slog.Logger, readTimeout time.Duration) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(gatewayHeaderTimeout, readTimeout),
		ReadTimeout:       readTimeout,
		IdleTimeout:       gatewayIdleTimeout,
		MaxHeaderBytes:    gatewayMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// newGatewayLogger is the log of --log-format and --log-level.
func newGatewayLogger(w io.Writer, format, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level)) // one of the enum's choices
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// listenLoopback listens on addr unless TLS is on, checking that what was
// bound is a loopback address ("localhost" is resolved by the system).
func listenLoopback(flag, addr string, loopbackOnly bool) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, withHint(fmt.Errorf("--%s %s: %w", flag, addr, err), "give a free port with --%s", flag)
	}
	if a, ok := ln.Addr().(*net.TCPAddr); loopbackOnly && (!ok || !a.IP.IsLoopback()) {
		_ = ln.Close()
		return nil, withHint(fmt.Errorf("--%s %s bound %s, not a loopback address", flag, addr, ln.Addr()), "listen on 127.0.0.1:PORT")
	}
	return ln, nil
}

func runGateway(c *cli, cmd *cobra.Command, g *gatewayFlags) error {
	up, err := netrule.CheckURL(g.upstream, netrule.URLRule{HTTPOnLoopback: true, TrimSlash: true})
	if err != nil {
		return withHint(fmt.Errorf("--upstream %s %w", netrule.Redact(g.upstream), err),
			"give the backend's https URL (http only on loopback), like https://backend.example/backend-api")
	}
	host, _, _ := net.SplitHostPort(g.listen.value) // checked when parsed
	useTLS := g.tlsCert != ""
	if !useTLS && !netrule.IsLoopbackHost(host) {
		return withHint(fmt.Errorf("--listen %s: without TLS the gateway listens on loopback only", g.listen.value),
			"listen on 127.0.0.1:PORT, or give --tls-cert and --tls-key")
	}
	if g.admin.value != "" {
		if h, _, _ := net.SplitHostPort(g.admin.value); !netrule.IsLoopbackHost(h) {
			return withHint(fmt.Errorf("--admin %s: the admin listener is loopback only", g.admin.value), "give --admin 127.0.0.1:PORT")
		}
	}
	// Checked here, not at the first request (which would answer 500).
	if wire.CheckSkew(g.maxSkew) != nil {
		return withHint(fmt.Errorf("--max-skew %v: out of range", g.maxSkew), "give more than 0 and at most %v", wire.MaxSkewLimit)
	}
	if g.shutdownTimeout <= 0 {
		return withHint(fmt.Errorf("--shutdown-timeout %v: not more than 0", g.shutdownTimeout), "give how long requests in flight may take, like 30s")
	}
	if g.readTimeout <= 0 {
		return withHint(fmt.Errorf("--read-timeout %v: not more than 0", g.readTimeout), "give how long a client may take to send a request, like 1m")
	}
	logger := newGatewayLogger(c.stderr, g.logFormat.value, g.level.value)
	v := new(gateway.Verifier)
	metrics := gatewaymetrics.New(v)
	c.progressf(cmd, "reading the keys file %s …", g.keysFile)
	stop := c.waitNotice(cmd, waitingFor("the keys file "+g.keysFile))
	keys, err := gateway.NewFileKeys(g.keysFile, gateway.FileKeysOptions{Logger: logger, OnReload: metrics.KeysReloaded})
	stop()
	if err != nil {
		return withHint(err, "fix the keys file: one JSON object a line, {\"runtime_id\":…,\"public_key\":\"ssh-ed25519 …\"}")
	}
	if keys.Len() == 0 {
		logger.Warn("gateway: the keys file lists no agent: every AgentAssertion is refused until one is added", "path", g.keysFile)
	}
	handler, _ := newGateway(gatewayConfig{
		upstream: up, keys: keys, keep: g.keep, maxSkew: g.maxSkew, logger: logger, verifier: v, metrics: metrics,
		routes: gateway.Routes{BasePath: g.basePath, Other: routeModes[g.other.value], NoCredential: routeModes[g.noCred.value]},
	})
	c.progressf(cmd, "listening on %s …", g.listen.value)
	ln, err := listenLoopback("listen", g.listen.value, !useTLS)
	if err != nil {
		return err
	}
	srv := newGatewayServer(handler, logger, g.readTimeout)
	// Shutdown runs this once it has closed the listener.
	srv.RegisterOnShutdown(func() {
		logger.Info("gateway: shutting down: no new connections; waiting for the requests in flight", "timeout", g.shutdownTimeout)
	})
	var adminLn net.Listener
	var adminSrv *http.Server
	if g.admin.value != "" {
		if adminLn, err = listenLoopback("admin", g.admin.value, true); err != nil {
			_ = ln.Close()
			return err
		}
		adminSrv = newGatewayServer(adminHandler(metrics, keys, up), logger, g.readTimeout)
	}
	scheme := "http"
	if useTLS {
		scheme = "https"
	}
	fmt.Fprintf(c.stdout, "agentid gateway: listening on %s://%s, forwarding to %s\n", scheme, ln.Addr(), netrule.Redact(g.upstream))
	if adminLn != nil {
		fmt.Fprintf(c.stdout, "listening proxy=%s admin=%s\n", ln.Addr(), adminLn.Addr())
	} else {
		fmt.Fprintf(c.stdout, "listening proxy=%s\n", ln.Addr())
	}
	ctx, cancel := c.signalContext(0)
	defer cancel()
	errc := make(chan error, 2)
	go func() {
		if useTLS {
			errc <- srv.ServeTLS(ln, g.tlsCert, g.tlsKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	if adminSrv != nil {
		go func() { errc <- adminSrv.Serve(adminLn) }()
		defer adminSrv.Close()
	}
	select {
	case err := <-errc:
		_ = srv.Close()
		return err
	case <-ctx.Done():
	}
	shutdown, cancelShutdown := context.WithTimeout(context.Background(), g.shutdownTimeout)
	defer cancelShutdown()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		_ = srv.Close()
		return withHint(fmt.Errorf("requests still in flight after --shutdown-timeout %v were cut", g.shutdownTimeout),
			"give a longer --shutdown-timeout (and the service manager's stop timeout longer still)")
	}
	logger.Info("gateway: stopped")
	return nil
}
