package interop

// The drift report: what changes when the rows of the suite run against
// another Codex release (npm's latest) than the pinned one. This file has no
// build tag, so that its logic, which touches neither the network nor
// Codex, is tested by a plain "go test" (drift_report_test.go); the runs
// themselves are in drift_run_test.go (build tag interop).

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

const (
	// pinnedCodexVersion is the Codex release whose run decides whether
	// the suite passes (AGENTID_CODEX_VERSION names another).
	pinnedCodexVersion = "0.171.0"
	// codexNpmName is the npm package of the Codex CLI; its native Linux
	// build is published as the version "<version>-linux-x64" of it.
	codexNpmName = "@openai/codex"
	// driftLinePrefix starts every line of the drift report.
	driftLinePrefix = "codex-drift: "
)

// rowResult is one row of a run as the copy inside the namespace records
// it, one JSON object a line, for the drift report to compare.
type rowResult struct {
	Name     string `json:"name"`
	Pass     bool   `json:"pass"`
	Evidence string `json:"evidence"`
	// Golden holds, in report mode only, the first differing line of
	// each golden file the row compared and found different: the row
	// reports it instead of failing.
	Golden []string `json:"golden,omitempty"`
}

// verdict is PASS or FAIL, or GOLDEN for a row of a report-mode run whose
// checks passed but whose recorded bytes differ from a golden file.
func (r rowResult) verdict() string {
	switch {
	case !r.Pass:
		return "FAIL"
	case len(r.Golden) > 0:
		return "GOLDEN"
	}
	return "PASS"
}

// readRowResults reads the JSON lines a run recorded. A last line cut off
// (the run was ended while it wrote) is left out; any other bad line is an
// error.
func readRowResults(r io.Reader) ([]rowResult, error) {
	var out []rowResult
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	var pendingErr error
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if pendingErr != nil {
			return nil, pendingErr
		}
		var rr rowResult
		if err := json.Unmarshal(line, &rr); err != nil || rr.Name == "" {
			pendingErr = fmt.Errorf("a recorded row is not a row: %.80q", line)
			continue
		}
		out = append(out, rr)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// versionPattern is what this suite accepts as a Codex version from npm:
// it becomes part of a folder name and of an npm package specification.
var versionPattern = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z][0-9A-Za-z.]*)?$`)

// errDriftLookup is the cause of every refused npm answer.
var errDriftLookup = errors.New("unusable npm answer")

// latestFromDistTags returns the "latest" tag of `npm view @openai/codex
// dist-tags --json`.
func latestFromDistTags(distTags []byte) (string, error) {
	var tags map[string]string
	if err := json.Unmarshal(distTags, &tags); err != nil {
		return "", fmt.Errorf("%w: dist-tags are not a JSON object of strings: %v", errDriftLookup, err)
	}
	latest, ok := tags["latest"]
	if !ok {
		return "", fmt.Errorf("%w: no latest dist-tag", errDriftLookup)
	}
	if !versionPattern.MatchString(latest) {
		return "", fmt.Errorf("%w: latest dist-tag %.40q is not a version", errDriftLookup, latest)
	}
	return latest, nil
}

// planDrift decides what the report does after the deciding run against
// version: compare with target, or print line (the last line of the
// report) and stop. override is AGENTID_CODEX_DRIFT_VERSION: "off" skips
// the report, a version is compared with even when it is version itself;
// empty asks npm for its latest release through distTags.
func planDrift(version, override string, distTags func() ([]byte, error)) (target, line string) {
	switch {
	case override == "off":
		return "", driftSkipped("AGENTID_CODEX_DRIFT_VERSION=off")
	case override != "":
		if !versionPattern.MatchString(override) {
			return "", driftSkipped(fmt.Sprintf("AGENTID_CODEX_DRIFT_VERSION=%.40q is not a version", override))
		}
		return override, ""
	}
	tags, err := distTags()
	if err == nil {
		target, err = latestFromDistTags(tags)
	}
	if err != nil {
		return "", driftSkipped("cannot tell npm's latest Codex: " + err.Error())
	}
	if target == version {
		return "", nothingToCompare(version)
	}
	return target, ""
}

