package identity

import (
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"

	"github.com/agentidentity/agentidentity/internal/b64"
	"github.com/agentidentity/agentidentity/internal/wire"
)

// OpenTaskID decrypts an encrypted task id (docs/protocol.md#sealed-task-id): a libsodium sealed box
// (crypto_box_seal) to the Signer's X25519 key, in canonical standard base64
// with padding. It is safe for concurrent use.
//
// Refused: non-canonical
// base64 (line breaks, whitespace, missing padding, the URL alphabet), input
// longer than 8 KiB, a box too short to hold a task id, a low-order ephemeral
// key (one whose X25519 result is all zeros; libsodium refuses these and
// x/crypto alone does not), a box that does not open, and a plaintext that is
// empty, invalid UTF-8 or holds ASCII control characters (the last two also
// wrap ErrInvalidTaskID). Errors never quote the plaintext or the key.
//
// A Signer made by NewSignerFromCrypto has no seed, hence no X25519 private
// key: it refuses every input with ErrSealedTaskIDNeedsSeed.
func (s *Signer) OpenTaskID(encrypted string) (string, error) {
	bad := func(what string) (string, error) {
		return "", fmt.Errorf("%w: %s", errInvalidTaskIDCiphertext, what)
	}
	if s.key.Get().priv == nil {
		return "", ErrSealedTaskIDNeedsSeed
	}
	if len(encrypted) > wire.MaxSealedTaskID {
		return bad(fmt.Sprintf("it is longer than %d bytes", wire.MaxSealedTaskID))
	}
	sealed, err := b64.DecodeStd(encrypted)
	if err != nil {
		return bad("it is not canonical standard base64 with padding")
	}
	if len(sealed) <= wire.SealedOverhead {
		return bad(fmt.Sprintf("it is %d bytes, too short for a sealed box with content", len(sealed)))
	}
	if _, err := curve25519.X25519(s.key.Get().x25519Priv[:], sealed[:32]); err != nil {
		return bad("the ephemeral public key has low order")
	}
	plain, ok := box.OpenAnonymous(nil, sealed, &s.x25519Pub, &s.key.Get().x25519Priv)
	if !ok {
		return bad("the sealed box does not open with this agent key")
	}
	if len(plain) == 0 {
		return bad("the task id is empty")
	}
	if !utf8.Valid(plain) {
		return "", fmt.Errorf("%w: %w: it is not valid UTF-8", errInvalidTaskIDCiphertext, ErrInvalidTaskID)
	}
	id := string(plain)
	if err := ValidateTaskID(id); err != nil {
		return "", fmt.Errorf("%w: %w", errInvalidTaskIDCiphertext, err)
	}
	return id, nil
}
