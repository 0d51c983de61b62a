package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity/identitytest"
	"github.com/agentidentity/agentidentity/internal/endpointrule"
)

// allCommands walks the command tree: every command a user can run or ask
// help for (cobra's hidden __complete commands aside).
func allCommands(t *testing.T) []*cobra.Command {
	t.Helper()
	var out []*cobra.Command
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		if cmd.Hidden {
			return
		}
		out = append(out, cmd)
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd(newCLI()))
	require.Greater(t, len(out), 15)
	return out
}

// pathArgs is the command line of cmd: "jwt decode" → [jwt decode].
func pathArgs(cmd *cobra.Command) []string { return strings.Fields(commandName(cmd)) }

func TestHelpExitsZero(t *testing.T) {
	type row struct {
		name string
		args []string
		want string // in stdout
	}
	tests := []row{
		{"help", []string{"help"}, "Available Commands:"},
		{"--help", []string{"--help"}, "Available Commands:"},
		{"-h", []string{"-h"}, "Available Commands:"},
		{"help jwt decode", []string{"help", "jwt", "decode"}, "agentid jwt decode --insecure"},
		{"help help", []string{"help", "help"}, "agentid help [COMMAND]"},
		{"jwt --help", []string{"jwt", "--help"}, "Usage:\n  agentid jwt"},
		{"version -h", []string{"version", "-h"}, "Usage:\n  agentid version"},
	}
	for _, cmd := range allCommands(t) {
		a := pathArgs(cmd)
		tests = append(tests,
			row{strings.Join(append(a, "-h"), " "), append(append([]string{}, a...), "-h"), "Usage:\n  " + cmd.CommandPath()},
			row{strings.Join(append(a, "--help"), " "), append(append([]string{}, a...), "--help"), "Usage:\n  " + cmd.CommandPath()},
			row{"help " + strings.Join(a, " "), append([]string{"help"}, a...), "Usage:\n  " + cmd.CommandPath()})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runInProcess(t, inProcess{args: tt.args})
			require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
			assert.Contains(t, r.stdout, tt.want, "help goes to standard output")
			assert.Empty(t, r.stderr)
		})
	}
}

func TestHelpListsEveryCommand(t *testing.T) {
	r := runInProcess(t, inProcess{args: []string{"help"}})
	require.Equal(t, 0, r.code)
	for _, cmd := range newRootCmd(newCLI()).Commands() {
		if !cmd.Hidden {
			assert.Contains(t, r.stdout, "  "+cmd.Name()+" ")
		}
	}
	assert.Contains(t, r.stdout, exitCodeHelp, "agentid help states the exit-code rule")
}

func TestEveryCommandHasAnExample(t *testing.T) {
	for _, cmd := range allCommands(t) {
		t.Run(cmd.CommandPath(), func(t *testing.T) {
			assert.True(t, cmd.HasExample(), "an Example block")
			assert.Contains(t, cmd.Example, "agentid ")
		})
	}
}

// libraryPrefixRE finds a library package prefix inside an error line.
var libraryPrefixRE = regexp.MustCompile(`(^|[\s(\["':])(agentidentity|identity|identitytest|gateway|codexhome): `)

// exitRow is one command line and the exit code and standard error line it
// must get.
type exitRow struct {
	name string
	inv  invocation
	code int
	// stderr is a substring of the one error line; hint a substring of its
	// "; what to do" part ("" for no check).
	stderr, hint string
	// multiline says standard error is not one line (the command list).
	multiline bool
}

