package interop

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// What `npm view @openai/codex dist-tags --json` and `npm view
// @openai/codex@0.171.0 optionalDependencies --json` answered when the
// pinned release was the latest.
const (
	recordedDistTags     = "{\n  \"latest\": \"0.171.0\"\n}\n"
	recordedOptionalDeps = `{
  "@openai/codex-linux-x64": "npm:@openai/codex@0.171.0-linux-x64",
  "@openai/codex-linux-arm64": "npm:@openai/codex@0.171.0-linux-arm64",
  "@openai/codex-darwin-x64": "npm:@openai/codex@0.171.0-darwin-x64",
  "@openai/codex-darwin-arm64": "npm:@openai/codex@0.171.0-darwin-arm64",
  "@openai/codex-win32-x64": "npm:@openai/codex@0.171.0-win32-x64",
  "@openai/codex-win32-arm64": "npm:@openai/codex@0.171.0-win32-arm64"
}
`
)

func TestDriftPlan(t *testing.T) {
	answer := func(s string) func() ([]byte, error) { return func() ([]byte, error) { return []byte(s), nil } }
	for _, tc := range []struct {
		name, override string
		distTags       func() ([]byte, error)
		target, line   string
		// prefix: line is what the printed line starts with (the rest is
		// encoding/json's message)
		prefix bool
	}{
		{"latest is the pinned release", "", answer(recordedDistTags), "", "codex-drift: latest is 0.171.0, nothing to compare", false},
		{"latest differs", "", answer(`{"latest":"0.172.0","alpha":"0.173.0-alpha.1","native":"0.172.0-linux-x64"}`), "0.172.0", "", false},
		{"latest is a pre-release", "", answer(`{"latest":"0.172.0-alpha.2"}`), "0.172.0-alpha.2", "", false},
		{"npm fails", "", func() ([]byte, error) {
			return nil, errors.New("npm view @openai/codex dist-tags: exit status 1: npm error code E404")
		},
			"", "codex-drift: drift report skipped: cannot tell npm's latest Codex: npm view @openai/codex dist-tags: exit status 1: npm error code E404", false},
		{"npm answers no latest", "", answer(`{"next":"0.172.0"}`), "", "codex-drift: drift report skipped: cannot tell npm's latest Codex: unusable npm answer: no latest dist-tag", false},
		{"npm answers no JSON", "", answer(`npm warn config`), "", "codex-drift: drift report skipped: cannot tell npm's latest Codex: unusable npm answer: dist-tags are not a JSON object of strings: ", true},
		{"latest is a number", "", answer(`{"latest":172}`), "", "codex-drift: drift report skipped: cannot tell npm's latest Codex: unusable npm answer: dist-tags are not a JSON object of strings: ", true},
		{"latest is a path", "", answer(`{"latest":"../../../etc"}`), "", `codex-drift: drift report skipped: cannot tell npm's latest Codex: unusable npm answer: latest dist-tag "../../../etc" is not a version`, false},
		{"latest carries an option", "", answer(`{"latest":"0.172.0 --registry=http://example.com"}`), "", `codex-drift: drift report skipped: cannot tell npm's latest Codex: unusable npm answer: latest dist-tag "0.172.0 --registry=http://example.com" is not a version`, false},
		{"override off", "off", nil, "", "codex-drift: drift report skipped: AGENTID_CODEX_DRIFT_VERSION=off", false},
		{"override the pinned release: compared all the same", "0.171.0", nil, "0.171.0", "", false},
		{"override not a version", "latest", nil, "", `codex-drift: drift report skipped: AGENTID_CODEX_DRIFT_VERSION="latest" is not a version`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target, line := planDrift(pinnedCodexVersion, tc.override, tc.distTags)
			assert.Equal(t, tc.target, target)
			if tc.prefix {
				assert.True(t, strings.HasPrefix(line, tc.line), line)
				assert.Greater(t, len(line), len(tc.line), line)
				return
			}
			assert.Equal(t, tc.line, line)
		})
	}
}

