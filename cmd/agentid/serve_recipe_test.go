package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity/codexhome"
)

// readmeRecipe returns the indented shell block after the recipe marker of
// the README.
func readmeRecipe(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	s := string(data)
	i := strings.Index(s, "<!-- recipe "+name+":")
	require.GreaterOrEqual(t, i, 0, "README has the recipe %s", name)
	s = s[i:]
	j := strings.Index(s, "<!-- END recipe -->")
	require.Greater(t, j, 0)
	var lines []string
	for _, l := range strings.Split(s[:j], "\n") {
		if strings.HasPrefix(l, "    ") {
			lines = append(lines, strings.TrimPrefix(l, "    "))
		} else if len(lines) > 0 {
			break
		}
	}
	require.NotEmpty(t, lines)
	return strings.Join(lines, "\n") + "\n"
}

// shellRun runs script with sh in a clean environment where "agentid" is
// the binary under test; the whole process group is killed at the end.
func shellRun(t *testing.T, script string, env map[string]string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-e", "-c", script)
	cmd.Env = []string{"PATH=" + filepath.Dir(binPath) + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TMPDIR=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	recordOutput(result{args: []string{"sh", "-c", "README recipe"}, stdout: stdout.String(), stderr: stderr.String()}, nil, false)
	return stdout.String(), stderr.String(), err
}

// TestREADMERecipeServeTLSProvision runs the README's recipe as written:
// serve --tls, then the provision line it prints, trusting the fake's CA for
// that command only.
func TestREADMERecipeServeTLSProvision(t *testing.T) {
	script := readmeRecipe(t, "serve-tls-provision")
	require.Contains(t, script, "agentid serve --tls")
	dir := t.TempDir()
	// The recipe makes its folder with mktemp -d: keep it for the checks.
	script = strings.Replace(script, "DIR=$(mktemp -d)", "DIR="+dir, 1)
	stdout, stderr, err := shellRun(t, script, nil)
	require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Regexp(t, `(?m)^agent_runtime_id agent-\d+$`, stdout)
	assert.Contains(t, stdout, "identity registered (saved to ")
	assert.Contains(t, stderr, "agentid: registering agent at https://127.0.0.1:")
	home := filepath.Join(dir, "codex")
	af, err := codexhome.OpenStore(home).Read()
	require.NoError(t, err)
	require.NotNil(t, af.AgentIdentityRecord())
	addSecret(t, "recipe agent key", af.AgentIdentityRecord().AgentPrivateKey.Reveal())

	serveOut, err := os.ReadFile(filepath.Join(dir, "serve.out"))
	require.NoError(t, err)
	out := string(serveOut)
	caPath := filepath.Join(home, serveCAFile)
	trust := "CODEX_CA_CERTIFICATE=" + caPath + " SSL_CERT_FILE=" + caPath + " "
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "export ") {
			assert.NotContains(t, l, "CODEX_CA_CERTIFICATE", "a trust variable is never exported")
			assert.NotContains(t, l, "SSL_CERT_FILE", "a trust variable is never exported")
		}
		if strings.Contains(l, "agentid ") && !strings.HasPrefix(l, "#") {
			assert.Contains(t, l, trust, "each agentid line carries the trust prefix: %q", l)
		}
	}
	assert.Contains(t, out, "\n"+trust+"agentid provision\n")
	jwt := filepath.Join(dir, "agent.jwt")
	assert.Regexp(t, `(?m)^CODEX_ACCESS_TOKEN="\$\(cat `+regexp.QuoteMeta(jwt)+`\)" .*CODEX_CA_CERTIFICATE=.* codex exec --skip-git-repo-check hi$`, out, "the Codex line takes the JWT as CODEX_ACCESS_TOKEN")
	assert.Contains(t, out, trust+`CODEX_ACCESS_TOKEN="$(cat `+jwt+`)" agentid register-task`+"\n")
}

// serveLines starts agentid serve with args and returns its printed lines
// (up to the first Codex line) and a func that stops it.
func serveLines(t *testing.T, args ...string) ([]string, func() string) {
	t.Helper()
	return serveLinesUntil(t, func(l string) bool {
		return strings.Contains(l, "codex exec") && !strings.HasPrefix(l, "export ")
	}, args...)
}

