package identity

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/internal/jwttest"
)

// benchToken returns a valid Agent Identity JWT for the real clock, and a
// verifier whose JWKS is already cached.
func jwtBenchSetup(b *testing.B) (*JWTVerifier, *jwttest.Issuer, string) {
	b.Helper()
	iss, err := jwttest.NewStaticIssuer("kid-a", jwttest.KeyA)
	if err != nil {
		b.Fatal(err)
	}
	srv := newJWKSServer(b, iss.JWKS())
	tok, err := iss.Sign(jwttest.AgentClaims(agentidentity.ProductionIssuer, agentidentity.ProductionAudience, time.Now()), nil)
	if err != nil {
		b.Fatal(err)
	}
	v := &JWTVerifier{JWKSURL: srv.URL}
	if _, err := v.Verify(context.Background(), codexhome.NewSecret(tok)); err != nil {
		b.Fatal(err)
	}
	return v, iss, tok
}

// BenchmarkJWTVerify verifies an Agent Identity JWT with a cached JWKS.
func BenchmarkJWTVerify(b *testing.B) {
	v, _, tok := jwtBenchSetup(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := v.Verify(ctx, codexhome.NewSecret(tok)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJWTParseBaseline is a bare golang-jwt parse of the same token
// with the same key, RS256 only: the yardstick for BenchmarkJWTVerify.
func BenchmarkJWTParseBaseline(b *testing.B) {
	_, iss, tok := jwtBenchSetup(b)
	key := iss.PublicKey()
	keyfunc := func(*jwt.Token) (any, error) { return key, nil }
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := jwt.Parse(tok, keyfunc, jwt.WithValidMethods([]string{"RS256"})); err != nil {
			b.Fatal(err)
		}
	}
}
