package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/identitytest"
	"github.com/agentidentity/agentidentity/internal/cacert"
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

func newServeCmd(c *cli) *cobra.Command {
	addr := &hostPortValue{value: defaultServeAddr}
	var home, jwtFile, patFile, workloadFile string
	var useTLS bool
	cmd := &cobra.Command{
		Use:   "serve [--addr 127.0.0.1:0] [--tls] [--codex-home DIR] [--jwt-file FILE] [--pat-file FILE] [--workload-token-file FILE] [flags]",
		Short: "Run the fake backend (identitytest) in the foreground",
		Long: `Run the fake Agent Identity backend of package identitytest in the foreground,
on a loopback address (default: a free port of 127.0.0.1; another host exits
1), until SIGINT or SIGTERM. Its settings are printed on standard output as
shell lines to point a client of this module at it:

  export ` + endpointrule.EnvAuthAPIBaseURL + `=…
  export ` + endpointrule.EnvJWKSBaseURL + `=…

with chatgpt_base_url to configure. With --codex-home DIR (which must not
hold auth.json or config.toml yet), DIR is made a Codex home for the server: a
ChatGPT login minted by it (valid 7 days), [features] use_agent_identity =
true, openai_base_url, and update checks, analytics, feedback and telemetry
off; "export CODEX_HOME=DIR" and the "agentid provision" line are printed
too.

With --tls the server speaks https with a certificate authority made for this
run (server authentication only, name-constrained to loopback; its key never
leaves memory), as the real Codex CLI requires. Only the CA certificate is written, to DIR/` + serveCAFile + `
(or a temporary folder without --codex-home), with DIR/` + serveEnvFile + `, the
variables the Codex CLI needs (NAME=value lines). The trust variables
(` + cacert.EnvCodexCACertificate + ` and ` + cacert.EnvSSLCertFile + `) are printed only as a prefix of each
command line shown (agentid and codex), never exported: they would replace
the trust store of every other program in the shell.

With --jwt-file FILE an Agent Identity JWT the server's JWKS accepts (valid 7
days) is written to FILE (mode 0600; an existing regular file is replaced, a
symbolic link refused), with the lines that use it from the shell and from
the Codex CLI ($` + identity.EnvAccessToken + `).

With --pat-file FILE a personal access token the server knows (at-…, of an
account of its own; it never expires) is written to FILE the same way, with
the lines that use it as $` + identity.EnvAccessToken + ` ("agentid status", the Codex CLI).

With --workload-token-file FILE the server's token exchange accepts a
workload identity: a federation rule id (printed) and an assertion, written
to FILE the same way, as the workload's token file. This module exchanges
it at this server only from a Go test, with the test option the lines name
(identity.LoadOptions.UnsafeTokenExchangeURL); agentid and the Codex CLI
0.171 refuse a workload identity with this server's base URL, so their
lines are printed as comments, with the refusal.

Every credential is written to a file, never printed: the lines printed
read it with "$(cat FILE)" or name it.

Each request is logged on standard error as "agentid: METHOD PATH SCHEME
VERDICT STATUS", never with a credential. The server's tokens and keys are
test values: never use them elsewhere.

JSON (--json, printed once the server listens, instead of the shell lines):
{"url", "chatgpt_base_url", "env" (the exported variables), "codex_home",
"ca_file", "codex_env_file", "codex_env" (the Codex CLI's variables),
"trust_env" (the trust variables, for one command at a time), "jwt_file",
"pat_file", "pat_account_id", "workload_identity": {"federation_rule_id",
"token_file", "account_id", "token_exchange_url"}}; files, never their
content.`,
		Example: examples(
			"agentid serve --codex-home /tmp/codex-fake",
			"agentid serve --tls --codex-home /tmp/codex-fake --jwt-file /tmp/agent.jwt",
			"agentid serve --tls --codex-home /tmp/codex-fake --pat-file /tmp/pat --workload-token-file /tmp/oidc-token"),
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServe(c, cmd, serveSettings{addr: addr.value, home: home, jwtFile: jwtFile,
				patFile: patFile, workloadFile: workloadFile, useTLS: useTLS})
		},
	}
	f := cmd.Flags()
	f.Var(addr, "addr", "listen `address`; the host must be loopback (localhost, 127.0.0.0/8, ::1)")
	f.StringVar(&home, "codex-home", "", "make `DIR` a Codex home pointed at the server")
	f.BoolVar(&useTLS, "tls", false, "serve https with a per-run loopback CA (needed by the Codex CLI)")
	f.StringVar(&jwtFile, "jwt-file", "", "write an Agent Identity JWT the server accepts to `FILE` (mode 0600)")
	f.StringVar(&patFile, "pat-file", "", "write a personal access token the server knows to `FILE` (mode 0600)")
	c.addJSONFlag(cmd)
	_ = cmd.MarkFlagDirname("codex-home")
	_ = cmd.MarkFlagFilename("jwt-file")
	f.StringVar(&workloadFile, "workload-token-file", "", "write a workload identity assertion the server's token exchange accepts to `FILE` (mode 0600)")
	_ = cmd.MarkFlagFilename("pat-file")
	_ = cmd.MarkFlagFilename("workload-token-file")
	return cmd
}

