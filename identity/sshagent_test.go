package identity_test

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentidentity/agentidentity/internal/wire"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/agentidentity/agentidentity/identity"
)

// requireSSHAgent skips the test when ssh-agent or ssh-add is missing,
// except under CI (CI=true), where these tests must run.
func requireSSHAgent(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"ssh-agent", "ssh-add"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing under CI: install Debian's openssh-client (.ci/run does)", tool)
			}
			t.Skipf("%s is missing: install openssh-client (apt-get install openssh-client) to run the real-agent tests", tool)
		}
	}
}

// shortDir returns a fresh directory with a short path: a unix socket path
// must fit in 108 bytes, which t.TempDir's long names can exceed.
func shortDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sa")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// realAgent is an ssh-agent process started by the test.
type realAgent struct {
	sock string
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// startSSHAgent starts "ssh-agent -D -a sock" and returns once the socket
// is listening: ssh-agent prints its first line after listen(2). The process
// is killed at cleanup.
func startSSHAgent(t testing.TB, sock string) *realAgent {
	t.Helper()
	requireSSHAgent(t)
	cmd := exec.Command("ssh-agent", "-D", "-a", sock)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = io.Discard
	require.NoError(t, cmd.Start())
	a := &realAgent{sock: sock, dir: filepath.Dir(sock), cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(a.done)
	}()
	t.Cleanup(a.kill)

	first := make(chan string, 1)
	go func() {
		r := bufio.NewReader(out)
		line, _ := r.ReadString('\n')
		first <- line
		_, _ = io.Copy(io.Discard, r)
	}()
	select {
	case line := <-first:
		require.True(t, strings.HasPrefix(line, "SSH_AUTH_SOCK="+sock+";"), "ssh-agent said %q", line)
	case <-a.done:
		t.Fatalf("ssh-agent -D -a %s exited at start", sock)
	case <-time.After(10 * time.Second):
		t.Fatal("ssh-agent did not start within 10 s")
	}
	return a
}

// kill stops the agent and waits for it to exit.
func (a *realAgent) kill() {
	_ = a.cmd.Process.Kill()
	<-a.done
}

// keyFile writes priv as an OpenSSH private key file (mode 0600) and its
// .pub beside it, and returns the path of the private one.
func (a *realAgent) keyFile(t testing.TB, priv ed25519.PrivateKey) string {
	t.Helper()
	block, err := ssh.MarshalPrivateKey(crypto.PrivateKey(priv), "agentid-test")
	require.NoError(t, err)
	f, err := os.CreateTemp(a.dir, "key")
	require.NoError(t, err)
	path := f.Name()
	require.NoError(t, f.Close())
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(block), 0o600))
	sshPub, err := ssh.NewPublicKey(priv.Public())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(sshPub), 0o600))
	return path
}

// sshAdd runs ssh-add with args against the agent.
func (a *realAgent) sshAdd(t testing.TB, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ssh-add", args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SSH_AUTH_SOCK=" + a.sock, "SSH_ASKPASS_REQUIRE=never"}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "ssh-add %v: %s", args, out)
}

// add adds priv to the agent with ssh-add and returns its public line.
func (a *realAgent) add(t testing.TB, priv ed25519.PrivateKey) string {
	t.Helper()
	a.sshAdd(t, a.keyFile(t, priv))
	return sshLine(t, priv)
}

func sshLine(t testing.TB, priv ed25519.PrivateKey) string {
	t.Helper()
	s, err := identity.NewSignerFromCrypto("probe", priv)
	require.NoError(t, err)
	return s.PublicKeySSH()
}

func newKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return priv
}

func openAgentKey(t testing.TB, sock, line string, timeout time.Duration) *identity.SSHAgentKey {
	t.Helper()
	k, err := identity.NewSSHAgentKey(sock, line, timeout)
	require.NoError(t, err)
	t.Cleanup(func() { k.Close() })
	return k
}

// TestSSHAgentKeyMatchesVectors loads the vector keys into a real agent and
// checks that the headers made through it are the vectors' bytes.
func TestSSHAgentKeyMatchesVectors(t *testing.T) {
	a := startSSHAgent(t, filepath.Join(shortDir(t), "agent.sock"))
	for _, v := range loadCryptoVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			line := a.add(t, seedKey(t, v.SeedHex))
			assert.Equal(t, v.PublicKeySSH, line)
			k := openAgentKey(t, a.sock, v.PublicKeySSH+" with a comment", 5*time.Second)
			s, err := identity.NewSignerFromCrypto(v.RuntimeID, k)
			require.NoError(t, err)
			at, err := time.Parse(time.RFC3339, v.Timestamp)
			require.NoError(t, err)
			h, err := s.AuthorizationHeader(v.TaskID, at)
			require.NoError(t, err)
			assert.Equal(t, v.AuthorizationHeader, h)
			body, err := identity.TaskRegistrationBodyForTest(s, at)
			require.NoError(t, err)
			assert.Equal(t, v.RegistrationBody, string(body))
		})
	}
}

