// Package codexhome reads and writes the Codex CLI's files in $CODEX_HOME
// (default ~/.codex) the way the Codex CLI does: auth.json ([Store],
// [AuthFile], the agent identity record, the ChatGPT login and its tokens),
// its locks, the OS keyring store that cli_auth_credentials_store selects,
// and config.toml ([LoadConfig]).
//
// The file formats, locks and stores are part of the wire contract in
// docs/protocol.md of the module's repository (docs/protocol.md#auth-json).
package codexhome