// serveJSON is what serve --json prints: where the server is and the
// files it wrote, never a credential.
type serveJSON struct {
	URL            string            `json:"url"`
	ChatGPTBaseURL string            `json:"chatgpt_base_url"`
	Env            map[string]string `json:"env"`
	CodexHome      string            `json:"codex_home,omitempty"`
	CAFile         string            `json:"ca_file,omitempty"`
	CodexEnvFile   string            `json:"codex_env_file,omitempty"`
	CodexEnv       map[string]string `json:"codex_env,omitempty"`
	TrustEnv       map[string]string `json:"trust_env,omitempty"`
	JWTFile        string            `json:"jwt_file,omitempty"`
	PATFile        string            `json:"pat_file,omitempty"`
	PATAccountID   string            `json:"pat_account_id,omitempty"`
	Workload       *serveWorkload    `json:"workload_identity,omitempty"`
}

// serveWorkload is the workload identity of serve --workload-token-file.
type serveWorkload struct {
	FederationRuleID string `json:"federation_rule_id"`
	TokenFile        string `json:"token_file"`
	AccountID        string `json:"account_id"`
	// TokenExchangeURL is for identity.LoadOptions.UnsafeTokenExchangeURL.
	TokenExchangeURL string `json:"token_exchange_url"`
}

// serveSettings are the flags of serve.
type serveSettings struct {
	addr, home                     string
	jwtFile, patFile, workloadFile string
	useTLS                         bool
}