func TestSSHAgentKeyRealAgent(t *testing.T) {
	a := startSSHAgent(t, filepath.Join(shortDir(t), "agent.sock"))
	priv := newKey(t)
	a.add(t, newKey(t)) // another key in the same agent
	line := a.add(t, priv)
	k := openAgentKey(t, a.sock, line, 5*time.Second)
	assert.Equal(t, priv.Public(), k.Public())
	assert.Contains(t, k.String(), a.sock)

	t.Run("signatures", func(t *testing.T) {
		msg := []byte("agent-1:task-1:2026-01-02T03:04:05Z")
		sig, err := k.Sign(nil, msg, crypto.Hash(0))
		require.NoError(t, err)
		assert.Equal(t, ed25519.Sign(priv, msg), sig)
		sig, err = k.Sign(rand.Reader, msg, &ed25519.Options{})
		require.NoError(t, err)
		assert.Equal(t, ed25519.Sign(priv, msg), sig)
	})
	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				msg := fmt.Appendf(nil, "message %d", i)
				sig, err := k.Sign(nil, msg, crypto.Hash(0))
				if assert.NoError(t, err) {
					assert.True(t, ed25519.Verify(priv.Public().(ed25519.PublicKey), msg, sig))
				}
			})
		}
		wg.Wait()
	})
	t.Run("other options refused", func(t *testing.T) {
		for _, opts := range []crypto.SignerOpts{nil, crypto.SHA256, crypto.SHA512, &ed25519.Options{Hash: crypto.SHA512}, &ed25519.Options{Context: "x"}} {
			_, err := k.Sign(nil, []byte("m"), opts)
			assert.Error(t, err, "%v", opts)
		}
	})
	t.Run("run auth and agent registration", func(t *testing.T) {
		checkCryptoSignerRun(t, k)
	})
	t.Run("default socket is SSH_AUTH_SOCK", func(t *testing.T) {
		t.Setenv("SSH_AUTH_SOCK", a.sock)
		k2 := openAgentKey(t, "", line, 0)
		_, err := k2.Sign(nil, []byte("m"), crypto.Hash(0))
		require.NoError(t, err)
	})
	t.Run("closed", func(t *testing.T) {
		k2 := openAgentKey(t, a.sock, line, time.Second)
		require.NoError(t, k2.Close())
		_, err := k2.Sign(nil, []byte("m"), crypto.Hash(0))
		require.ErrorIs(t, err, identity.ErrSSHAgentUnreachable)
		require.ErrorIs(t, err, net.ErrClosed)
	})
}

func TestSSHAgentKeyNotInAgent(t *testing.T) {
	a := startSSHAgent(t, filepath.Join(shortDir(t), "agent.sock"))
	a.add(t, newKey(t))
	_, err := identity.NewSSHAgentKey(a.sock, sshLine(t, newKey(t)), 5*time.Second)
	require.ErrorIs(t, err, identity.ErrSSHAgentKeyNotFound)
	assert.Contains(t, err.Error(), "ssh-add")

	// A key removed after the SSHAgentKey was made.
	priv := newKey(t)
	file := a.keyFile(t, priv)
	a.sshAdd(t, file)
	k := openAgentKey(t, a.sock, sshLine(t, priv), 5*time.Second)
	a.sshAdd(t, "-d", file)
	_, err = k.Sign(nil, []byte("m"), crypto.Hash(0))
	require.ErrorIs(t, err, identity.ErrSSHAgentKeyNotFound)

	// Public lines that are not agent keys.
	for _, line := range []string{"", "ssh-rsa AAAA", "not a key"} {
		_, err := identity.NewSSHAgentKey(a.sock, line, time.Second)
		require.ErrorIs(t, err, wire.ErrInvalidKey, "%q", line)
	}
	_, err = identity.NewSSHAgentKey(a.sock, sshLine(t, priv), -time.Second)
	require.Error(t, err)
}