// nativePackage returns the npm package specification of the Linux x64
// build of version, from `npm view @openai/codex@<version>
// optionalDependencies --json`: the alias "npm:@openai/codex@<version>-linux-x64"
// of the member "@openai/codex-linux-x64". Any other shape is refused, so
// that npm is never asked for a package outside @openai/codex.
func nativePackage(version string, optionalDeps []byte) (string, error) {
	var deps map[string]string
	if err := json.Unmarshal(optionalDeps, &deps); err != nil {
		return "", fmt.Errorf("%w: optionalDependencies of %s are not a JSON object of strings: %v", errDriftLookup, version, err)
	}
	alias, ok := deps[codexNpmName+"-linux-x64"]
	if !ok {
		return "", fmt.Errorf("%w: %s@%s has no %s-linux-x64 among its optionalDependencies", errDriftLookup, codexNpmName, version, codexNpmName)
	}
	want := "npm:" + codexNpmName + "@" + version + "-linux-x64"
	if alias != want {
		return "", fmt.Errorf("%w: %s-linux-x64 of %s is %.80q, want %q", errDriftLookup, codexNpmName, version, alias, want)
	}
	return strings.TrimPrefix(alias, "npm:"), nil
}

// rowID is the short name of a row: its "(a)" or "(y1)", or the part of its
// name before the first colon.
func rowID(name string) string {
	if strings.HasPrefix(name, "(") {
		if i := strings.Index(name, ")"); i > 0 {
			return name[:i+1]
		}
	}
	if i := strings.Index(name, ":"); i > 0 {
		name = name[:i]
	}
	return clip(name, 40)
}

// Evidence that changes from run to run of the same Codex release (runs
// of 0.171.0 compared: wall times; how many requests a run made in all,
// and so how many of them were signed and how many assertions row (f)
// compared; where in the sequence a request came; how many exchanges a
// token of one second needed), and the run's temporary folders and
// loopback ports. Counts of what a row checks (registrations, lookups,
// routes) are kept.
var (
	secondsPattern   = regexp.MustCompile(`\b[0-9]+\.[0-9]+s\b`)
	requestsPattern  = regexp.MustCompile(`\b[0-9]+ requests\b`)
	seqPattern       = regexp.MustCompile(`#[0-9]+\b`)
	exchangesPattern = regexp.MustCompile(`\b[0-9]+ exchanges\b`)
	signedPattern    = regexp.MustCompile(`\b[0-9]+ (signed and verified|headers compared)\b`)
	tmpPattern       = regexp.MustCompile(`[^\s"]*/codex-[a-z]+-[0-9]+`)
	portPattern      = regexp.MustCompile(`\b127\.0\.0\.1:[0-9]+`)
)

// normalizeEvidence is evidence without what changes from run to run.
func normalizeEvidence(s string) string {
	s = secondsPattern.ReplaceAllString(s, "<t>s")
	s = requestsPattern.ReplaceAllString(s, "<n> requests")
	s = seqPattern.ReplaceAllString(s, "#<n>")
	s = exchangesPattern.ReplaceAllString(s, "<n> exchanges")
	s = signedPattern.ReplaceAllString(s, "<n> $1")
	s = tmpPattern.ReplaceAllString(s, "<tmp>")
	return portPattern.ReplaceAllString(s, "127.0.0.1:<port>")
}

// driftChange is one row of the drift table.
type driftChange struct {
	ID, Pinned, Latest, What string
}

