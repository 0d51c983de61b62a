package identity

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testSigner returns the Signer of the codex-reference vector (seed 0x07…).
func testSigner(t testing.TB) *Signer {
	t.Helper()
	v := loadAssertionVectors(t).Vectors[0]
	s, err := NewSigner(v.RuntimeID, codexhome.NewSecret(v.PKCS8v2))
	require.NoError(t, err)
	return s
}

// secretRenderings returns every way fmt, log/slog and the usual encoders
// can write the secret bytes b: hex, base64 in all four alphabets, the raw
// and quoted bytes, and the element lists of each fmt verb, as a []byte
// (also how ed25519.PrivateKey and byte arrays print) and as integers. Each
// rendering covers every byte of b, so a public key (or anything else
// random) contains one only by a chance of about 2^-8 per byte: never, for
// the 32 bytes and more of a key.
func secretRenderings(b []byte) []string {
	out := []string{
		string(b), hex.EncodeToString(b), fmt.Sprintf("% x", b),
		base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
	}
	ints := make([]int, len(b))
	for i, c := range b {
		ints[i] = int(c)
	}
	// The element list is what is between the brackets or braces, so that
	// the type name (ed25519.PrivateKey, [32]uint8, []byte) does not matter:
	// the empty slice printed the same way gives what to cut.
	inner := func(verb string, v, empty any) string {
		s, e := fmt.Sprintf(verb, v), fmt.Sprintf(verb, empty)
		if len(e) < 2 {
			return s
		}
		return strings.TrimSuffix(strings.TrimPrefix(s, e[:len(e)-1]), e[len(e)-1:])
	}
	for _, verb := range []string{"%v", "%d", "%x", "%X", "%#x", "%o", "%O", "%b", "%c", "%q", "%U", "%#v"} {
		out = append(out, inner(verb, b, b[:0]), inner(verb, ints, ints[:0]))
	}
	return out
}

func TestSecretsNeverPrint(t *testing.T) {
	v := loadAssertionVectors(t).Vectors[0]
	s := testSigner(t)
	km, err := GenerateKeyMaterial()
	require.NoError(t, err)
	kmSigner, err := NewSigner("agent-x", km.PrivateKeyPKCS8Base64)
	require.NoError(t, err)

	// The secrets themselves: the PKCS#8 texts (and their PEM form), and the
	// seed, the private key, the X25519 private key and the PKCS#8 DER of both
	// keys, in every rendering. Never a short substring: a public key, which
	// the output does show, could hold it.
	var secretBytes [][]byte
	var secrets []string
	for _, text := range []string{v.PKCS8v1, v.PKCS8v2, km.PrivateKeyPKCS8Base64.Reveal()} {
		der, err := base64.StdEncoding.DecodeString(text)
		require.NoError(t, err)
		secrets = append(secrets, text, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
		secretBytes = append(secretBytes, der)
	}
	for _, signer := range []*Signer{s, kmSigner} {
		k := signer.key.Get()
		secretBytes = append(secretBytes, k.priv.Seed(), k.priv, k.x25519Priv[:])
	}
	for _, h := range []string{v.SeedHex, v.X25519PrivateKeyHex} {
		b, err := hex.DecodeString(h)
		require.NoError(t, err)
		secretBytes = append(secretBytes, b)
	}
	for _, b := range secretBytes {
		require.GreaterOrEqual(t, len(b), 32)
		secrets = append(secrets, secretRenderings(b)...)
	}
	leaks := func(out string) []string {
		var found []string
		for _, sec := range secrets {
			if strings.Contains(strings.ToLower(out), strings.ToLower(sec)) {
				found = append(found, sec)
			}
		}
		return found
	}
	// The needles do catch a key that prints, under every verb.
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%o", "%b"} {
		k := s.key.Get()
		for name, raw := range map[string]any{"private key": k.priv, "seed": k.priv.Seed(), "x25519": k.x25519Priv,
			"struct": struct{ K []byte }{kmSigner.key.Get().priv}} {
			assert.NotEmpty(t, leaks(fmt.Sprintf(verb, raw)), "a printed %s (%s) is not detected", name, verb)
		}
	}
	// Public keys print (String shows them) and are not secrets: none of
	// their renderings may be mistaken for one.
	for _, signer := range []*Signer{s, kmSigner} {
		for _, r := range secretRenderings(signer.PublicKey()) {
			require.Empty(t, leaks(r), "a rendering of the public key matches a secret")
		}
	}

	type holder struct {
		S  Signer
		P  *Signer
		KM KeyMaterial
	}
	type hidden struct {
		s  Signer
		km KeyMaterial
	}
	values := map[string]any{
		"*Signer": s, "Signer": *s, "KeyMaterial": km, "*KeyMaterial": &km,
		"holder": holder{S: *s, P: s, KM: km}, "kmSigner": kmSigner,
		"unexported fields": hidden{s: *s, km: km}, "*unexported fields": &hidden{s: *s, km: km},
		"slice": []any{*s, km, s, &km}, "signer slice": []Signer{*s}, "key slice": []KeyMaterial{km},
	}
	for name, val := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%o", "%b"} {
			t.Run(name+verb, func(t *testing.T) {
				assert.Empty(t, leaks(fmt.Sprintf(verb, val)))
			})
		}
		t.Run(name+" slog", func(t *testing.T) {
			var buf bytes.Buffer
			slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "v", val)
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "v", val)
			assert.Empty(t, leaks(buf.String()))
		})
	}
	assert.Contains(t, s.String(), v.PublicKeySSH)
	assert.Contains(t, s.String(), v.RuntimeID)
	assert.Contains(t, fmt.Sprint(km), km.PublicKeySSH)
	assert.Contains(t, fmt.Sprint(km), "[REDACTED]")
}

func TestSignerAccessorsReturnCopies(t *testing.T) {
	s := testSigner(t)
	pub := s.PublicKey()
	pub[0] ^= 0xff
	assert.NotEqual(t, pub, s.PublicKey())
	x := s.x25519PublicKey()
	x[0] ^= 0xff
	assert.NotEqual(t, x, s.x25519PublicKey())
}
