package identity

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testSigner returns the Signer of the codex-reference vector (seed 0x07…).
func testSigner(t testing.TB) *Signer {
	t.Helper()
	v := loadAssertionVectors(t).Vectors[0]
	s, err := NewSigner(v.RuntimeID, v.PKCS8v2)
	require.NoError(t, err)
	return s
}

func TestSecretsNeverPrint(t *testing.T) {
	v := loadAssertionVectors(t).Vectors[0]
	s := testSigner(t)
	km, err := GenerateKeyMaterial()
	require.NoError(t, err)
	kmSigner, err := NewSigner("agent-x", km.PrivateKeyPKCS8Base64.Reveal())
	require.NoError(t, err)
	kmDER, err := base64.StdEncoding.DecodeString(km.PrivateKeyPKCS8Base64.Reveal())
	require.NoError(t, err)

	secrets := []string{
		v.PKCS8v1, v.PKCS8v2, v.SeedHex, v.X25519PrivateKeyHex,
		base64.StdEncoding.EncodeToString(s.key.Get().priv), hex.EncodeToString(s.key.Get().priv),
		base64.StdEncoding.EncodeToString(s.key.Get().priv.Seed()), base64.RawStdEncoding.EncodeToString(s.key.Get().priv.Seed()),
		km.PrivateKeyPKCS8Base64.Reveal(), hex.EncodeToString(kmDER), hex.EncodeToString(kmSigner.key.Get().priv.Seed()),
		base64.StdEncoding.EncodeToString(kmSigner.key.Get().priv.Seed()),
		"7, 7, 7, 7", "0x7, 0x7", "[7 7 7 7", // decimal/hex byte-slice renderings of the 0x07 seed
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
				out := fmt.Sprintf(verb, val)
				for _, sec := range secrets {
					assert.NotContains(t, strings.ToLower(out), strings.ToLower(sec))
				}
			})
		}
		t.Run(name+" slog", func(t *testing.T) {
			var buf bytes.Buffer
			slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "v", val)
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "v", val)
			for _, sec := range secrets {
				assert.NotContains(t, strings.ToLower(buf.String()), strings.ToLower(sec))
			}
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
	x := s.X25519PublicKey()
	x[0] ^= 0xff
	assert.NotEqual(t, x, s.X25519PublicKey())
}
