package identity

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/internal/jose"
	"github.com/agentidentity/agentidentity/internal/jwttest"
	"github.com/agentidentity/agentidentity/internal/limitio"
	"github.com/agentidentity/agentidentity/internal/strictjson"
)

func TestJWKSConcurrentCallersShareOneFetch(t *testing.T) {
	e := newTestEnv(t)
	gate := make(chan struct{})
	e.srv.mu.Lock()
	e.srv.gate = gate
	e.srv.mu.Unlock()
	tok := e.token(t, nil, nil)

	const callers = 16
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.v.Verify(context.Background(), codexhome.NewSecret(tok))
			errs <- err
		}()
	}
	// Wait until the one request is in the handler, then let it answer.
	require.Eventually(t, func() bool { return e.srv.hits.Load() >= 1 }, 5*time.Second, time.Millisecond)
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, e.srv.hits.Load())
}

func TestJWKSUnknownKidFloodIsRateLimited(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	_, err := e.v.Verify(ctx, codexhome.NewSecret(e.token(t, nil, nil)))
	require.NoError(t, err)
	require.EqualValues(t, 1, e.srv.hits.Load())

	flood := func(n int) {
		for i := range n {
			_, err := e.v.Verify(ctx, codexhome.NewSecret(e.token(t, nil, map[string]any{"kid": "made-up-" + string(rune('a'+i%26)) + strings.Repeat("x", i)})))
			require.ErrorIs(t, err, ErrInvalidJWT)
			assert.Contains(t, err.Error(), "no key in the JWKS")
		}
	}
	e.clock.Advance(time.Minute)
	flood(50)
	assert.EqualValues(t, 1, e.srv.hits.Load(), "no refresh within 5 minutes of the last fetch")

	e.clock.Advance(4*time.Minute + time.Second)
	flood(50)
	assert.EqualValues(t, 2, e.srv.hits.Load(), "one refresh per window")

	e.clock.Advance(4 * time.Minute)
	flood(20)
	assert.EqualValues(t, 2, e.srv.hits.Load())

	e.clock.Advance(time.Minute)
	flood(20)
	assert.EqualValues(t, 3, e.srv.hits.Load())

	// Known kids never cause a fetch meanwhile.
	_, err = e.v.Verify(ctx, codexhome.NewSecret(e.token(t, nil, nil)))
	require.NoError(t, err)
	assert.EqualValues(t, 3, e.srv.hits.Load())
}

func TestJWKSUnknownKidRefreshFindsRotatedKey(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	_, err := e.v.Verify(ctx, codexhome.NewSecret(e.token(t, nil, nil)))
	require.NoError(t, err)

	rotated := mustIssuer(t, "kid-b", jwttest.KeyB)
	e.srv.set(http.StatusOK, jwttest.JWKS(e.iss.JWK(), rotated.JWK()))
	tok := must(rotated.Sign(e.claims, nil))

	e.clock.Advance(time.Minute)
	_, err = e.v.Verify(ctx, codexhome.NewSecret(tok))
	require.ErrorIs(t, err, ErrInvalidJWT, "a kid seen within the window is not fetched")

	e.clock.Advance(5 * time.Minute)
	c, err := e.v.Verify(ctx, codexhome.NewSecret(tok))
	require.NoError(t, err)
	assert.Equal(t, "agent-runtime-test-1", c.AgentRuntimeID)
	assert.EqualValues(t, 2, e.srv.hits.Load())
}

func TestJWKSTTL(t *testing.T) {
	e := newTestEnv(t)
	e.v.JWKSCacheTTL = 10 * time.Minute
	ctx := context.Background()
	tok := e.token(t, nil, nil)
	_, err := e.v.Verify(ctx, codexhome.NewSecret(tok))
	require.NoError(t, err)

	e.clock.Advance(9 * time.Minute)
	_, err = e.v.Verify(ctx, codexhome.NewSecret(tok))
	require.NoError(t, err)
	assert.EqualValues(t, 1, e.srv.hits.Load())

	e.clock.Advance(time.Minute)
	_, err = e.v.Verify(ctx, codexhome.NewSecret(tok))
	require.NoError(t, err)
	assert.EqualValues(t, 2, e.srv.hits.Load())

	// A key removed from the JWKS stops verifying after the next refresh.
	e.srv.set(http.StatusOK, jwttest.JWKS(mustIssuer(t, "kid-b", jwttest.KeyB).JWK()))
	e.clock.Advance(10 * time.Minute)
	_, err = e.v.Verify(ctx, codexhome.NewSecret(tok))
	require.ErrorIs(t, err, ErrInvalidJWT)
	assert.EqualValues(t, 3, e.srv.hits.Load())
}

