package identity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/internal/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type assertionVector struct {
	Name                  string `json:"name"`
	SeedHex               string `json:"seed_hex"`
	PublicKeyHex          string `json:"public_key_hex"`
	PKCS8v1               string `json:"private_key_pkcs8_v1_der_base64"`
	PKCS8v2               string `json:"private_key_pkcs8_v2_der_base64"`
	SPKI                  string `json:"public_key_spki_der_base64"`
	PublicKeySSH          string `json:"public_key_ssh"`
	RuntimeID             string `json:"agent_runtime_id"`
	TaskID                string `json:"task_id"`
	Timestamp             string `json:"timestamp"`
	AssertionPayload      string `json:"assertion_signed_payload"`
	AssertionSignature    string `json:"assertion_signature_base64"`
	EnvelopeJSON          string `json:"envelope_json"`
	EnvelopeB64URL        string `json:"envelope_base64url"`
	AuthorizationHeader   string `json:"authorization_header"`
	RegistrationPayload   string `json:"registration_signed_payload"`
	RegistrationSignature string `json:"registration_signature_base64"`
	RegistrationBody      string `json:"registration_request_body_json"`
	X25519PrivateKeyHex   string `json:"x25519_private_key_hex"`
	X25519PublicKeyHex    string `json:"x25519_public_key_hex"`
}

type assertionVectorFile struct {
	Mistakes []struct {
		Mistake       string `json:"mistake"`
		MustDifferKey string `json:"must_differ_from"`
		Value         string `json:"value"`
	} `json:"common_mistakes_for_vector_0"`
	Vectors []assertionVector `json:"vectors"`
}

func readVectorFile(t testing.TB, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "vectors", name))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, v))
}

func loadAssertionVectors(t testing.TB) assertionVectorFile {
	t.Helper()
	var f assertionVectorFile
	readVectorFile(t, "agent_assertion_vectors.json", &f)
	require.NotEmpty(t, f.Vectors)
	return f
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

func TestKeyVectors(t *testing.T) {
	for _, v := range loadAssertionVectors(t).Vectors {
		t.Run(v.Name, func(t *testing.T) {
			seed := mustHex(t, v.SeedHex)
			for form, key := range map[string]string{"pkcs8-v1": v.PKCS8v1, "pkcs8-v2": v.PKCS8v2} {
				t.Run(form, func(t *testing.T) {
					s, err := NewSigner(v.RuntimeID, codexhome.NewSecret(key))
					require.NoError(t, err)
					assert.Equal(t, seed, s.key.Get().priv.Seed())
					assert.Equal(t, v.PublicKeyHex, hex.EncodeToString(s.PublicKey()))
					assert.Equal(t, v.PublicKeySSH, s.PublicKeySSH())
					assert.Equal(t, v.RuntimeID, s.AgentRuntimeID())
					assert.Equal(t, v.X25519PrivateKeyHex, hex.EncodeToString(s.key.Get().x25519Priv[:]))
					assert.Equal(t, v.X25519PublicKeyHex, hex.EncodeToString(s.x25519PublicKey()))

					pub, err := wire.ParsePublicKeySSH(v.PublicKeySSH)
					require.NoError(t, err)
					assert.Equal(t, s.PublicKey(), pub)
				})
			}
			// The form the Codex CLI writes is the v2 one: match it byte for byte.
			assert.Equal(t, v.PKCS8v2, base64.StdEncoding.EncodeToString(wire.MarshalPKCS8v2(seed, ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey))))
		})
	}
}

// fixedReader returns its bytes, then io.EOF.
type fixedReader struct{ b []byte }

