package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"unicode/utf8"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"

	"github.com/agentidentity/agentidentity/internal/b64"
)

// maxSealedTaskID bounds the encrypted task id OpenTaskID reads (base64).
const maxSealedTaskID = 8 << 10

// sealedOverhead is the ephemeral public key plus the Poly1305 tag.
const sealedOverhead = 32 + box.Overhead

// OpenTaskID decrypts an encrypted task id (spec §4): a libsodium sealed box
// (crypto_box_seal) to the Signer's X25519 key, in canonical standard base64
// with padding. It is safe for concurrent use.
//
// Refused with an error wrapping ErrInvalidTaskIDCiphertext: non-canonical
// base64 (line breaks, whitespace, missing padding, the URL alphabet), input
// longer than 8 KiB, a box too short to hold a task id, a low-order ephemeral
// key (one whose X25519 result is all zeros; libsodium refuses these and
// x/crypto alone does not), a box that does not open, and a plaintext that is
// empty, invalid UTF-8 or holds ASCII control characters (the last two also
// wrap ErrInvalidTaskID). Errors never quote the plaintext or the key.
func (s *Signer) OpenTaskID(encrypted string) (string, error) {
	bad := func(what string) (string, error) {
		return "", fmt.Errorf("%w: %s", ErrInvalidTaskIDCiphertext, what)
	}
	if len(encrypted) > maxSealedTaskID {
		return bad(fmt.Sprintf("it is longer than %d bytes", maxSealedTaskID))
	}
	sealed, err := b64.DecodeStd(encrypted)
	if err != nil {
		return bad("it is not canonical standard base64 with padding")
	}
	if len(sealed) <= sealedOverhead {
		return bad(fmt.Sprintf("it is %d bytes, too short for a sealed box with content", len(sealed)))
	}
	if _, err := curve25519.X25519(s.x25519Priv[:], sealed[:32]); err != nil {
		return bad("the ephemeral public key has low order")
	}
	plain, ok := box.OpenAnonymous(nil, sealed, &s.x25519Pub, &s.x25519Priv)
	if !ok {
		return bad("the sealed box does not open with this agent key")
	}
	if len(plain) == 0 {
		return bad("the task id is empty")
	}
	if !utf8.Valid(plain) {
		return "", fmt.Errorf("%w: %w: it is not valid UTF-8", ErrInvalidTaskIDCiphertext, ErrInvalidTaskID)
	}
	id := string(plain)
	if err := ValidateTaskID(id); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidTaskIDCiphertext, err)
	}
	return id, nil
}

// SealTaskID is the server side of OpenTaskID (spec §4), for test servers and
// self-hosted backends: it converts recipient, an agent's Ed25519 public key,
// to its X25519 public key (the birational Edwards-to-Montgomery map) and
// seals taskID to it with box.SealAnonymous and crypto/rand, in standard
// base64 with padding. Every call gives a different ciphertext.
//
// taskID must pass ValidateTaskID. A recipient that is not 32 bytes, not a
// valid point or of small order is refused with an error wrapping
// ErrInvalidKey.
func SealTaskID(recipient ed25519.PublicKey, taskID string) (string, error) {
	return sealTaskID(rand.Reader, recipient, taskID)
}

func sealTaskID(r io.Reader, recipient ed25519.PublicKey, taskID string) (string, error) {
	if err := ValidateTaskID(taskID); err != nil {
		return "", err
	}
	xpub, err := x25519PublicFromEd25519(recipient)
	if err != nil {
		return "", err
	}
	sealed, err := box.SealAnonymous(nil, []byte(taskID), &xpub, r)
	if err != nil {
		return "", fmt.Errorf("identity: cannot seal the task id: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sealed), nil
}

// x25519PublicFromEd25519 maps an Ed25519 public key to its X25519 public key
// (u = (1+y)/(1-y)), refusing invalid and small-order points.
func x25519PublicFromEd25519(pub ed25519.PublicKey) ([32]byte, error) {
	p, err := edwardsPoint(pub)
	if err != nil {
		return [32]byte{}, err
	}
	var out [32]byte
	copy(out[:], p.BytesMontgomery())
	return out, nil
}
