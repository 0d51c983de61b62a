package identity

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/internal/secret"
	"github.com/agentidentity/agentidentity/internal/wire"
	"golang.org/x/crypto/curve25519"
)

// Signer holds one agent identity: its runtime id and its Ed25519 key, parsed
// once. It makes AgentAssertion headers and task-registration bodies and opens
// encrypted task ids.
//
// A Signer is immutable and safe for concurrent use. It never prints its key:
// String, GoString and every fmt verb show only the runtime id and the public
// key.
type Signer struct {
	runtimeID string
	pub       ed25519.PublicKey
	sshLine   string
	x25519Pub [32]byte
	// key is boxed so that printing a Signer, even where fmt cannot call
	// its methods, never shows the key.
	key secret.Box[signerKey]
}

// signerKey is the private part of a Signer: either priv (and the X25519
// key derived from its seed) or ext, a key held elsewhere.
type signerKey struct {
	priv       ed25519.PrivateKey
	x25519Priv [32]byte
	ext        crypto.Signer
}

// NewSignerFromCrypto makes a Signer for the agent runtime id agentRuntimeID
// whose private key stays behind key, any crypto.Signer whose Public method
// returns an ed25519.PublicKey: an ssh-agent ([NewSSHAgentKey]), a hardware
// token, a cloud KMS. Headers and bodies are the same bytes a Signer from
// NewSigner makes with the same key (Ed25519 is deterministic).
//
// Each signature is asked of key.Sign(rand.Reader, message, crypto.Hash(0))
// (the message unhashed, as Ed25519 takes it) and checked before use: it must
// be 64 bytes and verify under the public key, otherwise the call fails with
// an error wrapping ErrKeySignFailed. key must be safe for concurrent use if
// the Signer is shared; the Signer does not close it.
//
// Such a Signer has no private key seed, so it lacks what two things need:
// [Signer.OpenTaskID] (sealed task ids are opened with the X25519 key derived
// from the seed) fails with ErrSealedTaskIDNeedsSeed, and so does
// [Client.RegisterTask] when the AuthAPI answers with a sealed task id
// (encrypted_task_id, encryptedTaskId); plaintext answers (task_id, taskId)
// work. Nor can it be written to auth.json, whose agent identity record holds
// the private key: use it with [NewRunAuth] and a [Client], and register its
// public key with [Client.RegisterAgent] (PublicKeySSH).
//
// Refused: a nil key, a public key of
// another type, and a small-order public key. A runtime id outside the
// allowlist of ValidateRuntimeID is refused with an error wrapping
// ErrInvalidRuntimeID.
func NewSignerFromCrypto(agentRuntimeID string, key crypto.Signer) (*Signer, error) {
	if err := ValidateRuntimeID(agentRuntimeID); err != nil {
		return nil, err
	}
	if key == nil {
		return nil, fmt.Errorf("%w: the crypto.Signer is nil", errInvalidKey)
	}
	pub, ok := key.Public().(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: the crypto.Signer's public key is a %T, want an ed25519.PublicKey", errInvalidKey, key.Public())
	}
	if err := wire.CheckVerifyKey(pub); err != nil {
		return nil, err
	}
	s := &Signer{
		runtimeID: agentRuntimeID,
		pub:       append(ed25519.PublicKey(nil), pub...),
		key:       secret.NewBox(signerKey{ext: key}),
	}
	line, err := wire.MarshalPublicKeySSH(s.pub)
	if err != nil {
		return nil, err
	}
	s.sshLine = line
	if s.x25519Pub, err = wire.X25519PublicFromEd25519(s.pub); err != nil {
		return nil, err
	}
	return s, nil
}

