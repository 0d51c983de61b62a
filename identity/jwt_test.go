package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/internal/jwttest"
)

// t0 is the fixed "now" of the tests: 2026-01-02T03:04:05Z.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// testClock is a clock tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// jwksServer serves a JWKS document that tests can change, counting requests.
type jwksServer struct {
	*httptest.Server
	hits   atomic.Int64
	mu     sync.Mutex
	body   []byte
	status int
	// gate, if set, is waited on before answering.
	gate chan struct{}
}

func newJWKSServer(t testing.TB, body []byte) *jwksServer {
	s := &jwksServer{body: body, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		gate, body, status := s.gate, s.body, s.status
		s.mu.Unlock()
		if gate != nil {
			<-gate
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(status int, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body = status, body
}

// testEnv is an issuer, its JWKS server and a verifier on a test clock.
type testEnv struct {
	iss    *jwttest.Issuer // kid "kid-a", 2048-bit key A
	keyB   *jwttest.Issuer // kid "kid-enc": key B published with use "enc"
	weak   *jwttest.Issuer // kid "kid-weak": a 512-bit key
	srv    *jwksServer
	clock  *testClock
	v      *JWTVerifier
	claims jwt.MapClaims
}

func mustIssuer(t testing.TB, kid, key string) *jwttest.Issuer {
	t.Helper()
	i, err := jwttest.NewStaticIssuer(kid, key)
	require.NoError(t, err)
	return i
}

func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	e := &testEnv{
		iss:   mustIssuer(t, "kid-a", jwttest.KeyA),
		keyB:  mustIssuer(t, "kid-enc", jwttest.KeyB),
		weak:  mustIssuer(t, "kid-weak", jwttest.KeyInsecure512),
		clock: &testClock{t: t0},
	}
	enc := e.keyB.JWK()
	enc["use"] = "enc"
	ops := mustIssuer(t, "kid-ops", jwttest.KeyB).JWK()
	ops["key_ops"] = []string{"encrypt"}
	delete(ops, "use")
	alg := mustIssuer(t, "kid-rs512", jwttest.KeyB).JWK()
	alg["alg"] = "RS512"
	e.srv = newJWKSServer(t, jwttest.JWKS(e.iss.JWK(), enc, e.weak.JWK(), ops, alg))
	e.v = &JWTVerifier{JWKSURL: e.srv.URL + "/jwks", now: e.clock.Now}
	e.claims = jwttest.AgentClaims(agentidentity.ProductionIssuer, agentidentity.ProductionAudience, t0)
	return e
}

// token signs the default claims changed by edit, with header changes.
func (e *testEnv) token(t testing.TB, edit func(jwt.MapClaims), header map[string]any) string {
	t.Helper()
	c := jwt.MapClaims{}
	for k, v := range e.claims {
		c[k] = v
	}
	if edit != nil {
		edit(c)
	}
	tok, err := e.iss.Sign(c, header)
	require.NoError(t, err)
	return tok
}

func (e *testEnv) payload(t testing.TB) []byte {
	b, err := json.Marshal(e.claims)
	require.NoError(t, err)
	return b
}

// signWith signs header.payload with another golang-jwt method and key.
func signWith(t testing.TB, m jwt.SigningMethod, key any, header, payload []byte) string {
	t.Helper()
	si := jwttest.Segment(header) + "." + jwttest.Segment(payload)
	sig, err := m.Sign(si, key)
	require.NoError(t, err)
	return si + "." + jwttest.Segment(sig)
}

func TestVerifyValid(t *testing.T) {
	e := newTestEnv(t)
	tok := e.token(t, nil, nil)
	c, err := e.v.Verify(context.Background(), codexhome.NewSecret(tok))
	require.NoError(t, err)
	assert.Equal(t, agentidentity.ProductionIssuer, c.Issuer)
	assert.Equal(t, jwt.ClaimStrings{agentidentity.ProductionAudience}, c.Audience)
	assert.Equal(t, "agent-runtime-test-1", c.AgentRuntimeID)
	assert.Equal(t, jwttest.AgentPrivateKeyPKCS8(), c.AgentPrivateKey.Reveal())
	assert.Equal(t, "account-test-1", c.AccountID)
	assert.Equal(t, "user-test-1", c.UserID)
	assert.Equal(t, "agent@example.com", c.Email)
	assert.Equal(t, "plus", c.PlanType)
	assert.False(t, c.FedRAMP)
	assert.Equal(t, t0.Add(time.Hour).Unix(), c.ExpiresAt.Unix())
	assert.Equal(t, t0.Unix(), c.IssuedAt.Unix())
}

func TestVerifyAccepts(t *testing.T) {
	e := newTestEnv(t)
	tests := []struct {
		name  string
		edit  func(jwt.MapClaims)
		check func(t *testing.T, c *Claims)
	}{
		{"fedramp true", func(c jwt.MapClaims) { c["chatgpt_account_is_fedramp"] = true },
			func(t *testing.T, c *Claims) { assert.True(t, c.FedRAMP) }},
		{"email absent", func(c jwt.MapClaims) { delete(c, "email") },
			func(t *testing.T, c *Claims) { assert.Empty(t, c.Email) }},
		{"email null", func(c jwt.MapClaims) { c["email"] = nil },
			func(t *testing.T, c *Claims) { assert.Empty(t, c.Email) }},
		{"chatgpt_user_id absent (not needed to sign)", func(c jwt.MapClaims) { delete(c, "chatgpt_user_id") },
			func(t *testing.T, c *Claims) { assert.Empty(t, c.UserID) }},
		{"expired within leeway", func(c jwt.MapClaims) { c["exp"] = t0.Add(-20 * time.Second).Unix() }, nil},
		{"iat in the future within leeway", func(c jwt.MapClaims) { c["iat"] = t0.Add(20 * time.Second).Unix() }, nil},
		{"nbf in the past", func(c jwt.MapClaims) { c["nbf"] = t0.Add(-time.Minute).Unix() }, nil},
		{"fractional exp", func(c jwt.MapClaims) { c["exp"] = float64(t0.Unix()) + 3600.5 }, nil},
		{"no iat", func(c jwt.MapClaims) { delete(c, "iat") }, nil},
		{"unknown claims ignored", func(c jwt.MapClaims) { c["x-extra"] = map[string]any{"a": []int{1}} }, nil},
		{"escaped strings", func(c jwt.MapClaims) { c["plan_type"] = "pl\"us\u00e9<>&" },
			func(t *testing.T, c *Claims) { assert.Equal(t, "pl\"us\u00e9<>&", c.PlanType) }},
		{"runtime id with all allowed characters", func(c jwt.MapClaims) { c["agent_runtime_id"] = "aZ09-_.~" },
			func(t *testing.T, c *Claims) { assert.Equal(t, "aZ09-_.~", c.AgentRuntimeID) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := e.v.Verify(context.Background(), codexhome.NewSecret(e.token(t, tt.edit, nil)))
			require.NoError(t, err)
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

// TestVerifyAttacks is the JWT verifier's attack table: each token must be
// refused with ErrInvalidJWT, for the stated reason.
func TestVerifyAttacks(t *testing.T) {
	e := newTestEnv(t)
	good := e.token(t, nil, nil)
	parts := strings.Split(good, ".")
	hdr := func(m map[string]any) []byte {
		h := map[string]any{"alg": "RS256", "typ": "JWT", "kid": "kid-a"}
		for k, v := range m {
			if v == nil {
				delete(h, k)
			} else {
				h[k] = v
			}
		}
		b, err := json.Marshal(h)
		require.NoError(t, err)
		return b
	}
	signed := func(header, payload []byte) string {
		tok, err := e.iss.SignBytes(header, payload)
		require.NoError(t, err)
		return tok
	}
	claims := func(edit func(jwt.MapClaims)) string { return e.token(t, edit, nil) }
	withHeader := func(h map[string]any) string { return e.token(t, nil, h) }
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(e.iss.PublicKey()))})
	hs256 := func() string {
		si := jwttest.Segment(hdr(map[string]any{"alg": "HS256"})) + "." + parts[1]
		mac := hmac.New(sha256.New, pubPEM)
		mac.Write([]byte(si))
		return si + "." + jwttest.Segment(mac.Sum(nil))
	}
	ecKey := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	sigBytes := must(base64.RawURLEncoding.DecodeString(parts[2]))
	tampered := append([]byte(nil), sigBytes...)
	tampered[10] ^= 1
	jwkAttacker := mustIssuer(t, "kid-a", jwttest.KeyB)
	weakTok := must(e.weak.Sign(e.claims, nil))
	encTok := must(e.keyB.Sign(e.claims, nil))
	opsTok := must(mustIssuer(t, "kid-ops", jwttest.KeyB).Sign(e.claims, nil))
	algTok := must(mustIssuer(t, "kid-rs512", jwttest.KeyB).Sign(e.claims, nil))
	payload := e.payload(t)
	dupAud := []byte(strings.Replace(string(payload), `"aud":"codex-app-server"`, `"aud":"codex-app-server","aud":"evil"`, 1))
	require.NotEqual(t, payload, dupAud)

	other := jwt.MapClaims{}
	for k, v := range e.claims {
		other[k] = v
	}
	other["account_id"] = "someone-else"
	tamperedPayload := jwttest.Segment(must(json.Marshal(other)))

	stdAlphabet := strings.NewReplacer("-", "+", "_", "/").Replace(parts[2])
	require.NotEqual(t, parts[2], stdAlphabet, "signature should hold - or _")

	tests := []struct {
		name  string
		token string
		want  string // substring of the error
		also  error  // an extra errors.Is target, if any
	}{
		{"alg none", jwttest.Encode(hdr(map[string]any{"alg": "none"}), payload, nil), "unsigned tokens", nil},
		{"alg None", jwttest.Encode(hdr(map[string]any{"alg": "None"}), payload, nil), "unsigned tokens", nil},
		{"alg none with a signature", parts[0][:0] + jwttest.Segment(hdr(map[string]any{"alg": "none"})) + "." + parts[1] + "." + parts[2], "unsigned tokens", nil},
		{"alg missing", signed(hdr(map[string]any{"alg": nil}), payload), `no string "alg"`, nil},
		{"HS256 with the RSA public key as secret", hs256(), `alg "HS256" is refused`, jwt.ErrTokenSignatureInvalid},
		{"RS512", signWith(t, jwt.SigningMethodRS512, e.iss.PrivateKey(), hdr(map[string]any{"alg": "RS512"}), payload), `alg "RS512" is refused`, nil},
		{"PS256", signWith(t, jwt.SigningMethodPS256, e.iss.PrivateKey(), hdr(map[string]any{"alg": "PS256"}), payload), `alg "PS256" is refused`, nil},
		{"ES256", signWith(t, jwt.SigningMethodES256, ecKey, hdr(map[string]any{"alg": "ES256"}), payload), `alg "ES256" is refused`, nil},
		{"rs256 lower case", signed(hdr(map[string]any{"alg": "rs256"}), payload), `alg "rs256" is refused`, nil},
		{"kid missing", withHeader(map[string]any{"kid": nil}), "no kid", nil},
		{"kid empty", withHeader(map[string]any{"kid": ""}), "no kid", nil},
		{"kid not a string", withHeader(map[string]any{"kid": 7}), `"kid" is not a string`, nil},
		{"kid unknown", withHeader(map[string]any{"kid": "nope"}), "no key in the JWKS", nil},
		{"kid path traversal", withHeader(map[string]any{"kid": "../x"}), "no key in the JWKS", nil},
		{"kid differently cased", withHeader(map[string]any{"kid": "KID-A"}), "no key in the JWKS", nil},
		{"jku elsewhere", withHeader(map[string]any{"jku": "https://attacker.example/jwks"}), `"jku" is not accepted`, nil},
		{"x5u elsewhere", withHeader(map[string]any{"x5u": "https://attacker.example/cert.pem"}), `"x5u" is not accepted`, nil},
		{"jwk embedded", must(jwkAttacker.Sign(e.claims, map[string]any{"jwk": jwkAttacker.JWK()})), `"jwk" is not accepted`, nil},
		{"x5c embedded", withHeader(map[string]any{"x5c": []string{"MIIB"}}), `"x5c" is not accepted`, nil},
		{"crit unknown", withHeader(map[string]any{"crit": []string{"x-unknown"}, "x-unknown": true}), `"crit" is not accepted`, nil},
		{"crit empty", withHeader(map[string]any{"crit": []string{}}), `"crit" is not accepted`, nil},
		{"crit null", signed([]byte(`{"alg":"RS256","kid":"kid-a","crit":null}`), payload), `"crit" is not accepted`, nil},
		{"exp past", claims(func(c jwt.MapClaims) { c["exp"] = t0.Add(-time.Hour).Unix() }), "expired", jwt.ErrTokenExpired},
		{"exp past beyond leeway", claims(func(c jwt.MapClaims) { c["exp"] = t0.Add(-31 * time.Second).Unix() }), "expired", jwt.ErrTokenExpired},
		{"exp missing", claims(func(c jwt.MapClaims) { delete(c, "exp") }), `"exp" is missing`, jwt.ErrTokenRequiredClaimMissing},
		{"exp null", claims(func(c jwt.MapClaims) { c["exp"] = nil }), `"exp" is missing`, nil},
		{"exp string", claims(func(c jwt.MapClaims) { c["exp"] = fmt.Sprint(t0.Add(time.Hour).Unix()) }), `"exp" is not a number`, nil},
		{"exp huge", claims(func(c jwt.MapClaims) { c["exp"] = 1e300 }), `"exp" is out of range`, nil},
		{"exp beyond year 9999", claims(func(c jwt.MapClaims) { c["exp"] = int64(253402300800) }), `"exp" is out of range`, nil},
		{"exp negative", claims(func(c jwt.MapClaims) { c["exp"] = -1 }), `"exp" is out of range`, nil},
		{"exp boolean", claims(func(c jwt.MapClaims) { c["exp"] = true }), `"exp" is not a number`, nil},
		{"nbf future", claims(func(c jwt.MapClaims) { c["nbf"] = t0.Add(time.Hour).Unix() }), "not valid yet", jwt.ErrTokenNotValidYet},
		{"iat future", claims(func(c jwt.MapClaims) { c["iat"] = t0.Add(time.Hour).Unix() }), "issued in the future", jwt.ErrTokenUsedBeforeIssued},
		{"iat string", claims(func(c jwt.MapClaims) { c["iat"] = "now" }), `"iat" is not a number`, nil},
		{"iss wrong", claims(func(c jwt.MapClaims) { c["iss"] = "https://attacker.example" }), `"iss" is not`, jwt.ErrTokenInvalidIssuer},
		{"iss missing", claims(func(c jwt.MapClaims) { delete(c, "iss") }), `"iss" is missing`, jwt.ErrTokenRequiredClaimMissing},
		{"iss differently cased", claims(func(c jwt.MapClaims) { c["iss"] = strings.ToUpper(agentidentity.ProductionIssuer) }), `"iss" is not`, jwt.ErrTokenInvalidIssuer},
		{"iss trailing slash", claims(func(c jwt.MapClaims) { c["iss"] = agentidentity.ProductionIssuer + "/" }), `"iss" is not`, nil},
		{"iss array", claims(func(c jwt.MapClaims) { c["iss"] = []string{agentidentity.ProductionIssuer} }), `"iss" is not a string`, nil},
		{"aud wrong", claims(func(c jwt.MapClaims) { c["aud"] = "other-audience" }), `"aud" is not`, jwt.ErrTokenInvalidAudience},
		{"aud missing", claims(func(c jwt.MapClaims) { delete(c, "aud") }), `"aud" is missing`, jwt.ErrTokenRequiredClaimMissing},
		{"aud differently cased", claims(func(c jwt.MapClaims) { c["aud"] = "Codex-App-Server" }), `"aud" is not`, nil},
		{"aud array of the right one", claims(func(c jwt.MapClaims) { c["aud"] = []string{agentidentity.ProductionAudience} }), "single string", nil},
		{"aud array with extra", claims(func(c jwt.MapClaims) { c["aud"] = []string{agentidentity.ProductionAudience, "x"} }), "single string", nil},
		{"aud number", claims(func(c jwt.MapClaims) { c["aud"] = 1 }), "single string", nil},
		{"signature tampered", parts[0] + "." + parts[1] + "." + jwttest.Segment(tampered), "signature does not verify", jwt.ErrTokenSignatureInvalid},
		{"signature truncated", parts[0] + "." + parts[1] + "." + jwttest.Segment(sigBytes[:len(sigBytes)-1]), "signature does not verify", nil},
		{"signature empty", parts[0] + "." + parts[1] + ".", "signature does not verify", nil},
		{"payload tampered", parts[0] + "." + tamperedPayload + "." + parts[2], "signature does not verify", nil},
		{"two segments", parts[0] + "." + parts[1], "has 2 segments", nil},
		{"four segments", good + "." + parts[2], "has 4 segments", nil},
		{"one segment", parts[0], "has 1 segments", nil},
		{"padding in signature", good + "==", "signature segment is not canonical", nil},
		{"padding in payload", parts[0] + "." + parts[1] + "=" + "." + parts[2], "payload segment is not canonical", nil},
		{"standard alphabet", parts[0] + "." + parts[1] + "." + stdAlphabet, "signature segment is not canonical", nil},
		{"newline in signature", parts[0] + "." + parts[1] + "." + parts[2][:100] + "\n" + parts[2][100:], "signature segment is not canonical", nil},
		{"CRLF in header", parts[0][:10] + "\r\n" + parts[0][10:] + "." + parts[1] + "." + parts[2], "header segment is not canonical", nil},
		{"space in signature", parts[0] + "." + parts[1] + ". " + parts[2], "signature segment is not canonical", nil},
		{"duplicate alg", signed([]byte(`{"alg":"RS256","alg":"none","kid":"kid-a"}`), payload), "header has a duplicate member", nil},
		{"duplicate alg reversed", signed([]byte(`{"alg":"none","kid":"kid-a","alg":"RS256"}`), payload), "header has a duplicate member", nil},
		{"duplicate aud", signed(hdr(nil), dupAud), "payload has a duplicate member", nil},
		{"duplicate escaped member", signed(hdr(nil), []byte(strings.Replace(string(payload), `"aud":`, `"a\u0075d":"x","aud":`, 1))), "payload has a duplicate member", nil},
		{"header not an object", signed([]byte(`["RS256"]`), payload), "header is not a JSON object", nil},
		{"payload not an object", signed(hdr(nil), []byte(`"foo"`)), "payload is not a JSON object", nil},
		{"payload trailing data", signed(hdr(nil), append(append([]byte(nil), payload...), []byte(" {}")...)), "payload is not a JSON object", nil},
		{"payload invalid UTF-8", signed(hdr(nil), []byte(`{"iss":"`+"\xff"+`"}`)), "payload is not a JSON object", nil},
		{"512-bit RSA key", weakTok, "2048", nil},
		{"JWK with use enc", encTok, `use "enc" is not sig`, nil},
		{"JWK with key_ops without verify", opsTok, "key_ops does not allow verify", nil},
		{"JWK with alg RS512", algTok, `alg "RS512" is not RS256`, nil},
		{"token over 64 KiB", signed(hdr(nil), []byte(`{"x":"`+strings.Repeat("a", maxJWTSize)+`"}`)), "more than the 65536 allowed", nil},
		{"empty token", "", "token is empty", nil},
		{"personal access token", "at-0123456789abcdef", "personal access token", ErrPersonalAccessToken},
		{"ChatGPT access token", must(e.iss.Sign(jwt.MapClaims{
			"iss": "https://auth.openai.com", "aud": []string{"https://api.openai.com/v1"}, "exp": t0.Add(time.Hour).Unix(),
			"https://api.openai.com/auth": map[string]any{"chatgpt_account_id": "acc"}, "scp": []string{"openid"},
		}, map[string]any{"kid": "openai-kid"})), `looks like a ChatGPT access token; an Agent Identity JWT (issuer "https://chatgpt.com/codex-backend/agent-identity", audience "codex-app-server") was expected`, ErrChatGPTAccessToken},
		{"agent_runtime_id missing", claims(func(c jwt.MapClaims) { delete(c, "agent_runtime_id") }), `"agent_runtime_id" is missing`, nil},
		{"agent_runtime_id with slash", claims(func(c jwt.MapClaims) { c["agent_runtime_id"] = "a/b" }), "not a valid runtime id", ErrInvalidRuntimeID},
		{"agent_runtime_id dot-dot", claims(func(c jwt.MapClaims) { c["agent_runtime_id"] = ".." }), "not a valid runtime id", nil},
		{"agent_runtime_id too long", claims(func(c jwt.MapClaims) { c["agent_runtime_id"] = strings.Repeat("a", 257) }), "not a valid runtime id", nil},
		{"agent_runtime_id with colon", claims(func(c jwt.MapClaims) { c["agent_runtime_id"] = "a:b" }), "not a valid runtime id", nil},
		{"agent_runtime_id number", claims(func(c jwt.MapClaims) { c["agent_runtime_id"] = 5 }), `"agent_runtime_id" is not a string`, nil},
		{"agent_private_key missing", claims(func(c jwt.MapClaims) { delete(c, "agent_private_key") }), `"agent_private_key" is missing`, nil},
		{"agent_private_key empty", claims(func(c jwt.MapClaims) { c["agent_private_key"] = "" }), `"agent_private_key" is missing`, nil},
		{"account_id missing", claims(func(c jwt.MapClaims) { delete(c, "account_id") }), `"account_id" is missing`, nil},
		{"fedramp as string", claims(func(c jwt.MapClaims) { c["chatgpt_account_is_fedramp"] = "true" }), "not a boolean", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := e.v.Verify(context.Background(), codexhome.NewSecret(tt.token))
			require.Error(t, err)
			assert.Nil(t, c)
			assert.ErrorIs(t, err, ErrInvalidJWT)
			if tt.also != nil {
				assert.ErrorIs(t, err, tt.also)
			}
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "identity: "), err.Error())
			assertNoSecret(t, err.Error(), tt.token)
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// assertNoSecret checks that msg quotes neither the token nor any of its
// long segments nor the agent key.
func assertNoSecret(t *testing.T, msg, token string) {
	t.Helper()
	for _, s := range append(strings.Split(token, "."), token) {
		if len(s) >= 16 {
			assert.NotContains(t, msg, s)
		}
	}
	assert.NotContains(t, msg, jwttest.AgentPrivateKeyPKCS8())
}

func TestVerifyCaseVariantHeaderIsNotAlg(t *testing.T) {
	// encoding/json would match "ALG" to an Alg field; members are read by
	// exact name, so the real "alg" decides and "Kid" is ignored.
	e := newTestEnv(t)
	tok, err := e.iss.SignBytes([]byte(`{"ALG":"none","alg":"RS256","kid":"kid-a","Kid":"x","KID":"y"}`), e.payload(t))
	require.NoError(t, err)
	c, err := e.v.Verify(context.Background(), codexhome.NewSecret(tok))
	require.NoError(t, err)
	assert.Equal(t, "agent-runtime-test-1", c.AgentRuntimeID)

	tok, err = e.iss.SignBytes([]byte(`{"Alg":"RS256","kid":"kid-a"}`), e.payload(t))
	require.NoError(t, err)
	_, err = e.v.Verify(context.Background(), codexhome.NewSecret(tok))
	require.ErrorIs(t, err, ErrInvalidJWT)
	assert.Contains(t, err.Error(), `no string "alg"`)
}

func TestVerifierConfig(t *testing.T) {
	tests := []struct {
		name string
		v    *JWTVerifier
		want string
		url  bool // also agentidentity.ErrInvalidBaseURL
	}{
		{"leeway over 60s", &JWTVerifier{JWKSURL: "https://example.com/jwks", Leeway: 61 * time.Second}, "Leeway 1m1s is more than", false},
		{"negative leeway", &JWTVerifier{JWKSURL: "https://example.com/jwks", Leeway: -time.Second}, "Leeway is negative", false},
		{"negative ttl", &JWTVerifier{JWKSURL: "https://example.com/jwks", JWKSCacheTTL: -1}, "JWKSCacheTTL is negative", false},
		{"negative timeout", &JWTVerifier{JWKSURL: "https://example.com/jwks", FetchTimeout: -1}, "FetchTimeout is negative", false},
		{"http on a public host", &JWTVerifier{JWKSURL: "http://example.com/jwks"}, "must use https", true},
		{"http on a private address", &JWTVerifier{JWKSURL: "http://10.0.0.1/jwks"}, "must use https", true},
		{"http on a host named like loopback", &JWTVerifier{JWKSURL: "http://127.0.0.1.example.com/jwks"}, "must use https", true},
		{"ftp", &JWTVerifier{JWKSURL: "ftp://example.com/jwks"}, "must use https", true},
		{"relative", &JWTVerifier{JWKSURL: "/jwks"}, "not an absolute", true},
		{"user info", &JWTVerifier{JWKSURL: "https://user:pw@example.com/jwks"}, "user information", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.v.Verify(context.Background(), codexhome.NewSecret("x.y.z"))
			require.ErrorIs(t, err, ErrInvalidJWTVerifier)
			assert.NotErrorIs(t, err, ErrInvalidJWT)
			assert.Contains(t, err.Error(), tt.want)
			if tt.url {
				assert.ErrorIs(t, err, agentidentity.ErrInvalidBaseURL)
			}
			assert.NotContains(t, err.Error(), "pw")
			// The error sticks.
			_, err2 := tt.v.Verify(context.Background(), codexhome.NewSecret("x.y.z"))
			assert.Equal(t, err, err2)
		})
	}
}

func TestCheckJWKSURLLoopback(t *testing.T) {
	for _, u := range []string{
		"http://localhost/jwks", "http://LOCALHOST:8080/api/codex/agent-identities/jwks",
		"http://127.0.0.1:1/jwks", "http://127.8.9.10/jwks", "http://[::1]:99/jwks",
		"https://chatgpt.com/backend-api/wham/agent-identities/jwks",
	} {
		t.Run(u, func(t *testing.T) {
			_, err := checkJWKSURL(u)
			assert.NoError(t, err)
		})
	}
}

func TestZeroVerifierDefaults(t *testing.T) {
	var v JWTVerifier
	require.NoError(t, v.init())
	assert.Equal(t, agentidentity.ProductionIssuer, v.issuer)
	assert.Equal(t, agentidentity.ProductionAudience, v.audience)
	assert.Equal(t, agentidentity.ProductionJWKSURL, v.keys.url)
	assert.Equal(t, defaultJWKSTTL, v.keys.ttl)
	assert.Equal(t, defaultJWKSTimeout, v.keys.timeout)
}

func TestLeewayConfigured(t *testing.T) {
	e := newTestEnv(t)
	e.v.Leeway = 5 * time.Second
	_, err := e.v.Verify(context.Background(), codexhome.NewSecret(e.token(t, func(c jwt.MapClaims) { c["exp"] = t0.Add(-10 * time.Second).Unix() }, nil)))
	require.ErrorIs(t, err, jwt.ErrTokenExpired)
	_, err = e.v.Verify(context.Background(), codexhome.NewSecret(e.token(t, func(c jwt.MapClaims) { c["exp"] = t0.Add(-4 * time.Second).Unix() }, nil)))
	require.NoError(t, err)
}

func TestVerifyCustomIssuerAudience(t *testing.T) {
	e := newTestEnv(t)
	v := &JWTVerifier{JWKSURL: e.srv.URL, Issuer: "https://gw.example/agent-identity", Audience: "my-aud", now: e.clock.Now}
	tok := e.token(t, func(c jwt.MapClaims) { c["iss"] = "https://gw.example/agent-identity"; c["aud"] = "my-aud" }, nil)
	_, err := v.Verify(context.Background(), codexhome.NewSecret(tok))
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), codexhome.NewSecret(e.token(t, nil, nil)))
	require.ErrorIs(t, err, jwt.ErrTokenInvalidIssuer)
}

func TestDecodeJWTUnverified(t *testing.T) {
	e := newTestEnv(t)
	good := e.token(t, nil, nil)
	c, err := DecodeJWTUnverified(codexhome.NewSecret(good))
	require.NoError(t, err)
	assert.Equal(t, "agent-runtime-test-1", c.AgentRuntimeID)
	assert.Equal(t, "account-test-1", c.AccountID)

	// Pre-reading does not check signature, alg or lifetime.
	parts := strings.Split(good, ".")
	c, err = DecodeJWTUnverified(codexhome.NewSecret(parts[0] + "." + parts[1] + "."))
	require.NoError(t, err)
	assert.Equal(t, "user-test-1", c.UserID)
	expired := e.token(t, func(c jwt.MapClaims) { c["exp"] = 1 }, nil)
	_, err = DecodeJWTUnverified(codexhome.NewSecret(expired))
	require.NoError(t, err)

	tests := []struct {
		name, token, want string
	}{
		{"empty", "", "token is empty"},
		{"too large", strings.Repeat("a", maxJWTSize+1), "more than the 65536 allowed"},
		{"two segments", parts[0] + "." + parts[1], "has 2 segments"},
		{"padding", parts[0] + "." + parts[1] + "." + parts[2] + "=", "signature segment is not canonical"},
		{"newline in payload", parts[0] + "." + parts[1][:5] + "\n" + parts[1][5:] + "." + parts[2], "payload segment is not canonical"},
		{"duplicate member", must(e.iss.SignBytes([]byte(`{"alg":"RS256","kid":"kid-a"}`), []byte(`{"aud":"a","aud":"b"}`))), "duplicate member"},
		{"aud array", e.token(t, func(c jwt.MapClaims) { c["aud"] = []string{"x"} }, nil), "single string"},
		{"exp string", e.token(t, func(c jwt.MapClaims) { c["exp"] = "1" }, nil), "not a number"},
		{"personal access token", "at-abc", "personal access token"},
		{"header not JSON", jwttest.Segment([]byte("nope")) + "." + parts[1] + "." + parts[2], "header is not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := DecodeJWTUnverified(codexhome.NewSecret(tt.token))
			require.ErrorIs(t, err, ErrInvalidJWT)
			assert.Nil(t, c)
			assert.Contains(t, err.Error(), tt.want)
			assertNoSecret(t, err.Error(), tt.token)
		})
	}
}