// TestSSHAgentKeyAgentDisappears kills the agent between two signatures,
// then starts a new one on the same socket: the kept connection is dropped
// and the key dials again.
func TestSSHAgentKeyAgentDisappears(t *testing.T) {
	dir := shortDir(t)
	sock := filepath.Join(dir, "agent.sock")
	a := startSSHAgent(t, sock)
	priv := newKey(t)
	line := a.add(t, priv)
	k := openAgentKey(t, sock, line, 5*time.Second)
	s, err := identity.NewSignerFromCrypto("agent-1", k)
	require.NoError(t, err)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	_, err = s.AuthorizationHeader("task-1", at)
	require.NoError(t, err)

	a.kill()
	_, err = s.AuthorizationHeader("task-1", at.Add(time.Second))
	require.ErrorIs(t, err, identity.ErrKeySignFailed)
	require.ErrorIs(t, err, identity.ErrSSHAgentUnreachable)

	require.NoError(t, os.Remove(sock)) // a killed agent leaves its socket
	b := startSSHAgent(t, sock)
	b.add(t, priv)
	h, err := s.AuthorizationHeader("task-1", at.Add(2*time.Second))
	require.NoError(t, err, "the key dials the new agent")
	want, err := identity.NewSignerFromCrypto("agent-1", priv)
	require.NoError(t, err)
	wantH, err := want.AuthorizationHeader("task-1", at.Add(2*time.Second))
	require.NoError(t, err)
	assert.Equal(t, wantH, h)
}

func TestSSHAgentKeyUnreachable(t *testing.T) {
	line := sshLine(t, newKey(t))
	_, err := identity.NewSSHAgentKey(filepath.Join(shortDir(t), "none.sock"), line, time.Second)
	require.ErrorIs(t, err, identity.ErrSSHAgentUnreachable)

	t.Setenv("SSH_AUTH_SOCK", "")
	_, err = identity.NewSSHAgentKey("", line, time.Second)
	require.ErrorIs(t, err, identity.ErrSSHAgentUnreachable)
	assert.Contains(t, err.Error(), "SSH_AUTH_SOCK")

	// A socket nobody listens on any more.
	sock := filepath.Join(shortDir(t), "gone.sock")
	l, err := net.Listen("unix", sock)
	require.NoError(t, err)
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	require.NoError(t, l.Close())
	_, err = identity.NewSSHAgentKey(sock, line, time.Second)
	require.ErrorIs(t, err, identity.ErrSSHAgentUnreachable)
}

// fakeAgent is an in-process agent: a keyring whose Sign is replaced.
type fakeAgent struct {
	agent.Agent
	sign func(key ssh.PublicKey, data []byte) (*ssh.Signature, error)
}

func (f *fakeAgent) Sign(key ssh.PublicKey, data []byte) (*ssh.Signature, error) {
	return f.sign(key, data)
}

// fakeAgentServer serves an agent.Agent on a unix socket and can drop every
// connection it accepted.
type fakeAgentServer struct {
	sock  string
	l     net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func serveFakeAgent(t testing.TB, a agent.Agent) *fakeAgentServer {
	t.Helper()
	sock := filepath.Join(shortDir(t), "fake.sock")
	l, err := net.Listen("unix", sock)
	require.NoError(t, err)
	s := &fakeAgentServer{sock: sock, l: l}
	s.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Go(func() { _ = agent.ServeAgent(a, c) })
		}
	})
	t.Cleanup(func() {
		s.stop()
		s.wg.Wait()
	})
	return s
}

// dropConns closes every accepted connection, as an agent restart would.
func (s *fakeAgentServer) dropConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.conns)
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
	return n
}

// stop closes the listener and every connection.
func (s *fakeAgentServer) stop() {
	s.l.Close()
	s.dropConns()
}

func keyringWith(t testing.TB, priv ed25519.PrivateKey) agent.Agent {
	t.Helper()
	kr := agent.NewKeyring()
	require.NoError(t, kr.Add(agent.AddedKey{PrivateKey: priv}))
	return kr
}