func TestJWKSStaleKeysServedWhenRefreshFails(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	tok := e.token(t, func(c jwt.MapClaims) { c["exp"] = t0.Add(3 * time.Hour).Unix() }, nil)
	_, err := e.v.Verify(ctx, codexhome.NewSecret(tok))
	require.NoError(t, err)

	e.srv.set(http.StatusInternalServerError, []byte("down"))
	e.clock.Advance(time.Hour + time.Second)
	_, err = e.v.Verify(ctx, codexhome.NewSecret(tok))
	require.NoError(t, err, "stale keys are served")
	assert.EqualValues(t, 2, e.srv.hits.Load())

	// Within the back-off, no new attempt.
	e.clock.Advance(10 * time.Second)
	_, err = e.v.Verify(ctx, codexhome.NewSecret(tok))
	require.NoError(t, err)
	assert.EqualValues(t, 2, e.srv.hits.Load())

	// After it, one new attempt; then recovery.
	e.clock.Advance(jwksFailureBackoff)
	_, err = e.v.Verify(ctx, codexhome.NewSecret(tok))
	require.NoError(t, err)
	assert.EqualValues(t, 3, e.srv.hits.Load())

	e.srv.set(http.StatusOK, jwttest.JWKS(e.iss.JWK()))
	e.clock.Advance(jwksFailureBackoff)
	_, err = e.v.Verify(ctx, codexhome.NewSecret(tok))
	require.NoError(t, err)
	assert.EqualValues(t, 4, e.srv.hits.Load())
	e.clock.Advance(time.Minute)
	_, err = e.v.Verify(ctx, codexhome.NewSecret(tok))
	require.NoError(t, err)
	assert.EqualValues(t, 4, e.srv.hits.Load(), "fresh again")
}

