// Package identity is the client side of Codex Agent Identity: it lets a Go
// program hold an agent's Ed25519 key, register one backend-owned task per
// run, and put the credentials the Codex CLI 0.171 puts on first-party
// requests, byte for byte. Verifying those headers is package
// identity/gateway; the Codex CLI's files are package identity/codexhome.
//
// # Getting auth for a run
//
// [Load] turns a $CODEX_HOME and the environment into working auth, with the
// Codex CLI's precedence: a workload identity (OPENAI_FEDERATION_RULE_ID,
// OPENAI_IDENTITY_TOKEN_FILE), CODEX_ACCESS_TOKEN (a personal access token
// or an Agent Identity JWT), a personal access token or a JWT stored in
// auth.json, a stored identity record, or (with [PolicyChatGPTAuth]) a new
// identity provisioned through the ChatGPT login. A source that is selected
// but broken fails with its own error ([ErrWorkloadIdentity],
// [ErrPersonalAccessTokenLookup], …), never falling back to the next one.
// It returns a [RunAuth]; [RunAuth.Transport] wraps
// an http.RoundTripper and [RunAuth.Client] is an *http.Client using it:
//
//	auth, err := identity.Load(ctx, identity.LoadOptions{})
//	if err != nil { … }      // errors.Is(err, identity.ErrNoAgentIdentity): use bearer auth
//	client := auth.Client()
//
// # Which request gets which credential
//
// With an identity provisioned through a ChatGPT login, only inference (the
// Responses API, its WebSocket upgrade and compaction; see internal/routes)
// is signed with AgentAssertion, after workspace routing discovery
// ([RunAuth.InferenceBaseURL]); other first-party requests carry the login's
// Bearer token, refreshed as the Codex CLI refreshes it. With an Agent
// Identity JWT every first-party request is signed. A personal access token
// or a workload identity's exchanged token is the Bearer credential of
// every first-party request, inference included (such a run has no agent).
// The JWKS and /ps/mcp
// carry nothing, and other origins are never touched. [RunAuth.Header] gives
// the same headers for libraries that take headers (WebSocket dialers).
//
// # Signing requests
//
// A [Signer] is an agent key with its runtime id: from PKCS#8 ([NewSigner])
// or any crypto.Signer such as an ssh-agent key ([NewSignerFromCrypto],
// [NewSSHAgentKey]). [Signer.AuthorizationHeader] makes the header value for
// a task and a second; [RunAuth] reuses the value within that second (Ed25519
// is deterministic, so the bytes are the same) and registers the task once
// however many goroutines ask ([RunAuth.TaskID]). Sessions get tasks of their
// own with [RunAuth.ForSession]; a forked session ([RunAuth.ForkSession])
// never inherits its parent's task. A task the backend no longer accepts
// (a 401 to a signed request) is replaced once and the request retried once
// when its body can be replayed ([TaskRejectedError] otherwise).
//
// # Talking to the backend
//
// [Client] registers agents and tasks on the AuthAPI with bounded reads,
// time-outs, at most three attempts with back-off, and no redirects; failures
// are [*RegistrationError] values, and running out of retries wraps
// [ErrBootstrapUnavailable]. [JWTVerifier] checks Agent Identity JWTs against
// the backend's JWKS with golang-jwt after a strict pre-pass (RS256 only,
// cached, refreshed at most once per five minutes for unknown key ids); its
// [JWTVerifier.Keyfunc] plugs into golang-jwt directly. The package
// identitytest is a fake backend for tests and for the real Codex CLI.
//
// # Where the identity lives
//
// [codexhome.Store] reads and writes auth.json in $CODEX_HOME (default
// ~/.codex), or the OS keyring, the way the Codex CLI does: atomically, mode
// 0600, keeping every member it does not know. This package's processes take
// turns through their own lock file and hold the Codex CLI's auth.json.lock
// only around each read-modify-write. [codexhome.LoadConfig] reads
// config.toml; `[features] use_agent_identity = true` turns the ChatGPT opt-in
// on.
//
// # Compatibility with the Codex CLI
//
// Headers, request bodies, URLs, auth.json and config.toml follow the wire
// contract of the Codex CLI as the real codex-cli 0.171.0 speaks it; the
// known-answer vectors under testdata pin the bytes, and `make interop` runs
// the real CLI against this module.
//
// # What is refused
//
// Runtime ids outside the allowlist (ASCII letters, digits, '-', '_', '.',
// '~'; never "." or ".."), task ids over 4096 bytes or with control
// characters, non-canonical base64, PEM or foreign keys, duplicate JSON
// members, oversized bodies and files, JWTs with any algorithm but RS256 or
// past their exp ([ErrJWTExpired]), signing times outside [2000, 9000), and
// credentials for any origin but a first-party https one (plain http only on
// loopback). Keys, JWTs and tokens are held in [codexhome.Secret], which
// never prints.
//
// # The wire contract
//
// The contract this package implements (keys, ids, the AgentAssertion
// header, registrations, JWTs, auth.json, which request gets which
// credential, and where Codex 0.171 differs) is written down in
// docs/protocol.md of the module's repository; comments cite it as
// docs/protocol.md#<anchor>.
package identity
