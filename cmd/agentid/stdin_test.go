package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity/identitytest"
)

// stdinRows are the commands that read a secret or a header from standard
// input, and the notice each gives on a terminal.
func stdinRows(t *testing.T) []struct {
	name   string
	args   []string
	input  string
	notice string
} {
	srv := fakeBackend(t)
	tok, _ := mintJWT(t, srv, identitytest.JWTOptions{})
	v := loadVectors(t)[0]
	return []struct {
		name   string
		args   []string
		input  string
		notice string
	}{
		{"jwt decode --token-stdin", []string{"jwt", "decode", "--insecure", "--token-stdin"}, tok, "agentid: jwt decode: reading the token from standard input"},
		{"jwt decode --token-file -", []string{"jwt", "decode", "--insecure", "--token-file", "-"}, tok, "agentid: jwt decode: reading the token from standard input"},
		{"assert --key-file -", []string{"assert", "--runtime-id", v.AgentRuntimeID, "--task-id", v.TaskID, "--timestamp", v.Timestamp, "--key-file", "-"}, v.PKCS8V1, "agentid: assert: reading the agent private key from standard input"},
		{"verify", []string{"verify", "--public-key", v.PublicKeySSH, "--now", v.Timestamp}, v.AuthorizationHeader, "agentid: verify: reading the AgentAssertion header value from standard input"},
	}
}

// TestStdinNoticeOnATerminal runs the binary with a pseudo-terminal as
// standard input: each command says what it reads before it waits.
func TestStdinNoticeOnATerminal(t *testing.T) {
	for _, tt := range stdinRows(t) {
		t.Run(tt.name, func(t *testing.T) {
			ptmx, tty, err := pty.Open()
			require.NoError(t, err)
			defer ptmx.Close()
			defer tty.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binPath, tt.args...)
			cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
			cmd.Stdin = tty
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Start())
			// One line, then end of input (Ctrl-D at the start of a line).
			_, err = ptmx.Write([]byte(tt.input + "\n\x04"))
			require.NoError(t, err)
			require.NoError(t, cmd.Wait(), stderr.String())
			recordOutput(result{args: tt.args, stdout: stdout.String(), stderr: stderr.String()}, []string{loadVectors(t)[0].Signature}, true)
			assert.Contains(t, stderr.String(), tt.notice+" (end it with Enter, then Ctrl-D)\n")
			assert.NotEmpty(t, stdout.String())
		})
	}
}

// TestStdinNoticeSeam: the notice depends on the isTerminal seam, both ways.
func TestStdinNoticeSeam(t *testing.T) {
	for _, tt := range stdinRows(t) {
		for _, terminal := range []bool{true, false} {
			name := tt.name + map[bool]string{true: " on a terminal", false: " from a pipe"}[terminal]
			t.Run(name, func(t *testing.T) {
				r := runInProcess(t, inProcess{args: tt.args, stdin: strings.NewReader(tt.input + "\n"), stdinTerminal: terminal, printsSecret: tt.args[0] == "assert"})
				require.Equal(t, 0, r.code, r.stderr)
				if terminal {
					assert.Contains(t, r.stderr, tt.notice)
				} else {
					assert.NotContains(t, r.stderr, "reading")
				}
			})
		}
	}
}
