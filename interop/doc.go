// Package interop runs the real Codex CLI (0.171.0, the npm package
// @openai/codex@0.171.0-linux-x64) against this module's fake backend
// (identity/identitytest) and checks that the two agree byte for byte.
//
// Its only code is a test behind the build tag "interop"; run it with
// "make interop". The test fetches Codex with npm pack into a cache outside
// the repository ($AGENTID_CODEX_CACHE, default
// ~/.cache/agentidentity/codex-0.171.0), then re-runs itself inside a new
// network namespace that has nothing but loopback (unshare -rn), where it
// starts the fake backend and runs every Codex command under timeout, so
// that Codex can reach no other address. It prints one PASS or FAIL row per
// check with its evidence and, last, "codex-interop: N/M rows pass".
package interop
