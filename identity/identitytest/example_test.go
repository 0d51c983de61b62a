package identitytest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/identitytest"
)

// A whole Agent Identity flow against the fake backend: register an agent
// with a ChatGPT login, register a task, sign a first-party request.
func ExampleNewServer() {
	srv := identitytest.NewServer()
	defer srv.Close()
	ctx := context.Background()

	login := srv.MintChatGPTLogin(identitytest.LoginOptions{Account: codexhome.Account{AccountID: "acct-1"}})
	km, err := identity.GenerateKeyMaterial()
	if err != nil {
		log.Fatal(err)
	}
	c := &identity.Client{AuthAPIBaseURL: srv.AuthAPIBaseURL}
	runtimeID, err := c.RegisterAgent(ctx, login.AccessToken, identity.AgentRegistration{
		AgentVersion: "1.0.0", AgentHarnessID: "example", RunningLocation: "local",
		PublicKeySSH: km.PublicKeySSH,
	})
	if err != nil {
		log.Fatal(err)
	}
	signer, err := identity.NewSigner(runtimeID, km.PrivateKeyPKCS8Base64)
	if err != nil {
		log.Fatal(err)
	}
	taskID, err := c.RegisterTask(ctx, signer)
	if err != nil {
		log.Fatal(err)
	}

	header, err := signer.AuthorizationHeader(taskID, time.Now())
	if err != nil {
		log.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, srv.ChatGPTBaseURL+"/codex/responses", strings.NewReader("{}"))
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Authorization", header)
	req.Header.Set("ChatGPT-Account-ID", login.AccountID)
	resp, err := srv.Client().Do(req)
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	fmt.Println(resp.StatusCode, strings.Contains(string(body), `"task_id":"`+taskID+`"`))
	st := srv.Stats()
	fmt.Println(st.AgentsRegistered, st.TasksRegistered, st.RequestsVerified)
	// Output:
	// 200 true
	// 1 1 1
}

// Make the next two registrations fail with 503, as a client with retries
// sees a flaky backend.
func ExampleServer_SetFault() {
	srv := identitytest.NewServer()
	defer srv.Close()
	km, err := identity.GenerateKeyMaterial()
	if err != nil {
		log.Fatal(err)
	}
	id, err := srv.AddAgent(km.PublicKeySSH, codexhome.Account{})
	if err != nil {
		log.Fatal(err)
	}
	signer, err := identity.NewSigner(id, km.PrivateKeyPKCS8Base64)
	if err != nil {
		log.Fatal(err)
	}
	srv.SetFault(identitytest.Fault{Status: http.StatusServiceUnavailable, Count: 2})
	c := &identity.Client{AuthAPIBaseURL: srv.AuthAPIBaseURL}
	taskID, err := c.RegisterTask(context.Background(), signer)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(taskID, srv.Stats().AuthAPIRequests)
	// Output: task-1 3
}

// A personal access token: its metadata lookup, then a Bearer request with
// the account the lookup names.
func ExampleServer_MintPersonalAccessToken() {
	srv := identitytest.NewServer()
	defer srv.Close()
	pat, _ := srv.MintPersonalAccessToken(codexhome.Account{AccountID: "account-pat", UserID: "user-pat", Email: "pat@example.com", PlanType: "enterprise"})

	req, err := http.NewRequest(http.MethodGet, srv.AuthAPIBaseURL+"/v1/user-auth-credential/whoami", nil)
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+pat.Reveal())
	resp, err := srv.Client().Do(req)
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))

	req, err = http.NewRequest(http.MethodGet, srv.ChatGPTBaseURL+"/codex/models?client_version=1", nil)
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+pat.Reveal())
	req.Header.Set("ChatGPT-Account-ID", "account-pat")
	resp, err = srv.Client().Do(req)
	if err != nil {
		log.Fatal(err)
	}
	_ = resp.Body.Close()
	fmt.Println(resp.StatusCode, srv.Stats().PersonalAccessTokenLookups)
	// Output:
	// 200 {"email":"pat@example.com","chatgpt_user_id":"user-pat","chatgpt_account_id":"account-pat","chatgpt_plan_type":"enterprise","chatgpt_account_is_fedramp":false}
	// 200 1
}

// A workload identity: the token exchange of an assertion the test
// accepted for a federation rule, then inference with the exchanged token.
func ExampleServer_AddWorkloadIdentity() {
	srv := identitytest.NewServer()
	defer srv.Close()
	acct, err := srv.AddWorkloadIdentity("fedrule_example", codexhome.NewSecret("the-oidc-token"), codexhome.Account{AccountID: "account-wif"})
	if err != nil {
		log.Fatal(err)
	}

	form := "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=the-oidc-token&federation_rule_id=fedrule_example"
	resp, err := srv.Client().Post(srv.RefreshTokenURL, "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		log.Fatal(err)
	}
	var answer struct {
		AccessToken      string `json:"access_token"`
		ChatGPTAccountID string `json:"chatgpt_account_id"`
		ExpiresIn        int    `json:"expires_in"`
	}
	err = json.NewDecoder(resp.Body).Decode(&answer)
	_ = resp.Body.Close()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.StatusCode, answer.ChatGPTAccountID == acct.AccountID, answer.ExpiresIn)

	req, err := http.NewRequest(http.MethodPost, srv.ChatGPTBaseURL+"/codex/responses", strings.NewReader("{}"))
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+answer.AccessToken)
	req.Header.Set("ChatGPT-Account-ID", answer.ChatGPTAccountID)
	resp, err = srv.Client().Do(req)
	if err != nil {
		log.Fatal(err)
	}
	_ = resp.Body.Close()
	fmt.Println(resp.StatusCode, srv.Stats().TokenExchanges)
	// Output:
	// 200 true 3600
	// 200 1
}
