package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/identitytest"
)

const defaultServeAddr = "127.0.0.1:0"

func runServe(c *cli, args []string) error {
	fset := newFlagSet(c, "serve", "[--addr 127.0.0.1:0] [--codex-home DIR]", `
Run the fake Agent Identity backend of package identitytest in the foreground,
on a loopback address (default: a free port of 127.0.0.1), until SIGINT or
SIGTERM. Its settings are printed
on standard output as shell lines to point a client at it:

  export `+agentidentity.EnvAuthAPIBaseURL+`=…
  export `+agentidentity.EnvJWKSBaseURL+`=…

with chatgpt_base_url to configure. With --codex-home DIR (which must not
hold auth.json or config.toml yet), DIR is made a Codex home for the server: a
ChatGPT login minted by it and [features] use_agent_identity = true, and
"export CODEX_HOME=DIR" is printed too, so that "agentid provision" works at
once. The server's tokens and keys are test values: never use them elsewhere.`)
	addr := fset.String("addr", defaultServeAddr, "listen `address` host:port; the host must be loopback (localhost, 127.0.0.0/8, ::1)")
	home := fset.String("codex-home", "", "make `DIR` a Codex home pointed at the server")
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
	srv, err := identitytest.StartServer(identitytest.Options{Addr: *addr})
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer srv.Close()
	if *home != "" {
		login := srv.MintChatGPTLogin(identitytest.LoginOptions{})
		if err := srv.WriteCodexHome(*home, identitytest.CodexHomeOptions{Login: &login, UseAgentIdentity: true}); err != nil {
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
	if *home != "" {
		abs, err := filepath.Abs(*home)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "export CODEX_HOME=%s\n", shellQuote(abs))
	}
	if _, err := fmt.Fprint(c.stdout, b.String()); err != nil {
		return err
	}
	if f, ok := c.stdout.(*os.File); ok {
		_ = f.Sync()
	}
	fmt.Fprintf(c.stderr, "agentid: serving on %s; stop with Ctrl-C\n", srv.URL)
	<-ctx.Done()
	fmt.Fprintf(c.stderr, "agentid: stopped (%d agents, %d tasks registered; %d requests verified, %d rejected)\n",
		srv.AgentsRegistered(), srv.TasksRegistered(), srv.RequestsVerified(), srv.RequestsRejected())
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
