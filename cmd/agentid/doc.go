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
// "agentid help" lists them, and "agentid help COMMAND" shows each one's
// usage, flags, examples and JSON fields (the same text is kept in
// testdata/help and in the README): demo, endpoints, keygen, assert,
// verify, register-task, jwt decode, jwt verify, provision, status, serve,
// gateway, version, help and completion.
//
// Network commands trust the system roots (and SSL_CERT_FILE) plus, as the
// Codex CLI does, the PEM bundle $CODEX_CA_CERTIFICATE names; "agentid serve
// --tls" prints both variables as the prefix of each command line it shows.
// On a terminal, commands that read a secret or a header from standard input
// say so, and long work (demo, the start-up of serve and gateway, provision
// waiting for a lock) shows its progress and names what it waits for after a
// second.
package main