func TestDriftNativePackage(t *testing.T) {
	for _, tc := range []struct {
		name, version, deps, want, err string
	}{
		{"as published", "0.171.0", recordedOptionalDeps, "@openai/codex@0.171.0-linux-x64", ""},
		{"a newer release", "0.172.0", `{"@openai/codex-linux-x64":"npm:@openai/codex@0.172.0-linux-x64"}`, "@openai/codex@0.172.0-linux-x64", ""},
		{"no Linux x64 build", "0.172.0", `{"@openai/codex-darwin-arm64":"npm:@openai/codex@0.172.0-darwin-arm64"}`, "", "has no @openai/codex-linux-x64"},
		{"another version's build", "0.172.0", `{"@openai/codex-linux-x64":"npm:@openai/codex@0.171.0-linux-x64"}`, "", `is "npm:@openai/codex@0.171.0-linux-x64", want "npm:@openai/codex@0.172.0-linux-x64"`},
		{"another package", "0.172.0", `{"@openai/codex-linux-x64":"npm:evil@0.172.0-linux-x64"}`, "", "want"},
		{"a tarball URL", "0.172.0", `{"@openai/codex-linux-x64":"https://example.com/codex.tgz"}`, "", "want"},
		{"not JSON", "0.172.0", ``, "", "not a JSON object"},
		{"no optional dependencies", "0.172.0", "\n", "", "not a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := nativePackage(tc.version, []byte(tc.deps))
			if tc.err != "" {
				require.ErrorIs(t, err, errDriftLookup)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// pinnedRun is a recorded run against the pinned release (evidence
// shortened).
var pinnedRun = []rowResult{
	{Name: "(a) ChatGPT opt-in registers 1 agent + 1 task, bodies byte-equal, turn completes", Pass: true, Evidence: "rc=0 in 3.1s, 9 requests, 6 signed and verified"},
	{Name: "(b) restart reuses the stored agent and task: zero registrations", Pass: true, Evidence: "rc=0 in 2.4s, 7 requests, 6 signed and verified"},
	{Name: "(m) CODEX_ACCESS_TOKEN=at-…: whoami lookup as recorded", Pass: true, Evidence: "1 whoami lookups; rc=0 in 1.9s, 8 requests"},
	{Name: "(w) partial or broken workload configurations: Codex's errors verbatim as recorded, no request made", Pass: true, Evidence: "12 configurations"},
	{Name: "(y1) workload identity and CODEX_ACCESS_TOKEN=at-… both set: the workload identity wins", Pass: true, Evidence: "1 lookups of the token, 1 exchange; rc=0 in 2.0s, 9 requests"},
	{Name: "credentials: stand-in for the compiled-in hosts on 127.0.0.1:443", Pass: false, Evidence: "Get \"https://chatgpt.com/backend-api/codex/models\": dial tcp 127.0.0.1:41234: connection refused"},
}

// withRow returns run with the row named like prefix replaced by edit's.
func withRow(run []rowResult, prefix string, edit func(*rowResult)) []rowResult {
	out := append([]rowResult(nil), run...)
	for i := range out {
		if strings.HasPrefix(out[i].Name, prefix) {
			edit(&out[i])
		}
	}
	return out
}

func without(run []rowResult, prefix string) []rowResult {
	var out []rowResult
	for _, r := range run {
		if !strings.HasPrefix(r.Name, prefix) {
			out = append(out, r)
		}
	}
	return out
}

func TestDriftCompareRows(t *testing.T) {
	for _, tc := range []struct {
		name   string
		latest []rowResult
		want   []driftChange
		total  int
	}{
		{"the same run", pinnedRun, nil, 6},
		{"only what differs from run to run of one release differs", withRow(withRow(withRow(pinnedRun, "(a)", func(r *rowResult) {
			r.Evidence = "rc=0 in 12.7s, 11 requests, 6 signed and verified"
		}), "(m)", func(r *rowResult) {
			r.Evidence = "1 whoami lookups; rc=0 in 0.6s, 21 requests"
		}), "credentials", func(r *rowResult) {
			r.Evidence = "Get \"https://chatgpt.com/backend-api/codex/models\": dial tcp 127.0.0.1:5001: connection refused"
		}), nil, 6},
		{"a row now fails", withRow(pinnedRun, "(b)", func(r *rowResult) {
			r.Pass, r.Evidence = false, "1 agent and 1 task registrations on restart, want 0 (rc=0 in 2.5s, 9 requests, 6 signed and verified)"
		}), []driftChange{{"(b)", "PASS", "FAIL", "now fails: 1 agent and 1 task registrations on restart, want 0 (rc=0 in 2.5s, 9 requests, 6 signed and verified)"}}, 6},
		{"a row now passes", withRow(pinnedRun, "credentials", func(r *rowResult) { r.Pass, r.Evidence = true, "" }),
			[]driftChange{{"credentials", "FAIL", "PASS", `now passes (pinned failed: Get "https://chatgpt.com/backend-api/codex/models": dial tcp 127.0.0.1:41234: connection refused)`}}, 6},
		{"a golden file differs", withRow(pinnedRun, "(m)", func(r *rowResult) {
			r.Golden = []string{`differs from testdata/codex-0.171/m-pat-env.txt at line 4: recorded "originator: codex_exec" now "originator: codex-exec"`}
		}), []driftChange{{"(m)", "PASS", "GOLDEN", `differs from testdata/codex-0.171/m-pat-env.txt at line 4: recorded "originator: codex_exec" now "originator: codex-exec"`}}, 6},
		{"the evidence differs", withRow(pinnedRun, "(y1)", func(r *rowResult) {
			r.Evidence = "2 lookups of the token, 1 exchange; rc=0 in 2.0s, 10 requests"
		}), []driftChange{{"(y1)", "PASS", "PASS", `evidence: pinned "1 lookups of the…", latest "2 lookups of the…"`}}, 6},
		{"the run against latest ended early", without(without(pinnedRun, "(y1)"), "credentials"), []driftChange{
			{"(y1)", "PASS", "none", "the run against latest recorded no such row (it ended early, or the row is gone)"},
			{"credentials", "FAIL", "none", "the run against latest recorded no such row (it ended early, or the row is gone)"},
		}, 6},
		{"a row only latest has", append(append([]rowResult(nil), pinnedRun...), rowResult{Name: "(z) a new row", Pass: true, Evidence: "ok"}),
			[]driftChange{{"(z)", "none", "PASS", "a row only the run against latest has: ok"}}, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, total := compareRows(pinnedRun, tc.latest)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.total, total)
		})
	}
}

func TestDriftEvidenceDiff(t *testing.T) {
	for _, tc := range []struct{ name, a, b, want string }{
		{"a number in the middle", "rc=0 in <t>s, 9 requests, 6 signed", "rc=0 in <t>s, 11 requests, 6 signed", `pinned "…in <t>s, 9 requests, 6 signed", latest "…in <t>s, 11 requests, 6 signed"`},
		{"at the start", "9 requests", "10 requests", `pinned "9 requests", latest "10 requests"`},
		{"appended", "12 configurations", "12 configurations; 1 more", `pinned "12 configurations", latest "12 configurations; 1 more"`},
		{"long evidence clipped", strings.Repeat("x", 300), strings.Repeat("y", 300), `pinned "` + strings.Repeat("x", 109) + `…", latest "` + strings.Repeat("y", 109) + `…"`},
		{"lines made one", "a\nb\nc", "a\nB\nc", `pinned "a b c", latest "a B c"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, evidenceDiff(tc.a, tc.b))
		})
	}
}

func TestDriftReport(t *testing.T) {
	for _, tc := range []struct {
		name   string
		latest []rowResult
		want   string
	}{
		{"nothing changed", pinnedRun, "codex-drift: 0.172.0: 0 of 6 rows changed\n"},
		{"two rows changed", withRow(withRow(pinnedRun, "(b)", func(r *rowResult) {
			r.Pass, r.Evidence = false, "1 agent and 1 task registrations on restart, want 0"
		}), "(w)", func(r *rowResult) {
			r.Golden = []string{`differs from testdata/codex-0.171/w-wif-config-errors.txt at line 2: recorded "Error: x" now "Error: y"`}
		}), `codex-drift: rows that changed from 0.171.0 to 0.172.0 (the pinned run decided; this is a report):
  row  0.171.0  0.172.0  what changed
  (b)  PASS     FAIL     now fails: 1 agent and 1 task registrations on restart, want 0
  (w)  PASS     GOLDEN   differs from testdata/codex-0.171/w-wif-config-errors.txt at line 2: recorded "Error: x" now "Error: y"
codex-drift: 0.172.0: 2 of 6 rows changed
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			changed, total := writeDriftReport(&b, pinnedCodexVersion, "0.172.0", pinnedRun, tc.latest)
			assert.Equal(t, tc.want, b.String())
			assert.Equal(t, strings.Count(tc.want, "\n  ("), changed)
			assert.Equal(t, 6, total)
		})
	}
}

func TestDriftReadRowResults(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []rowResult
		err      string
	}{
		{"two rows", `{"name":"(a) x","pass":true,"evidence":"e"}` + "\n" + `{"name":"(b) y","pass":false,"evidence":"f","golden":["g"]}` + "\n",
			[]rowResult{{Name: "(a) x", Pass: true, Evidence: "e"}, {Name: "(b) y", Evidence: "f", Golden: []string{"g"}}}, ""},
		{"a last line cut off", `{"name":"(a) x","pass":true,"evidence":"e"}` + "\n" + `{"name":"(b) y","pa`,
			[]rowResult{{Name: "(a) x", Pass: true, Evidence: "e"}}, ""},
		{"a bad line before the last", `{"name":"(a) x"` + "\n" + `{"name":"(b) y","pass":true}` + "\n", nil, "a recorded row is not a row"},
		{"a row without a name", `{"pass":true}` + "\n" + `{"name":"(b) y","pass":true}` + "\n", nil, "a recorded row is not a row"},
		{"nothing", "", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readRowResults(strings.NewReader(tc.in))
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestDriftRowID(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"a letter", "(a) ChatGPT opt-in registers", "(a)"},
		{"a letter and a digit", "(y1) workload identity: wins", "(y1)"},
		{"no parenthesis: up to the colon", "credentials: stand-in for the compiled-in hosts", "credentials"},
		{"neither", "network namespace", "network namespace"},
		{"long", strings.Repeat("n", 50), strings.Repeat("n", 39) + "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, rowID(tc.in))
		})
	}
}