// signExternal signs msg with the crypto.Signer of s and checks the result.
func (s *Signer) signExternal(ext crypto.Signer, sig, msg []byte) error {
	out, err := ext.Sign(rand.Reader, msg, crypto.Hash(0))
	if errors.Is(err, ErrKeySignFailed) {
		return err // an SSHAgentKey refusal says so already
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrKeySignFailed, err)
	}
	if len(out) != ed25519.SignatureSize {
		return fmt.Errorf("%w: it returned a signature of %d bytes, want %d", ErrKeySignFailed, len(out), ed25519.SignatureSize)
	}
	if !ed25519.Verify(s.pub, msg, out) {
		return fmt.Errorf("%w: its signature does not verify under the agent public key; is it the right key?", ErrKeySignFailed)
	}
	copy(sig, out)
	return nil
}

// NewSigner parses an agent private key (PKCS#8 DER in standard base64 with
// padding, docs/protocol.md#private-key) for the agent runtime id agentRuntimeID.
// The key is a [codexhome.Secret], as [KeyMaterial], [codexhome.AgentIdentityRecord]
// and [Claims] hold it (codexhome.NewSecret wraps one from elsewhere).
//
// Both PKCS#8 forms are accepted: version 0 (no public key, as Go and OpenSSL
// write it) and version 1 with the embedded [1] public key (as the Codex CLI
// writes it). Refused: an embedded public
// key that does not match the seed, trailing bytes, [0] attributes,
// non-canonical base64 (line breaks, missing padding, the URL alphabet,
// whitespace), PEM text and any other key type. A runtime id outside the
// allowlist of ValidateRuntimeID is refused with an error wrapping
// ErrInvalidRuntimeID. Errors never quote the key.
func NewSigner(agentRuntimeID string, privateKeyPKCS8Base64 codexhome.Secret) (*Signer, error) {
	if err := ValidateRuntimeID(agentRuntimeID); err != nil {
		return nil, err
	}
	priv, err := wire.ParsePrivateKeyPKCS8Base64(privateKeyPKCS8Base64.Reveal())
	if err != nil {
		return nil, err
	}
	return newSignerFromKey(agentRuntimeID, priv)
}

func newSignerFromKey(runtimeID string, priv ed25519.PrivateKey) (*Signer, error) {
	s := &Signer{
		runtimeID: runtimeID,
		key:       secret.NewBox(signerKey{priv: priv}),
		pub:       priv.Public().(ed25519.PublicKey),
	}
	line, err := wire.MarshalPublicKeySSH(s.pub)
	if err != nil {
		return nil, err
	}
	s.sshLine = line
	s.key.Get().x25519Priv = wire.X25519FromSeed(priv.Seed())
	xpub, err := curve25519.X25519(s.key.Get().x25519Priv[:], curve25519.Basepoint)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot derive the X25519 key", errInvalidKey)
	}
	copy(s.x25519Pub[:], xpub)
	return s, nil
}

// AgentRuntimeID returns the agent runtime id the Signer signs for.
func (s *Signer) AgentRuntimeID() string {
	if s == nil {
		return ""
	}
	return s.runtimeID
}

// PublicKey returns a copy of the agent's Ed25519 public key.
func (s *Signer) PublicKey() ed25519.PublicKey {
	return append(ed25519.PublicKey(nil), s.pub...)
}

// PublicKeySSH returns the public key as an OpenSSH line with no comment and
// no newline: "ssh-ed25519 AAAA…" (docs/protocol.md#public-key), as sent in agent registration.
func (s *Signer) PublicKeySSH() string { return s.sshLine }

// x25519PublicKey returns a copy of the X25519 public key that encrypted task
// ids are sealed to (docs/protocol.md#x25519-key): the Montgomery form of PublicKey.
func (s *Signer) x25519PublicKey() []byte {
	return append([]byte(nil), s.x25519Pub[:]...)
}

// String returns the runtime id and the public key, never the private key.
func (s *Signer) String() string {
	if s == nil {
		return "identity.Signer(nil)"
	}
	return "identity.Signer{AgentRuntimeID: " + s.runtimeID + ", PublicKey: " + s.sshLine + "}"
}
