package jwttest

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"embed"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

//go:embed testdata/*.pem
var keyFiles embed.FS

// Names of the embedded test keys accepted by [LoadKey] and [NewStaticIssuer].
const (
	// KeyA is the 2048-bit RSA sample key of github.com/golang-jwt/jwt/v5.
	KeyA = "a"
	// KeyB is a second 2048-bit RSA key made for this package with OpenSSL.
	KeyB = "b"
	// KeyInsecure512 is a 512-bit RSA key, for tests that a verifier
	// refuses keys that are too small.
	KeyInsecure512 = "insecure512"
)

var keyPaths = map[string]string{
	KeyA:           "testdata/rsa2048_golang_jwt_sample_key.pem",
	KeyB:           "testdata/rsa2048_b.pem",
	KeyInsecure512: "testdata/rsa512_insecure.pem",
}

// LoadKey returns a fresh copy of the embedded test key called name (one of
// [KeyA], [KeyB], [KeyInsecure512]). These keys are public: never use them
// outside tests.
func LoadKey(name string) (*rsa.PrivateKey, error) {
	path, ok := keyPaths[name]
	if !ok {
		return nil, fmt.Errorf("jwttest: no embedded key called %q", name)
	}
	data, err := keyFiles.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("jwttest: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("jwttest: %s holds no PEM block", path)
	}
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("jwttest: %s: %w", path, err)
	}
	return key, nil
}

// Issuer signs JWTs with one RSA key under one key id, the way the Agent
// Identity backend does, and publishes the matching JWKS. It is safe for
// concurrent use.
type Issuer struct {
	kid string
	key *rsa.PrivateKey
}

// NewIssuer makes an issuer with a freshly generated RSA key of the given
// size. Key generation takes a noticeable time at 2048 bits and more; tests
// that do not need a new key should use [NewStaticIssuer].
func NewIssuer(kid string, bits int) (*Issuer, error) {
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("jwttest: generating a %d-bit RSA key: %w", bits, err)
	}
	return &Issuer{kid: kid, key: key}, nil
}

// NewStaticIssuer makes an issuer with the embedded test key called keyName
// (see [LoadKey]).
func NewStaticIssuer(kid, keyName string) (*Issuer, error) {
	key, err := LoadKey(keyName)
	if err != nil {
		return nil, err
	}
	return &Issuer{kid: kid, key: key}, nil
}

// NewIssuerFromKey makes an issuer that signs with key under kid.
func NewIssuerFromKey(kid string, key *rsa.PrivateKey) *Issuer {
	return &Issuer{kid: kid, key: key}
}

// Kid returns the key id the issuer puts in token headers and in its JWK.
func (i *Issuer) Kid() string { return i.kid }

// PrivateKey returns the signing key.
func (i *Issuer) PrivateKey() *rsa.PrivateKey { return i.key }

// PublicKey returns the verification key.
func (i *Issuer) PublicKey() *rsa.PublicKey { return &i.key.PublicKey }

// JWK returns the public key as a JWK object with kty RSA, use sig and alg
// RS256. The caller owns the map and may change it to build broken keys.
func (i *Issuer) JWK() map[string]any {
	return map[string]any{
		"kty": "RSA",
		"kid": i.kid,
		"use": "sig",
		"alg": "RS256",
		"n":   base64.RawURLEncoding.EncodeToString(i.key.N.Bytes()),
		"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(i.key.E)).Bytes()),
	}
}

// JWKS returns a JWKS document holding only this issuer's public key.
func (i *Issuer) JWKS() []byte { return JWKS(i.JWK()) }

// JWKS returns a JWKS document {"keys": [...]} holding keys in order. It
// panics if a key holds a value encoding/json cannot encode, which is a bug
// in the calling test.
func JWKS(keys ...map[string]any) []byte {
	if keys == nil {
		keys = []map[string]any{}
	}
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		// The maps come from JWK or from tests; a value json cannot encode
		// is a bug in the test itself.
		panic("jwttest: cannot encode JWKS: " + err.Error())
	}
	return b
}

