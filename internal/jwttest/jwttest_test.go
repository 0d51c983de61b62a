package jwttest

import (
	"crypto/sha256"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSignVerifiesWithGolangJWT(t *testing.T) {
	for _, name := range []string{KeyA, KeyB} {
		t.Run(name, func(t *testing.T) {
			i, err := NewStaticIssuer("k1", name)
			require.NoError(t, err)
			assert.Equal(t, 2048, i.PublicKey().N.BitLen())
			now := time.Now()
			tok, err := i.Sign(AgentClaims("iss", "aud", now), map[string]any{"typ": nil, "x": "y"})
			require.NoError(t, err)
			parsed, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return i.PublicKey(), nil },
				jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer("iss"), jwt.WithAudience("aud"))
			require.NoError(t, err)
			assert.Equal(t, "k1", parsed.Header["kid"])
			assert.Equal(t, "y", parsed.Header["x"])
			assert.NotContains(t, parsed.Header, "typ")
			payload := strings.Split(tok, ".")[1]
			assert.Contains(t, string(must(jwt.NewParser().DecodeSegment(payload))), `"aud":"aud"`)
		})
	}
}

func TestSmallKeySignatureIsCorrect(t *testing.T) {
	i, err := NewStaticIssuer("weak", KeyInsecure512)
	require.NoError(t, err)
	require.Equal(t, 512, i.PublicKey().N.BitLen())
	tok, err := i.SignBytes([]byte(`{"alg":"RS256"}`), []byte(`{}`))
	require.NoError(t, err)
	parts := strings.Split(tok, ".")
	sig := must(jwt.NewParser().DecodeSegment(parts[2]))
	// s^e mod n must end with the SHA-256 of the signing input.
	pub := i.PublicKey()
	m := new(big.Int).Exp(new(big.Int).SetBytes(sig), big.NewInt(int64(pub.E)), pub.N).FillBytes(make([]byte, 64))
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	assert.Equal(t, digest[:], m[32:])
	assert.Equal(t, []byte{0, 1, 0xff}, m[:3])
}

func TestJWKS(t *testing.T) {
	i, err := NewStaticIssuer("k1", KeyA)
	require.NoError(t, err)
	var doc struct {
		Keys []map[string]string `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(i.JWKS(), &doc))
	require.Len(t, doc.Keys, 1)
	assert.Equal(t, map[string]string{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256", "n": doc.Keys[0]["n"], "e": "AQAB"}, doc.Keys[0])
	assert.JSONEq(t, `{"keys":[]}`, string(JWKS()))
	_, err = LoadKey("nope")
	assert.Error(t, err)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
