package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHelpExitsZero(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in stdout or stderr
	}{
		{"help", []string{"help"}, "Commands:"},
		{"--help", []string{"--help"}, "Commands:"},
		{"-h", []string{"-h"}, "Commands:"},
		{"help keygen", []string{"help", "keygen"}, "Usage: agentid keygen"},
		{"help -h", []string{"help", "-h"}, "Commands:"},
		{"help help", []string{"help", "help"}, "Commands:"},
		{"jwt -h", []string{"jwt", "-h"}, "Usage: agentid jwt"},
		{"jwt help", []string{"jwt", "help"}, "Usage: agentid jwt"},
		{"jwt decode -h", []string{"jwt", "decode", "-h"}, "Usage: agentid jwt decode"},
		{"jwt verify --help", []string{"jwt", "verify", "--help"}, "Usage: agentid jwt verify"},
	}
	for _, cmd := range commands() {
		if cmd.name == "help" || cmd.name == "jwt" {
			continue
		}
		tests = append(tests,
			struct {
				name string
				args []string
				want string
			}{cmd.name + " -h", []string{cmd.name, "-h"}, "Usage: agentid " + cmd.name},
			struct {
				name string
				args []string
				want string
			}{cmd.name + " --help", []string{cmd.name, "--help"}, "Usage: agentid " + cmd.name},
		)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run1(t, tt.args...)
			require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
			assert.Contains(t, r.stdout, tt.want, "help goes to standard output")
			assert.Empty(t, r.stderr)
		})
	}
}

// TestCLIConventions pins the command line's conventions: one "agentid: "
// prefix, version from the build information, one line for an unknown
// command, flags after arguments, jwt decode only with --insecure.
func TestCLIConventions(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string // substring of standard output
		stderr     string // substring of standard error
		stderrNot  string
		stderrLine bool // standard error is exactly one line
	}{
		{name: "version", args: []string{"version"}, code: 0, stdout: "agentid "},
		{name: "--version", args: []string{"--version"}, code: 0, stdout: "github.com/agentidentity/agentidentity"},
		{name: "version with an argument", args: []string{"version", "x"}, code: 2, stderr: "agentid: version takes no arguments", stderrLine: true},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, stderr: `agentid: unknown command "frobnicate" (run "agentid help"`, stderrLine: true},
		{name: "help of an unknown command", args: []string{"help", "frobnicate"}, code: 2, stderr: `run "agentid help"`, stderrLine: true},
		{name: "flag after the argument", args: []string{"endpoints", "https://chatgpt.com", "--json"}, code: 0, stdout: `"name": "production"`},
		{name: "flag before the argument", args: []string{"endpoints", "--json", "https://chatgpt.com"}, code: 0, stdout: `"name": "production"`},
		{name: "double dash ends flags", args: []string{"endpoints", "--", "--json"}, code: 1, stderr: "agentid: "},
		{name: "extra argument", args: []string{"endpoints", "https://chatgpt.com", "x"}, code: 2, stderr: `agentid: endpoints: unexpected argument "x" (run "agentid endpoints -h")`, stderrLine: true},
		{name: "unknown flag", args: []string{"keygen", "--nope"}, code: 2, stderr: "flag provided but not defined: -nope"},
		{name: "jwt decode needs --insecure", args: []string{"jwt", "decode", "--token-stdin"}, code: 2, stderr: "--insecure is required", stderrLine: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run1(t, tt.args...)
			require.Equal(t, tt.code, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
			assert.Contains(t, r.stdout, tt.stdout)
			assert.Contains(t, r.stderr, tt.stderr)
			if tt.stderrNot != "" {
				assert.NotContains(t, r.stderr, tt.stderrNot)
			}
			if tt.stderrLine {
				assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
			}
			assert.NotRegexp(t, `agentid: agentid[ :]`, r.stderr)
		})
	}
}

