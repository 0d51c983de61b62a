package identity_test

import (
	"context"
	"fmt"
	"log"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/identitytest"
)

// Register a backend-owned task for a run, against the fake backend of
// identitytest.
func ExampleClient_RegisterTask() {
	srv := identitytest.NewServer()
	defer srv.Close()
	srv.SetFault(identitytest.Fault{TaskIDMembers: []string{"encrypted_task_id"}}) // the id comes sealed to the agent key

	// An agent whose key the backend knows.
	km, err := identity.GenerateKeyMaterial()
	if err != nil {
		log.Fatal(err)
	}
	runtimeID, err := srv.AddAgent(km.PublicKeySSH, codexhome.Account{})
	if err != nil {
		log.Fatal(err)
	}
	signer, err := identity.NewSigner(runtimeID, km.PrivateKeyPKCS8Base64)
	if err != nil {
		log.Fatal(err)
	}

	c := &identity.Client{AuthAPIBaseURL: srv.AuthAPIBaseURL}
	taskID, err := c.RegisterTask(context.Background(), signer)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(runtimeID, taskID)
	// Output: agent-1 task-1
}

// Register an agent with a ChatGPT access token.
func ExampleClient_RegisterAgent() {
	srv := identitytest.NewServer()
	defer srv.Close()
	login := srv.MintChatGPTLogin(identitytest.LoginOptions{})

	km, err := identity.GenerateKeyMaterial()
	if err != nil {
		log.Fatal(err)
	}
	c := &identity.Client{AuthAPIBaseURL: srv.AuthAPIBaseURL}
	runtimeID, err := c.RegisterAgent(context.Background(), login.AccessToken, identity.AgentRegistration{
		AgentVersion:    "1.0.0",
		AgentHarnessID:  "my-harness",
		RunningLocation: "local",
		PublicKeySSH:    km.PublicKeySSH,
		FedRAMP:         login.FedRAMP,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(runtimeID)
	// Output: agent-1
}
