package identity_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/identitytest"
)

// NewRunAuth from parts: an agent key registered with the AuthAPI, the
// registration Client, the account the agent belongs to. The first-party
// origin comes from the Client's environment; here a custom deployment (the
// fake backend on loopback).
func ExampleNewRunAuth() {
	srv := identitytest.NewServer()
	defer srv.Close()
	ctx := context.Background()

	login := srv.MintChatGPTLogin(identitytest.LoginOptions{})
	km, err := identity.GenerateKeyMaterial()
	if err != nil {
		panic(err)
	}
	client := &identity.Client{AuthAPIBaseURL: srv.AuthAPIBaseURL}
	runtimeID, err := client.RegisterAgent(ctx, login.AccessToken, identity.AgentRegistration{
		AgentVersion: "1.0.0", AgentHarnessID: "example", RunningLocation: "local", PublicKeySSH: km.PublicKeySSH,
	})
	if err != nil {
		panic(err)
	}
	signer, err := identity.NewSigner(runtimeID, km.PrivateKeyPKCS8Base64)
	if err != nil {
		panic(err)
	}

	auth, err := identity.NewRunAuth(signer, client, identity.RunAuthOptions{Account: codexhome.Account{AccountID: login.AccountID, FedRAMP: login.FedRAMP}})
	if err != nil {
		panic(err)
	}
	task, err := auth.TaskID(ctx) // registered once, on first use
	if err != nil {
		panic(err)
	}
	fmt.Println(auth.AgentRuntimeID() == runtimeID, task != "", srv.Stats().TasksRegistered)
	// Output: true true 1
}

// Transport signs requests to the first-party origin and leaves every other
// host alone: the request to another server carries no credential, also
// when a redirect leads there.
func ExampleRunAuth_Transport() {
	srv := identitytest.NewServer()
	defer srv.Close()
	token, err := srv.MintAgentJWT(identitytest.JWTOptions{})
	if err != nil {
		panic(err)
	}
	claims, err := identity.DecodeJWTUnverified(token)
	if err != nil {
		panic(err)
	}
	signer, err := identity.NewSigner(claims.AgentRuntimeID, claims.AgentPrivateKey)
	if err != nil {
		panic(err)
	}
	auth, err := identity.NewRunAuth(signer, &identity.Client{AuthAPIBaseURL: srv.AuthAPIBaseURL}, identity.RunAuthOptions{Account: codexhome.Account{AccountID: claims.AccountID, FedRAMP: claims.FedRAMP}})
	if err != nil {
		panic(err)
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Authorization=%q ChatGPT-Account-ID=%q", r.Header.Get("Authorization"), r.Header.Get("ChatGPT-Account-ID"))
	}))
	defer other.Close()

	client := &http.Client{Transport: auth.Transport(nil)}
	resp, err := client.Post(srv.ChatGPTBaseURL+"/codex/responses", "application/json", strings.NewReader(`{}`))
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println("first party:", resp.Status, "verified:", srv.Stats().RequestsVerified)

	resp, err = client.Get(other.URL)
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println("other origin:", string(body))
	// Output:
	// first party: 200 OK verified: 1
	// other origin: Authorization="" ChatGPT-Account-ID=""
}
