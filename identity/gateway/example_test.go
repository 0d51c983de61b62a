package gateway_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/gateway"
)

// A net/http server that serves only verified agents. The agent signs with
// a RunAuth's Transport, as the Codex CLI does; a request without an
// assertion gets 401 and never reaches the handler.
func ExampleVerifier_Middleware() {
	km, _ := identity.GenerateKeyMaterial()
	signer, _ := identity.NewSigner("agent-123", km.PrivateKeyPKCS8Base64)
	pub, _ := gateway.ParsePublicKeySSH(km.PublicKeySSH)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := gateway.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s on %s, account %s", id.AgentRuntimeID, id.TaskID, id.AccountID)
	})

	mux := http.NewServeMux()

	keys := gateway.StaticKeys{"agent-123": {PublicKey: pub, AccountID: "acct-1"}}
	v := &gateway.Verifier{Keys: keys}
	mux.Handle("/backend-api/", v.Middleware(handler))

	v.Logger = slog.New(slog.DiscardHandler) // refusals are logged to slog.Default() otherwise
	srv := httptest.NewServer(mux)
	defer srv.Close()

	auth, _ := identity.NewRunAuth(signer, &identity.Client{AuthAPIBaseURL: srv.URL}, identity.RunAuthOptions{Account: codexhome.Account{AccountID: "acct-1"}, TaskID: "task-1", FirstPartyOrigin: srv.URL})
	agent := &http.Client{Transport: auth.Transport(nil)}
	resp, err := agent.Post(srv.URL+"/backend-api/codex/responses", "application/json", nil)
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))

	resp, err = http.Post(srv.URL+"/backend-api/codex/responses", "application/json", nil)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	// Output:
	// 200 hello agent-123 on task-1, account acct-1
	// 401 AgentAssertion error="invalid_token"
}

// Checking one header against one known key, without a Verifier.
func ExampleVerifyAuthorizationHeader() {
	km, _ := identity.GenerateKeyMaterial()
	signer, _ := identity.NewSigner("agent-123", km.PrivateKeyPKCS8Base64)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	header, _ := signer.AuthorizationHeader("task-123", at)

	pub, _ := gateway.ParsePublicKeySSH(km.PublicKeySSH)
	a, err := gateway.VerifyAuthorizationHeader(header, pub, at.Add(10*time.Second), time.Minute)
	fmt.Println(a.AgentRuntimeID, a.TaskID, a.Timestamp.Format(time.RFC3339), err)
	_, err = gateway.VerifyAuthorizationHeader(header, pub, at.Add(2*time.Minute), time.Minute)
	fmt.Println(err != nil)
	// Output:
	// agent-123 task-123 2026-01-02T03:04:05Z <nil>
	// true
}
