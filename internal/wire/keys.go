package wire

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha512"
	"crypto/x509"
	"fmt"
	"strings"

	"filippo.io/edwards25519"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ssh"

	"github.com/agentidentity/agentidentity/internal/b64"
)

// KeyDerivationContext is prepended to the OS entropy before hashing it into
// an Ed25519 seed (docs/protocol.md#key-derivation).
const KeyDerivationContext = "codex-agent-identity-ed25519-v1"

// SeedFromEntropy derives an Ed25519 seed from 64 bytes of entropy:
// SHA-512(KeyDerivationContext ‖ entropy)[:32] (docs/protocol.md#key-derivation).
func SeedFromEntropy(entropy *[64]byte) [32]byte {
	h := sha512.New()
	h.Write([]byte(KeyDerivationContext))
	h.Write(entropy[:])
	var sum [64]byte
	h.Sum(sum[:0])
	var seed [32]byte
	copy(seed[:], sum[:32])
	return seed
}

// DER prefixes of the two PKCS#8 forms of an Ed25519 key (RFC 8410 §7).
var (
	pkcs8v2Prefix = []byte{0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20}
	pkcs8v2PubTag = []byte{0x81, 0x21, 0x00}
	oidEd25519    = []byte{0x2b, 0x65, 0x70}
)

func MarshalPKCS8v2(seed []byte, pub ed25519.PublicKey) []byte {
	out := make([]byte, 0, len(pkcs8v2Prefix)+32+len(pkcs8v2PubTag)+32)
	out = append(out, pkcs8v2Prefix...)
	out = append(out, seed...)
	out = append(out, pkcs8v2PubTag...)
	return append(out, pub...)
}

// ParsePrivateKeyPKCS8Base64 parses an Ed25519 private key in PKCS#8 DER,
// standard base64 with padding. It accepts version 0 (no public key) and
// version 1 (OneAsymmetricKey, RFC 5958) with an optional [1] publicKey that
// must equal the key derived from the seed. Refused: non-canonical base64,
// PEM, BER or trailing bytes at any level, other algorithms, algorithm
// parameters, [0] attributes (the Codex CLI never writes them), a public key
// in a version 0 key.
func ParsePrivateKeyPKCS8Base64(s string) (ed25519.PrivateKey, error) {
	if strings.HasPrefix(strings.TrimSpace(s), "-----BEGIN") {
		return nil, fmt.Errorf("%w: the private key is PEM text, want PKCS#8 DER in standard base64", ErrInvalidKey)
	}
	der, err := b64.DecodeStd(s)
	if err != nil {
		return nil, fmt.Errorf("%w: the private key is not canonical standard base64 with padding", ErrInvalidKey)
	}
	return parsePKCS8(der)
}

func parsePKCS8(der []byte) (ed25519.PrivateKey, error) {
	bad := func(what string) error {
		return fmt.Errorf("%w: the private key is not an Ed25519 PKCS#8 key: %s", ErrInvalidKey, what)
	}
	input := cryptobyte.String(der)
	var seq cryptobyte.String
	if !input.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return nil, bad("no DER SEQUENCE")
	}
	if !input.Empty() {
		return nil, bad("trailing bytes after the key")
	}
	var version int64
	if !seq.ReadASN1Int64WithTag(&version, cbasn1.INTEGER) {
		return nil, bad("no version")
	}
	if version != 0 && version != 1 {
		return nil, bad("unknown version")
	}
	var algo, oid cryptobyte.String
	if !seq.ReadASN1(&algo, cbasn1.SEQUENCE) || !algo.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) {
		return nil, bad("no algorithm identifier")
	}
	if !bytes.Equal(oid, oidEd25519) {
		return nil, bad("the algorithm is not Ed25519")
	}
	if !algo.Empty() {
		return nil, bad("the algorithm has parameters")
	}
	var outer, inner cryptobyte.String
	if !seq.ReadASN1(&outer, cbasn1.OCTET_STRING) || !outer.ReadASN1(&inner, cbasn1.OCTET_STRING) || !outer.Empty() {
		return nil, bad("no private key octet string")
	}
	if len(inner) != ed25519.SeedSize {
		return nil, bad("the seed is not 32 bytes")
	}
	if seq.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, bad("attributes are not supported")
	}
	priv := ed25519.NewKeyFromSeed(inner)
	var pubField cryptobyte.String
	var hasPub bool
	if !seq.ReadOptionalASN1(&pubField, &hasPub, cbasn1.Tag(1).ContextSpecific()) {
		return nil, bad("malformed public key")
	}
	if !seq.Empty() {
		return nil, bad("unexpected trailing fields")
	}
	if hasPub {
		if version != 1 {
			return nil, bad("a version 0 key holds a public key")
		}
		if len(pubField) != 1+ed25519.PublicKeySize || pubField[0] != 0 {
			return nil, bad("the embedded public key is not a 32-byte bit string")
		}
		if !bytes.Equal(pubField[1:], priv[32:]) {
			return nil, fmt.Errorf("%w: the embedded public key does not match the private key", ErrInvalidKey)
		}
	}
	if version == 0 {
		// Second opinion from the standard library on the plain form.
		k, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, bad("crypto/x509 refuses it")
		}
		if xk, ok := k.(ed25519.PrivateKey); !ok || !xk.Equal(priv) {
			return nil, bad("crypto/x509 reads another key")
		}
	}
	return priv, nil
}