func TestHelpListsEveryCommand(t *testing.T) {
	r := run1(t, "help")
	require.Equal(t, 0, r.code)
	for _, cmd := range commands() {
		assert.Contains(t, r.stdout, "  "+cmd.name+" ")
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	tests := []struct {
		name string
		inv  invocation
		want string // in stderr
	}{
		{"no command", invocation{}, "Commands:"},
		{"unknown command", invocation{args: []string{"frobnicate"}}, `unknown command "frobnicate"`},
		{"help unknown command", invocation{args: []string{"help", "frobnicate"}}, `unknown command "frobnicate"`},
		{"endpoints unknown flag", invocation{args: []string{"endpoints", "--nope"}}, "flag provided but not defined: -nope"},
		{"endpoints two arguments", invocation{args: []string{"endpoints", "https://chatgpt.com", "x"}}, `unexpected argument "x"`},
		{"keygen argument", invocation{args: []string{"keygen", "file"}}, "unexpected argument"},
		{"keygen force without out", invocation{args: []string{"keygen", "--force"}}, "--force needs --out"},
		{"assert without runtime id", invocation{args: []string{"assert", "--task-id", "t", "--key-file", "k"}}, "--runtime-id is required"},
		{"assert without task id", invocation{args: []string{"assert", "--runtime-id", "a", "--key-file", "k"}}, "--task-id is required"},
		{"assert without key source", invocation{args: []string{"assert", "--runtime-id", "a", "--task-id", "t"}}, "no agent private key: give --key-file FILE"},
		{"assert flag without value", invocation{args: []string{"assert", "--runtime-id"}}, "flag needs an argument"},
		{"verify without public key", invocation{args: []string{"verify"}}, "--public-key is required"},
		{"verify negative skew", invocation{args: []string{"verify", "--public-key", "ssh-ed25519 AAAA", "--max-skew", "-1s"}}, "must not be negative"},
		{"verify bad duration", invocation{args: []string{"verify", "--max-skew", "soon"}}, "invalid value"},
		{"register-task home and runtime id", invocation{args: []string{"register-task", "--runtime-id", "a", "--codex-home", "x"}}, "exclude each other"},
		{"register-task key file without runtime id", invocation{args: []string{"register-task", "--key-file", "k"}}, "need --runtime-id"},
		{"jwt without subcommand", invocation{args: []string{"jwt"}}, "missing subcommand"},
		{"jwt unknown subcommand", invocation{args: []string{"jwt", "sign"}}, `unknown subcommand "sign"`},
		{"jwt decode without token", invocation{args: []string{"jwt", "decode", "--insecure"}}, "no token: give --token-file FILE"},
		{"jwt decode file and stdin", invocation{args: []string{"jwt", "decode", "--insecure", "--token-file", "x", "--token-stdin"}}, "not both"},
		{"jwt verify unknown flag", invocation{args: []string{"jwt", "verify", "--token", "x"}}, "flag provided but not defined"},
		{"provision argument", invocation{args: []string{"provision", "extra"}}, "unexpected argument"},
		{"status unknown flag", invocation{args: []string{"status", "--verbose"}}, "flag provided but not defined"},
		{"demo zero requests", invocation{args: []string{"demo", "--requests", "0"}}, "between 1 and 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBin(t, tt.inv)
			require.Equal(t, 2, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
			assert.Contains(t, r.stderr, tt.want)
			assert.Empty(t, r.stdout)
		})
	}
}

// TestErrorsAreOneAgentidLine checks the form of an invalid-input failure.
func TestErrorsAreOneAgentidLine(t *testing.T) {
	r := run1(t, "endpoints", "https://chatgpt.com.evil.com")
	require.Equal(t, 1, r.code)
	assert.True(t, strings.HasPrefix(r.stderr, "agentid: "), r.stderr)
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
	assert.Empty(t, r.stdout)
}

// TestServeRefusesNonLoopbackAddress: the fake backend never listens beyond
// loopback.
func TestServeRefusesNonLoopbackAddress(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:8080", "192.0.2.1:80", "example.com:80", "localhost@evil.com:80", "nonsense"} {
		t.Run(addr, func(t *testing.T) {
			r := runBin(t, invocation{args: []string{"serve", "--addr", addr}})
			require.Equal(t, 1, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
			assert.Contains(t, r.stderr, "agentid: serve: identitytest: address")
			assert.Empty(t, r.stdout)
		})
	}
}
