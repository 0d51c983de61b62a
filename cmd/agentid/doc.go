// Command agentid acts as, inspects and tests a Codex Agent Identity: it
// resolves endpoints, makes and verifies AgentAssertion headers, registers
// tasks, decodes and verifies Agent Identity JWTs, provisions the identity of
// a $CODEX_HOME, and runs an end-to-end demo against an embedded fake backend.
//
// A newcomer starts with
//
//	go run ./cmd/agentid demo
//
// which needs no network, no account and no configuration.
//
// # Usage
//
//	agentid COMMAND [flags] [arguments]
//	agentid help [COMMAND]
//
// The command tree is built with cobra: flags are written --flag (before or
// after the arguments; "--" ends them), every command has -h/--help (on
// standard output, exit 0) and an Examples block, an unknown command gets a
// "did you mean", and "agentid completion bash|zsh|fish|powershell" prints a
// completion script. "agentid" alone prints the command list on standard
// error and exits 2. Every command that prints data takes --json and then
// prints one JSON object on standard output, also when it fails (with
// "error" and "hint").
//
// # Exit codes
//
//   - 0: success (and --help).
//   - 2: the command line cannot be parsed into a request: an unknown
//     command or flag, a missing required argument or flag, conflicting
//     flags, a flag value of the wrong form for its type (not a duration,
//     not an RFC 3339 time, not host:port, not one of the listed choices).
//   - 1: everything else that fails, including a value of the right form
//     that the operation refuses (a non-loopback listen address, an http
//     upstream, a runtime id outside the allowlist, a refused base URL), a
//     refused verification, a backend error, no usable identity.
//
// Every error is one line on standard error, "agentid: COMMAND: what
// happened; what to do", without the package prefixes of the library's
// errors.
//
// # Secrets
//
// Secrets are read only from a file, standard input or an environment
// variable, never from a command-line flag value (which other users can see
// in the process list), and no command prints one except keygen, on purpose:
//
//   - the agent private key (PKCS#8 DER in standard base64, as the Codex CLI
//     stores it): --key-file FILE, "-" for standard input, else
//     $AGENTID_PRIVATE_KEY;
//   - an Agent Identity JWT: --token-file FILE ("-" for standard input) or
//     --token-stdin, else $AGENTID_ACCESS_TOKEN, else $CODEX_ACCESS_TOKEN;
//   - a ChatGPT login and stored identities: auth.json in $CODEX_HOME,
//     read and written only through the library.
//
// A secret may end with exactly one "\n" or "\r\n"; any other white space or
// control character is refused. Inputs are read through a size limit.
// Keys are written with mode 0600 and never over an existing file unless
// --force is given. Errors name what was wrong, never the secret, and claims
// are printed with agent_private_key as "<redacted>".
//
// # Network steps
//
// Commands that talk to a backend (register-task, jwt verify, provision)
// print one line per request on standard error as it is sent, for example
// "agentid: registering task at https://…/v1/agent/ID/task/register",
// with scheme, host and path only. Each has --timeout and stops on SIGINT.
//
// # Commands
//
// demo [--requests N] [--json] [--timeout D]: starts the fake backend of
// package identitytest on 127.0.0.1 and a temporary $CODEX_HOME holding a
// ChatGPT login minted by it, with [features] use_agent_identity = true;
// provisions an identity with identity.Load; gets the run task; sends N
// (default 20) signed requests through RunAuth.Transport to the first-party
// endpoint, which verifies each one, and checks each answer (status 200, the
// agent, the task, the hash of the body sent); checks that another origin
// gets no credentials; loads again (a restart) and checks that the same
// agent and task are reused with zero new registrations; forks a session and
// checks it gets a task of its own. It prints a summary table (step, result,
// registrations, requests verified, time) and exits 1 if any check failed.
// Nothing is read from the user's environment or ~/.codex; the temporary
// folder is removed.
//
// endpoints [--json] [BASE_URL]: the environment BASE_URL resolves to (every
// environment without BASE_URL), with the override variables
// CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL and CODEX_AGENT_IDENTITY_JWKS_BASE_URL
// applied. --json prints an object (or an array) with name, chatgpt_base_url,
// authapi_base_url, jwks_url, issuer and audience. An unknown base URL or an
// invalid override exits 1.
//
// keygen [--out FILE] [--force]: new key material. With --out, the private key
// goes to FILE (mode 0600, one line) and the "ssh-ed25519 …" public key to
// standard output. Without --out, both lines go to standard output, private
// key first, with a warning on standard error.
//
// assert --runtime-id ID --key-file FILE --task-id ID [--timestamp RFC3339]:
// prints the "AgentAssertion …" Authorization header value for the agent ID
// and task ID at the time given (default now).
//
// verify --public-key 'ssh-ed25519 …' [--max-skew 5m] [--now RFC3339]: reads a
// header value from standard input (one trailing newline allowed), verifies
// it as the backend does and prints
// {"agent_runtime_id":…,"task_id":…,"timestamp":…}; a refused header exits 1.
//
// register-task: registers a new task and prints its id. Either
// --runtime-id ID with the key of --key-file or $AGENTID_PRIVATE_KEY and the
// AuthAPI of --authapi-base-url (or of the environment of --chatgpt-base-url),
// or, without --runtime-id, the identity $CODEX_HOME (or --codex-home) holds,
// found as identity.Load finds it. The task is not saved.
//
// jwt decode --insecure [--token-file FILE | --token-stdin]: prints the
// claims of an Agent Identity JWT WITHOUT verifying it, as
// {"verified":false,"warning":…,"claims":{…}}, and says so on standard error.
// --insecure is required, since nothing is verified.
//
// jwt verify [--token-file FILE | --token-stdin] [--chatgpt-base-url URL]
// [--jwks-url URL] [--issuer ISS] [--audience AUD]: verifies the token against
// the JWKS, issuer and audience of the resolved environment (or the flags) and
// prints {"verified":true,"claims":{…}}; a refused token exits 1.
//
// provision [--codex-home DIR] [--json]: identity.Load with the ChatGPT-auth
// policy on $CODEX_HOME (or DIR), then the run task; prints the agent runtime
// id, the task id and the account. A new identity is saved to auth.json.
//
// status [--codex-home DIR] [--json]: what $CODEX_HOME holds: config.toml,
// the environment, auth.json's auth mode, the agent_identity form ("none",
// "jwt" or "record"), runtime id, account, task id, whether a ChatGPT login is
// present, and which variables are set; secrets only as present, absent or
// "<redacted>". No network request. Exits 1 if a file cannot be parsed.
//
// serve [--addr 127.0.0.1:0] [--codex-home DIR] [--tls]: runs the fake
// backend in the foreground on a loopback port (the only addresses
// supported), prints the override variables (and CODEX_HOME when DIR is
// given: DIR then gets a minted ChatGPT login, the opt-in and a config.toml a
// real Codex CLI accepts with --strict-config), one line per request on
// standard error (method, path, auth scheme, verdict; never a credential),
// and blocks until SIGINT or SIGTERM, then exits 0. With --tls it serves
// https with a CA made for the run, writes only the CA certificate to a file
// and prints the trust variables scoped to the Codex command line.
//
// gateway --keys FILE --upstream URL [--listen 127.0.0.1:PORT]
// [--tls-cert F --tls-key F]: a verifying reverse proxy: requests whose
// AgentAssertion verifies against the agents of FILE (JSON lines) are
// forwarded with X-Agent-Runtime-Id and X-Agent-Task-Id set (incoming copies
// removed) and, by default, without Authorization and ChatGPT-Account-ID;
// others get 401 or 403 and never reach the upstream.
//
// version: the version of the binary, from its build information.
package main
