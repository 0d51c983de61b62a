//go:build interop

package interop

// The two runs of make interop, outside the namespace: the pinned Codex,
// whose run decides, then, when npm's latest release differs from it, the
// same rows against latest as a report (drift_test.go compares them). Only
// npm talks to the network; Codex runs only inside the loopback-only
// namespace (outside it, only --version).
//
// AGENTID_CODEX_VERSION names the Codex release of the deciding run
// (default the pinned one); AGENTID_CODEX_DRIFT_VERSION names the release
// the report compares with instead of npm's latest (the report then runs
// even when it is the deciding one, a check of the report itself), or "off"
// to skip the report; AGENTID_CODEX_CACHE is the folder holding one
// codex-<version> folder per release (default ~/.cache/agentidentity).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

const (
	versionEnv      = "AGENTID_CODEX_VERSION"
	driftVersionEnv = "AGENTID_CODEX_DRIFT_VERSION"
	cacheEnv        = "AGENTID_CODEX_CACHE"

	// codexRelPath is the binary inside the native package's tarball.
	codexRelPath = "package/vendor/x86_64-unknown-linux-musl/bin/codex"

	// driftBudget bounds the whole report: the npm look-ups, the fetch
	// and the run against latest.
	driftBudget = 10 * time.Minute
	npmTimeout  = 60 * time.Second // one npm view
)

func outer() int {
	version := os.Getenv(versionEnv)
	if version == "" {
		version = pinnedCodexVersion
	}
	if !versionPattern.MatchString(version) {
		fmt.Printf("codex-interop: %s=%q is not a version\n", versionEnv, version)
		fmt.Println("codex-interop: 0/0 rows pass")
		return 1
	}
	tmp, err := os.MkdirTemp("", "codex-interop-rows-")
	if err != nil {
		fmt.Printf("codex-interop: %v\n", err)
		return 1
	}
	defer func() { _ = os.RemoveAll(tmp) }()

	pinnedRows := filepath.Join(tmp, "rows-"+version+".jsonl")
	code := runSuite(suiteRun{
		version: version, pkg: codexNpmName + "@" + version + "-linux-x64", rowsFile: pinnedRows,
		deadline: time.Now().Add(namespaceTimeout + 6*time.Minute), out: os.Stdout, label: "codex-interop",
	})
	if code == 0 && !fileExists(pinnedRows) {
		code = 1 // cannot happen: a run that passed recorded its rows
	}
	driftReport(os.Stdout, version, pinnedRows, tmp)
	return code
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// suiteRun is one run of the rows against one Codex release.
type suiteRun struct {
	version  string
	pkg      string // the npm package of its Linux x64 build
	rowsFile string
	report   bool
	deadline time.Time // of the whole run: the fetch, the check and the rows
	out      io.Writer
	label    string // the prefix of this half's own lines
}

// runSuite gets the Codex binary of r.version, checks its version (outside
// the namespace, --version only) and re-runs this test binary inside a new
// loopback-only network namespace, which runs the rows. It returns the exit
// code of that run, or 1.
func runSuite(r suiteRun) int {
	start := time.Now()
	codex, err := ensureCodex(r.version, r.pkg, r.deadline, r.out)
	if err != nil {
		fmt.Fprintf(r.out, "%s: cannot get Codex: %v\n", r.label, err)
		fmt.Fprintf(r.out, "%s: 0/0 rows pass\n", r.label)
		return 1
	}
	out, err := exec.Command("timeout", "20", codex, "--version").Output()
	if err != nil || strings.TrimSpace(string(out)) != "codex-cli "+r.version {
		fmt.Fprintf(r.out, "%s: %s --version: %q, %v (want codex-cli %s)\n", r.label, codex, out, err, r.version)
		fmt.Fprintf(r.out, "%s: 0/0 rows pass\n", r.label)
		return 1
	}
	fmt.Fprintf(r.out, "%s: %s (%s), fetched or found in %.1fs\n", r.label, strings.TrimSpace(string(out)), codex, time.Since(start).Seconds())
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(r.out, "%s: %v\n", r.label, err)
		return 1
	}
	bound := min(namespaceTimeout, time.Until(r.deadline).Truncate(time.Second))
	if bound < time.Minute {
		fmt.Fprintf(r.out, "%s: %s left of the time bound, too little for the rows\n", r.label, bound)
		return 1
	}
	// The test's own time-out a little after timeout's, so that a run
	// that overruns is ended by timeout, quietly, with its rows so far
	// recorded.
	args := []string{fmt.Sprint(int(bound.Seconds())), "unshare", "-rn", "sh", "-c",
		`ip link set lo up && exec "$0" "$@"`, self, "-test.run=^(TestInterop|TestCredentials)$", "-test.timeout=" + (bound + 30*time.Second).String()}
	cmd := exec.Command("timeout", args...)
	cmd.Env = append(os.Environ(), insideEnv+"=1", codexEnv+"="+codex, rowsEnv+"="+r.rowsFile,
		boundEnv+"="+fmt.Sprint(int(bound.Seconds())))
	// Whatever a killed run left holding its output (a daemon under its
	// own timeout) does not hold this one up.
	cmd.WaitDelay = 10 * time.Second
	if r.report {
		cmd.Env = append(cmd.Env, reportEnv+"=1")
	}
	cmd.Stdout, cmd.Stderr = r.out, r.out
	if err := runInFreshSessionKeyring(cmd); err != nil { // keyring_test.go
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ee.ExitCode() == 124 {
				fmt.Fprintf(r.out, "%s: the rows did not finish within %s\n", r.label, bound)
			}
			return ee.ExitCode()
		}
		fmt.Fprintf(r.out, "%s: %v\n", r.label, err)
		return 1
	}
	return 0
}

