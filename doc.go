// Package agentidentity maps a configured ChatGPT base URL to the endpoints
// an Agent Identity talks to: the canonical ChatGPT backend base, the AuthAPI
// base of agent and task registration, the JWKS URL, and the issuer and
// audience that Agent Identity JWTs must carry. The mapping is static data,
// generated from endpoints.toml; nothing is guessed at run time.
//
// The identity itself (keys, tasks, AgentAssertion headers, JWTs, auth.json)
// lives in package [github.com/agentidentity/agentidentity/identity].
//
// # Resolving a base URL
//
// [Resolve] accepts exactly the base URLs of the table: for production
// https://chatgpt.com and https://chat.openai.com, for staging
// https://chatgpt-staging.com, each bare or followed by /backend-api, /codex
// or /backend-api/codex. Every accepted form of an environment resolves to
// the same [Environment], with canonical URLs: production's JWKSURL is always
// https://chatgpt.com/backend-api/wham/agent-identities/jwks. [Environments]
// lists the table and [DefaultChatGPTBaseURL] is the usual configuration.
//
// The production values are also constants, generated from the same table:
// [DefaultChatGPTBaseURL], [ProductionOrigin], [ProductionAuthAPIBaseURL],
// [ProductionJWKSURL], [ProductionIssuer] and [ProductionAudience].
// [ChatGPTLoginIssuer] is the issuer of the access tokens of a ChatGPT login,
// by which such a token is told apart from an Agent Identity JWT. Code that
// needs one of these values takes the constant instead of spelling it out.
//
//	env, err := agentidentity.Resolve(cfg.ChatGPTBaseURL)
//	if err != nil {
//		return err // wraps agentidentity.ErrUnknownEnvironment
//	}
//	register := env.AuthAPIBaseURL // agent and task registration
//
// Resolve is allocation-free for accepted inputs and safe for concurrent use.
//
// # What is refused
//
// Only the scheme and host compare case-insensitively, and only an explicit
// ":443" and one trailing '/' are forgiven. Everything else must match the
// table byte for byte, so these are refused with an error wrapping
// [ErrUnknownEnvironment] (whose text is the backend contract's, "Agent
// Identity only supports production and staging ChatGPT environments"):
// http, look-alike hosts (chatgpt.com.evil.com, a trailing dot), user info
// (https://chatgpt.com@evil.com), any query or fragment (even an empty '?' or
// '#'), "." and ".." segments, a second trailing '/', a path in another case,
// ports other than 443 (":0443" too), surrounding white space, and the
// remote-control suffixes (/wham/remote/control/server…) older Codex releases
// stripped. Error messages never show user info, queries or fragments, which
// may hold secrets.
//
// # Overrides and custom deployments
//
// [ResolveWithOverrides] (and [ResolveFromEnv], which reads
// CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL and CODEX_AGENT_IDENTITY_JWKS_BASE_URL
// through [OverridesFromEnv]) applies the overrides of the Codex client: the
// first replaces the AuthAPI base, the second the base the JWKS URL is
// derived from ([JWKSURL]). A base URL outside the table is accepted only as
// a custom deployment, when both overrides are set and the JWKS override
// equals the base URL; it gets the Name "custom" and the production issuer
// and audience. Overrides and custom bases must be https, or http on a
// loopback host only (localhost, 127.0.0.0/8, [::1], judged on the parsed
// host); invalid ones are errors wrapping [ErrInvalidBaseURL], never ignored.
// [Environment.Origin] gives the origin to which first-party credentials may
// be sent.
//
// # Adding an environment
//
// Edit endpoints.toml (its schema is documented at its top) and run
// go generate ./... from the repository root: cmd/genendpoints, built on
// package [github.com/agentidentity/agentidentity/gen], rewrites
// urlmap_gen.go. The package's tests regenerate the file in memory and fail
// while the checked-in copy is stale.
//
// The wire contract behind the table (accepted base URLs, overrides, the JWKS
// rule, custom deployments) is written down in docs/protocol.md of the
// module's repository; code comments cite it as docs/protocol.md#<anchor>.
package agentidentity
