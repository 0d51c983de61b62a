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
//
// The credential rows (credentials_test.go) run Codex without any base URL
// override: each of those Codex commands starts in a mount namespace of its
// own (unshare -m, inside the same loopback-only user and network
// namespace) where a private hosts file, bind-mounted over /etc/hosts, maps
// the hosts Codex has compiled in (auth.openai.com, chatgpt.com, their
// staging twins and api.openai.com) to 127.0.0.1. A recording stand-in
// serves them on 127.0.0.1:443 with a certificate from a CA made for the
// run (name-constrained to those hosts, server authentication only) that
// only the Codex process is told to trust. What Codex sent is compared with
// the record in testdata/codex-0.171 (see testdata/codex-0.171-credentials.md).
package interop
