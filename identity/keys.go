package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/internal/wire"
)

// KeyMaterial is a freshly generated agent key pair in the forms the Codex
// CLI stores and registers. The private key is a [codexhome.Secret], so a KeyMaterial
// prints redacted under every fmt verb and log/slog handler.
type KeyMaterial struct {
	// PrivateKeyPKCS8Base64 is the private key as PKCS#8 v2 DER (RFC 8410,
	// with the embedded public key, as ed25519-dalek writes it), in
	// standard base64 with padding. Pass PrivateKeyPKCS8Base64.Reveal() to
	// NewSigner, or call KeyMaterial.Signer.
	PrivateKeyPKCS8Base64 codexhome.Secret
	// PublicKeySSH is the public key as an OpenSSH line with no comment:
	// "ssh-ed25519 AAAA…".
	PublicKeySSH string
}

// Signer returns a Signer of the key for the agent runtime id agentRuntimeID.
func (k KeyMaterial) Signer(agentRuntimeID string) (*Signer, error) {
	return NewSigner(agentRuntimeID, k.PrivateKeyPKCS8Base64.Reveal())
}

// GenerateKeyMaterial returns a new agent key: 64 bytes from crypto/rand,
// seed = SHA-512("codex-agent-identity-ed25519-v1" ‖ those bytes)[:32]
// (docs/protocol.md#key-derivation), encoded as the Codex CLI writes it.
func GenerateKeyMaterial() (KeyMaterial, error) {
	return generateKeyMaterial(rand.Reader)
}

func generateKeyMaterial(r io.Reader) (KeyMaterial, error) {
	var entropy [64]byte
	if _, err := io.ReadFull(r, entropy[:]); err != nil {
		return KeyMaterial{}, fmt.Errorf("identity: cannot read randomness for a new agent key: %w", err)
	}
	seed := wire.SeedFromEntropy(&entropy)
	priv := ed25519.NewKeyFromSeed(seed[:])
	pub := priv.Public().(ed25519.PublicKey)
	sshLine, err := wire.MarshalPublicKeySSH(pub)
	if err != nil {
		return KeyMaterial{}, err
	}
	return KeyMaterial{
		PrivateKeyPKCS8Base64: codexhome.NewSecret(base64.StdEncoding.EncodeToString(wire.MarshalPKCS8v2(seed[:], pub))),
		PublicKeySSH:          sshLine,
	}, nil
}

// ParsePublicKeySSH parses an agent public key written as an OpenSSH
// authorized_keys line: exactly "ssh-ed25519 <base64>", optionally followed
// by one space and a comment (printable, no control characters). It is the
// same function as gateway.ParsePublicKeySSH.
//
// Refused with an error wrapping ErrInvalidKey: other key types, leading
// options, leading or trailing whitespace, several lines, non-canonical
// base64, a key blob with trailing bytes, a key that is not a valid Ed25519
// point or that has small order (such a key lets anyone forge signatures).
func ParsePublicKeySSH(line string) (ed25519.PublicKey, error) {
	return wire.ParsePublicKeySSH(line)
}