// serveLinesUntil starts agentid serve with args and returns its printed
// lines up to the one last says is the last, and a func that stops it.
func serveLinesUntil(t *testing.T, last func(string) bool, args ...string) ([]string, func() string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, binPath, append([]string{"serve"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	var lines []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if last(sc.Text()) {
			break
		}
	}
	stop := func() string {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
		cancel()
		recordOutput(result{args: append([]string{"serve"}, args...), stdout: strings.Join(lines, "\n"), stderr: stderr.String()}, nil, false)
		return stderr.String()
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); cancel() })
	return lines, stop
}

// TestServeJWTFile: --jwt-file writes (0600) a JWT the server's JWKS
// accepts, and the lines printed for the shell work as printed.
func TestServeJWTFile(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "codex")
	jwt := filepath.Join(dir, "agent.jwt")
	lines, stop := serveLines(t, "--codex-home", home, "--jwt-file", jwt)
	st, err := os.Lstat(jwt)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	tok, err := os.ReadFile(jwt)
	require.NoError(t, err)
	addSecret(t, "serve --jwt-file token", strings.TrimSpace(string(tok)))

	var exports, verify, register string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "export "):
			exports += l + "\n"
		case strings.HasPrefix(l, "agentid jwt verify "):
			verify = l
		case strings.Contains(l, " agentid register-task"):
			register = l
		}
	}
	require.NotEmpty(t, verify, strings.Join(lines, "\n"))
	require.NotEmpty(t, register, strings.Join(lines, "\n"))
	assert.Contains(t, strings.Join(lines, "\n"), "# CODEX_ACCESS_TOKEN=\"$(cat "+jwt+")\" codex exec", "how the Codex CLI takes it")
	for _, line := range []string{verify + " --json", register + " --json"} {
		stdout, stderr, err := shellRun(t, exports+line+"\n", nil)
		require.NoError(t, err, "%s\nstdout:\n%s\nstderr:\n%s", line, stdout, stderr)
		var got map[string]any
		require.NoError(t, json.Unmarshal([]byte(stdout), &got), stdout)
		if strings.Contains(line, "jwt verify") {
			assert.Equal(t, true, got["verified"])
		} else {
			assert.NotEmpty(t, got["task_id"])
		}
	}
	assert.Regexp(t, `(?m)^agentid: POST /api/accounts/v1/agent/agent-\d+/task/register \S+ verified 200$`, stop(), "the task registration of the JWT's agent verified")
}

// TestServeTLSTrust: against serve --tls, provision trusts the fake's CA
// through CODEX_CA_CERTIFICATE or SSL_CERT_FILE, and without either says
// what to set.
func TestServeTLSTrust(t *testing.T) {
	home := filepath.Join(t.TempDir(), "codex")
	lines, stop := serveLines(t, "--tls", "--codex-home", home)
	defer stop()
	env := map[string]string{}
	for _, l := range lines {
		if k, v, ok := strings.Cut(strings.TrimPrefix(l, "export "), "="); ok && strings.HasPrefix(l, "export ") {
			env[k] = v
		}
	}
	require.Equal(t, home, env["CODEX_HOME"])
	ca := filepath.Join(home, serveCAFile)
	tests := []exitRow{
		{name: "no trust variable", inv: invocation{args: []string{"provision"}, env: env}, code: 1, stderr: "certificate signed by unknown authority", hint: "CODEX_CA_CERTIFICATE=FILE"},
		{name: "CODEX_CA_CERTIFICATE", inv: invocation{args: []string{"provision"}, env: mergeEnv(env, map[string]string{"CODEX_CA_CERTIFICATE": ca})}, code: 0},
		{name: "SSL_CERT_FILE", inv: invocation{args: []string{"provision", "--json"}, env: mergeEnv(env, map[string]string{"SSL_CERT_FILE": ca})}, code: 0},
		{name: "a CA file that does not exist", inv: invocation{args: []string{"provision"}, env: mergeEnv(env, map[string]string{"CODEX_CA_CERTIFICATE": ca + ".absent"})}, code: 1, stderr: "no such file", hint: "unset it"},
		{name: "status names a bad CA file", inv: invocation{args: []string{"status"}, env: mergeEnv(env, map[string]string{"CODEX_CA_CERTIFICATE": home})}, code: 1, stderr: "CODEX_CA_CERTIFICATE=" + home},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkExitRow(t, tt) })
	}
}
