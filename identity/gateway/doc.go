// Package gateway is the verifying side of Codex Agent Identity: it checks
// the "Authorization: AgentAssertion …" headers and task registration bodies
// that agents send, for servers, proxies and test backends.
//
// It links neither the Codex CLI's files (package identity/codexhome) nor the
// client side (package identity): a server that verifies agents needs only
// this package and the public keys of the agents it knows.
//
// # Verifying a header
//
// [VerifyAuthorizationHeader] checks one header against one public key,
// strictly: one canonical encoding, a fresh timestamp compared as instants, a
// plausible verifier clock, a valid Ed25519 signature.
//
// # Verifying requests
//
// A [Verifier] finds the agent's key through [Keys] ([StaticKeys],
// [FileKeys] for an operator-edited JSON-lines file, [KeysFunc] for a
// database), checks the header, the agent's account and FedRAMP header and
// an optional task hook, and remembers verified headers so that a repeated
// one costs a lookup instead of a signature check. [Verifier.Middleware]
// wraps an http.Handler: only verified requests reach it, with their
// [Identity] in the context ([FromContext]); the rest get 401 or 403 with
// WWW-Authenticate and a body that does not say why (the reason is logged).
// [Routes] says what happens to first-party routes other than inference.
//
// # What an assertion proves
//
// An assertion binds the agent runtime id, the task id and the second it was
// made; it does not bind the method, path, origin or body of the request. It
// can therefore be replayed anywhere that trusts the agent's key until its
// window closes: keep the window short and serve only over TLS.
//
// The header and body formats this package verifies are part of the wire
// contract in docs/protocol.md of the module's repository
// (docs/protocol.md#assertion-verification).
package gateway