// compareRows returns the rows whose verdict or evidence (normalized)
// differs between the two runs, in the pinned run's order (rows only the
// latest run has come last), and the number of rows compared (of either
// run).
func compareRows(pinned, latest []rowResult) ([]driftChange, int) {
	byName := map[string]rowResult{}
	for _, r := range latest {
		if _, dup := byName[r.Name]; !dup {
			byName[r.Name] = r
		}
	}
	var out []driftChange
	seen := map[string]bool{}
	for _, p := range pinned {
		if seen[p.Name] {
			continue
		}
		seen[p.Name] = true
		l, ok := byName[p.Name]
		if !ok {
			out = append(out, driftChange{rowID(p.Name), p.verdict(), "none", "the run against latest recorded no such row (it ended early, or the row is gone)"})
			continue
		}
		if c, changed := compareRow(p, l); changed {
			out = append(out, c)
		}
	}
	var extra []string
	for _, l := range latest {
		if !seen[l.Name] {
			seen[l.Name] = true
			extra = append(extra, l.Name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		l := byName[name]
		out = append(out, driftChange{rowID(name), "none", l.verdict(), "a row only the run against latest has: " + oneLine(l.Evidence, 160)})
	}
	return out, len(seen)
}

func compareRow(p, l rowResult) (driftChange, bool) {
	c := driftChange{ID: rowID(p.Name), Pinned: p.verdict(), Latest: l.verdict()}
	switch {
	case l.verdict() == "GOLDEN" && (c.Pinned != c.Latest || !slices.Equal(p.Golden, l.Golden)):
		c.What = oneLine(strings.Join(l.Golden, "; "), 240)
	case c.Latest == "FAIL" && c.Pinned != "FAIL":
		c.What = "now fails: " + oneLine(l.Evidence, 200)
	case c.Pinned == "FAIL" && c.Latest != "FAIL":
		c.What = "now passes (pinned failed: " + oneLine(p.Evidence, 160) + ")"
	case c.Pinned != c.Latest:
		c.What = "now " + c.Latest + ": " + oneLine(l.Evidence, 200)
	default:
		pe, le := normalizeEvidence(p.Evidence), normalizeEvidence(l.Evidence)
		if pe == le {
			return c, false
		}
		c.What = "evidence: " + evidenceDiff(pe, le)
	}
	return c, true
}

// evidenceDiff is one line naming where two evidence texts differ: the
// words that differ in each, with two words before them and three after.
func evidenceDiff(a, b string) string {
	wa, wb := strings.Fields(a), strings.Fields(b)
	pre := 0
	for pre < len(wa) && pre < len(wb) && wa[pre] == wb[pre] {
		pre++
	}
	suf := 0
	for suf < len(wa)-pre && suf < len(wb)-pre && wa[len(wa)-1-suf] == wb[len(wb)-1-suf] {
		suf++
	}
	start, after := max(0, pre-2), min(3, suf)
	part := func(w []string) string {
		end := len(w) - suf + after
		s := strings.Join(w[start:end], " ")
		if start > 0 {
			s = "…" + s
		}
		if end < len(w) {
			s += "…"
		}
		return clip(s, 110)
	}
	return fmt.Sprintf("pinned %q, latest %q", part(wa), part(wb))
}

// oneLine is s on one line (runs of white space made one space), at most n
// runes.
func oneLine(s string, n int) string {
	return clip(strings.Join(strings.Fields(s), " "), n)
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// writeDriftReport prints the table of the rows that changed between the
// pinned run and the run against latest, then the last line
// "codex-drift: <latest>: K of M rows changed". It returns K and M.
func writeDriftReport(w io.Writer, pinnedVersion, latestVersion string, pinned, latest []rowResult) (int, int) {
	changes, total := compareRows(pinned, latest)
	if len(changes) > 0 {
		fmt.Fprintf(w, "%srows that changed from %s to %s (the pinned run decided; this is a report):\n", driftLinePrefix, pinnedVersion, latestVersion)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  row\t%s\t%s\twhat changed\n", pinnedVersion, latestVersion)
		for _, c := range changes {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.ID, c.Pinned, c.Latest, c.What)
		}
		_ = tw.Flush()
	}
	fmt.Fprintf(w, "%s%s: %d of %d rows changed\n", driftLinePrefix, latestVersion, len(changes), total)
	return len(changes), total
}

// nothingToCompare is the last line when latest is the pinned release.
func nothingToCompare(version string) string {
	return fmt.Sprintf("%slatest is %s, nothing to compare", driftLinePrefix, version)
}

// driftSkipped is the one line printed when the report cannot run.
func driftSkipped(why string) string {
	return driftLinePrefix + "drift report skipped: " + oneLine(why, 300)
}
