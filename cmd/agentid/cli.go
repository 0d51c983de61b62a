package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// Exit codes of every subcommand.
const (
	exitOK      = 0 // success, or -h
	exitInvalid = 1 // rejected or invalid input, failed check
	exitUsage   = 2 // usage error: unknown command or flag, missing argument
)

// cli is what a subcommand may touch: standard streams and the environment.
// Tests build the binary and run it, so the process values are used.
type cli struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// notify, if not nil, subscribes to the signals (SIGINT, SIGTERM) that
	// stop serve and cancel network commands.
	notify func(c chan<- os.Signal, sig ...os.Signal)
}

func newCLI() *cli {
	return &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, notify: signal.Notify}
}

type command struct {
	name    string
	args    string // synopsis after the name
	summary string
	run     func(c *cli, args []string) error
}

// commands is the command table, in the order "agentid help" lists it.
func commands() []command {
	return []command{
		{"demo", "[--requests N] [--json]", "run the end-to-end demo against an embedded fake backend", runDemo},
		{"endpoints", "[--json] [BASE_URL]", "show the environment a ChatGPT base URL resolves to (all without BASE_URL)", runEndpoints},
		{"keygen", "[--out FILE] [--force]", "generate a new agent key", runKeygen},
		{"assert", "--runtime-id ID --key-file FILE --task-id ID [--timestamp RFC3339]", "print an AgentAssertion header value", runAssert},
		{"verify", "--public-key 'ssh-ed25519 …' [--max-skew 5m] [--now RFC3339] < header", "verify an AgentAssertion header value read from standard input", runVerify},
		{"register-task", "[--authapi-base-url URL --runtime-id ID --key-file FILE | --codex-home DIR]", "register a backend-owned task and print its id", runRegisterTask},
		{"jwt", "decode|verify [flags]", "decode (unverified) or verify an Agent Identity JWT", runJWT},
		{"provision", "[--codex-home DIR] [--json]", "provision (or reuse) the identity of $CODEX_HOME and its run task", runProvision},
		{"status", "[--codex-home DIR] [--json]", "show what $CODEX_HOME holds, secrets redacted", runStatus},
		{"serve", "[--addr 127.0.0.1:0] [--codex-home DIR]", "run the fake backend (identitytest) in the foreground", runServe},
		{"gateway", "--keys FILE --upstream URL [--listen 127.0.0.1:PORT] [--tls-cert F --tls-key F] [--keep-credentials]", "run a reverse proxy that lets only verified agents through", runGateway},
		{"help", "[COMMAND]", "show the command list or a command's usage", nil},
	}
}

// usageError is a usage mistake: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error {
	return &usageError{msg: fmt.Sprintf(format, a...)}
}

// parseError is a flag parsing error that package flag already printed,
// with the usage: exit 2 without another message.
type parseError struct{ err error }

func (e *parseError) Error() string { return e.err.Error() }

// run runs one command line and returns the exit code.
func run(args []string, c *cli) int {
	if len(args) == 0 {
		printCommands(c.stderr)
		return exitUsage
	}
	name := args[0]
	if name == "version" || name == "--version" || name == "-version" {
		if len(args) > 1 && !(len(args) == 2 && isHelpFlag(args[1])) {
			fmt.Fprintf(c.stderr, "agentid: version takes no arguments (run \"agentid help\")\n")
			return exitUsage
		}
		fmt.Fprintln(c.stdout, versionLine())
		return exitOK
	}
	if name == "help" || name == "-h" || name == "-help" || name == "--help" {
		if len(args) > 1 && name == "help" {
			switch args[1] {
			case "-h", "-help", "--help", "help":
				printCommands(c.stdout)
				return exitOK
			}
			for _, cmd := range commands() {
				if cmd.name == args[1] && cmd.run != nil {
					return report(c, cmd.run(c, []string{"-h"}))
				}
			}
			fmt.Fprintf(c.stderr, "agentid: unknown command %q (run \"agentid help\" for the list)\n", args[1])
			return exitUsage
		}
		printCommands(c.stdout)
		return exitOK
	}
	for _, cmd := range commands() {
		if cmd.name == name && cmd.run != nil {
			return report(c, cmd.run(c, args[1:]))
		}
	}
	fmt.Fprintf(c.stderr, "agentid: unknown command %q (run \"agentid help\" for the list)\n", name)
	return exitUsage
}

