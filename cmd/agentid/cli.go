package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/agentidentity/agentidentity/internal/cacert"
)

// cli is what a command may touch: standard streams, the environment and
// the seams tests replace. Tests mostly build the binary and run it, so the
// process values are used; a few run the command tree in-process.
type cli struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// lookupEnv tells a variable set to "" from one that is unset (a
	// workload identity is selected by the presence of its variables);
	// nil means getenv's answer, "" for unset.
	lookupEnv func(string) (string, bool)
	// notify, if not nil, subscribes to the signals (SIGINT, SIGTERM) that
	// stop serve and cancel network commands.
	notify func(c chan<- os.Signal, sig ...os.Signal)
	// isTerminal reports whether a stream (c.stdin, c.stderr) is a
	// terminal.
	isTerminal func(stream any) bool
	// after is time.After: how long work waits before it says what it
	// waits for.
	after func(time.Duration) <-chan time.Time

	// json is --json of the command that runs; wroteJSON says its object
	// was written; jsonFailure holds members of the object written when
	// it fails.
	json        bool
	wroteJSON   bool
	jsonFailure map[string]any
}

func newCLI() *cli {
	return &cli{
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, lookupEnv: os.LookupEnv, notify: signal.Notify,
		isTerminal: isTerminal, after: time.After,
	}
}

// lookup is c.lookupEnv, or c.getenv's answer with "" for unset.
func (c *cli) lookup(k string) (string, bool) {
	if c.lookupEnv != nil {
		return c.lookupEnv(k)
	}
	v := c.getenv(k)
	return v, v != ""
}

// isTerminal reports whether stream is an *os.File on a terminal.
func isTerminal(stream any) bool {
	f, ok := stream.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// run runs one command line and returns the exit code.
func run(args []string, c *cli) int {
	root := newRootCmd(c)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	code, what, hint := describeError(err)
	if what != "" {
		fmt.Fprintln(c.stderr, errorLine(cmd, what, hint))
	}
	if code == exitInvalid && c.json && !c.wroteJSON {
		obj := map[string]any{}
		for k, v := range c.jsonFailure {
			obj[k] = v
		}
		obj["error"] = what
		if hint != "" {
			obj["hint"] = oneLine(hint)
		}
		_ = writeJSON(c.stdout, obj)
	}
	return code
}

// buildVersion is what the Go toolchain embeds about the binary: the module
// version for an installed binary, "(devel)" plus the VCS revision for a
// build from a clone.
type buildVersion struct {
	Version  string `json:"version"`
	Module   string `json:"module"`
	Go       string `json:"go"`
	Revision string `json:"revision,omitempty"`
	Modified bool   `json:"modified,omitempty"`
}

func readBuildVersion() buildVersion {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return buildVersion{Version: "(unknown)"}
	}
	v := buildVersion{Version: bi.Main.Version, Module: bi.Main.Path, Go: bi.GoVersion}
	if v.Version == "" {
		v.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// versionLine is "agentid VERSION (MODULE, GO)".
func versionLine() string {
	v := readBuildVersion()
	if v.Module == "" {
		return "agentid (no build information)"
	}
	s := v.Version
	if rev := v.Revision; rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		s += " " + rev
		if v.Modified {
			s += "+dirty"
		}
	}
	return fmt.Sprintf("agentid %s (%s, %s)", s, v.Module, v.Go)
}

// oneLine makes text safe to print as one terminal line: line breaks become
// spaces, and every other control character (C0, DEL, C1) and every byte
// that is not UTF-8 is shown escaped (\x1b), so that text read from
// auth.json, a keyring entry, config.toml or a server's answer can neither
// split a line nor send escape sequences to the terminal.
func oneLine(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\n' || r == '\r':
			b.WriteByte(' ')
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case r < 0x20 || r >= 0x7f && r <= 0x9f:
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// signalContext returns a context canceled on SIGINT or SIGTERM and after
// timeout (0: no time-out).
func (c *cli) signalContext(timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	if timeout > 0 {
		var cancelT context.CancelFunc
		ctx, cancelT = context.WithTimeout(ctx, timeout)
		prev := cancel
		cancel = func() { cancelT(); prev() }
	}
	if c.notify != nil {
		ch := make(chan os.Signal, 1)
		c.notify(ch, os.Interrupt, syscall.SIGTERM)
		go func() {
			select {
			case <-ch:
				cancel()
			case <-ctx.Done():
			}
			signal.Stop(ch)
		}()
	}
	return ctx, cancel
}

// stepTransport prints one line to stderr per network request, before it is
// sent: what it is and where it goes (scheme, host and path; never a query,
// user info or header). It remembers the request in flight, for the notice
// of work that waits.
type stepTransport struct {
	base     http.RoundTripper
	w        io.Writer
	inflight atomic.Pointer[string]
	// agents and tasks count the registrations sent.
	agents, tasks atomic.Int64
}

func (t *stepTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	what := fmt.Sprintf("%s %s://%s%s", describeRequest(req), req.URL.Scheme, req.URL.Host, req.URL.EscapedPath())
	switch p := req.URL.Path; {
	case strings.HasSuffix(p, "/agent/register"):
		t.agents.Add(1)
	case strings.HasSuffix(p, "/task/register"):
		t.tasks.Add(1)
	}
	fmt.Fprintf(t.w, "agentid: %s\n", what)
	t.inflight.Store(&what)
	defer t.inflight.Store(nil)
	return t.base.RoundTrip(req)
}

// inFlight describes the request being sent, or "".
func (t *stepTransport) inFlight() string {
	if p := t.inflight.Load(); p != nil {
		return *p
	}
	return ""
}

func describeRequest(req *http.Request) string {
	p := req.URL.Path
	switch {
	case strings.HasSuffix(p, "/agent/register"):
		return "registering agent at"
	case strings.HasSuffix(p, "/task/register"):
		return "registering task at"
	case strings.HasSuffix(p, "/agent-identities/jwks"):
		return "fetching JWKS from"
	default:
		return "sending " + req.Method + " to"
	}
}

// httpClient is the client of network commands: time-outs everywhere, one
// stderr line per request, no redirects, and the trust of the Codex CLI:
// the system roots (with SSL_CERT_FILE) plus the PEM bundle
// $CODEX_CA_CERTIFICATE names, which must then be usable.
func (c *cli) httpClient() (*http.Client, *stepTransport, error) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.ResponseHeaderTimeout = 30 * time.Second
	pool, err := cacert.Pool(c.getenv)
	if err != nil {
		return nil, nil, withHint(err, "point %s at a PEM file of CA certificates, or unset it", cacert.EnvCodexCACertificate)
	}
	if pool != nil {
		base.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	st := &stepTransport{base: base, w: c.stderr}
	return &http.Client{
		Transport: st,
		Timeout:   60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}, st, nil
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
