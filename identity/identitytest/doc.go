// Package identitytest runs a fake of the Agent Identity backend on a
// loopback address, for tests, the way net/http/httptest runs a fake web
// server.
//
// A [Server] answers, under its URL:
//
//   - POST /api/accounts/v1/agent/register: agent registration (spec §5).
//     The Bearer token must be an access token from [Server.MintChatGPTLogin];
//     the body must have exactly the spec's shape, with capabilities
//     ["responsesapi"], ttl null and a valid ssh-ed25519 key. It answers an
//     agent runtime id "agent-<n>".
//   - POST /api/accounts/v1/agent/{id}/task/register: task registration
//     (spec §4). No Authorization header is allowed; an unknown agent gets
//     404; the body is checked with gateway.VerifyTaskRegistration against
//     the agent's key with a ±5 minute skew. It answers a fresh "task-<n>"
//     in the spelling chosen with [Server.SetTaskIDMode] (sealed to the agent
//     key for the encrypted spellings).
//   - GET /backend-api/wham/agent-identities/jwks: the JWKS that verifies
//     the tokens of [Server.MintAgentJWT].
//   - any other request under /backend-api/: a first-party endpoint that
//     verifies "Authorization: AgentAssertion …" with
//     gateway.VerifyAuthorizationHeader, requires a task id this server
//     registered for that agent, a matching ChatGPT-Account-ID and the
//     X-OpenAI-Fedramp header exactly for FedRAMP accounts, and answers 200
//     {"agent_runtime_id","task_id","body_sha256"} or 401 {"error": reason}.
//
// Faults can be injected into the AuthAPI endpoints ([Server.FailNext],
// [Server.FailNextRetryAfter], [Server.SetDelay], [Server.InjectBody],
// [Server.RedirectTo]) and counters tell what happened
// ([Server.AgentsRegistered], [Server.TasksRegistered],
// [Server.AuthAPIRequests], [Server.RequestsVerified],
// [Server.RequestsRejected]). A Server is safe for concurrent use.
//
// # A complete test
//
//	func TestRegisterAndCall(t *testing.T) {
//		srv := identitytest.NewServer()
//		defer srv.Close()
//
//		// A ChatGPT login, and an agent registered with its access token.
//		login := srv.MintChatGPTLogin(identitytest.LoginOptions{})
//		km, err := identity.GenerateKeyMaterial()
//		if err != nil {
//			t.Fatal(err)
//		}
//		c := &identity.Client{AuthAPIBaseURL: srv.AuthAPIBaseURL}
//		runtimeID, err := c.RegisterAgent(context.Background(), login.AccessToken, identity.AgentRegistration{
//			AgentVersion: "1.0.0", AgentHarnessID: "my-harness", RunningLocation: "local",
//			PublicKeySSH: km.PublicKeySSH,
//		})
//		if err != nil {
//			t.Fatal(err)
//		}
//		signer, err := identity.NewSigner(runtimeID, km.PrivateKeyPKCS8Base64.Reveal())
//		if err != nil {
//			t.Fatal(err)
//		}
//
//		// One backend-owned task for the run.
//		taskID, err := c.RegisterTask(context.Background(), signer)
//		if err != nil {
//			t.Fatal(err)
//		}
//
//		// A first-party request signed with AgentAssertion.
//		header, err := signer.AuthorizationHeader(taskID, time.Now())
//		if err != nil {
//			t.Fatal(err)
//		}
//		req, _ := http.NewRequest("POST", srv.ChatGPTBaseURL+"/codex/responses", strings.NewReader("{}"))
//		req.Header.Set("Authorization", header)
//		req.Header.Set("ChatGPT-Account-ID", login.AccountID)
//		resp, err := srv.Client().Do(req)
//		if err != nil {
//			t.Fatal(err)
//		}
//		resp.Body.Close()
//		if resp.StatusCode != 200 || srv.RequestsVerified() != 1 {
//			t.Fatalf("status %d, %d verified", resp.StatusCode, srv.RequestsVerified())
//		}
//	}
//
// For code that resolves its endpoints from the environment, [Server.Env]
// and [Server.Getenv] give the override variables that point it at the
// server, with [Server.ChatGPTBaseURL] as the configured ChatGPT base URL.
//
// The server's tokens and keys are test values. Never point production code
// at it, and never use it outside tests.
package identitytest