// Sign returns a compact RS256 JWS of claims. The header starts as
// {"alg":"RS256","typ":"JWT","kid":<Kid>}; each entry of header then sets a
// member, and a nil value removes one (for example {"kid": nil}). The
// signature is always RS256 with the issuer's key, whatever "alg" says.
func (i *Issuer) Sign(claims jwt.Claims, header map[string]any) (string, error) {
	h := map[string]any{"alg": "RS256", "typ": "JWT", "kid": i.kid}
	for k, v := range header {
		if v == nil {
			delete(h, k)
			continue
		}
		h[k] = v
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return "", fmt.Errorf("jwttest: encoding header: %w", err)
	}
	pb, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("jwttest: encoding claims: %w", err)
	}
	return i.SignBytes(hb, pb)
}

// SignBytes returns base64url(header) "." base64url(payload) "." followed by
// the RS256 signature of those two segments. header and payload are used
// byte for byte, so tests can sign JSON that encoding/json would never write
// (duplicate members, odd spacing).
func (i *Issuer) SignBytes(header, payload []byte) (string, error) {
	signing := Segment(header) + "." + Segment(payload)
	sig, err := signRS256(i.key, signing)
	if err != nil {
		return "", err
	}
	return signing + "." + Segment(sig), nil
}

func signRS256(key *rsa.PrivateKey, signing string) ([]byte, error) {
	if key.N.BitLen() >= 1024 {
		sig, err := jwt.SigningMethodRS256.Sign(signing, key)
		if err != nil {
			return nil, fmt.Errorf("jwttest: signing: %w", err)
		}
		return sig, nil
	}
	// crypto/rsa refuses keys under 1024 bits; tests of the verifier's own
	// size check still need a correct signature by such a key, so compute
	// RSASSA-PKCS1-v1_5 (RFC 8017 §8.2.1) by hand.
	digest := sha256.Sum256([]byte(signing))
	prefix := []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	k := (key.N.BitLen() + 7) / 8
	tLen := len(prefix) + len(digest)
	if k < tLen+11 {
		return nil, errors.New("jwttest: key too small for a SHA-256 PKCS #1 v1.5 signature")
	}
	em := make([]byte, k)
	em[1] = 1
	for j := 2; j < k-tLen-1; j++ {
		em[j] = 0xff
	}
	copy(em[k-tLen:], prefix)
	copy(em[k-len(digest):], digest[:])
	s := new(big.Int).Exp(new(big.Int).SetBytes(em), key.D, key.N)
	return s.FillBytes(make([]byte, k)), nil
}

// Segment returns b in unpadded base64url, the encoding of every JWS segment.
func Segment(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Encode joins three raw segments into a compact JWS without signing, for
// tokens whose signature a test makes up (or leaves empty, for alg none).
func Encode(header, payload, signature []byte) string {
	return Segment(header) + "." + Segment(payload) + "." + Segment(signature)
}

// AgentSeed is the Ed25519 seed (32 bytes of 0x07) of the agent key that
// [AgentClaims] puts in agent_private_key, matching the shared test vector (docs/protocol.md#assertion-vector).
var AgentSeed = func() []byte {
	s := make([]byte, ed25519.SeedSize)
	for j := range s {
		s[j] = 7
	}
	return s
}()

// AgentPrivateKeyPKCS8 returns the agent key of [AgentSeed] as PKCS #8 DER in
// standard base64 with padding, the form of the agent_private_key claim.
func AgentPrivateKeyPKCS8() string {
	der, err := x509.MarshalPKCS8PrivateKey(ed25519.NewKeyFromSeed(AgentSeed))
	if err != nil {
		panic("jwttest: cannot encode the test agent key: " + err.Error())
	}
	return base64.StdEncoding.EncodeToString(der)
}

// AgentClaims returns a complete, valid Agent Identity claim set issued at
// now and expiring an hour later, with "aud" as a single string. Tests
// change or delete members to build broken tokens.
func AgentClaims(issuer, audience string, now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss":                        issuer,
		"aud":                        audience,
		"iat":                        now.Unix(),
		"exp":                        now.Add(time.Hour).Unix(),
		"agent_runtime_id":           "agent-runtime-test-1",
		"agent_private_key":          AgentPrivateKeyPKCS8(),
		"account_id":                 "account-test-1",
		"chatgpt_user_id":            "user-test-1",
		"email":                      "agent@example.com",
		"plan_type":                  "plus",
		"chatgpt_account_is_fedramp": false,
	}
}