func TestSSHAgentKeyFakeAgents(t *testing.T) {
	priv := newKey(t)
	line := sshLine(t, priv)
	msg := []byte("m")
	errDenied := errors.New("confirmation denied")
	tests := []struct {
		name    string
		sign    func(key ssh.PublicKey, data []byte) (*ssh.Signature, error)
		wantErr error
	}{
		{"refuses", func(ssh.PublicKey, []byte) (*ssh.Signature, error) { return nil, errDenied }, identity.ErrKeySignFailed},
		{"rsa signature", func(_ ssh.PublicKey, data []byte) (*ssh.Signature, error) {
			return &ssh.Signature{Format: ssh.KeyAlgoRSA, Blob: ed25519.Sign(priv, data)}, nil
		}, identity.ErrKeySignFailed},
		{"short signature", func(_ ssh.PublicKey, data []byte) (*ssh.Signature, error) {
			return &ssh.Signature{Format: ssh.KeyAlgoED25519, Blob: ed25519.Sign(priv, data)[:32]}, nil
		}, identity.ErrKeySignFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serveFakeAgent(t, &fakeAgent{Agent: keyringWith(t, priv), sign: tt.sign})
			k := openAgentKey(t, srv.sock, line, 5*time.Second)
			_, err := k.Sign(nil, msg, crypto.Hash(0))
			require.ErrorIs(t, err, tt.wantErr)
			// The connection is still in step after a refusal.
			_, err = k.Sign(nil, msg, crypto.Hash(0))
			require.ErrorIs(t, err, tt.wantErr)
			s, err := identity.NewSignerFromCrypto("agent-1", k)
			require.NoError(t, err)
			_, err = s.AuthorizationHeader("task-1", time.Now())
			require.ErrorIs(t, err, identity.ErrKeySignFailed)
			require.ErrorIs(t, err, tt.wantErr)
		})
	}

	t.Run("wrong key's signature", func(t *testing.T) {
		other := newKey(t)
		srv := serveFakeAgent(t, &fakeAgent{Agent: keyringWith(t, priv), sign: func(_ ssh.PublicKey, data []byte) (*ssh.Signature, error) {
			return &ssh.Signature{Format: ssh.KeyAlgoED25519, Blob: ed25519.Sign(other, data)}, nil
		}})
		s, err := identity.NewSignerFromCrypto("agent-1", openAgentKey(t, srv.sock, line, 5*time.Second))
		require.NoError(t, err)
		_, err = s.AuthorizationHeader("task-1", time.Now())
		require.ErrorIs(t, err, identity.ErrKeySignFailed)
	})

	t.Run("drops idle connections", func(t *testing.T) {
		kr := keyringWith(t, priv)
		srv := serveFakeAgent(t, &fakeAgent{Agent: kr, sign: kr.Sign})
		k := openAgentKey(t, srv.sock, line, 5*time.Second)
		for range 3 {
			require.Equal(t, 1, srv.dropConns())
			sig, err := k.Sign(nil, msg, crypto.Hash(0))
			require.NoError(t, err, "the key dials again")
			assert.Equal(t, ed25519.Sign(priv, msg), sig)
		}
	})

	t.Run("disappears", func(t *testing.T) {
		kr := keyringWith(t, priv)
		srv := serveFakeAgent(t, &fakeAgent{Agent: kr, sign: kr.Sign})
		k := openAgentKey(t, srv.sock, line, 5*time.Second)
		srv.stop()
		_, err := k.Sign(nil, msg, crypto.Hash(0))
		require.ErrorIs(t, err, identity.ErrSSHAgentUnreachable)
	})
}

// TestSSHAgentKeyTimeout checks that a hung agent gives ErrSSHAgentUnreachable
// wrapping os.ErrDeadlineExceeded within the time-out, both when the key is
// opened and when it signs.
func TestSSHAgentKeyTimeout(t *testing.T) {
	priv := newKey(t)
	line := sshLine(t, priv)
	const timeout = 200 * time.Millisecond

	t.Run("sign", func(t *testing.T) {
		release := make(chan struct{})
		kr := keyringWith(t, priv)
		srv := serveFakeAgent(t, &fakeAgent{Agent: kr, sign: func(ssh.PublicKey, []byte) (*ssh.Signature, error) {
			<-release
			return nil, errors.New("released")
		}})
		t.Cleanup(func() { close(release) }) // runs before the server stops
		k := openAgentKey(t, srv.sock, line, timeout)
		start := time.Now()
		_, err := k.Sign(nil, []byte("m"), crypto.Hash(0))
		require.ErrorIs(t, err, identity.ErrSSHAgentUnreachable)
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		assert.Less(t, time.Since(start), 10*timeout, "bounded by the time-out")
	})

	t.Run("open", func(t *testing.T) {
		// A socket that accepts and never answers.
		sock := filepath.Join(shortDir(t), "mute.sock")
		l, err := net.Listen("unix", sock)
		require.NoError(t, err)
		var wg sync.WaitGroup
		var conns []net.Conn
		wg.Go(func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				conns = append(conns, c)
			}
		})
		t.Cleanup(func() {
			l.Close()
			wg.Wait()
			for _, c := range conns {
				c.Close()
			}
		})
		start := time.Now()
		_, err = identity.NewSSHAgentKey(sock, line, timeout)
		require.ErrorIs(t, err, identity.ErrSSHAgentUnreachable)
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		assert.Less(t, time.Since(start), 10*timeout, "bounded by the time-out")
	})
}