// checkExitRow runs one row and checks the exit-code rule and the form of
// the error line.
func checkExitRow(t *testing.T, tt exitRow) {
	t.Helper()
	r := runBin(t, tt.inv)
	require.Equal(t, tt.code, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, tt.stderr)
	if tt.code == 0 || tt.multiline {
		return
	}
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	require.True(t, strings.HasSuffix(r.stderr, "\n"), "ends with a newline: %q", r.stderr)
	// Lines before the error may only be the network steps the command
	// took (what it sent, and where).
	for _, l := range lines[:len(lines)-1] {
		assert.Regexp(t, `^agentid: (registering agent at|registering task at|fetching JWKS from|sending [A-Z]+ to) https?://[^ ?#@]+$`, l, "only network steps before the error line")
	}
	// The error is the last line (network commands print their requests
	// first), "agentid: COMMAND: what happened[; what to do]".
	prefix := "agentid: "
	if name := commandOf(tt.inv.args); name != "" {
		prefix += name + ": "
	}
	require.True(t, strings.HasPrefix(last, prefix), "%q starts with %q", last, prefix)
	assert.NotRegexp(t, libraryPrefixRE, strings.TrimPrefix(last, prefix), "no library package prefix")
	assert.NotRegexp(t, `agentid: agentid[ :]`, last)
	if tt.hint != "" {
		_, hint, ok := strings.Cut(last, "; ")
		require.True(t, ok, "a what-to-do part: %q", last)
		assert.Contains(t, hint, tt.hint)
	}
	if tt.code == exitUsage {
		assert.Empty(t, r.stdout, "a usage error prints nothing on standard output")
	}
	if tt.code == exitInvalid && hasArg(tt.inv.args, "--json") {
		var obj map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &obj), "one JSON object, also on failure: %q", r.stdout)
		assert.NotEmpty(t, obj["error"])
	}
}

// commandOf is the command path an argument list runs ("" for none).
func commandOf(args []string) string {
	cmd, _, err := newRootCmd(newCLI()).Find(args)
	if err != nil || cmd.Parent() == nil {
		return ""
	}
	return commandName(cmd)
}

func hasArg(args []string, a string) bool {
	for _, x := range args {
		if x == "--" {
			return false
		}
		if x == a {
			return true
		}
	}
	return false
}

