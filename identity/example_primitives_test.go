package identity_test

import (
	"fmt"
	"time"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/gateway"
)

// The codex-reference test key (seed 0x07…): a public test key, never use it
// outside tests. A key is a codexhome.Secret, as every secret of the module.
var examplePrivateKey = codexhome.NewSecret("MFECAQEwBQYDK2VwBCIEIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHgSEA6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw=")

// Signing a first-party request and verifying it on the server side.
func ExampleSigner_AuthorizationHeader() {
	signer, err := identity.NewSigner("agent-123", examplePrivateKey)
	if err != nil {
		panic(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	header, err := signer.AuthorizationHeader("task-123", at)
	if err != nil {
		panic(err)
	}
	fmt.Println(header[:40] + "…")

	// The server knows the agent's public key from its registration.
	pub, err := gateway.ParsePublicKeySSH(signer.PublicKeySSH())
	if err != nil {
		panic(err)
	}
	a, err := gateway.VerifyAuthorizationHeader(header, pub, at.Add(10*time.Second), time.Minute)
	if err != nil {
		panic(err)
	}
	fmt.Println(a.AgentRuntimeID, a.TaskID, a.Timestamp.Format(time.RFC3339))
	// Output:
	// AgentAssertion eyJhZ2VudF9ydW50aW1lX2lkI…
	// agent-123 task-123 2026-01-02T03:04:05Z
}

// A new agent key, ready to register and to store.
func ExampleGenerateKeyMaterial() {
	km, err := identity.GenerateKeyMaterial()
	if err != nil {
		panic(err)
	}
	signer, err := identity.NewSigner("agent-123", km.PrivateKeyPKCS8Base64)
	if err != nil {
		panic(err)
	}
	fmt.Println(signer.PublicKeySSH() == km.PublicKeySSH)
	fmt.Println(len(km.PublicKeySSH))
	// Output:
	// true
	// 80
}

// Opening an encrypted task id, as the AuthAPI may answer a task
// registration (Client.RegisterTask does this by itself).
func ExampleSigner_OpenTaskID() {
	signer, err := identity.NewSigner("agent-123", examplePrivateKey)
	if err != nil {
		panic(err)
	}
	// What the backend does (see identitytest), and what the client does.
	sealed, err := gateway.SealTaskID(signer.PublicKey(), "task-abc")
	if err != nil {
		panic(err)
	}
	taskID, err := signer.OpenTaskID(sealed)
	if err != nil {
		panic(err)
	}
	fmt.Println(taskID)
	// Output:
	// task-abc
}

// Runtime ids are checked before they go into a URL path.
func ExampleValidateRuntimeID() {
	fmt.Println(identity.ValidateRuntimeID("agent-123"))
	fmt.Println(identity.ValidateRuntimeID("../admin"))
	// Output:
	// <nil>
	// identity: invalid agent runtime id: byte 2 is not an ASCII letter, digit, '-', '_', '.' or '~'
}
