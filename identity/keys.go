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
	// standard base64 with padding, as NewSigner takes it.
	PrivateKeyPKCS8Base64 codexhome.Secret
	// PublicKeySSH is the public key as an OpenSSH line with no comment:
	// "ssh-ed25519 AAAA…".
	PublicKeySSH string
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