// codexCacheDir is the folder holding the npm package of version.
func codexCacheDir(version string) (string, error) {
	root := os.Getenv(cacheEnv)
	if root == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		root = filepath.Join(home, ".cache", "agentidentity")
	}
	return filepath.Join(root, "codex-"+version), nil
}

// ensureCodex returns the cached Codex binary of version, fetching pkg with
// npm pack when the cache lacks it, within deadline.
func ensureCodex(version, pkg string, deadline time.Time, log io.Writer) (string, error) {
	dir, err := codexCacheDir(version)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, codexRelPath)
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	left := time.Until(deadline)
	if left < 30*time.Second {
		return "", fmt.Errorf("%s left of the time bound, too little to fetch %s", left.Truncate(time.Second), pkg)
	}
	fmt.Fprintf(log, "codex-interop: fetching %s with npm pack into %s\n", pkg, dir)
	pack := exec.Command("timeout", fmt.Sprint(int(min(300*time.Second, left/2).Seconds())), "npm", "pack", "--silent", pkg)
	pack.Dir = dir
	pack.Stderr = log
	name, err := pack.Output()
	if err != nil {
		return "", fmt.Errorf("npm pack %s: %w", pkg, err)
	}
	tgz := filepath.Join(dir, strings.TrimSpace(string(name)))
	if filepath.Dir(tgz) != dir {
		return "", fmt.Errorf("npm pack %s named the file %q", pkg, name)
	}
	untar := exec.Command("timeout", "120", "tar", "xzf", tgz, "-C", dir)
	untar.Stderr = log
	if err := untar.Run(); err != nil {
		return "", fmt.Errorf("unpack %s: %w", tgz, err)
	}
	_ = os.Remove(tgz)
	if _, err := os.Stat(bin); err != nil {
		return "", err
	}
	return bin, nil
}

// npmView runs `npm view <args> --json` under timeout, from an empty
// folder (no project .npmrc), and returns its standard output.
func npmView(ctx context.Context, dir string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, npmTimeout+5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "timeout", append([]string{fmt.Sprint(int(npmTimeout.Seconds())), "npm", "view"}, append(args, "--json")...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		what := err.Error()
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 124 {
			what = fmt.Sprintf("no answer within %s", npmTimeout)
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(string(out))
		}
		if msg != "" {
			what += ": " + oneLine(msg, 200)
		}
		return nil, fmt.Errorf("npm view %s: %s", strings.Join(args, " "), what)
	}
	return out, nil
}

// driftReport runs the rows against npm's latest Codex (or the release
// AGENTID_CODEX_DRIFT_VERSION names) when it differs from version, and
// prints which rows changed. It never fails the target: every problem is
// one line saying the report was skipped and why.
func driftReport(w io.Writer, version, pinnedRows, tmp string) {
	start := time.Now()
	deadline := start.Add(driftBudget)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	pinned, err := readRowsFile(pinnedRows)
	if err != nil || len(pinned) == 0 {
		fmt.Fprintln(w, driftSkipped(fmt.Sprintf("the run against %s recorded no rows (%v)", version, err)))
		return
	}
	npmDir := filepath.Join(tmp, "npm")
	if err := os.MkdirAll(npmDir, 0o700); err != nil {
		fmt.Fprintln(w, driftSkipped(err.Error()))
		return
	}
	override := os.Getenv(driftVersionEnv)
	target, line := planDrift(version, override, func() ([]byte, error) {
		return npmView(ctx, npmDir, codexNpmName, "dist-tags")
	})
	if line != "" {
		fmt.Fprintln(w, line)
		return
	}
	if override != "" {
		fmt.Fprintf(w, "%scomparing with %s (%s), not npm's latest\n", driftLinePrefix, target, driftVersionEnv)
	}
	deps, err := npmView(ctx, npmDir, codexNpmName+"@"+target, "optionalDependencies")
	var pkg string
	if err == nil {
		pkg, err = nativePackage(target, deps)
	}
	if err != nil {
		fmt.Fprintln(w, driftSkipped(fmt.Sprintf("cannot tell the Linux x64 package of Codex %s: %v", target, err)))
		return
	}
	fmt.Fprintf(w, "%sthe same rows against %s (%s), a report that decides nothing; its lines start with %q\n", driftLinePrefix, target, pkg, "drift| ")
	latestRows := filepath.Join(tmp, "rows-drift-"+target+".jsonl")
	_ = os.Remove(latestRows)
	pw := &prefixWriter{w: w, prefix: "drift| "}
	code := runSuite(suiteRun{version: target, pkg: pkg, rowsFile: latestRows, report: true,
		deadline: deadline.Add(-15 * time.Second), out: pw, label: "codex-interop"})
	pw.flush()
	latest, err := readRowsFile(latestRows)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(w, driftSkipped(fmt.Sprintf("the rows of the run against %s: %v", target, err)))
		return
	}
	if len(latest) == 0 {
		fmt.Fprintln(w, driftSkipped(fmt.Sprintf("the run against %s recorded no rows (exit code %d; see its drift| lines)", target, code)))
		return
	}
	fmt.Fprintf(w, "%sthe run against %s took %.0fs (exit code %d, not counted)\n", driftLinePrefix, target, time.Since(start).Seconds(), code)
	writeDriftReport(w, version, target, pinned, latest)
}

func readRowsFile(path string) ([]rowResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	return readRowResults(f)
}

// prefixWriter writes each line with prefix before it: the output of the
// run against latest, told apart from the deciding run's.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		if _, err := fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i]); err != nil {
			return 0, err
		}
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}

func (p *prefixWriter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 {
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf)
		p.buf = nil
	}
}
