// Package identitytest runs a fake of the Agent Identity backend on a
// loopback address, for tests, the way net/http/httptest runs a fake web
// server: [NewServer] and [NewTLSServer] start one, [NewUnstartedServer]
// makes one to configure (with [Options]) and start with [Server.Start] or
// [Server.StartTLS]; [Server.Close] stops it.
//
// A [Server] answers, under its URL:
//
//   - POST /api/accounts/v1/agent/register: agent registration (docs/protocol.md#agent-registration).
//     The Bearer token must be an access token from [Server.MintChatGPTLogin]
//     (or a refresh) that has not expired by the server's clock
//     ([Options.Now]): an expired one gets 401, as a client that registers
//     before it refreshes must learn (docs/protocol.md#refresh-before-register);
//     the body must have exactly the contract's shape, with capabilities
//     ["responsesapi"], ttl null and a valid ssh-ed25519 key. It answers an
//     agent runtime id "agent-<n>".
//   - POST /api/accounts/v1/agent/{id}/task/register: task registration
//     (docs/protocol.md#task-registration). No Authorization header is allowed; an unknown agent gets
//     404; the body is checked with gateway.VerifyTaskRegistration against
//     the agent's key with a ±5 minute skew. It answers a fresh "task-<n>"
//     in the members chosen with [Fault.TaskIDMembers] (sealed to the agent
//     key in the encrypted ones).
//   - GET /backend-api/wham/agent-identities/jwks: the JWKS that verifies
//     the tokens of [Server.MintAgentJWT].
//   - requests under /backend-api/ signed with "Authorization: AgentAssertion
//     …": verified by a gateway.Verifier (the checks a real gateway makes); the server
//     requires a task id it registered for that agent, a matching
//     ChatGPT-Account-ID and the X-OpenAI-Fedramp header exactly for
//     FedRAMP accounts, and answers 401 {"error": reason} otherwise.
//     POST /backend-api/codex/responses with "Accept: text/event-stream"
//     answers a short Responses event stream (response.created, one
//     assistant message in response.output_item.done, response.completed
//     with a response id); without it, and on any path with no route of its
//     own, 200 {"agent_runtime_id","task_id","body_sha256"}. The WebSocket
//     upgrade of the same path is verified, then answered 426 (or accepted,
//     with [Options.AcceptWebSocket]); POST …/codex/responses/compact
//     answers {"output":[]}.
//   - the side routes the Codex CLI calls, with the same AgentAssertion
//     checks (JWT mode) or with "Authorization: Bearer <access token>" of a
//     login from [Server.MintChatGPTLogin] that has not expired (any other
//     Bearer token gets 401; inference never accepts a login's Bearer
//     token): GET /backend-api/wham/accounts/check
//     (workspace routing discovery, with the server's own origin as
//     workspace_backend_origin), GET /backend-api/codex/models
//     ({"models":[]}), GET /backend-api/wham/settings/user, GET
//     /backend-api/wham/config/bundle ({}, no workspace policies); /ps/plugins/…
//     and /ps/mcp answer 404, which Codex tolerates.
//   - POST /oauth/token with a JSON body: the ChatGPT token refresh; a
//     refresh token the server minted is redeemed once for a new login
//     (whose tokens live the TTL of the first), a reused one gets 401
//     {"error":"refresh_token_reused"} ([Stats.Refreshes]).
//   - GET /api/accounts/v1/user-auth-credential/whoami: the metadata lookup
//     of a personal access token from [Server.MintPersonalAccessToken]
//     (docs/protocol.md#personal-access-tokens), sent as the Codex CLI
//     sends it (the token as Bearer, no ChatGPT-Account-ID or
//     X-OpenAI-Fedramp header), answered
//     {"email","chatgpt_user_id","chatgpt_account_id","chatgpt_plan_type","chatgpt_account_is_fedramp"}
//     in that order, email null when the account has none
//     ([Stats.PersonalAccessTokenLookups]). Such a token is then a Bearer credential of every
//     first-party route, inference included, with its account's
//     ChatGPT-Account-ID (and X-OpenAI-Fedramp: true for FedRAMP), where
//     a JSON echo says {"chatgpt_account_id","body_sha256"}; it never
//     registers an agent.
//   - POST /oauth/token with Content-Type application/x-www-form-urlencoded:
//     the workload identity token exchange (docs/protocol.md#workload-identity).
//     The form must be exactly what the Codex CLI sends: grant_type
//     urn:ietf:params:oauth:grant-type:jwt-bearer, assertion,
//     federation_rule_id and optionally workload_identity_context, in that
//     order, each in the WHATWG form encoding (~ as %7E, * kept, space as
//     +), no Authorization header, no client id; the pair of rule id and
//     assertion must have been added with [Server.AddWorkloadIdentity]. The
//     answer has access_token (a ChatGPT access JWT of the server whose
//     chatgpt_user_id is user_id), issued_token_type, token_type "Bearer",
//     expires_in ([Options.TokenExchangeTTL]), scope, chatgpt_account_id,
//     chatgpt_account_user_id, user_id and chatgpt_plan_type; refusals are
//     400 {"error","error_description"} ([Stats.TokenExchanges],
//     [Stats.TokenExchangesRefused]). The token is accepted like a personal
//     access token's, until it expires.
//
// Started with [Server.StartTLS] (or [NewTLSServer]) the server speaks https with a
// certificate authority made for it alone, for server authentication only
// and name-constrained to loopback, as the real Codex CLI needs; [Server.WriteCodexHome] and [Server.CodexEnv]
// give a $CODEX_HOME and the variables for it, and [Options.OnRequest]
// sees every request with its verdict ([Exchange.LogLine] prints one
// without credentials).
//
// Every ChatGPT access token the server accepts (a login's, a refresh's, an
// exchange's) expires at its "exp" by the server's clock ([Options.Now]):
// a test that moves that clock, or mints a login with a negative
// [LoginOptions.TTL], sees a client's handling of expired tokens without
// sleeping.
//
// [Server.SetFault] makes the AuthAPI endpoints (the personal access token
// lookup among them) or, with [Fault.TokenExchange], the token exchange
// slow, failing, redirecting, hanging up or answering broken or edited
// bodies ([Fault]), and [Server.Stats] tells what happened (agents and
// tasks registered, AuthAPI attempts, requests verified and rejected,
// refreshes, lookups, exchanges, …). A Server is safe for concurrent use.
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
//		signer, err := identity.NewSigner(runtimeID, km.PrivateKeyPKCS8Base64)
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
//		if st := srv.Stats(); resp.StatusCode != 200 || st.RequestsVerified != 1 {
//			t.Fatalf("status %d, %d verified", resp.StatusCode, st.RequestsVerified)
//		}
//	}
//
// For code that resolves its endpoints from the environment, [Server.Env]
// and [Server.Getenv] give the override variables that point it at the
// server, with [Server.ChatGPTBaseURL] as the configured ChatGPT base URL.
//
// The server's tokens and keys are test values. Never point production code
// at it, and never use it outside tests.
//
// The routes and answers the server fakes follow the wire contract in
// docs/protocol.md of the module's repository.
package identitytest
