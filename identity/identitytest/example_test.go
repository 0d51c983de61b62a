package identitytest_test

import (
	"context"
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
	runtimeID, err := c.RegisterAgent(ctx, login.AccessToken.Reveal(), identity.AgentRegistration{
		AgentVersion: "1.0.0", AgentHarnessID: "example", RunningLocation: "local",
		PublicKeySSH: km.PublicKeySSH,
	})
	if err != nil {
		log.Fatal(err)
	}
	signer, err := identity.NewSigner(runtimeID, km.PrivateKeyPKCS8Base64.Reveal())
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
	signer, err := identity.NewSigner(id, km.PrivateKeyPKCS8Base64.Reveal())
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