func TestClaimsNeverShowPrivateKey(t *testing.T) {
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: agentidentity.ProductionIssuer, Audience: jwt.ClaimStrings{agentidentity.ProductionAudience}, ExpiresAt: jwt.NewNumericDate(t0)},
		AgentRuntimeID:   "agent-1",
		AgentPrivateKey:  codexhome.NewSecret("SECRET-PKCS8-KEY-MATERIAL"),
		Account:          codexhome.Account{AccountID: "acc-1", Email: "a@example.com"},
	}
	var logBuf strings.Builder
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("claims", "c", c, "p", &c)
	type hidden struct{ c Claims }
	var jsonBuf strings.Builder
	require.NoError(t, json.NewEncoder(&jsonBuf).Encode(c))
	outputs := map[string]string{
		"json":    jsonBuf.String(),
		"%v":      fmt.Sprintf("%v", c),
		"%+v":     fmt.Sprintf("%+v", c),
		"%#v":     fmt.Sprintf("%#v", c),
		"%v ptr":  fmt.Sprintf("%v", &c),
		"%+v ptr": fmt.Sprintf("%+v", &c),
		"%#v ptr": fmt.Sprintf("%#v", &c),
		"nested":  fmt.Sprintf("%+v", struct{ C Claims }{c}),
		"slice":   fmt.Sprintf("%v", []*Claims{&c}),
		"slog":    logBuf.String(),
		"error":   fmt.Errorf("wrapped: %v", c).Error(),
	}
	for _, verb := range []string{"%s", "%q", "%x", "%X", "%d", "%v", "%+v", "%#v"} {
		for name, v := range map[string]any{"value": c, "pointer": &c, "unexported field": hidden{c}, "slice": []Claims{c}} {
			outputs[verb+" "+name] = fmt.Sprintf(verb, v)
		}
	}
	for name, out := range outputs {
		t.Run(name, func(t *testing.T) {
			assert.NotContains(t, out, "SECRET")
			assert.NotContains(t, out, fmt.Sprintf("%x", "SECRET"))
		})
	}
	assert.Contains(t, fmt.Sprintf("%+v", c), "AgentPrivateKey:[REDACTED]")
}

