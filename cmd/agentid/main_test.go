package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/internal/testkit"
)

// binPath is the agentid binary built once by TestMain.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "agentid-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "agentid")
	build := exec.Command("go", "build", "-o", binPath, ".")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	if code == 0 && !checkNoSecretLeaked(os.Stderr) {
		code = 1
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the binary.
type result struct {
	args           []string
	code           int
	stdout, stderr string
}

// invocation describes one run of the binary.
type invocation struct {
	args  []string
	env   map[string]string
	stdin string
	// intended names a secret this run prints on purpose to standard
	// output (keygen without --out, assert's header), exempt from the leak
	// check for stdout only.
	intended []string
	// printsSecret says stdout holds a secret made inside the binary on
	// purpose (assert's header), so the shape check skips stdout.
	printsSecret bool
}

// runBin runs the binary with a clean environment (PATH and a temporary HOME,
// nothing else of the test process) plus inv.env, and records its output for
// the secret check.
func runBin(t *testing.T, inv invocation) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, inv.args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range inv.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = strings.NewReader(inv.stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		require.True(t, ok, "running %v: %v", inv.args, err)
		code = ee.ExitCode()
	}
	r := result{args: inv.args, code: code, stdout: stdout.String(), stderr: stderr.String()}
	recordOutput(r, inv.intended, inv.printsSecret)
	return r
}

func run1(t *testing.T, args ...string) result {
	t.Helper()
	return runBin(t, invocation{args: args})
}

// --- the secret check ---

var leak struct {
	sync.Mutex
	secrets map[string]string // value → description
	outputs []recorded
}

type recorded struct {
	r            result
	intended     map[string]bool
	printsSecret bool
}

// addSecret registers a value that must never appear in any output (except
// where a run says it prints it on purpose). Short values are refused: the
// check would be meaningless.
func addSecret(t *testing.T, what, value string) {
	t.Helper()
	require.GreaterOrEqual(t, len(value), 16, "secret %s too short to check", what)
	leak.Lock()
	defer leak.Unlock()
	if leak.secrets == nil {
		leak.secrets = map[string]string{}
	}
	leak.secrets[value] = what
}

func recordOutput(r result, intended []string, printsSecret bool) {
	leak.Lock()
	defer leak.Unlock()
	m := map[string]bool{}
	for _, s := range intended {
		m[s] = true
	}
	leak.outputs = append(leak.outputs, recorded{r, m, printsSecret || len(intended) > 0})
}

// secretShapes are prefixes that only secrets have in this command's output:
// base64url of '{"' (JWT header or payload, AgentAssertion envelope) and the
// base64 of the PKCS#8 Ed25519 key headers (v1 and v2).
var secretShapes = []string{"eyJ", "MC4CAQAwBQYDK2Vw", "MFECAQEwBQYDK2Vw"}

// checkNoSecretLeaked reports every registered secret found in any recorded
// stdout or stderr.
func checkNoSecretLeaked(w io.Writer) bool {
	leak.Lock()
	defer leak.Unlock()
	ok := true
	for _, o := range leak.outputs {
		for value, what := range leak.secrets {
			if strings.Contains(o.r.stderr, value) {
				fmt.Fprintf(w, "secret leak: %s in stderr of agentid %s\n", what, strings.Join(o.r.args, " "))
				ok = false
			}
			if strings.Contains(o.r.stdout, value) && !o.intended[value] {
				fmt.Fprintf(w, "secret leak: %s in stdout of agentid %s\n", what, strings.Join(o.r.args, " "))
				ok = false
			}
		}
	}
	// Secrets the tests never saw (the demo's minted login, keys generated
	// inside the binary) are caught by their shape: a JWT or JSON segment
	// in base64url, or an Ed25519 PKCS#8 key in base64.
	for _, o := range leak.outputs {
		for _, pattern := range secretShapes {
			if strings.Contains(o.r.stderr, pattern) {
				fmt.Fprintf(w, "secret leak: %q in stderr of agentid %s\n", pattern, strings.Join(o.r.args, " "))
				ok = false
			}
			if strings.Contains(o.r.stdout, pattern) && !o.printsSecret && len(o.intended) == 0 {
				fmt.Fprintf(w, "secret leak: %q in stdout of agentid %s\n", pattern, strings.Join(o.r.args, " "))
				ok = false
			}
		}
	}
	// A full run must have checked something; a run of a few tests
	// (-run) may register no secret.
	if f := flag.Lookup("test.run"); (f == nil || f.Value.String() == "") && (len(leak.secrets) == 0 || len(leak.outputs) == 0) {
		fmt.Fprintln(w, "secret check: nothing was checked")
		ok = false
	}
	return ok
}

// TestSecretCheckCatchesLeaks makes sure the leak check can fail.
func TestSecretCheckCatchesLeaks(t *testing.T) {
	leak.Lock()
	savedSecrets, savedOutputs := leak.secrets, leak.outputs
	leak.secrets = map[string]string{"0123456789abcdefXYZ": "test secret"}
	leak.outputs = []recorded{{r: result{args: []string{"x"}, stderr: "oops 0123456789abcdefXYZ"}}}
	leak.Unlock()
	caught := !checkNoSecretLeaked(io.Discard)
	leak.Lock()
	leak.secrets, leak.outputs = savedSecrets, savedOutputs
	leak.Unlock()
	require.True(t, caught)
}

// inProcess describes one run of the command tree inside the test process,
// with the seams the binary cannot offer: terminals, the clock of waits and
// the signals.
type inProcess struct {
	args  []string
	env   map[string]string
	stdin io.Reader
	// stdinTerminal and stderrTerminal make isTerminal say yes for them.
	stdinTerminal, stderrTerminal bool
	// after replaces time.After (nil: a channel that never fires, so no
	// wait notice).
	after func(time.Duration) <-chan time.Time
	// stderr, if not nil, receives standard error (else a buffer).
	stderr io.Writer
	// notify replaces signal.Notify (nil: no signals).
	notify func(c chan<- os.Signal, sig ...os.Signal)
	// printsSecret says stdout holds a secret on purpose (see invocation).
	printsSecret bool
}

// runInProcess runs the command tree in-process and records its output for
// the secret check.
func runInProcess(t *testing.T, p inProcess) result {
	t.Helper()
	var stdout bytes.Buffer
	stderr := &testkit.Buffer{}
	var errw io.Writer = stderr
	if p.stderr != nil {
		errw = io.MultiWriter(stderr, p.stderr)
	}
	stdin := p.stdin
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	after := p.after
	if after == nil {
		after = func(time.Duration) <-chan time.Time { return nil }
	}
	env := map[string]string{"HOME": t.TempDir()}
	for k, v := range p.env {
		env[k] = v
	}
	c := &cli{
		stdin: stdin, stdout: &stdout, stderr: errw,
		getenv:    func(k string) string { return env[k] },
		lookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		notify:    p.notify,
		isTerminal: func(s any) bool {
			return s == stdin && p.stdinTerminal || s == errw && p.stderrTerminal
		},
		after: after,
	}
	code := run(p.args, c)
	r := result{args: p.args, code: code, stdout: stdout.String(), stderr: stderr.String()}
	recordOutput(r, nil, p.printsSecret)
	return r
}