func TestJWKSFetchFailures(t *testing.T) {
	okKeys := jwttest.JWKS(mustIssuer(t, "kid-a", jwttest.KeyA).JWK())
	padded := append([]byte(strings.Repeat(" ", maxJWKSSize-len(okKeys))), okKeys...)
	require.Len(t, padded, maxJWKSSize)
	tests := []struct {
		name    string
		status  int
		body    []byte
		status2 int // expected jwksError.StatusCode
		is      error
		want    string
	}{
		{"server error", 500, []byte("oops"), 500, nil, "HTTP 500"},
		{"not found", 404, nil, 404, nil, "HTTP 404"},
		{"body over 1 MiB", 200, append(padded, ' '), 0, limitio.ErrTooLarge, "too large"},
		{"not JSON", 200, []byte("<html>"), 0, nil, "not a strict JSON object"},
		{"duplicate member", 200, []byte(`{"keys":[],"keys":[]}`), 0, nil, "duplicate member"},
		{"no keys", 200, []byte(`{}`), 0, nil, `no "keys" array`},
		{"keys not array", 200, []byte(`{"keys":{}}`), 0, nil, `no "keys" array`},
		{"key not object", 200, []byte(`{"keys":[1]}`), 0, nil, "not an object"},
		{"kid not string", 200, []byte(`{"keys":[{"kid":1}]}`), 0, nil, `"kid" that is not a string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			e.srv.set(tt.status, tt.body)
			_, err := e.v.Verify(context.Background(), codexhome.NewSecret(e.token(t, nil, nil)))
			var je *jwksError
			require.ErrorAs(t, err, &je)
			assert.Equal(t, tt.status2, je.StatusCode)
			assert.NotErrorIs(t, err, ErrInvalidJWT, "the token was not judged")
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "identity: "))
		})
	}
	t.Run("exactly 1 MiB is read", func(t *testing.T) {
		e := newTestEnv(t)
		e.srv.set(200, padded)
		_, err := e.v.Verify(context.Background(), codexhome.NewSecret(e.token(t, nil, nil)))
		require.NoError(t, err)
	})
}

func TestJWKSRedirectNotFollowed(t *testing.T) {
	e := newTestEnv(t)
	target := newJWKSServer(t, e.iss.JWKS())
	redirector := httptest.NewServer(http.RedirectHandler(target.URL+"/jwks", http.StatusFound))
	t.Cleanup(redirector.Close)
	// Even a client that would follow redirects does not.
	v := &JWTVerifier{JWKSURL: redirector.URL, HTTPClient: &http.Client{}, now: e.clock.Now}
	_, err := v.Verify(context.Background(), codexhome.NewSecret(e.token(t, nil, nil)))
	var je *jwksError
	require.ErrorAs(t, err, &je)
	assert.Equal(t, http.StatusFound, je.StatusCode)
	assert.EqualValues(t, 0, target.hits.Load())
}

func TestJWKSCallerContext(t *testing.T) {
	e := newTestEnv(t)
	gate := make(chan struct{})
	e.srv.mu.Lock()
	e.srv.gate = gate
	e.srv.mu.Unlock()
	tok := e.token(t, nil, nil)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.v.Verify(ctx, codexhome.NewSecret(tok))
		done <- err
	}()
	require.Eventually(t, func() bool { return e.srv.hits.Load() == 1 }, 5*time.Second, time.Millisecond)
	// A second caller joins the same fetch.
	second := make(chan error, 1)
	go func() {
		_, err := e.v.Verify(context.Background(), codexhome.NewSecret(tok))
		second <- err
	}()
	cancel()
	err := <-done
	require.ErrorIs(t, err, context.Canceled)
	var je *jwksError
	require.ErrorAs(t, err, &je)
	// The cancelled caller did not fail the shared fetch.
	close(gate)
	require.NoError(t, <-second)
	assert.EqualValues(t, 1, e.srv.hits.Load())
}

func TestJWKSFetchTimeout(t *testing.T) {
	e := newTestEnv(t)
	gate := make(chan struct{})
	t.Cleanup(func() { close(gate) })
	e.srv.mu.Lock()
	e.srv.gate = gate
	e.srv.mu.Unlock()
	e.v.FetchTimeout = 50 * time.Millisecond
	_, err := e.v.Verify(context.Background(), codexhome.NewSecret(e.token(t, nil, nil)))
	var je *jwksError
	require.ErrorAs(t, err, &je)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestParseJWKS(t *testing.T) {
	a := mustIssuer(t, "k", jwttest.KeyA)
	with := func(edit func(m map[string]any)) []byte {
		m := a.JWK()
		edit(m)
		return jwttest.JWKS(m)
	}
	tests := []struct {
		name    string
		doc     []byte
		problem string // "" means usable
	}{
		{"valid", a.JWKS(), ""},
		{"no alg no use", with(func(m map[string]any) { delete(m, "alg"); delete(m, "use") }), ""},
		{"key_ops verify", with(func(m map[string]any) { m["key_ops"] = []string{"sign", "verify"} }), ""},
		{"kty EC", with(func(m map[string]any) { m["kty"] = "EC" }), `kty "EC" is not RSA`},
		{"kty missing", with(func(m map[string]any) { delete(m, "kty") }), "is not RSA"},
		{"kty lower case", with(func(m map[string]any) { m["kty"] = "rsa" }), "is not RSA"},
		{"alg RS512", with(func(m map[string]any) { m["alg"] = "RS512" }), "not RS256"},
		{"alg none", with(func(m map[string]any) { m["alg"] = "none" }), "not RS256"},
		{"alg number", with(func(m map[string]any) { m["alg"] = 1 }), "not RS256"},
		{"use enc", with(func(m map[string]any) { m["use"] = "enc" }), `use "enc" is not sig`},
		{"key_ops encrypt", with(func(m map[string]any) { m["key_ops"] = []string{"encrypt"} }), "does not allow verify"},
		{"key_ops empty", with(func(m map[string]any) { m["key_ops"] = []string{} }), "does not allow verify"},
		{"key_ops string", with(func(m map[string]any) { m["key_ops"] = "verify" }), "not an array"},
		{"private d", with(func(m map[string]any) { m["d"] = "AQAB" }), "private key material"},
		{"n padded", with(func(m map[string]any) { m["n"] = m["n"].(string) + "==" }), "n is not canonical"},
		{"n leading zero", with(func(m map[string]any) { m["n"] = "AA" + m["n"].(string) }), "n "},
		{"n missing", with(func(m map[string]any) { delete(m, "n") }), "n is missing"},
		{"n standard alphabet", with(func(m map[string]any) {
			m["n"] = strings.NewReplacer("-", "+", "_", "/").Replace(m["n"].(string))
		}), "n is not canonical"},
		{"e missing", with(func(m map[string]any) { delete(m, "e") }), "e is missing"},
		{"e one", with(func(m map[string]any) { m["e"] = "AQ" }), "exponent"},
		{"e even", with(func(m map[string]any) { m["e"] = "AQAA" }), "exponent"},
		{"e huge", with(func(m map[string]any) { m["e"] = "AQAAAAE" }), "exponent"},
		{"e three", with(func(m map[string]any) { m["e"] = "Aw" }), ""},
		{"e leading zero", with(func(m map[string]any) { m["e"] = "AAEAAQ" }), "leading zero"},
		{"512-bit modulus", jwttest.JWKS(mustIssuer(t, "k", jwttest.KeyInsecure512).JWK()), "512 bits"},
		{"even modulus", with(func(m map[string]any) {
			n := must(base64.RawURLEncoding.DecodeString(m["n"].(string)))
			n[len(n)-1] &^= 1
			m["n"] = base64.RawURLEncoding.EncodeToString(n)
		}), "modulus is even"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := parseJWKS(tt.doc)
			require.NoError(t, err)
			k, ok := keys["k"]
			require.True(t, ok)
			if tt.problem == "" {
				assert.Empty(t, k.problem)
				assert.NotNil(t, k.key)
				return
			}
			assert.Contains(t, k.problem, tt.problem)
			assert.Nil(t, k.key)
		})
	}
	t.Run("duplicate kid is ambiguous", func(t *testing.T) {
		keys, err := parseJWKS(jwttest.JWKS(a.JWK(), mustIssuer(t, "k", jwttest.KeyB).JWK()))
		require.NoError(t, err)
		assert.Contains(t, keys["k"].problem, "several keys")
	})
	t.Run("keys without kid are skipped", func(t *testing.T) {
		m := a.JWK()
		delete(m, "kid")
		keys, err := parseJWKS(jwttest.JWKS(m))
		require.NoError(t, err)
		assert.Empty(t, keys)
	})
}

// wycheproofJWS is the shape shared by the Wycheproof JWS and JWK files.
type wycheproofJWS struct {
	TestGroups []struct {
		Comment string          `json:"comment"`
		Private json.RawMessage `json:"private"`
		Public  json.RawMessage `json:"public"`
		Tests   []struct {
			TcID    int             `json:"tcId"`
			Comment string          `json:"comment"`
			JWS     json.RawMessage `json:"jws"`
			Result  string          `json:"result"`
		} `json:"tests"`
	} `json:"testGroups"`
}

// jwsLayer runs the verifier's checks that do not concern claims: compact
// form, strict header, alg, kid, key policy and signature.
func jwsLayer(token string, keys map[string]jwk) error {
	p, err := parseJWS(token)
	if err != nil {
		return err
	}
	if p.header.Alg != "RS256" {
		return invalidJWT(nil, "alg")
	}
	k, ok := keys[p.header.Kid]
	if !ok || p.header.Kid == "" {
		return invalidJWT(nil, "kid")
	}
	key, err := k.get()
	if err != nil {
		return err
	}
	return p.verifySignature(key)
}

func loadWycheproofJWS(t *testing.T, name string) wycheproofJWS {
	t.Helper()
	data, err := os.ReadFile("testdata/jwt/wycheproof/" + name)
	require.NoError(t, err)
	var f wycheproofJWS
	require.NoError(t, json.Unmarshal(data, &f))
	require.NotEmpty(t, f.TestGroups)
	return f
}

// jwksFromGroup builds the parsed key set of a Wycheproof group: the public
// key (set) if there is one, else the private one.
func jwksFromGroup(t *testing.T, public, private json.RawMessage) map[string]jwk {
	t.Helper()
	raw := public
	if len(raw) == 0 {
		raw = private
	}
	var probe map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &probe))
	doc := raw
	if _, ok := probe["keys"]; !ok {
		doc = []byte(`{"keys":[` + string(raw) + `]}`)
	}
	keys, err := parseJWKS(doc)
	require.NoError(t, err)
	return keys
}

func TestWycheproofJWS(t *testing.T) {
	f := loadWycheproofJWS(t, "json_web_signature_test.json")
	accepted := 0
	for _, g := range f.TestGroups {
		keys := jwksFromGroup(t, g.Public, g.Private)
		for _, tc := range g.Tests {
			var token string
			if json.Unmarshal(tc.JWS, &token) != nil {
				continue // JSON serialization: not a compact JWT, never accepted by Verify
			}
			t.Run(g.Comment+"/"+strconv.Itoa(tc.TcID)+"-"+tc.Comment, func(t *testing.T) {
				err := jwsLayer(token, keys)
				rs256 := strings.HasPrefix(token, "eyJhbGciOiJSUzI1NiIs")
				if tc.Result == "valid" && rs256 {
					require.NoError(t, err)
					accepted++
					return
				}
				require.ErrorIs(t, err, ErrInvalidJWT)
			})
		}
	}
	assert.GreaterOrEqual(t, accepted, 7, "the valid RS256 vectors must pass")
}

func TestWycheproofJWK(t *testing.T) {
	f := loadWycheproofJWS(t, "json_web_key_test.json")
	accepted := 0
	for _, g := range f.TestGroups {
		keys := jwksFromGroup(t, g.Public, g.Private)
		for _, tc := range g.Tests {
			var token string
			require.NoError(t, json.Unmarshal(tc.JWS, &token))
			t.Run(g.Comment+"/"+strconv.Itoa(tc.TcID)+"-"+tc.Comment, func(t *testing.T) {
				err := jwsLayer(token, keys)
				if tc.Result == "valid" && strings.HasPrefix(token, "eyJhbGciOiJSUzI1NiIs") {
					require.NoError(t, err)
					accepted++
					return
				}
				if tc.Comment == "rejectsKeyWithRocaVulnerability" {
					// The ROCA key is 2048 bits: a fingerprint test is out of
					// scope, so its verdict is only that the signature (over
					// a payload that is not a JWT) is checked normally.
					t.Logf("ROCA key verdict: %v", err)
					return
				}
				require.ErrorIs(t, err, ErrInvalidJWT)
			})
		}
	}
	assert.Equal(t, 1, accepted)
}

func TestWycheproofRS256(t *testing.T) {
	data, err := os.ReadFile("testdata/jwt/wycheproof/rsa_signature_2048_sha256_test.json")
	require.NoError(t, err)
	var f struct {
		TestGroups []struct {
			KeyJwk json.RawMessage `json:"keyJwk"`
			Tests  []struct {
				TcID    int    `json:"tcId"`
				Comment string `json:"comment"`
				Msg     string `json:"msg"`
				Sig     string `json:"sig"`
				Result  string `json:"result"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	require.NoError(t, json.Unmarshal(data, &f))
	n := 0
	for _, g := range f.TestGroups {
		var fields jwkFields
		require.NoError(t, strictjson.DecodeObject(g.KeyJwk, fields.member))
		k := parseJWK(&fields)
		require.Empty(t, k.problem)
		for _, tc := range g.Tests {
			msg, err := hex.DecodeString(tc.Msg)
			require.NoError(t, err)
			sig, err := hex.DecodeString(tc.Sig)
			require.NoError(t, err)
			p := &parsedJWT{jws: &jose.JWS{SigningInput: string(msg), Signature: sig}}
			err = p.verifySignature(k.key)
			if tc.Result == "valid" {
				assert.NoError(t, err, "tcId %d %s", tc.TcID, tc.Comment)
			} else {
				assert.ErrorIs(t, err, ErrInvalidJWT, "tcId %d %s", tc.TcID, tc.Comment)
			}
			n++
		}
	}
	assert.Equal(t, 259, n)
}

// TestGolangJWTTables applies golang-jwt's own token tables.
func TestGolangJWTTables(t *testing.T) {
	data, err := os.ReadFile("testdata/jwt/golang-jwt/golang_jwt_test_tables.json")
	require.NoError(t, err)
	var f struct {
		Tables map[string][]map[string]string `json:"tables"`
	}
	require.NoError(t, json.Unmarshal(data, &f))
	pubPEM, err := os.ReadFile("testdata/jwt/golang-jwt/sample_key.pub")
	require.NoError(t, err)
	pub, err := jwt.ParseRSAPublicKeyFromPEM(pubPEM)
	require.NoError(t, err)

	e := newTestEnv(t)
	rsChecked := 0
	for table, rows := range f.Tables {
		for i, row := range rows {
			tok := row["tokenString"]
			if tok == "" {
				continue // generated at test time in golang-jwt
			}
			t.Run(table+"/"+strconv.Itoa(i)+"-"+row["name"], func(t *testing.T) {
				_, _ = DecodeJWTUnverified(codexhome.NewSecret(tok)) // must not panic
				c, err := e.v.Verify(context.Background(), codexhome.NewSecret(tok))
				require.ErrorIs(t, err, ErrInvalidJWT, "no golang-jwt token is an Agent Identity JWT")
				assert.Nil(t, c)

				// RS256 tokens of the RSA sample key: the signature check
				// agrees with golang-jwt's verdict.
				rs256 := row["alg"] == "RS256" || (row["signingMethod"] == "jwt.SigningMethodRS256" && row["keyfunc"] == "defaultKeyFunc" && row["parser"] == "nil")
				if !rs256 {
					return
				}
				p, perr := parseJWS(tok)
				if row["valid"] == "true" {
					require.NoError(t, perr)
					require.NoError(t, p.verifySignature(pub))
					assert.Contains(t, err.Error(), "no kid", "valid tokens fail only for lacking a kid")
					rsChecked++
					return
				}
				if perr == nil {
					assert.Error(t, p.verifySignature(pub))
				}
			})
		}
	}
	assert.GreaterOrEqual(t, rsChecked, 2)
}

func TestJWKSErrorsRedactTheURL(t *testing.T) {
	e := newTestEnv(t)
	tok := e.token(t, nil, nil)
	// A closed port: the transport error of net/http quotes the URL.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	tests := []struct {
		name string
		url  string
		srv  func()
	}{
		{"transport error", deadURL + "/jwks?sig=SECRETQUERY#SECRETFRAG", nil},
		{"HTTP status", e.srv.URL + "/jwks?sig=SECRETQUERY", func() { e.srv.set(500, nil) }},
		{"bad document", e.srv.URL + "/jwks?sig=SECRETQUERY", func() { e.srv.set(200, []byte("<html>")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.srv != nil {
				tt.srv()
			}
			v := &JWTVerifier{JWKSURL: tt.url, now: e.clock.Now}
			_, err := v.Verify(context.Background(), codexhome.NewSecret(tok))
			var je *jwksError
			require.ErrorAs(t, err, &je)
			assert.NotContains(t, err.Error(), "SECRET")
			assert.NotContains(t, je.URL, "SECRET")
			assert.Contains(t, err.Error(), "REDACTED")
		})
	}
}

func TestKeyfuncWithBareJWTParse(t *testing.T) {
	e := newTestEnv(t)
	good := e.token(t, nil, nil)

	// Cold cache: an error that says what to do, no fetch.
	_, err := jwt.Parse(good, e.v.Keyfunc)
	require.ErrorIs(t, err, ErrJWKSUnavailable)
	require.ErrorIs(t, err, jwt.ErrTokenUnverifiable)
	assert.Contains(t, err.Error(), "call JWTVerifier.Warm or Verify")
	assert.EqualValues(t, 0, e.srv.hits.Load())

	require.NoError(t, e.v.Warm(context.Background()))
	require.NoError(t, e.v.Warm(context.Background()), "a fresh cache is not fetched again")
	assert.EqualValues(t, 1, e.srv.hits.Load())

	tok, err := jwt.Parse(good, e.v.Keyfunc, jwt.WithTimeFunc(e.clock.Now))
	require.NoError(t, err)
	assert.True(t, tok.Valid)
	// Claims as the caller chooses, through golang-jwt.
	var c Claims
	_, err = jwt.ParseWithClaims(good, &c, e.v.Keyfunc, jwt.WithTimeFunc(e.clock.Now))
	require.NoError(t, err)
	assert.Equal(t, "agent-runtime-test-1", c.AgentRuntimeID)
	assert.Equal(t, "account-test-1", c.AccountID, "the account claims decode into the embedded Account")
	assert.Equal(t, "user-test-1", c.UserID)
	assert.Equal(t, jwttest.AgentPrivateKeyPKCS8(), c.AgentPrivateKey.Reveal())

	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(e.iss.PublicKey()))})
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, e.claims)
	hs.Header["kid"] = "kid-a"
	hsTok := must(hs.SignedString(pubPEM))
	rs512 := jwt.NewWithClaims(jwt.SigningMethodRS512, e.claims)
	rs512.Header["kid"] = "kid-a"
	rs512Tok := must(rs512.SignedString(e.iss.PrivateKey()))
	none := jwt.NewWithClaims(jwt.SigningMethodNone, e.claims)
	none.Header["kid"] = "kid-a"
	noneTok := must(none.SignedString(jwt.UnsafeAllowNoneSignatureType))

	tests := []struct {
		name, token, want string
		is                error
	}{
		{"HS256 with the public key as secret", hsTok, `alg "HS256" is refused`, ErrInvalidJWT},
		{"RS512", rs512Tok, `alg "RS512" is refused`, ErrInvalidJWT},
		{"none", noneTok, "unsigned tokens", ErrInvalidJWT},
		{"kid missing", e.token(t, nil, map[string]any{"kid": nil}), "no kid", ErrInvalidJWT},
		{"kid not a string", e.token(t, nil, map[string]any{"kid": 7}), `"kid" is not a string`, ErrInvalidJWT},
		{"kid unknown: no refresh", e.token(t, nil, map[string]any{"kid": "nope"}), "Keyfunc does not refresh", ErrInvalidJWT},
		{"unusable key", must(e.keyB.Sign(e.claims, nil)), `use "enc" is not sig`, ErrInvalidJWT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := jwt.Parse(tt.token, e.v.Keyfunc, jwt.WithTimeFunc(e.clock.Now))
			require.ErrorIs(t, err, tt.is)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	assert.EqualValues(t, 1, e.srv.hits.Load(), "Keyfunc never fetches")

	t.Run("a bare parse skips the pre-pass and the claim checks", func(t *testing.T) {
		// Documented: aud as an array, a duplicate member and a foreign
		// issuer pass a bare jwt.Parse with Keyfunc, but not Verify.
		odd := e.token(t, func(c jwt.MapClaims) { c["aud"] = []string{"x", "y"}; c["iss"] = "https://elsewhere.example" }, nil)
		_, err := jwt.Parse(odd, e.v.Keyfunc, jwt.WithTimeFunc(e.clock.Now))
		require.NoError(t, err)
		_, err = e.v.Verify(context.Background(), codexhome.NewSecret(odd))
		require.ErrorIs(t, err, ErrInvalidJWT)
	})

	t.Run("stale cache", func(t *testing.T) {
		e.clock.Advance(defaultJWKSTTL)
		_, err := jwt.Parse(good, e.v.Keyfunc)
		require.ErrorIs(t, err, ErrJWKSUnavailable)
		require.NoError(t, e.v.Warm(context.Background()))
		assert.EqualValues(t, 2, e.srv.hits.Load())
	})

	t.Run("misconfigured verifier", func(t *testing.T) {
		v := &JWTVerifier{JWKSURL: "http://example.com/jwks"}
		_, err := jwt.Parse(good, v.Keyfunc)
		require.ErrorIs(t, err, ErrInvalidJWTVerifier)
		require.ErrorIs(t, v.Warm(context.Background()), ErrInvalidJWTVerifier)
	})
}

func TestWarmFailure(t *testing.T) {
	e := newTestEnv(t)
	e.srv.set(500, nil)
	err := e.v.Warm(context.Background())
	var je *jwksError
	require.ErrorAs(t, err, &je)
	// Within the back-off, the same error and no new request.
	require.ErrorAs(t, e.v.Warm(context.Background()), &je)
	assert.EqualValues(t, 1, e.srv.hits.Load())
}