// TestDriftNormalizeEvidence holds with the evidence of two runs of the same
// release (0.171.0), recorded: what differs between them is not drift.
func TestDriftNormalizeEvidence(t *testing.T) {
	for _, tc := range []struct{ name, first, second string }{
		{"(l) sequence numbers and request counts", "refresh #1 of 19 requests, agent registration #13 with the refreshed token; rc=0 in 0.6s, 19 requests",
			"refresh #1 of 17 requests, agent registration #8 with the refreshed token; rc=0 in 0.7s, 17 requests"},
		{"(p) wall time", "4 lookups, then 13 requests to api.openai.com without Authorization; rc=1 in 13.3s, 18 requests",
			"4 lookups, then 13 requests to api.openai.com without Authorization; rc=1 in 12.6s, 18 requests"},
		{"(s) two commands", "plain: rc=0 in 1.2s, 18 requests; odd bytes and a context: rc=0 in 0.9s, 18 requests",
			"plain: rc=0 in 0.7s, 16 requests; odd bytes and a context: rc=0 in 0.7s, 16 requests"},
		{"(v) exchanges of a token of one second", "3 exchanges; rc=0 in 6.1s, 24 requests", "2 exchanges; rc=0 in 5.6s, 21 requests"},
		{"(y4) both opt-in settings", "opt-in false: rc=0 in 0.6s, 21 requests; opt-in true: rc=0 in 0.5s, 21 requests",
			"opt-in false: rc=0 in 0.7s, 19 requests; opt-in true: rc=0 in 0.8s, 19 requests"},
		{"(e) signed requests", "rc=0 in 0.8s, 21 requests, 11 signed and verified, 4 task registrations",
			"rc=0 in 0.6s, 23 requests, 13 signed and verified, 4 task registrations"},
		{"(f) assertions compared", "33 headers compared", "35 headers compared"},
		{"temporary folders and ports", "session bus unix:path=/tmp/codex-interop-2625095758/keyring/run/dbus-x and 127.0.0.1:43801",
			"session bus unix:path=/tmp/codex-interop-2940963575/keyring/run/dbus-x and 127.0.0.1:34183"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.NotEqual(t, tc.first, tc.second)
			assert.Equal(t, normalizeEvidence(tc.first), normalizeEvidence(tc.second))
		})
	}
	for _, tc := range []struct{ name, pinned, latest string }{
		{"a count a row checks", "rc=0 in 0.8s, 21 requests, 11 signed and verified, 4 task registrations", "rc=0 in 0.8s, 21 requests, 11 signed and verified, 5 task registrations"},
		{"nothing signed any more", "rc=0 in 0.8s, 16 requests, 2 signed and verified", "rc=0 in 0.8s, 16 requests"},
		{"a lookup more", "4 lookups, then 13 requests", "5 lookups, then 13 requests"},
		{"a word", `login status "Logged in using personal access token"`, `login status "Logged in using an access token"`},
	} {
		t.Run("kept: "+tc.name, func(t *testing.T) {
			assert.NotEqual(t, normalizeEvidence(tc.pinned), normalizeEvidence(tc.latest))
		})
	}
}