// MarshalPublicKeySSH returns "ssh-ed25519 <base64>" with no comment.
func MarshalPublicKeySSH(pub ed25519.PublicKey) (string, error) {
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("%w: cannot encode the public key for OpenSSH", ErrInvalidKey)
	}
	return strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(k)), "\n"), nil
}

// ParsePublicKeySSH parses an agent public key written as an OpenSSH
// authorized_keys line: exactly "ssh-ed25519 <base64>", optionally followed
// by one space and a comment (printable, no control characters).
//
// Refused with an error wrapping ErrInvalidKey: other key types, leading
// options, leading or trailing whitespace, several lines, non-canonical
// base64, a key blob with trailing bytes, a key that is not a valid Ed25519
// point or that has small order (such a key lets anyone forge signatures).
func ParsePublicKeySSH(line string) (ed25519.PublicKey, error) {
	const prefix = ssh.KeyAlgoED25519 + " "
	bad := func(what string) (ed25519.PublicKey, error) {
		return nil, fmt.Errorf("%w: the OpenSSH public key %s", ErrInvalidKey, what)
	}
	if !strings.HasPrefix(line, prefix) {
		return bad(`does not start with "ssh-ed25519 "`)
	}
	for i := 0; i < len(line); i++ {
		if c := line[i]; c < 0x20 || c == 0x7f {
			return bad("holds a control character")
		}
	}
	rest := line[len(prefix):]
	blob64, comment, hasComment := strings.Cut(rest, " ")
	if hasComment && (comment == "" || strings.TrimSpace(comment) != comment) {
		return bad("has stray whitespace")
	}
	blob, err := b64.DecodeStd(blob64)
	if err != nil {
		return bad("is not canonical standard base64")
	}
	pk, err := ssh.ParsePublicKey(blob)
	if err != nil {
		return bad("blob does not parse")
	}
	if pk.Type() != ssh.KeyAlgoED25519 {
		return bad("is not an Ed25519 key")
	}
	cpk, ok := pk.(ssh.CryptoPublicKey)
	if !ok {
		return bad("is not an Ed25519 key")
	}
	pub, ok := cpk.CryptoPublicKey().(ed25519.PublicKey)
	if !ok || len(pub) != ed25519.PublicKeySize {
		return bad("is not an Ed25519 key")
	}
	if !bytes.Equal(pk.Marshal(), blob) {
		return bad("blob is not canonical")
	}
	// Cross-check with x/crypto's own line parser.
	if _, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(line)); err != nil || len(rest) != 0 {
		return bad("line does not parse")
	}
	if _, err := edwardsPoint(pub); err != nil {
		return nil, err
	}
	return bytes.Clone(pub), nil
}

// edwardsPoint decodes an Ed25519 public key and refuses invalid and
// small-order points.
func edwardsPoint(pub []byte) (*edwards25519.Point, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: the public key is %d bytes, want %d", ErrInvalidKey, len(pub), ed25519.PublicKeySize)
	}
	p, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: the public key is not a valid Ed25519 point", ErrInvalidKey)
	}
	if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return nil, fmt.Errorf("%w: the public key is a small-order point", ErrInvalidKey)
	}
	return p, nil
}

// X25519FromSeed derives the X25519 private key of docs/protocol.md#x25519-key:
// SHA-512(seed)[:32], clamped.
func X25519FromSeed(seed []byte) [32]byte {
	sum := sha512.Sum512(seed)
	var k [32]byte
	copy(k[:], sum[:32])
	k[0] &= 248
	k[31] &= 127
	k[31] |= 64
	return k
}

// SmallOrderY lists, with the sign bit cleared, every 32-byte encoding
// (canonical or not) of an Ed25519 point of order dividing 8. Checking a key
// against it costs a few comparisons instead of a point decompression.
var SmallOrderY = [...][32]byte{
	{0x01}, // y = 1, the identity
	{0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, // y = p-1, order 2
	{}, // y = 0, order 4
	{0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a}, // order 8
	{0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05}, // order 8
	{0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, // y = p (non-canonical 0)
	{0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, // y = p+1 (non-canonical 1)
}

// CheckVerifyKey refuses public keys that cannot be used to verify: wrong
// length or a small-order point (for which signatures can be forged).
func CheckVerifyKey(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: the public key is %d bytes, want %d", ErrInvalidKey, len(pub), ed25519.PublicKeySize)
	}
	var y [32]byte
	copy(y[:], pub)
	y[31] &= 0x7f
	for i := range SmallOrderY {
		if y == SmallOrderY[i] {
			return fmt.Errorf("%w: the public key is a small-order point", ErrInvalidKey)
		}
	}
	return nil
}

// X25519PublicFromEd25519 maps an Ed25519 public key to its X25519 public key
// (u = (1+y)/(1-y)), refusing invalid and small-order points.
func X25519PublicFromEd25519(pub ed25519.PublicKey) ([32]byte, error) {
	p, err := edwardsPoint(pub)
	if err != nil {
		return [32]byte{}, err
	}
	var out [32]byte
	copy(out[:], p.BytesMontgomery())
	return out, nil
}
