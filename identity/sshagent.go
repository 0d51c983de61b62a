package identity

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/agentidentity/agentidentity/internal/wire"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// defaultSSHAgentTimeout bounds one exchange with the ssh-agent (connecting
// included) when NewSSHAgentKey is given a zero timeout.
const defaultSSHAgentTimeout = 5 * time.Second

// SSHAgentKey is an Ed25519 agent key held by an ssh-agent, used through the
// agent's unix socket. It implements crypto.Signer, for NewSignerFromCrypto;
// the private key never leaves the agent.
//
// Every exchange (connecting, listing keys, signing) is bounded by a
// deadline on the socket, since crypto.Signer.Sign takes no context: a hung
// agent gives ErrSSHAgentUnreachable (wrapping os.ErrDeadlineExceeded),
// never a hang. One connection is kept open
// and redialled once when the agent closed it (say, after a restart). A
// SSHAgentKey is safe for concurrent use; signatures are made one at a time.
// Close it when done.
//
// Whoever can reach an agent socket can sign with every key the agent holds.
// Run a dedicated agent that holds only the agent key, with its socket in a
// directory only the agent's user can enter, rather than a personal agent
// that also holds login keys:
//
//	ssh-agent -a /run/user/1000/agentid.sock
//	SSH_AUTH_SOCK=/run/user/1000/agentid.sock ssh-add agent_key
type SSHAgentKey struct {
	socket  string
	timeout time.Duration
	pub     ed25519.PublicKey
	sshPub  ssh.PublicKey

	mu     sync.Mutex
	conn   net.Conn // nil when not connected
	rw     *recordingConn
	client agent.ExtendedAgent
	closed bool
}

// NewSSHAgentKey connects to the ssh-agent at socketPath ($SSH_AUTH_SOCK when
// empty) and returns the key of publicKeySSH, an OpenSSH line
// "ssh-ed25519 AAAA…" (a comment is allowed) as gateway.ParsePublicKeySSH reads it.
// timeout bounds each exchange with the agent; zero means 5 s. The caller
// must Close the returned key.
//
// Errors: a bad public line is refused; an agent that cannot be
// reached, does not answer in time or does not hold the key wraps
// ErrSSHAgentUnreachable (a time-out also wraps os.ErrDeadlineExceeded) or
// ErrSSHAgentKeyNotFound; an agent that refuses to list its keys wraps
// ErrKeySignFailed.
func NewSSHAgentKey(socketPath, publicKeySSH string, timeout time.Duration) (*SSHAgentKey, error) {
	pub, err := wire.ParsePublicKeySSH(publicKeySSH)
	if err != nil {
		return nil, err
	}
	if timeout < 0 {
		return nil, fmt.Errorf("identity: the ssh-agent time-out is negative (%v)", timeout)
	}
	if timeout == 0 {
		timeout = defaultSSHAgentTimeout
	}
	if socketPath == "" {
		socketPath = os.Getenv("SSH_AUTH_SOCK")
		if socketPath == "" {
			return nil, fmt.Errorf("%w: SSH_AUTH_SOCK is not set; start an agent (ssh-agent) or give its socket path", ErrSSHAgentUnreachable)
		}
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errInvalidKey, err)
	}
	k := &SSHAgentKey{socket: socketPath, timeout: timeout, pub: pub, sshPub: sshPub}
	k.mu.Lock()
	defer k.mu.Unlock()
	deadline := time.Now().Add(timeout)
	if err := k.connect(deadline); err != nil {
		return nil, err
	}
	held, err := k.holdsKey()
	if err != nil {
		k.disconnect()
		return nil, err
	}
	if !held {
		k.disconnect()
		return nil, fmt.Errorf("%w: %s; add it with ssh-add (SSH_AUTH_SOCK=%s)", ErrSSHAgentKeyNotFound, k.describeKey(), socketPath)
	}
	return k, nil
}

// Public returns the agent key's ed25519.PublicKey.
func (k *SSHAgentKey) Public() crypto.PublicKey {
	return append(ed25519.PublicKey(nil), k.pub...)
}

// Sign asks the agent for the Ed25519 signature of message. rand is ignored
// (Ed25519 is deterministic). opts must be crypto.Hash(0) (or an
// *ed25519.Options for plain Ed25519): the message is signed unhashed; other
// options are refused, since an ssh-agent makes only plain Ed25519
// signatures.
//
// Errors wrap ErrSSHAgentUnreachable (a time-out also wraps
// os.ErrDeadlineExceeded), ErrSSHAgentKeyNotFound (the key was removed from
// the agent) or ErrKeySignFailed (the agent refused).
func (k *SSHAgentKey) Sign(_ io.Reader, message []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := checkPlainEd25519(opts); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, fmt.Errorf("%w: the SSHAgentKey is closed: %w", ErrSSHAgentUnreachable, net.ErrClosed)
	}
	deadline := time.Now().Add(k.timeout)
	for attempt := 0; ; attempt++ {
		reused := k.conn != nil
		if err := k.connect(deadline); err != nil {
			return nil, err
		}
		sig, err := k.client.SignWithFlags(k.sshPub, message, 0)
		if err == nil {
			if sig.Format != ssh.KeyAlgoED25519 || len(sig.Blob) != ed25519.SignatureSize || len(sig.Rest) != 0 {
				return nil, fmt.Errorf("%w: it answered with a %q signature of %d bytes, not an Ed25519 one", ErrKeySignFailed, sig.Format, len(sig.Blob))
			}
			return sig.Blob, nil
		}
		ioErr := k.rw.err
		if ioErr == nil {
			// The agent answered, with a failure: the connection is
			// still in step. Tell a removed key from a refusal.
			if held, lerr := k.holdsKey(); lerr == nil && !held {
				return nil, fmt.Errorf("%w: %s is no longer in the agent at %s", ErrSSHAgentKeyNotFound, k.describeKey(), k.socket)
			}
			return nil, fmt.Errorf("%w: %v", ErrKeySignFailed, err)
		}
		k.disconnect()
		if errors.Is(ioErr, os.ErrDeadlineExceeded) {
			return nil, fmt.Errorf("%w: no answer from %s within %v: %w", ErrSSHAgentUnreachable, k.socket, k.timeout, ioErr)
		}
		if reused && attempt == 0 {
			continue // the agent closed a kept connection: dial again, once
		}
		return nil, fmt.Errorf("%w: the agent at %s went away: %w", ErrSSHAgentUnreachable, k.socket, ioErr)
	}
}

