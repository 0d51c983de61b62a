// Package interop runs the real Codex CLI (0.171.0, the npm package
// @openai/codex@0.171.0-linux-x64) against this module's fake backend
// (identity/identitytest) and checks that the two agree byte for byte.
//
// Its only code is tests: the suite behind the build tag "interop" (run it
// with "make interop"), and the logic of its drift report, which needs
// neither Codex nor the network and is tested by a plain "go test". The
// suite fetches Codex with npm pack into a cache outside the repository
// (codex-<version> in $AGENTID_CODEX_CACHE, default ~/.cache/agentidentity),
// then re-runs itself inside a new network namespace that has nothing but
// loopback (unshare -rn), where it starts the fake backend and runs every
// Codex command under timeout, so that Codex can reach no other address. It
// prints one PASS or FAIL row per check with its evidence and
// "codex-interop: N/M rows pass". $AGENTID_CODEX_VERSION names another
// release than 0.171.0 to run.
//
// That run decides. Then, when npm's latest Codex release differs from it
// (npm view @openai/codex dist-tags), the same rows run against latest as a
// report (its lines start with "drift| "; a golden file that differs is
// noted on its row, its first differing line, instead of failing it), and a
// table names each row whose verdict or evidence changed (wall times,
// request counts and other values that vary from run to run of one release
// left out), ending with "codex-drift: <latest>: K of M rows changed", or
// "codex-drift: latest is 0.171.0, nothing to compare". The report never
// fails the suite; it is bounded to 10 minutes, and a look-up that fails
// prints one line saying the report was skipped and why.
// $AGENTID_CODEX_DRIFT_VERSION names the release to compare with instead of
// npm's latest (the report then runs even when it is the pinned one), or
// "off".
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
//
// The rows named "(…-ours)" (ours_test.go) set this module up as Codex was
// in the row of the same letter and run it against the same stand-in, with
// production URLs and no overrides (its client dials the compiled-in names
// to 127.0.0.1:443 and trusts only the run's CA): its requests are rendered
// as Codex's were and compared with the same golden files, byte for byte
// but for the headers Go's transport sets (user-agent, accept,
// accept-encoding) and the differences docs/protocol.md records as not
// implemented (Codex's originator header), which each such row names in its
// evidence with both sides' values.
package interop
