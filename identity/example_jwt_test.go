package identity_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/internal/jwttest"
)

// Verify an Agent Identity JWT against a JWKS. Here an httptest server plays
// the backend; in production, leave JWKSURL, Issuer and Audience empty (or
// set them from the environment) and Verify fetches chatgpt.com's keys.
func ExampleJWTVerifier_Verify() {
	issuer, err := jwttest.NewStaticIssuer("key-1", jwttest.KeyA)
	if err != nil {
		panic(err)
	}
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(issuer.JWKS())
	}))
	defer jwks.Close()

	token, err := issuer.Sign(jwttest.AgentClaims(agentidentity.ProductionIssuer, agentidentity.ProductionAudience, time.Now()), nil)
	if err != nil {
		panic(err)
	}

	v := &identity.JWTVerifier{JWKSURL: jwks.URL + "/agent-identities/jwks"}
	claims, err := v.Verify(context.Background(), codexhome.NewSecret(token))
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	fmt.Println("runtime:", claims.AgentRuntimeID)
	fmt.Println("account:", claims.AccountID)
	fmt.Println("key hidden when printed:", !strings.Contains(fmt.Sprint(claims), claims.AgentPrivateKey.Reveal()))

	_, err = v.Verify(context.Background(), codexhome.NewSecret("at-1234"))
	fmt.Println(err)
	// Output:
	// runtime: agent-runtime-test-1
	// account: account-test-1
	// key hidden when printed: true
	// identity: invalid Agent Identity JWT: token starts with "at-": it is a personal access token, not an Agent Identity JWT
}

// Pre-read the claims of a token, for example to pick the account it is for.
// The result is not verified and must never grant access.
func ExampleDecodeJWTUnverified() {
	issuer, err := jwttest.NewStaticIssuer("key-1", jwttest.KeyA)
	if err != nil {
		panic(err)
	}
	token, err := issuer.Sign(jwttest.AgentClaims(agentidentity.ProductionIssuer, agentidentity.ProductionAudience, time.Now()), nil)
	if err != nil {
		panic(err)
	}
	claims, err := identity.DecodeJWTUnverified(codexhome.NewSecret(token))
	if err != nil {
		panic(err)
	}
	fmt.Println(claims.AccountID, claims.PlanType)
	// Output: account-test-1 plus
}