func runServe(c *cli, cmd *cobra.Command, o serveSettings) error {
	addr, home, useTLS := o.addr, o.home, o.useTLS
	if home != "" {
		for _, name := range []string{"auth.json", "config.toml"} {
			if _, err := os.Lstat(filepath.Join(home, name)); err == nil {
				return withHint(fmt.Errorf("%s already holds %s", home, name), "give an empty or new folder to --codex-home")
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	ctx, cancel := c.signalContext(0)
	defer cancel()
	var logMu sync.Mutex
	c.progressf(cmd, "starting the fake backend on %s …", addr)
	what := "the fake backend to start on " + addr
	if useTLS {
		what += " (making its certificate authority)"
	}
	stop := c.waitNotice(cmd, waitingFor(what))
	srv := identitytest.NewUnstartedServer(identitytest.Options{
		Addr: addr,
		OnRequest: func(e identitytest.Exchange) {
			logMu.Lock()
			defer logMu.Unlock()
			fmt.Fprintf(c.stderr, "agentid: %s\n", e.LogLine())
		},
	})
	start := srv.Start
	if useTLS {
		start = srv.StartTLS
	}
	err := start()
	stop()
	if err != nil {
		return withHint(err, "listen on a loopback address, like --addr 127.0.0.1:8080")
	}
	defer srv.Close()
	var absHome string
	if home != "" {
		c.progressf(cmd, "writing the Codex home %s …", home)
		login := srv.MintChatGPTLogin(identitytest.LoginOptions{TTL: serveLoginTTL})
		if err := srv.WriteCodexHome(home, identitytest.CodexHomeOptions{Login: &login, UseAgentIdentity: true}); err != nil {
			return err
		}
		if absHome, err = filepath.Abs(home); err != nil {
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
		env["CODEX_HOME"] = absHome
	}
	rep := &serveJSON{URL: srv.URL, ChatGPTBaseURL: srv.ChatGPTBaseURL, Env: env, CodexHome: absHome}
	// trust is the prefix of every command line shown: the trust variables
	// of the run's CA (with --tls), for that command only.
	var trust, codexVars string
	if useTLS {
		dir := absHome
		if dir == "" {
			tmp, err := os.MkdirTemp("", "agentid-serve-")
			if err != nil {
				return err
			}
			defer func() { _ = os.RemoveAll(tmp) }()
			dir = tmp
		}
		if trust, codexVars, err = writeCodexTrust(&b, rep, srv, dir, absHome); err != nil {
			return err
		}
	}
	if absHome != "" {
		fmt.Fprintf(&b, "# Provision the identity of $CODEX_HOME with this module:\n")
		fmt.Fprintf(&b, "%sagentid provision\n", trust)
	}
	if useTLS {
		fmt.Fprintf(&b, "# Run the Codex CLI (inside a loopback-only network namespace) with its variables for that command only:\n")
		fmt.Fprintf(&b, "%scodex exec --skip-git-repo-check hi\n", codexVars)
	}
	if o.jwtFile != "" {
		if err := writeServeJWT(&b, rep, srv, o.jwtFile, trust, codexVars, absHome); err != nil {
			return err
		}
	}
	if o.patFile != "" {
		if err := writeServePAT(&b, rep, srv, o.patFile, trust, codexVars); err != nil {
			return err
		}
	}
	if o.workloadFile != "" {
		if err := writeServeWorkload(&b, rep, srv, o.workloadFile, trust, codexVars); err != nil {
			return err
		}
	}
	if c.json {
		if err := c.writeJSON(rep); err != nil {
			return err
		}
	} else if _, err := fmt.Fprint(c.stdout, b.String()); err != nil {
		return err
	}
	if f, ok := c.stdout.(*os.File); ok {
		_ = f.Sync()
	}
	fmt.Fprintf(c.stderr, "agentid: serving on %s; stop with Ctrl-C\n", srv.URL)
	<-ctx.Done()
	logMu.Lock()
	st := srv.Stats()
	fmt.Fprintf(c.stderr, "agentid: stopped (%d agents, %d tasks registered; %d requests verified, %d rejected; %d token refreshes; %d personal access token lookups, %d token exchanges)\n",
		st.AgentsRegistered, st.TasksRegistered, st.RequestsVerified, st.RequestsRejected, st.Refreshes,
		st.PersonalAccessTokenLookups, st.TokenExchanges)
	logMu.Unlock()
	return nil
}

// writeServeJWT writes an Agent Identity JWT the server accepts to path and
// adds to b the lines that use it.
func writeServeJWT(b *strings.Builder, rep *serveJSON, srv *identitytest.Server, path, trust, codexVars, home string) error {
	tok, err := srv.MintAgentJWT(identitytest.JWTOptions{TTL: serveLoginTTL})
	if err != nil {
		return err
	}
	if err := writeSecretFile(path, []byte(tok.Reveal()+"\n"), true); err != nil {
		return withHint(fmt.Errorf("--jwt-file: %w", err), "give a new path or a regular file to replace")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	rep.JWTFile = abs
	q := shellQuote(abs)
	fmt.Fprintf(b, "# Agent Identity JWT the server accepts (test value, valid 7 days): %s\n", abs)
	fmt.Fprintf(b, "# Use it from the shell:\n")
	fmt.Fprintf(b, "%sagentid jwt verify --chatgpt-base-url %s --token-file %s\n", trust, shellQuote(srv.ChatGPTBaseURL), q)
	if home != "" {
		fmt.Fprintf(b, "%s%s=\"$(cat %s)\" agentid register-task\n", trust, identity.EnvAccessToken, q)
	}
	if codexVars == "" {
		fmt.Fprintf(b, "# From the Codex CLI, as $%s (it needs https: run serve with --tls):\n", identity.EnvAccessToken)
		fmt.Fprintf(b, "# %s=\"$(cat %s)\" codex exec --skip-git-repo-check hi\n", identity.EnvAccessToken, q)
		return nil
	}
	fmt.Fprintf(b, "# From the Codex CLI, as $%s:\n", identity.EnvAccessToken)
	fmt.Fprintf(b, "%s=\"$(cat %s)\" %scodex exec --skip-git-repo-check hi\n", identity.EnvAccessToken, q, codexVars)
	return nil
}

// writeServePAT writes a personal access token the server knows to path and
// adds to b the lines that use it.
func writeServePAT(b *strings.Builder, rep *serveJSON, srv *identitytest.Server, path, trust, codexVars string) error {
	tok, account := srv.MintPersonalAccessToken(codexhome.Account{})
	if err := writeSecretFile(path, []byte(tok.Reveal()+"\n"), true); err != nil {
		return withHint(fmt.Errorf("--pat-file: %w", err), "give a new path or a regular file to replace")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	rep.PATFile, rep.PATAccountID = abs, account.AccountID
	q := shellQuote(abs)
	fmt.Fprintf(b, "# Personal access token the server knows (test value, account %s, never expires): %s\n", account.AccountID, abs)
	fmt.Fprintf(b, "# Use it from the shell, as $%s:\n", identity.EnvAccessToken)
	fmt.Fprintf(b, "%s%s=\"$(cat %s)\" agentid status\n", trust, identity.EnvAccessToken, q)
	if codexVars == "" {
		fmt.Fprintf(b, "# From the Codex CLI, as $%s (it needs https: run serve with --tls):\n", identity.EnvAccessToken)
		fmt.Fprintf(b, "# %s=\"$(cat %s)\" codex exec --skip-git-repo-check hi\n", identity.EnvAccessToken, q)
		return nil
	}
	fmt.Fprintf(b, "# From the Codex CLI, as $%s:\n", identity.EnvAccessToken)
	fmt.Fprintf(b, "%s=\"$(cat %s)\" %scodex exec --skip-git-repo-check hi\n", identity.EnvAccessToken, q, codexVars)
	fmt.Fprintf(b, "# Or stored in auth.json as \"codex login --with-access-token\" stores it (this replaces the login there):\n")
	fmt.Fprintf(b, "# %scodex login --with-access-token < %s\n", codexVars, q)
	return nil
}

// serveRuleID is the federation rule of the workload identity serve
// --workload-token-file adds (the server is the run's own: one rule is
// enough).
const serveRuleID = "fedrule_identitytest"

// serveWorkloadRefusal is what the Codex CLI 0.171 and Load say of a
// workload identity with a base URL outside production and staging.
const serveWorkloadRefusal = "workload identity auth supports only trusted production and staging app routing"

// writeServeWorkload makes the server's token exchange accept a workload
// identity, writes its assertion to path (the workload's token file) and
// adds to b the lines that use it.
func writeServeWorkload(b *strings.Builder, rep *serveJSON, srv *identitytest.Server, path, trust, codexVars string) error {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return err
	}
	assertion := codexhome.NewSecret("identitytest-workload-" + base64.RawURLEncoding.EncodeToString(raw[:]))
	account, err := srv.AddWorkloadIdentity(serveRuleID, assertion, codexhome.Account{})
	if err != nil {
		return err
	}
	if err := writeSecretFile(path, []byte(assertion.Reveal()+"\n"), true); err != nil {
		return withHint(fmt.Errorf("--workload-token-file: %w", err), "give a new path or a regular file to replace")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	rep.Workload = &serveWorkload{FederationRuleID: serveRuleID, TokenFile: abs, AccountID: account.AccountID, TokenExchangeURL: srv.RefreshTokenURL}
	vars := fmt.Sprintf("%s=%s %s=%s ", envFederationRuleID, shellQuote(serveRuleID), envIdentityTokenFile, shellQuote(abs))
	fmt.Fprintf(b, "# Workload identity the server's token exchange accepts (test values, account %s): rule %s, token file %s\n", account.AccountID, serveRuleID, abs)
	fmt.Fprintf(b, "# This module exchanges it here only from a Go test: the variables of the lines below and the test option\n")
	fmt.Fprintf(b, "#   identity.LoadOptions{UnsafeTokenExchangeURL: %q}\n", srv.RefreshTokenURL)
	fmt.Fprintf(b, "# (it sends the assertion there: never outside a test). Without that option agentid and the Codex CLI 0.171\n")
	fmt.Fprintf(b, "# refuse this server's base URL for a workload identity (%q):\n", serveWorkloadRefusal)
	fmt.Fprintf(b, "# %s%sagentid status\n", trust, vars)
	fmt.Fprintf(b, "# %s%scodex exec --skip-git-repo-check hi\n", vars, codexVars)
	return nil
}

// writeCodexTrust writes the CA certificate and the Codex env file into dir
// and returns the prefix that trusts the CA for one command, and the prefix
// of the Codex command line (its variables, the trust ones included).
func writeCodexTrust(b *strings.Builder, rep *serveJSON, srv *identitytest.Server, dir, home string) (trust, codex string, err error) {
	caPath := filepath.Join(dir, serveCAFile)
	if err := os.WriteFile(caPath, srv.CACertificatePEM(), 0o644); err != nil {
		return "", "", err
	}
	trustVars := map[string]string{cacert.EnvCodexCACertificate: caPath, cacert.EnvSSLCertFile: caPath}
	vars := srv.CodexEnv()
	for k, v := range trustVars {
		vars[k] = v
	}
	if home != "" {
		vars["CODEX_HOME"] = home
	}
	var file, prefix, tp strings.Builder
	file.WriteString("# Variables for the Codex CLI against the identitytest fake backend (test values only).\n")
	for _, k := range sortedKeys(vars) {
		fmt.Fprintf(&file, "%s=%s\n", k, vars[k])
		fmt.Fprintf(&prefix, "%s=%s ", k, shellQuote(vars[k]))
	}
	for _, k := range sortedKeys(trustVars) {
		fmt.Fprintf(&tp, "%s=%s ", k, shellQuote(trustVars[k]))
	}
	envPath := filepath.Join(dir, serveEnvFile)
	if err := os.WriteFile(envPath, []byte(file.String()), 0o600); err != nil {
		return "", "", err
	}
	rep.CAFile, rep.CodexEnvFile, rep.CodexEnv, rep.TrustEnv = caPath, envPath, vars, trustVars
	fmt.Fprintf(b, "# CA certificate of this run (certificate only): %s\n", caPath)
	fmt.Fprintf(b, "# Codex CLI variables, one NAME=value a line: %s\n", envPath)
	fmt.Fprintf(b, "# Every command below trusts the CA for itself only (%s, %s): never export them.\n", cacert.EnvCodexCACertificate, cacert.EnvSSLCertFile)
	return tp.String(), prefix.String(), nil
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
