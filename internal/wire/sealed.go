package wire

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"io"

	"golang.org/x/crypto/nacl/box"

	"github.com/agentidentity/agentidentity/internal/ids"
)

// MaxSealedTaskID bounds an encrypted task id (base64 text) a reader opens.
// It holds a sealed ids.MaxTaskIDLen-byte task id with room to spare.
const MaxSealedTaskID = 8 << 10

// SealedOverhead is the ephemeral public key plus the Poly1305 tag.
const SealedOverhead = 32 + box.Overhead

// SealTaskID seals taskID to the X25519 form of recipient with
// box.SealAnonymous and randomness from r, in standard base64 with padding.
func SealTaskID(r io.Reader, recipient ed25519.PublicKey, taskID string) (string, error) {
	if err := ids.ValidateTaskID(taskID); err != nil {
		return "", err
	}
	xpub, err := X25519PublicFromEd25519(recipient)
	if err != nil {
		return "", err
	}
	sealed, err := box.SealAnonymous(nil, []byte(taskID), &xpub, r)
	if err != nil {
		return "", fmt.Errorf("identity: cannot seal the task id: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sealed), nil
}