// Close closes the connection to the agent. Later calls to Sign fail.
func (k *SSHAgentKey) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closed = true
	k.disconnect()
	return nil
}

// String names the key and the socket; an SSHAgentKey holds no secret.
func (k *SSHAgentKey) String() string {
	return "identity.SSHAgentKey{" + k.describeKey() + " at " + k.socket + "}"
}

func (k *SSHAgentKey) describeKey() string {
	return "the key " + ssh.FingerprintSHA256(k.sshPub)
}

// connect dials the agent if there is no connection and sets the deadline
// of the exchange on the socket. k.mu is held.
func (k *SSHAgentKey) connect(deadline time.Time) error {
	if k.conn == nil {
		c, err := (&net.Dialer{Deadline: deadline}).Dial("unix", k.socket)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return fmt.Errorf("%w: connecting to %s took longer than %v: %w", ErrSSHAgentUnreachable, k.socket, k.timeout, err)
			}
			return fmt.Errorf("%w: %w; is the agent running, and is SSH_AUTH_SOCK right?", ErrSSHAgentUnreachable, err)
		}
		k.conn = c
		k.rw = &recordingConn{c: c}
		// A reader and writer that is not an io.Closer makes the agent
		// client serial: every exchange runs in the calling goroutine,
		// under the socket's deadline.
		k.client = agent.NewClient(k.rw)
	}
	k.rw.err = nil
	if err := k.conn.SetDeadline(deadline); err != nil {
		k.disconnect()
		return fmt.Errorf("%w: %w", ErrSSHAgentUnreachable, err)
	}
	return nil
}

// disconnect drops the connection. k.mu is held.
func (k *SSHAgentKey) disconnect() {
	if k.conn != nil {
		_ = k.conn.Close()
	}
	k.conn, k.rw, k.client = nil, nil, nil
}

// holdsKey asks the agent whether it holds the key. k.mu is held and the
// connection is up; on an I/O error the connection is dropped.
func (k *SSHAgentKey) holdsKey() (bool, error) {
	keys, err := k.client.List()
	if err != nil {
		ioErr := k.rw.err
		switch {
		case ioErr == nil:
			return false, fmt.Errorf("%w: it did not list its keys: %v", ErrKeySignFailed, err)
		case errors.Is(ioErr, os.ErrDeadlineExceeded):
			k.disconnect()
			return false, fmt.Errorf("%w: no answer from %s within %v: %w", ErrSSHAgentUnreachable, k.socket, k.timeout, ioErr)
		default:
			k.disconnect()
			return false, fmt.Errorf("%w: the agent at %s went away: %w", ErrSSHAgentUnreachable, k.socket, ioErr)
		}
	}
	want := k.sshPub.Marshal()
	for _, key := range keys {
		if bytes.Equal(key.Blob, want) {
			return true, nil
		}
	}
	return false, nil
}

// checkPlainEd25519 refuses signer options other than plain Ed25519.
func checkPlainEd25519(opts crypto.SignerOpts) error {
	if opts == nil {
		return errors.New("identity: SSHAgentKey.Sign needs crypto.Hash(0) as options, got nil")
	}
	if o, ok := opts.(*ed25519.Options); ok && (o.Hash != 0 || o.Context != "") {
		return errors.New("identity: an ssh-agent makes only plain Ed25519 signatures, not Ed25519ph or Ed25519ctx")
	}
	if opts.HashFunc() != crypto.Hash(0) {
		return fmt.Errorf("identity: Ed25519 signs the message unhashed: pass crypto.Hash(0), not %v", opts.HashFunc())
	}
	return nil
}

// recordingConn is the agent connection as the agent client sees it: a
// reader and writer that keeps the last I/O error, which the client's error
// messages flatten.
type recordingConn struct {
	c   net.Conn
	err error
}

func (r *recordingConn) Read(p []byte) (int, error) {
	n, err := r.c.Read(p)
	if err != nil {
		r.err = err
	}
	return n, err
}

func (r *recordingConn) Write(p []byte) (int, error) {
	n, err := r.c.Write(p)
	if err != nil {
		r.err = err
	}
	return n, err
}
