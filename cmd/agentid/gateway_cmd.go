package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentidentity/agentidentity/identity/gateway"
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
}

func newGatewayCmd(c *cli) *cobra.Command {
	g := &gatewayFlags{
		listen: hostPortValue{value: "127.0.0.1:0"},
		other:  newEnum("verify", "verify", "pass", "refuse"),
		noCred: newEnum("pass", "pass", "verify", "refuse"),
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
TLS. The upstream must be https, or http on a loopback host. The listening
line goes to standard output, the log (logfmt) to standard error.`,
		Example: examples(
			"agentid gateway --keys agents.jsonl --upstream https://backend.example/backend-api",
			"agentid gateway --keys agents.jsonl --upstream http://127.0.0.1:9000 --listen 127.0.0.1:8443 --tls-cert cert.pem --tls-key key.pem"),
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
	markRequired(cmd, "keys", "upstream")
	together(cmd, "tls-cert", "tls-key")
	for _, n := range []string{"keys", "tls-cert", "tls-key"} {
		_ = cmd.MarkFlagFilename(n)
	}
	completeChoices(cmd, "other", g.other)
	completeChoices(cmd, "no-credential", g.noCred)
	return cmd
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
	// Checked here, not at the first request (which would answer 500).
	if wire.CheckSkew(g.maxSkew) != nil {
		return withHint(fmt.Errorf("--max-skew %v: out of range", g.maxSkew), "give more than 0 and at most %v", wire.MaxSkewLimit)
	}
	logger := slog.New(slog.NewTextHandler(c.stderr, nil))
	c.progressf(cmd, "reading the keys file %s …", g.keysFile)
	stop := c.waitNotice(cmd, waitingFor("the keys file "+g.keysFile))
	keys, err := gateway.NewFileKeys(g.keysFile, gateway.FileKeysOptions{Logger: logger})
	stop()
	if err != nil {
		return withHint(err, "fix the keys file: one JSON object a line, {\"runtime_id\":…,\"public_key\":\"ssh-ed25519 …\"}")
	}
	handler, _ := newGateway(gatewayConfig{
		upstream: up, keys: keys, keep: g.keep, maxSkew: g.maxSkew, logger: logger,
		routes: gateway.Routes{BasePath: g.basePath, Other: routeModes[g.other.value], NoCredential: routeModes[g.noCred.value]},
	})
	c.progressf(cmd, "listening on %s …", g.listen.value)
	ln, err := net.Listen("tcp", g.listen.value)
	if err != nil {
		return withHint(err, "give a free port with --listen")
	}
	// "localhost" is resolved by the system: check what was bound.
	if a, ok := ln.Addr().(*net.TCPAddr); !useTLS && (!ok || !a.IP.IsLoopback()) {
		_ = ln.Close()
		return withHint(fmt.Errorf("--listen %s bound %s, not a loopback address", g.listen.value, ln.Addr()), "listen on 127.0.0.1:PORT")
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	scheme := "http"
	if useTLS {
		scheme = "https"
	}
	fmt.Fprintf(c.stdout, "agentid gateway: listening on %s://%s, forwarding to %s\n", scheme, ln.Addr(), netrule.Redact(g.upstream))
	ctx, cancel := c.signalContext(0)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		if useTLS {
			errc <- srv.ServeTLS(ln, g.tlsCert, g.tlsKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShutdown()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
