package identity

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/internal/jose"
	"github.com/agentidentity/agentidentity/internal/jwttest"
	"github.com/agentidentity/agentidentity/internal/strictjson"
)

// jwtSeeds returns tokens to seed the fuzz targets: golang-jwt's tables,
// Wycheproof's compact JWS vectors, and good and broken Agent Identity JWTs.
func jwtSeeds(f *testing.F, e *testEnv) []string {
	seeds := []string{"", "at-x", "a.b.c", "..", "e30.e30.", "eyJhbGciOiJub25lIn0.e30."}
	if data, err := os.ReadFile("testdata/jwt/golang-jwt/golang_jwt_test_tables.json"); err == nil {
		var t struct {
			Tables map[string][]map[string]string `json:"tables"`
		}
		if json.Unmarshal(data, &t) == nil {
			for _, rows := range t.Tables {
				for _, r := range rows {
					if r["tokenString"] != "" {
						seeds = append(seeds, r["tokenString"])
					}
				}
			}
		}
	}
	for _, name := range []string{"json_web_signature_test.json", "json_web_key_test.json"} {
		data, err := os.ReadFile("testdata/jwt/wycheproof/" + name)
		if err != nil {
			f.Fatal(err)
		}
		var w wycheproofJWS
		if err := json.Unmarshal(data, &w); err != nil {
			f.Fatal(err)
		}
		for _, g := range w.TestGroups {
			for _, tc := range g.Tests {
				var s string
				if json.Unmarshal(tc.JWS, &s) == nil {
					seeds = append(seeds, s)
				}
			}
		}
	}
	good, err := e.iss.Sign(e.claims, nil)
	if err != nil {
		f.Fatal(err)
	}
	seeds = append(seeds, good, strings.TrimSuffix(good, good[strings.LastIndexByte(good, '.'):]))
	for _, h := range []map[string]any{{"alg": "none"}, {"kid": nil}, {"jku": "https://x"}, {"crit": []string{"exp"}}} {
		tok, err := e.iss.Sign(e.claims, h)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, tok)
	}
	return seeds
}

func FuzzDecodeJWTUnverified(f *testing.F) {
	e := newTestEnv(f)
	for _, s := range jwtSeeds(f, e) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := DecodeJWTUnverified(codexhome.NewSecret(token))
		if err != nil {
			if c != nil {
				t.Fatal("claims returned with an error")
			}
			if !strings.HasPrefix(err.Error(), "identity: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			if len(token) >= 24 && strings.Contains(err.Error(), token) {
				t.Fatal("error quotes the token")
			}
			return
		}
		if c == nil {
			t.Fatal("nil claims without an error")
		}
		if len(c.Audience) > 1 {
			t.Fatal("more than one audience accepted")
		}
		if strings.Count(token, ".") != 2 || len(token) > maxJWTSize {
			t.Fatal("malformed token accepted")
		}
	})
}

func FuzzJWTVerify(f *testing.F) {
	e := newTestEnv(f)
	for _, s := range jwtSeeds(f, e) {
		f.Add(s)
	}
	// Warm the cache once; with the clock stopped no further fetch happens.
	if _, err := e.v.Verify(context.Background(), codexhome.NewSecret(must(e.iss.Sign(e.claims, nil)))); err != nil {
		f.Fatal(err)
	}
	pub := e.iss.PublicKey()
	f.Fuzz(func(t *testing.T, token string) {
		c, err := e.v.Verify(context.Background(), codexhome.NewSecret(token))
		if err != nil {
			if c != nil {
				t.Fatal("claims returned with an error")
			}
			if len(token) >= 24 && strings.Contains(err.Error(), token) {
				t.Fatal("error quotes the token")
			}
			return
		}
		// Accepted: it must really be an RS256 token of the issuer's key
		// with the expected claims.
		i := strings.LastIndexByte(token, '.')
		sig, derr := jwt.NewParser().DecodeSegment(token[i+1:])
		if derr != nil {
			t.Fatalf("accepted a token whose signature does not decode: %v", derr)
		}
		h := sha256.Sum256([]byte(token[:i]))
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig) != nil {
			t.Fatal("accepted a token not signed by the issuer")
		}
		if c.Issuer != agentidentity.ProductionIssuer || len(c.Audience) != 1 || c.Audience[0] != agentidentity.ProductionAudience {
			t.Fatal("accepted wrong iss or aud")
		}
		if c.ExpiresAt == nil || !c.ExpiresAt.Add(defaultJWTLeeway).After(t0) {
			t.Fatal("accepted an expired token")
		}
		if !jwtRuntimeIDValid(c.AgentRuntimeID) || c.AgentPrivateKey.IsZero() {
			t.Fatal("accepted bad agent claims")
		}
	})
}

// FuzzJWTJSONScan checks the strict pre-pass on a JWT header or payload
// (internal/jose over internal/strictjson, the one scanner) against
// encoding/json: what it accepts, encoding/json reads the same way.
func FuzzJWTJSONScan(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"a":1,"a":2}`, `{"a":{"b":1,"b":2}}`, `{"a\u0062":1,"ab":2}`, ` {"a" : [1, -0.5e+3, true, null, "x\n"]} `,
		`{"a":"\ud800"}`, `{"a":01}`, `{"a":1.}`, `{"a":"` + "\x01" + `"}`, `{"a":1}x`, `[1]`, `"s"`, `{"a":[{"b":1},{"b":1}]}`,
		`{"x":` + strings.Repeat("[", 257) + strings.Repeat("]", 257) + `}`, `{"x":` + strings.Repeat("[", 255) + strings.Repeat("]", 255) + `}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tok := jwttest.Segment([]byte(`{"alg":"RS256","kid":"k"}`)) + "." + jwttest.Segment(data) + "."
		j, err := jose.ParseCompact(tok, 1<<20)
		serr := strictjson.CheckObject(data)
		if (err == nil) != (serr == nil) {
			t.Fatalf("pre-pass says %v, strictjson says %v", err, serr)
		}
		if err != nil {
			if errors.Is(err, strictjson.ErrDuplicateMember) != errors.Is(serr, strictjson.ErrDuplicateMember) {
				t.Fatalf("duplicate verdicts differ: %v / %v", err, serr)
			}
			return
		}
		var want map[string]json.RawMessage
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("encoding/json refuses what the pre-pass accepts: %v", err)
		}
		if len(j.Payload) != len(want) {
			t.Fatalf("%d members, encoding/json has %d", len(j.Payload), len(want))
		}
		for k, v := range want {
			var buf bytes.Buffer
			if err := json.Compact(&buf, v); err != nil {
				t.Fatal(err)
			}
			got, _ := j.Payload.Get(k)
			if !bytes.Equal(got, buf.Bytes()) {
				t.Fatalf("member %q: %q, encoding/json has %q", k, got, buf.Bytes())
			}
		}
	})
}
