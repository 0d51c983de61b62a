package main

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/identitytest"
)

// sshAgent is a real ssh-agent started by the test ("ssh-agent -D -a
// SOCK"), killed at cleanup. It skips the test when ssh-agent is missing,
// except under CI (CI=true).
type sshAgent struct{ sock, dir string }

func startSSHAgent(t *testing.T) *sshAgent {
	t.Helper()
	for _, tool := range []string{"ssh-agent", "ssh-add"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing under CI: install Debian's openssh-client (.ci/run does)", tool)
			}
			t.Skipf("%s is missing: install openssh-client to run the --ssh-agent-key tests", tool)
		}
	}
	// A short path: a unix socket path must fit in 108 bytes.
	dir, err := os.MkdirTemp("", "sa")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "agent.sock")
	cmd := exec.Command("ssh-agent", "-D", "-a", sock)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	// ssh-agent -D prints its first line once the socket listens.
	first := make(chan string, 1)
	go func() {
		r := bufio.NewReader(out)
		line, _ := r.ReadString('\n')
		first <- line
		_, _ = io.Copy(io.Discard, r)
	}()
	select {
	case line := <-first:
		require.True(t, strings.HasPrefix(line, "SSH_AUTH_SOCK="), "ssh-agent said %q", line)
	case <-done:
		t.Fatal("ssh-agent exited at start")
	case <-time.After(10 * time.Second):
		t.Fatal("ssh-agent did not start within 10 s")
	}
	return &sshAgent{sock: sock, dir: dir}
}

// add writes priv as an OpenSSH key file (mode 0600), adds it with ssh-add
// and returns its public line.
func (a *sshAgent) add(t *testing.T, priv ed25519.PrivateKey) string {
	t.Helper()
	block, err := ssh.MarshalPrivateKey(crypto.PrivateKey(priv), "")
	require.NoError(t, err)
	f, err := os.CreateTemp(a.dir, "key")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, os.WriteFile(f.Name(), pem.EncodeToMemory(block), 0o600))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	add := exec.CommandContext(ctx, "ssh-add", f.Name())
	add.Env = []string{"PATH=" + os.Getenv("PATH"), "SSH_AUTH_SOCK=" + a.sock}
	outb, err := add.CombinedOutput()
	require.NoError(t, err, "ssh-add: %s", outb)
	s, err := identity.NewSignerFromCrypto("probe", priv)
	require.NoError(t, err)
	return s.PublicKeySSH()
}

func TestAssertWithSSHAgentKey(t *testing.T) {
	a := startSSHAgent(t)
	env := map[string]string{envSSHAuthSock: a.sock}
	for _, v := range loadVectors(t) {
		der, err := base64.StdEncoding.DecodeString(v.PKCS8V1)
		require.NoError(t, err)
		k, err := x509.ParsePKCS8PrivateKey(der)
		require.NoError(t, err)
		require.Equal(t, v.PublicKeySSH, a.add(t, k.(ed25519.PrivateKey)))
		t.Run(v.Name, func(t *testing.T) {
			r := runBin(t, invocation{
				args: []string{"assert", "--runtime-id", v.AgentRuntimeID, "--task-id", v.TaskID, "--timestamp", v.Timestamp, "--ssh-agent-key", v.PublicKeySSH},
				env:  env, intended: []string{v.Signature},
			})
			require.Equal(t, 0, r.code, r.stderr)
			assert.Equal(t, v.AuthorizationHeader+"\n", r.stdout)
			assert.Empty(t, r.stderr)
		})
	}

	v := loadVectors(t)[0]
	args := []string{"assert", "--runtime-id", v.AgentRuntimeID, "--task-id", v.TaskID, "--ssh-agent-key", v.PublicKeySSH}
	_, other, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	otherLine := func() string {
		s, err := identity.NewSignerFromCrypto("probe", other)
		require.NoError(t, err)
		return s.PublicKeySSH()
	}()
	tests := []struct {
		name   string
		inv    invocation
		code   int
		stderr string
	}{
		{"with --key-file", invocation{args: append(args, "--key-file", writeFile(t, v.PKCS8V2)), env: env}, exitUsage, "--key-file and --ssh-agent-key exclude each other"},
		{"with the key variable", invocation{args: args, env: map[string]string{envSSHAuthSock: a.sock, envPrivateKey: v.PKCS8V2}}, exitUsage, "--ssh-agent-key excludes"},
		{"no SSH_AUTH_SOCK", invocation{args: args}, exitInvalid, "SSH_AUTH_SOCK is not set"},
		{"no agent", invocation{args: args, env: map[string]string{envSSHAuthSock: filepath.Join(a.dir, "none.sock")}}, exitInvalid, "cannot reach the ssh-agent"},
		{"key not in the agent", invocation{args: []string{"assert", "--runtime-id", "agent-1", "--task-id", "t", "--ssh-agent-key", otherLine}, env: env}, exitInvalid, "does not hold the agent key"},
		{"not a public key", invocation{args: []string{"assert", "--runtime-id", "agent-1", "--task-id", "t", "--ssh-agent-key", "ssh-rsa AAAA"}, env: env}, exitInvalid, "--ssh-agent-key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBin(t, tt.inv)
			require.Equal(t, tt.code, r.code, r.stderr)
			assert.Contains(t, r.stderr, tt.stderr)
			assert.Empty(t, r.stdout)
		})
	}
}

func TestRegisterTaskWithSSHAgentKey(t *testing.T) {
	a := startSSHAgent(t)
	srv := fakeBackend(t)
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	line := a.add(t, priv)
	login := srv.MintChatGPTLogin(identitytest.LoginOptions{})
	addSecret(t, "access token", login.AccessToken.Reveal())
	c := &identity.Client{AuthAPIBaseURL: srv.AuthAPIBaseURL}
	id, err := c.RegisterAgent(context.Background(), login.AccessToken, identity.AgentRegistration{
		AgentVersion: "1", AgentHarnessID: "test", RunningLocation: "local", PublicKeySSH: line,
	})
	require.NoError(t, err)
	args := []string{"register-task", "--authapi-base-url", srv.AuthAPIBaseURL, "--runtime-id", id, "--ssh-agent-key", line}
	env := map[string]string{envSSHAuthSock: a.sock}

	r := runBin(t, invocation{args: args, env: env})
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, srv.TaskIDs(id), strings.TrimSuffix(r.stdout, "\n"))

	// A sealed answer needs the seed, which the agent does not give out.
	srv.SetFault(identitytest.Fault{TaskIDMembers: []string{"encrypted_task_id"}})
	r = runBin(t, invocation{args: args, env: env})
	require.Equal(t, exitInvalid, r.code, r.stderr)
	assert.Contains(t, r.stderr, "sealed task ids")
	assert.Contains(t, r.stderr, "task_id")

	r = runBin(t, invocation{args: []string{"register-task", "--ssh-agent-key", line}, env: env})
	require.Equal(t, exitUsage, r.code, r.stderr)
	assert.Contains(t, r.stderr, "need --runtime-id")
}