func TestJWTRuntimeIDValid(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"agent-123", true}, {"a", true}, {"A.b_c~d-9", true}, {strings.Repeat("x", 256), true}, {"...", true},
		{"", false}, {".", false}, {"..", false}, {strings.Repeat("x", 257), false}, {"a/b", false},
		{"a?b", false}, {"a#b", false}, {"a%2f", false}, {"a b", false}, {"a:b", false}, {"a\x00", false}, {"é", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.id), func(t *testing.T) {
			assert.Equal(t, tt.ok, jwtRuntimeIDValid(tt.id))
		})
	}
}

func TestErrorsAreDistinct(t *testing.T) {
	err := invalidJWT(ErrPersonalAccessToken, "x")
	assert.True(t, errors.Is(err, ErrInvalidJWT))
	assert.True(t, errors.Is(err, ErrPersonalAccessToken))
	assert.False(t, errors.Is(err, ErrChatGPTAccessToken))
}

func TestVerifyExpiredSaysLoadAFreshToken(t *testing.T) {
	e := newTestEnv(t)
	_, err := e.v.Verify(context.Background(), codexhome.NewSecret(e.token(t, func(c jwt.MapClaims) { c["exp"] = t0.Add(-time.Hour).Unix() }, nil)))
	require.ErrorIs(t, err, ErrJWTExpired)
	require.ErrorIs(t, err, ErrInvalidJWT)
	require.ErrorIs(t, err, jwt.ErrTokenExpired)
	assert.Contains(t, err.Error(), "load a fresh token")
	// Other refusals are not expiry.
	_, err = e.v.Verify(context.Background(), codexhome.NewSecret(e.token(t, func(c jwt.MapClaims) { c["iss"] = "x" }, nil)))
	assert.NotErrorIs(t, err, ErrJWTExpired)
}

