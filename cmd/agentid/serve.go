package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/identitytest"
	"github.com/agentidentity/agentidentity/internal/endpointrule"
)

const defaultServeAddr = "127.0.0.1:0"

// Files serve --tls writes next to the Codex home (or into a temporary
// folder removed at exit).
const (
	serveCAFile  = "identitytest-ca.pem"
	serveEnvFile = "codex.env"
)

// serveLoginTTL is the lifetime of the login serve --codex-home mints: long
// enough that the Codex CLI never refreshes it during a session, shorter
// than the 8 days after which it refreshes whatever the token says.
const serveLoginTTL = 7 * 24 * time.Hour

func runServe(c *cli, args []string) error {
	fset := newFlagSet(c, "serve", "[--addr 127.0.0.1:0] [--tls] [--codex-home DIR]", `
Run the fake Agent Identity backend of package identitytest in the foreground,
on a loopback address (default: a free port of 127.0.0.1), until SIGINT or
SIGTERM. Its settings are printed on standard output as shell lines to point
a client of this module at it:

  export `+endpointrule.EnvAuthAPIBaseURL+`=…
  export `+endpointrule.EnvJWKSBaseURL+`=…

with chatgpt_base_url to configure. With --codex-home DIR (which must not
hold auth.json or config.toml yet), DIR is made a Codex home for the server: a
ChatGPT login minted by it (valid 7 days), [features] use_agent_identity =
true, openai_base_url, and update checks, analytics, feedback and telemetry
off; "export CODEX_HOME=DIR" is printed too, so that "agentid provision"
works at once.

With --tls the server speaks https with a certificate authority made for this
run (name-constrained to loopback; its key never leaves memory), as the real
Codex CLI requires. Only the CA certificate is written, to DIR/`+serveCAFile+`
(or a temporary folder without --codex-home), with DIR/`+serveEnvFile+`, the
variables the Codex CLI needs (NAME=value lines). The trust variables
(SSL_CERT_FILE, CODEX_CA_CERTIFICATE) are printed only as a prefix of the
codex command line, never exported: they would replace the trust store of
every other program in the shell.

Each request is logged on standard error: method, path, the Authorization
scheme and the verdict, never a credential. The server's tokens and keys are
test values: never use them elsewhere.`)
	addr := fset.String("addr", defaultServeAddr, "listen `address` host:port; the host must be loopback (localhost, 127.0.0.0/8, ::1)")
	home := fset.String("codex-home", "", "make `DIR` a Codex home pointed at the server")
	useTLS := fset.Bool("tls", false, "serve https with a per-run loopback CA (needed by the Codex CLI)")
	if err := c.parse(fset, args, 0); err != nil {
		return err
	}
	if *home != "" {
		for _, name := range []string{codexhome.AuthFileName, codexhome.ConfigFileName} {
			if _, err := os.Lstat(filepath.Join(*home, name)); err == nil {
				return fmt.Errorf("serve: %s already holds %s; give an empty or new folder", *home, name)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	ctx, cancel := c.signalContext(0)
	defer cancel()
	var logMu sync.Mutex
	srv := identitytest.NewUnstartedServer(identitytest.Options{
		Addr: *addr,
		OnRequest: func(e identitytest.Exchange) {
			logMu.Lock()
			defer logMu.Unlock()
			fmt.Fprintf(c.stderr, "agentid: %s\n", e.LogLine())
		},
	})
	start := srv.Start
	if *useTLS {
		start = srv.StartTLS
	}
	if err := start(); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer srv.Close()
	var absHome string
	if *home != "" {
		login := srv.MintChatGPTLogin(identitytest.LoginOptions{TTL: serveLoginTTL})
		if err := srv.WriteCodexHome(*home, identitytest.CodexHomeOptions{Login: &login, UseAgentIdentity: true}); err != nil {
			return err
		}
		var err error
		if absHome, err = filepath.Abs(*home); err != nil {
			return err
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# fake Agent Identity backend (identitytest) at %s; test values only\n", srv.URL)
	fmt.Fprintf(&b, "# chatgpt_base_url = %q\n", srv.ChatGPTBaseURL)
	env := srv.Env()
	for _, k := range sortedKeys(env) {
		fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(env[k]))
	}
	if absHome != "" {
		fmt.Fprintf(&b, "export CODEX_HOME=%s\n", shellQuote(absHome))
	}
	if *useTLS {
		dir := absHome
		if dir == "" {
			tmp, err := os.MkdirTemp("", "agentid-serve-")
			if err != nil {
				return err
			}
			defer func() { _ = os.RemoveAll(tmp) }()
			dir = tmp
		}
		if err := writeCodexTrust(&b, srv, dir, absHome); err != nil {
			return err
		}
	}
	if _, err := fmt.Fprint(c.stdout, b.String()); err != nil {
		return err
	}
	if f, ok := c.stdout.(*os.File); ok {
		_ = f.Sync()
	}
	fmt.Fprintf(c.stderr, "agentid: serving on %s; stop with Ctrl-C\n", srv.URL)
	<-ctx.Done()
	logMu.Lock()
	st := srv.Stats()
	fmt.Fprintf(c.stderr, "agentid: stopped (%d agents, %d tasks registered; %d requests verified, %d rejected; %d token refreshes)\n",
		st.AgentsRegistered, st.TasksRegistered, st.RequestsVerified, st.RequestsRejected, st.Refreshes)
	logMu.Unlock()
	return nil
}

// writeCodexTrust writes the CA certificate and the Codex env file into dir
// and adds to b the command prefix that runs the Codex CLI against srv.
func writeCodexTrust(b *strings.Builder, srv *identitytest.Server, dir, home string) error {
	caPath := filepath.Join(dir, serveCAFile)
	if err := os.WriteFile(caPath, srv.CACertificatePEM(), 0o644); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	vars := srv.CodexEnv()
	vars["SSL_CERT_FILE"] = caPath
	vars["CODEX_CA_CERTIFICATE"] = caPath
	if home != "" {
		vars["CODEX_HOME"] = home
	}
	var file, prefix strings.Builder
	file.WriteString("# Variables for the Codex CLI against the identitytest fake backend (test values only).\n")
	for _, k := range sortedKeys(vars) {
		fmt.Fprintf(&file, "%s=%s\n", k, vars[k])
		fmt.Fprintf(&prefix, "%s=%s ", k, shellQuote(vars[k]))
	}
	envPath := filepath.Join(dir, serveEnvFile)
	if err := os.WriteFile(envPath, []byte(file.String()), 0o600); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	fmt.Fprintf(b, "# CA certificate of this run (certificate only): %s\n", caPath)
	fmt.Fprintf(b, "# Codex CLI variables, one NAME=value a line: %s\n", envPath)
	fmt.Fprintf(b, "# Run the Codex CLI (inside a loopback-only network namespace) with them for that command only:\n")
	fmt.Fprintf(b, "%scodex exec --skip-git-repo-check hi\n", prefix.String())
	return nil
}

// shellQuote quotes s for a POSIX shell when it holds anything but safe
// characters.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@%+=,", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