// TestExitCodes is the exit-code rule, command by command: 2 when the
// command line cannot be parsed into a request, 1 for everything else that
// fails; one error line each, without a library package prefix.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.key")
	require.NoError(t, os.WriteFile(existing, []byte("x\n"), 0o600))
	v := loadVectors(t)[0]
	keyFile := writeFile(t, v.PKCS8V1+"\n")
	keys := filepath.Join(dir, "agents.jsonl")
	require.NoError(t, os.WriteFile(keys, []byte(newGWAgent(t, "agent-1", "").line+"\n"), 0o600))
	srv := identitytest.NewServer()
	t.Cleanup(srv.Close)
	emptyHome := t.TempDir()
	served := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(served, "auth.json"), []byte("{}"), 0o600))
	corrupt := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(corrupt, "auth.json"), []byte(`{"tokens":1,"tokens":2}`), 0o600))
	up := "http://127.0.0.1:1"
	target := filepath.Join(dir, "target")
	require.NoError(t, os.WriteFile(target, []byte("keep"), 0o600))
	link := filepath.Join(dir, "link.jwt")
	require.NoError(t, os.Symlink(target, link))
	t.Cleanup(func() {
		data, err := os.ReadFile(target)
		require.NoError(t, err)
		assert.Equal(t, "keep", string(data), "--jwt-file, --pat-file and --workload-token-file never write through a symbolic link")
	})
	gw := func(a ...string) []string { return append([]string{"gateway", "--keys", keys, "--upstream", up}, a...) }
	as := func(a ...string) []string {
		return append([]string{"assert", "--runtime-id", v.AgentRuntimeID, "--task-id", v.TaskID, "--key-file", keyFile}, a...)
	}
	ver := func(a ...string) []string { return append([]string{"verify", "--public-key", v.PublicKeySSH}, a...) }
	inv := func(a ...string) invocation { return invocation{args: a} }
	home := func(h string, a ...string) invocation {
		return invocation{args: a, env: map[string]string{"CODEX_HOME": h}}
	}

	tests := []exitRow{
		// agentid
		{name: "no command", inv: inv(), code: 2, stderr: "Available Commands:", multiline: true},
		{name: "unknown command", inv: inv("frobnicate"), code: 2, stderr: `agentid: unknown command "frobnicate"`, hint: `run "agentid help" for the list`},
		{name: "did you mean", inv: inv("statsu"), code: 2, stderr: `unknown command "statsu"`, hint: `did you mean "status"?`},
		{name: "root unknown flag", inv: inv("--nope"), code: 2, stderr: "unknown flag: --nope"},
		// help, completion
		{name: "help of an unknown command", inv: inv("help", "frobnicate"), code: 2, stderr: `unknown help topic "frobnicate"`, hint: `agentid help`},
		{name: "help of an unknown subcommand", inv: inv("help", "jwt", "sign"), code: 2, stderr: `unknown help topic "jwt sign"`},
		{name: "completion without shell", inv: inv("completion"), code: 2, stderr: "missing shell"},
		{name: "completion unknown shell", inv: inv("completion", "tcsh"), code: 2, stderr: `unknown command "tcsh"`},
		// demo
		{name: "demo zero requests", inv: inv("demo", "--requests", "0"), code: 1, stderr: "--requests 0: out of range", hint: "1 to 1000"},
		{name: "demo requests not a number", inv: inv("demo", "--requests", "many"), code: 2, stderr: `invalid argument "many" for "--requests"`},
		{name: "demo bad timeout", inv: inv("demo", "--timeout", "soon"), code: 2, stderr: "invalid duration"},
		{name: "demo argument", inv: inv("demo", "x"), code: 2, stderr: `unexpected argument "x"`, hint: `see "agentid demo --help"`},
		// endpoints
		{name: "endpoints two arguments", inv: inv("endpoints", "https://chatgpt.com", "x"), code: 2, stderr: `unexpected argument "x"`, hint: `see "agentid endpoints --help"`},
		{name: "endpoints unknown flag", inv: inv("endpoints", "--nope"), code: 2, stderr: "unknown flag: --nope"},
		{name: "endpoints single-dash long flag", inv: inv("endpoints", "-json"), code: 2, stderr: "unknown shorthand flag", hint: "long flags take two dashes: --json"},
		{name: "endpoints refused base", inv: inv("endpoints", "https://example.com"), code: 1, stderr: "only supports production and staging", hint: "agentid endpoints"},
		{name: "endpoints refused base json", inv: inv("endpoints", "--json", "https://example.com"), code: 1, stderr: "only supports production and staging"},
		{name: "endpoints http refused", inv: inv("endpoints", "http://chatgpt.com"), code: 1},
		{name: "endpoints double dash", inv: inv("endpoints", "--", "--json"), code: 1},
		{name: "endpoints invalid override", inv: invocation{args: []string{"endpoints"}, env: map[string]string{endpointrule.EnvAuthAPIBaseURL: "http://evil.example/api"}}, code: 1, stderr: "environment "},
		// keygen
		{name: "keygen argument", inv: inv("keygen", "file"), code: 2, stderr: "unexpected argument"},
		{name: "keygen force without out", inv: inv("keygen", "--force"), code: 2, stderr: "--force needs --out"},
		{name: "keygen json without out", inv: inv("keygen", "--json"), code: 2, stderr: "--json needs --out"},
		{name: "keygen unknown flag", inv: inv("keygen", "--nope"), code: 2, stderr: "unknown flag: --nope"},
		{name: "keygen existing file", inv: inv("keygen", "--out", existing), code: 1, stderr: "already exists", hint: "use --force"},
		{name: "keygen existing file json", inv: inv("keygen", "--out", existing, "--json"), code: 1, stderr: "already exists"},
		// assert
		{name: "assert without runtime id", inv: inv("assert", "--task-id", "t", "--key-file", "k"), code: 2, stderr: "--runtime-id is required", hint: `see "agentid assert --help"`},
		{name: "assert without task id", inv: inv("assert", "--runtime-id", "a", "--key-file", "k"), code: 2, stderr: "--task-id is required"},
		{name: "assert without either id", inv: inv("assert"), code: 2, stderr: "--runtime-id and --task-id are required"},
		{name: "assert without key source", inv: inv("assert", "--runtime-id", "a", "--task-id", "t"), code: 2, stderr: "no agent private key", hint: "give --key-file FILE"},
		{name: "assert flag without value", inv: inv("assert", "--runtime-id"), code: 2, stderr: "flag needs an argument"},
		{name: "assert bad timestamp", inv: invocation{args: as("--timestamp", "2026-01-02 03:04:05")}, code: 2, stderr: "not an RFC 3339 time"},
		{name: "assert two key sources", inv: invocation{args: as("--ssh-agent-key", v.PublicKeySSH)}, code: 2, stderr: "--key-file and --ssh-agent-key exclude each other"},
		{name: "assert runtime id outside the allowlist", inv: inv("assert", "--runtime-id", "a/b", "--task-id", "t", "--key-file", keyFile), code: 1, stderr: "--runtime-id: invalid agent runtime id"},
		{name: "assert garbage key", inv: inv("assert", "--runtime-id", "a", "--task-id", "t", "--key-file", writeFile(t, "not-a-key\n")), code: 1, stderr: "invalid agent key"},
		{name: "assert missing key file", inv: inv("assert", "--runtime-id", "a", "--task-id", "t", "--key-file", filepath.Join(dir, "absent")), code: 1, stderr: "no such file"},
		{name: "assert far timestamp", inv: invocation{args: as("--timestamp", "9999-12-31T23:59:59Z")}, code: 1, stderr: "signing time"},
		{name: "assert far timestamp json", inv: invocation{args: as("--timestamp", "9999-12-31T23:59:59Z", "--json")}, code: 1, stderr: "signing time"},
		// verify
		{name: "verify without public key", inv: inv("verify"), code: 2, stderr: "--public-key is required"},
		{name: "verify bad duration", inv: inv("verify", "--max-skew", "soon"), code: 2, stderr: `invalid argument "soon" for "--max-skew"`},
		{name: "verify bad now", inv: invocation{args: ver("--now", "yesterday")}, code: 2, stderr: "not an RFC 3339 time"},
		{name: "verify negative skew", inv: invocation{args: ver("--max-skew", "-1s")}, code: 1, stderr: "is negative"},
		{name: "verify bad public key", inv: invocation{args: []string{"verify", "--public-key", "ssh-rsa AAAA"}, stdin: v.AuthorizationHeader}, code: 1, stderr: "--public-key", hint: "ssh-ed25519"},
		{name: "verify refused", inv: invocation{args: ver(), stdin: "Bearer abcdefghijklmnop"}, code: 1, stderr: "invalid AgentAssertion"},
		{name: "verify refused json", inv: invocation{args: ver("--json"), stdin: "Bearer abcdefghijklmnop"}, code: 1, stderr: "invalid AgentAssertion"},
		// register-task
		{name: "register-task home and runtime id", inv: inv("register-task", "--runtime-id", "a", "--codex-home", "x"), code: 2, stderr: "--runtime-id and --codex-home exclude each other"},
		{name: "register-task two AuthAPI sources", inv: inv("register-task", "--runtime-id", "a", "--authapi-base-url", up, "--chatgpt-base-url", up), code: 2, stderr: "exclude each other"},
		{name: "register-task key file without runtime id", inv: inv("register-task", "--key-file", "k"), code: 2, stderr: "need --runtime-id"},
		{name: "register-task unknown environment", inv: inv("register-task", "--chatgpt-base-url", "https://example.com", "--runtime-id", v.AgentRuntimeID, "--key-file", keyFile), code: 1, stderr: "only supports production and staging"},
		{name: "register-task unknown agent", inv: inv("register-task", "--authapi-base-url", srv.AuthAPIBaseURL, "--runtime-id", "agent-unknown", "--key-file", keyFile), code: 1, stderr: "404"},
		{name: "register-task no identity", inv: home(emptyHome, "register-task"), code: 1, stderr: "no agent identity configured", hint: "agentid status"},
		{name: "register-task no identity json", inv: home(emptyHome, "register-task", "--json"), code: 1, stderr: "no agent identity configured"},
		// jwt
		{name: "jwt without subcommand", inv: inv("jwt"), code: 2, stderr: "missing subcommand"},
		{name: "jwt unknown subcommand", inv: inv("jwt", "sign"), code: 2, stderr: `unknown command "sign"`},
		{name: "jwt did you mean", inv: inv("jwt", "verfy"), code: 2, stderr: `unknown command "verfy"`, hint: `did you mean "jwt verify"?`},
		{name: "jwt decode without insecure", inv: invocation{args: []string{"jwt", "decode", "--token-stdin"}, stdin: "x"}, code: 2, stderr: "--insecure is required"},
		{name: "jwt decode without token", inv: inv("jwt", "decode", "--insecure"), code: 2, stderr: "no token", hint: "--token-file FILE"},
		{name: "jwt decode file and stdin", inv: inv("jwt", "decode", "--insecure", "--token-file", "x", "--token-stdin"), code: 2, stderr: "exclude each other"},
		{name: "jwt decode garbage", inv: invocation{args: []string{"jwt", "decode", "--insecure", "--token-stdin"}, stdin: "a.b.c"}, code: 1, stderr: "invalid Agent Identity JWT"},
		{name: "jwt decode garbage json", inv: invocation{args: []string{"jwt", "decode", "--insecure", "--token-stdin", "--json"}, stdin: "a.b.c"}, code: 1, stderr: "invalid Agent Identity JWT"},
		{name: "jwt verify unknown flag", inv: inv("jwt", "verify", "--token", "x"), code: 2, stderr: "unknown flag: --token"},
		{name: "jwt verify http jwks off loopback", inv: invocation{args: []string{"jwt", "verify", "--jwks-url", "http://example.com/jwks", "--token-stdin"}, stdin: "a.b.c"}, code: 1, stderr: "JWKS"},
		// provision
		{name: "provision argument", inv: inv("provision", "extra"), code: 2, stderr: "unexpected argument"},
		{name: "provision bad timeout", inv: inv("provision", "--timeout", "soon"), code: 2, stderr: "invalid duration"},
		{name: "provision no identity", inv: home(emptyHome, "provision"), code: 1, stderr: "no agent identity configured", hint: "agentid status"},
		{name: "provision corrupt auth.json", inv: home(corrupt, "provision"), code: 1, stderr: "auth.json is corrupt"},
		{name: "provision corrupt auth.json json", inv: home(corrupt, "provision", "--json"), code: 1, stderr: "auth.json is corrupt"},
		{name: "provision bad CA file", inv: invocation{args: []string{"provision"}, env: map[string]string{"CODEX_HOME": emptyHome, "CODEX_CA_CERTIFICATE": filepath.Join(dir, "no-ca.pem")}}, code: 1, stderr: "CODEX_CA_CERTIFICATE=", hint: "unset it"},
		// status
		{name: "status unknown flag", inv: inv("status", "--verbose"), code: 2, stderr: "unknown flag: --verbose"},
		{name: "status argument", inv: inv("status", "x"), code: 2, stderr: "unexpected argument"},
		{name: "status of a missing home", inv: home(filepath.Join(dir, "nowhere"), "status"), code: 1, stderr: "does not exist", hint: "codex login"},
		{name: "status of an empty home", inv: home(emptyHome, "status"), code: 1, stderr: "no usable identity or credential", hint: "codex login"},
		{name: "status of an empty home json", inv: home(emptyHome, "status", "--json"), code: 1, stderr: "no usable identity or credential"},
		{name: "status of a corrupt home", inv: home(corrupt, "status"), code: 1, stderr: "auth.json is corrupt"},
		// serve
		{name: "serve address not host:port", inv: inv("serve", "--addr", "nonsense"), code: 2, stderr: `invalid argument "nonsense" for "--addr"`},
		{name: "serve port not a number", inv: inv("serve", "--addr", "127.0.0.1:http"), code: 2, stderr: "port"},
		{name: "serve non-loopback address", inv: inv("serve", "--addr", "0.0.0.0:8080"), code: 1, stderr: "loopback", hint: "--addr 127.0.0.1:8080"},
		{name: "serve documentation address", inv: inv("serve", "--addr", "192.0.2.1:80"), code: 1, stderr: "loopback"},
		{name: "serve host name", inv: inv("serve", "--addr", "example.com:80"), code: 1, stderr: "loopback"},
		{name: "serve user info trick", inv: inv("serve", "--addr", "localhost@evil.com:80"), code: 1, stderr: "loopback"},
		{name: "serve into a used home", inv: inv("serve", "--codex-home", served), code: 1, stderr: "already holds auth.json", hint: "empty or new folder"},
		{name: "serve --jwt-file through a symbolic link", inv: inv("serve", "--jwt-file", link), code: 1, stderr: "--jwt-file: " + link + " exists and is not a regular file", hint: "give a new path"},
		{name: "serve --pat-file through a symbolic link", inv: inv("serve", "--pat-file", link), code: 1, stderr: "--pat-file: " + link + " exists and is not a regular file", hint: "give a new path"},
		{name: "serve --workload-token-file through a symbolic link", inv: inv("serve", "--workload-token-file", link), code: 1, stderr: "--workload-token-file: " + link + " exists and is not a regular file", hint: "give a new path"},
		{name: "serve --pat-file in a missing folder", inv: inv("serve", "--pat-file", filepath.Join(dir, "absent", "pat")), code: 1, stderr: "--pat-file: ", hint: "give a new path"},
		// gateway
		{name: "gateway no flags", inv: inv("gateway"), code: 2, stderr: "--keys and --upstream are required"},
		{name: "gateway public listen without TLS", inv: inv(gw("--listen", "0.0.0.0:0")...), code: 1, stderr: "loopback only", hint: "--tls-cert"},
		{name: "gateway empty host listen without TLS", inv: inv(gw("--listen", ":0")...), code: 1, stderr: "loopback only"},
		{name: "gateway listen not host:port", inv: inv(gw("--listen", "nonsense")...), code: 2, stderr: "not host:port"},
		{name: "gateway half TLS", inv: inv(gw("--tls-cert", "x")...), code: 2, stderr: "--tls-cert and --tls-key go together", hint: "both"},
		{name: "gateway plain http upstream elsewhere", inv: inv("gateway", "--keys", keys, "--upstream", "http://example.com"), code: 1, stderr: "must use https", hint: "https URL"},
		{name: "gateway skew over the limit", inv: inv(gw("--max-skew", "25h")...), code: 1, stderr: "--max-skew 25h0m0s: out of range"},
		{name: "gateway zero skew", inv: inv(gw("--max-skew", "0s")...), code: 1, stderr: "--max-skew"},
		{name: "gateway skew not a duration", inv: inv(gw("--max-skew", "soon")...), code: 2, stderr: "invalid duration"},
		{name: "gateway bad mode", inv: inv(gw("--other", "maybe")...), code: 2, stderr: "want one of verify, pass, refuse"},
		{name: "gateway broken keys file", inv: inv("gateway", "--keys", filepath.Join(dir, "absent"), "--upstream", up), code: 1, stderr: "keys file"},
		{name: "gateway public admin", inv: inv(gw("--admin", "0.0.0.0:0")...), code: 1, stderr: "--admin 0.0.0.0:0: the admin listener is loopback only", hint: "127.0.0.1:PORT"},
		{name: "gateway admin not host:port", inv: inv(gw("--admin", "9090")...), code: 2, stderr: "not host:port"},
		{name: "gateway log format unknown", inv: inv(gw("--log-format", "xml")...), code: 2, stderr: "want one of text, json"},
		{name: "gateway log level unknown", inv: inv(gw("--log-level", "loud")...), code: 2, stderr: "want one of debug, info, warn, error"},
		{name: "gateway shutdown timeout not a duration", inv: inv(gw("--shutdown-timeout", "soon")...), code: 2, stderr: "invalid duration"},
		{name: "gateway shutdown timeout negative", inv: inv(gw("--shutdown-timeout", "-1s")...), code: 1, stderr: "--shutdown-timeout -1s: not more than 0"},
		{name: "gateway read timeout zero", inv: inv(gw("--read-timeout", "0s")...), code: 1, stderr: "--read-timeout 0s: not more than 0"},
		// version
		{name: "version argument", inv: inv("version", "x"), code: 2, stderr: `unexpected argument "x"`},
		{name: "version unknown flag", inv: inv("version", "--nope"), code: 2, stderr: "unknown flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkExitRow(t, tt) })
	}
}