func (r *fixedReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, errors.New("exhausted")
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func TestGenerateKeyMaterial(t *testing.T) {
	entropy := bytes.Repeat([]byte{0x42}, 64)
	km, err := generateKeyMaterial(&fixedReader{b: append([]byte(nil), entropy...)})
	require.NoError(t, err)

	sum := sha512.Sum512(append([]byte("codex-agent-identity-ed25519-v1"), entropy...))
	want := ed25519.NewKeyFromSeed(sum[:32])
	s, err := NewSigner("agent-1", km.PrivateKeyPKCS8Base64)
	require.NoError(t, err)
	assert.True(t, want.Equal(s.key.Get().priv), "the seed is SHA-512(context || entropy)[:32]")
	assert.Equal(t, km.PublicKeySSH, s.PublicKeySSH())
	der, err := base64.StdEncoding.DecodeString(km.PrivateKeyPKCS8Base64.Reveal())
	require.NoError(t, err)
	assert.Len(t, der, 83, "v2 form with the embedded public key, as the Codex CLI writes")

	_, err = generateKeyMaterial(&fixedReader{b: make([]byte, 10)})
	require.Error(t, err)

	a, err := GenerateKeyMaterial()
	require.NoError(t, err)
	b, err := GenerateKeyMaterial()
	require.NoError(t, err)
	assert.NotEqual(t, a.PrivateKeyPKCS8Base64.Reveal(), b.PrivateKeyPKCS8Base64.Reveal())
	_, err = NewSigner("agent-1", a.PrivateKeyPKCS8Base64)
	require.NoError(t, err)
}

func TestNewSignerRefuses(t *testing.T) {
	v := loadAssertionVectors(t).Vectors[0]
	v1, err := base64.StdEncoding.DecodeString(v.PKCS8v1)
	require.NoError(t, err)
	v2, err := base64.StdEncoding.DecodeString(v.PKCS8v2)
	require.NoError(t, err)
	std := base64.StdEncoding.EncodeToString
	mutate := func(b []byte, i int, x byte) string {
		c := bytes.Clone(b)
		c[i] ^= x
		return std(c)
	}
	otherPub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32)).Public().(ed25519.PublicKey)
	mismatched := append(bytes.Clone(v2[:len(v2)-32]), otherPub...)
	v0WithPub := bytes.Clone(v2)
	v0WithPub[4] = 0
	withAttrs := append([]byte{0x30, 0x51 + 2}, v1[2:]...)
	withAttrs = append(withAttrs, 0xa0, 0x00)
	withAttrs = append(withAttrs, v2[len(v1):]...)
	longLen := append([]byte{0x30, 0x81, 0x2e}, v1[2:]...)
	ecKey := "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgIm0Wk1cB3rpVmCEDtn6/ssxRA3MWo7ZAO1ZaVpLyrsqhRANCAAQf6iXWaT4ihMlXdCH0SqNzFJOkX4hV9hjLz6Xt1LA4rxKqI8zOThR3J4QfcVbXkqLbnuvuTHSHR33tcUQp6FpL"

	tests := []struct {
		name, runtime, key string
		want               error
	}{
		{"mismatched embedded public key", "a", std(mismatched), errInvalidKey},
		{"trailing bytes", "a", std(append(bytes.Clone(v1), 0)), errInvalidKey},
		{"trailing bytes v2", "a", std(append(bytes.Clone(v2), 0, 0)), errInvalidKey},
		{"line break", "a", v.PKCS8v1[:20] + "\n" + v.PKCS8v1[20:], errInvalidKey},
		{"crlf", "a", v.PKCS8v2[:20] + "\r\n" + v.PKCS8v2[20:], errInvalidKey},
		{"missing padding", "a", strings.TrimRight(v.PKCS8v2, "="), errInvalidKey},
		{"url alphabet", "a", base64.URLEncoding.EncodeToString(v2), errInvalidKey},
		{"leading space", "a", " " + v.PKCS8v1, errInvalidKey},
		{"trailing newline", "a", v.PKCS8v1 + "\n", errInvalidKey},
		{"pem", "a", "-----BEGIN PRIVATE KEY-----\n" + v.PKCS8v1 + "\n-----END PRIVATE KEY-----\n", errInvalidKey},
		{"empty", "a", "", errInvalidKey},
		{"ecdsa p-256 key", "a", ecKey, errInvalidKey},
		{"x25519 oid", "a", mutate(v1, 11, 0x70^0x6e), errInvalidKey},
		{"version 2", "a", mutate(v1, 4, 2), errInvalidKey},
		{"version 0 with public key", "a", std(v0WithPub), errInvalidKey},
		{"attributes", "a", std(withAttrs), errInvalidKey},
		{"non-minimal length (BER)", "a", std(longLen), errInvalidKey},
		{"raw 32-byte seed", "a", std(bytes.Repeat([]byte{7}, 32)), errInvalidKey},
		{"raw 64-byte key", "a", std(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))), errInvalidKey},
		{"spki public key", "a", v.SPKI, errInvalidKey},
		{"invalid runtime id", "a/b", v.PKCS8v1, ErrInvalidRuntimeID},
		{"empty runtime id", "", v.PKCS8v1, ErrInvalidRuntimeID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSigner(tt.runtime, codexhome.NewSecret(tt.key))
			require.ErrorIs(t, err, tt.want)
			assert.Nil(t, s)
			assert.True(t, strings.HasPrefix(err.Error(), "identity: "), err.Error())
			assert.NotContains(t, err.Error(), v.PKCS8v1[20:40])
			assert.NotContains(t, err.Error(), v.PKCS8v2[20:40])
		})
	}
}

func TestKeyMaterialAndSignerNotInSlogJSON(t *testing.T) {
	km, err := GenerateKeyMaterial()
	require.NoError(t, err)
	s, err := NewSigner("agent-1", km.PrivateKeyPKCS8Base64)
	require.NoError(t, err)
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.Info("generated", "key", km, "signer", s, "signer_value", *s)
	logger.Info("text", slog.Any("key", km))
	assert.NotContains(t, buf.String(), km.PrivateKeyPKCS8Base64.Reveal())
	assert.NotContains(t, buf.String(), km.PrivateKeyPKCS8Base64.Reveal()[:24])
}
