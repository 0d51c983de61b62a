// Package identity lets a Go program act as a Codex Agent Identity: it holds
// the agent's Ed25519 key, registers one backend-owned task per run, and signs
// every first-party request with an AgentAssertion header, byte for byte as
// the Codex CLI does. It also verifies those headers and Agent Identity JWTs,
// for servers and tests.
//
// # Getting auth for a run
//
// [Load] turns a $CODEX_HOME into working auth, with the Codex CLI's
// precedence: the CODEX_ACCESS_TOKEN JWT, a JWT stored in auth.json, a stored
// identity record, or (with [PolicyChatGPTAuth]) a new identity provisioned
// through the ChatGPT login. It returns a [RunAuth]; [RunAuth.Transport] wraps
// an http.RoundTripper:
//
//	auth, err := identity.Load(ctx, identity.LoadOptions{})
//	if err != nil { … }      // errors.Is(err, identity.ErrNoAgentIdentity): use bearer auth
//	client := &http.Client{Transport: auth.Transport(nil)}
//
// # Signing requests
//
// A [Signer] is an agent key with its runtime id. [Signer.AuthorizationHeader]
// makes the header value for a task and a second; [RunAuth] reuses the value
// within that second (Ed25519 is deterministic, so the bytes are the same) and
// registers the task once however many goroutines ask ([RunAuth.TaskID]).
// Sessions get tasks of their own with [RunAuth.ForSession]; a forked session
// ([RunAuth.ForkSession]) never inherits its parent's task.
//
// # Talking to the backend
//
// [Client] registers agents and tasks on the AuthAPI with bounded reads,
// time-outs, at most three attempts with back-off, and no redirects; failures
// are [*RegistrationError] values, and running out of retries wraps
// [ErrBootstrapUnavailable]. [JWTVerifier] checks Agent Identity JWTs against
// the backend's JWKS (RS256 only, cached, refreshed at most once per five
// minutes for unknown key ids). The package identitytest is a fake backend for
// tests.
//
// # Where the identity lives
//
// [codexhome.Store] reads and writes auth.json in $CODEX_HOME (default ~/.codex) the way
// the Codex CLI does: atomically, mode 0600, under the lock file
// auth.json.lock, keeping every member it does not know. [codexhome.LoadConfig] reads
// config.toml; `[features] use_agent_identity = true` turns the ChatGPT opt-in
// on.
//
// # Compatibility with the Codex CLI
//
// Headers, request bodies, URLs, auth.json and config.toml follow the wire
// contract of the Codex CLI (releases up to rust-v0.145); the known-answer
// vectors under testdata pin the bytes.
//
// # What is refused
//
// Runtime ids outside the allowlist (ASCII letters, digits, '-', '_', '.',
// '~'; never "." or ".."), non-canonical base64, PEM or foreign keys,
// duplicate JSON members, oversized bodies and files, JWTs with any algorithm
// but RS256, and credentials for any origin but the first-party one. Errors
// never quote keys, tokens or signatures, and neither do the String methods of
// the types that hold them.
package identity