// TestErrorsAreOneAgentidLine checks the form of an invalid-input failure.
func TestErrorsAreOneAgentidLine(t *testing.T) {
	r := run1(t, "endpoints", "https://chatgpt.com.evil.com")
	require.Equal(t, 1, r.code)
	assert.True(t, strings.HasPrefix(r.stderr, "agentid: endpoints: "), r.stderr)
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
	assert.Empty(t, r.stdout)
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := run1(t, args...)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Regexp(t, `^agentid \S+.* \(github.com/agentidentity/agentidentity, go1\.[0-9.]+\)\n$`, r.stdout)
	}
	r := run1(t, "version", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var v buildVersion
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &v))
	assert.Equal(t, "github.com/agentidentity/agentidentity", v.Module)
	assert.NotEmpty(t, v.Version)
	assert.NotEmpty(t, v.Go)
}

func TestStripLibraryPrefixes(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"doubled", "gateway: gateway: keys file x: bad", "keys file x: bad"},
		{"inside", "$CODEX_ACCESS_TOKEN: identity: invalid", "$CODEX_ACCESS_TOKEN: invalid"},
		{"after a parenthesis", "failed (identitytest: address)", "failed (address)"},
		{"codexhome", "codexhome: open x: denied", "open x: denied"},
		{"root package", `agentidentity: base URL "x"`, `base URL "x"`},
		{"a word that only ends so", "nonidentity: kept", "nonidentity: kept"},
		{"no prefix", "plain", "plain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.want, stripLibraryPrefixes(tt.in)) })
	}
}
