package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"
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
			fmt.Fprintf(c.stderr, "agentid: unknown command %q\n", args[1])
			printCommands(c.stderr)
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
	fmt.Fprintf(c.stderr, "agentid: unknown command %q\n", name)
	printCommands(c.stderr)
	return exitUsage
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

// oneLine keeps an error message on one line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

func printCommands(w io.Writer) {
	fmt.Fprint(w, "agentid acts as, inspects and tests a Codex Agent Identity.\n\nUsage:\n\n  agentid COMMAND [flags]\n\nCommands:\n\n")
	for _, cmd := range commands() {
		fmt.Fprintf(w, "  %-14s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprint(w, "\nRun \"agentid COMMAND -h\" for a command's flags. Secrets are read only from files,\nstandard input or environment variables, never from flags. Exit codes: 0 success,\n1 rejected or invalid input, 2 usage error.\n")
}

// newFlagSet returns the flag set of a subcommand, printing its usage and
// errors to stderr.
func newFlagSet(c *cli, name, synopsis, help string) *flag.FlagSet {
	fs := flag.NewFlagSet("agentid "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "Usage: agentid %s %s\n\n%s\n", name, synopsis, strings.TrimSpace(help))
		var any bool
		fs.VisitAll(func(*flag.Flag) { any = true })
		if any {
			fmt.Fprint(c.stderr, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parse parses args; positional arguments beyond maxArgs are a usage error.
func parse(fs *flag.FlagSet, args []string, maxArgs int) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &parseError{err: err}
	}
	if fs.NArg() > maxArgs {
		return usagef("%s: unexpected argument %q (run \"%s -h\")", fs.Name(), fs.Arg(maxArgs), fs.Name())
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