func isHelpFlag(s string) bool { return s == "-h" || s == "-help" || s == "--help" }

// versionLine is "agentid VERSION (MODULE, GO)" from the build information
// the Go toolchain embeds: the module version for an installed binary,
// "(devel)" plus the VCS revision for a build from a clone.
func versionLine() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "agentid (no build information)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += " " + rev + modified
	}
	return fmt.Sprintf("agentid %s (%s, %s)", v, bi.Main.Path, bi.GoVersion)
}

// report prints err and maps it to an exit code.
func report(c *cli, err error) int {
	var ue *usageError
	var pe *parseError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &pe):
		return exitUsage
	case errors.As(err, &ue):
		fmt.Fprintf(c.stderr, "agentid: %s\n", ue.msg)
		return exitUsage
	default:
		fmt.Fprintf(c.stderr, "agentid: %s\n", oneLine(err.Error()))
		return exitInvalid
	}
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

func printCommands(w io.Writer) {
	fmt.Fprint(w, "agentid acts as, inspects and tests a Codex Agent Identity.\n\nUsage:\n\n  agentid COMMAND [flags]\n\nCommands:\n\n")
	for _, cmd := range commands() {
		fmt.Fprintf(w, "  %-14s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprint(w, "\nRun \"agentid COMMAND -h\" for a command's flags. Secrets are read only from files,\nstandard input or environment variables, never from flags. Exit codes: 0 success,\n1 rejected or invalid input, 2 usage error.\n")
}

// newFlagSet returns the flag set of a subcommand. Its usage goes to
// standard output for -h and to standard error with a parse error (see
// cli.parse).
func newFlagSet(c *cli, name, synopsis, help string) *flag.FlagSet {
	fs := flag.NewFlagSet("agentid "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: agentid %s %s\n\n%s\n", name, synopsis, strings.TrimSpace(help))
		var any bool
		fs.VisitAll(func(*flag.Flag) { any = true })
		if any {
			fmt.Fprint(w, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parse parses args. Flags may come before or after positional arguments
// ("endpoints URL --json" works); "--" ends the flags. -h prints the usage
// to standard output; a parse error prints the error and the usage to
// standard error. Positional arguments beyond maxArgs are a usage error.
func (c *cli) parse(fs *flag.FlagSet, args []string, maxArgs int) error {
	var out bytes.Buffer
	fs.SetOutput(&out)
	defer fs.SetOutput(c.stderr)
	var positional []string
	rest := args
	for {
		err := fs.Parse(rest)
		if errors.Is(err, flag.ErrHelp) {
			_, _ = c.stdout.Write(out.Bytes())
			return err
		}
		if err != nil {
			_, _ = c.stderr.Write(out.Bytes())
			return &parseError{err: err}
		}
		left := fs.Args()
		consumed := len(rest) - len(left)
		if consumed > 0 && rest[consumed-1] == "--" {
			positional = append(positional, left...)
			break
		}
		if len(left) == 0 {
			break
		}
		positional = append(positional, left[0])
		rest = left[1:]
	}
	// Leave the positional arguments in fs.Args for the caller.
	if err := fs.Parse(append([]string{"--"}, positional...)); err != nil {
		return &parseError{err: err}
	}
	if fs.NArg() > maxArgs {
		name := strings.TrimPrefix(fs.Name(), "agentid ")
		return usagef("%s: unexpected argument %q (run \"agentid %s -h\")", name, fs.Arg(maxArgs), name)
	}
	return nil
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
// user info or header).
type stepTransport struct {
	base http.RoundTripper
	w    io.Writer
}

func (t *stepTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	fmt.Fprintf(t.w, "agentid: %s %s://%s%s\n", describeRequest(req), req.URL.Scheme, req.URL.Host, req.URL.EscapedPath())
	return t.base.RoundTrip(req)
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
// stderr line per request, and no redirects.
func (c *cli) httpClient() *http.Client {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.ResponseHeaderTimeout = 30 * time.Second
	return &http.Client{
		Transport: &stepTransport{base: base, w: c.stderr},
		Timeout:   60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
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