func TestVerifyClaimNamesAreExact(t *testing.T) {
	// encoding/json would let "ISS" or "Exp" stand for the registered
	// claims; golang-jwt validates what the strict pre-pass read.
	e := newTestEnv(t)
	_, err := e.v.Verify(context.Background(), codexhome.NewSecret(e.token(t, func(c jwt.MapClaims) {
		c["ISS"] = "https://attacker.example"
		c["Exp"] = t0.Add(-time.Hour).Unix()
		c["AUD"] = "other"
	}, nil)))
	require.NoError(t, err)
	_, err = e.v.Verify(context.Background(), codexhome.NewSecret(e.token(t, func(c jwt.MapClaims) { delete(c, "exp"); c["EXP"] = t0.Add(time.Hour).Unix() }, nil)))
	require.ErrorIs(t, err, jwt.ErrTokenRequiredClaimMissing)
}

func TestClaimsDecoderOtherPayload(t *testing.T) {
	// golang-jwt hands the decoder the payload the pre-pass read; any other
	// payload is decoded by the same strict rules, never by encoding/json.
	d := &claimsDecoder{Claims: &Claims{}}
	require.NoError(t, json.Unmarshal([]byte(`{"iss":"i","ISS":"x","aud":"a","agent_runtime_id":"r","exp":5}`), d))
	assert.Equal(t, "i", d.Issuer)
	assert.True(t, d.runtimeID)
	assert.Equal(t, int64(5), d.ExpiresAt.Unix())
	require.ErrorIs(t, json.Unmarshal([]byte(`{"aud":["a"]}`), d), ErrInvalidJWT)
	require.ErrorIs(t, json.Unmarshal([]byte(`{"iss":"a","iss":"b"}`), d), ErrInvalidJWT)
}
