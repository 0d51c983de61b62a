package identity

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
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
		c, err := DecodeJWTUnverified(token)
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
		if strings.Count(token, ".") != 2 || len(token) > MaxJWTSize {
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
	if _, err := e.v.Verify(context.Background(), must(e.iss.Sign(e.claims, nil))); err != nil {
		f.Fatal(err)
	}
	pub := e.iss.PublicKey()
	f.Fuzz(func(t *testing.T, token string) {
		c, err := e.v.Verify(context.Background(), token)
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
		if c.Issuer != DefaultJWTIssuer || len(c.Audience) != 1 || c.Audience[0] != DefaultJWTAudience {
			t.Fatal("accepted wrong iss or aud")
		}
		if c.ExpiresAt == nil || !c.ExpiresAt.Add(DefaultJWTLeeway).After(t0) {
			t.Fatal("accepted an expired token")
		}
		if !jwtRuntimeIDValid(c.AgentRuntimeID) || c.AgentPrivateKey == "" {
			t.Fatal("accepted bad agent claims")
		}
	})
}
