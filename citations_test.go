package agentidentity

import (
	"bufio"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// protocolDoc is the contract document that comments cite, relative to the
// module root.
const protocolDoc = "docs/protocol.md"

// outsideCitations are the ways a comment can point at something a reader of
// the module cannot open: the wire contract's source text, research notes,
// issue and pull request threads (ours or upstream's) and upstream source
// files live outside the repository. A comment cites
// docs/protocol.md#<anchor> instead, or says the reason itself.
var outsideCitations = []struct {
	name string
	re   *regexp.Regexp
}{
	{"spec section", regexp.MustCompile(`(?i)\bspec\s*(§|section\b)`)},
	{"the spec's", regexp.MustCompile(`(?i)\bthe spec's\b`)},
	{"notes file", regexp.MustCompile(`\bnotes/\S`)},
	{"issue number", regexp.MustCompile(`(?i)\bissues?\s+#?\d`)},
	{"issue section", regexp.MustCompile(`#\d+\s*§`)},
	{"pull request", regexp.MustCompile(`(?i)\b(PRs?|pull\s+requests?)\s*#?\d`)},
	{"pull request URL", regexp.MustCompile(`\bpulls?/\d`)},
	{"issue URL", regexp.MustCompile(`\bissues/\d`)},
	{"upstream source file", regexp.MustCompile(`\bcodex-rs/|\b[\w-]+\.rs\b`)},
}

// protocolCitation matches a citation of the contract document; the group
// is the anchor.
var protocolCitation = regexp.MustCompile(regexp.QuoteMeta(protocolDoc) + `#([A-Za-z0-9_-]+)`)

// citationProblems returns the names of the outsideCitations rows that text
// (a comment, or a line of a text file) matches, in table order.
func citationProblems(text string) []string {
	var names []string
	for _, c := range outsideCitations {
		if c.re.MatchString(text) {
			names = append(names, c.name)
		}
	}
	return names
}

// unknownAnchors returns the anchors that text cites in protocolDoc but
// anchors does not hold, in order of appearance.
func unknownAnchors(text string, anchors map[string]bool) []string {
	var bad []string
	for _, m := range protocolCitation.FindAllStringSubmatch(text, -1) {
		if !anchors[m[1]] {
			bad = append(bad, m[1])
		}
	}
	return bad
}

var (
	anchorLine  = regexp.MustCompile(`^<a id="([^"]*)"></a>$`)
	anchorName  = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	localLink   = regexp.MustCompile(`\]\(#([^)]*)\)`)
	headingLine = regexp.MustCompile(`^#{1,6} `)
)

// protocolAnchors reads the anchors of the contract document md and checks
// its structure: every heading (outside code) comes right after an anchor
// line `<a id="name"></a>`, names are short lower-case kebab words and
// unique, and every in-document link [..](#name) names an anchor. It returns
// the anchors and one problem per broken rule.
func protocolAnchors(md string) (map[string]bool, []string) {
	anchors := map[string]bool{}
	var problems []string
	prev, inCode := "", false
	for i, line := range strings.Split(md, "\n") {
		n := i + 1
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		if m := anchorLine.FindStringSubmatch(line); m != nil && !inCode {
			switch {
			case !anchorName.MatchString(m[1]):
				problems = append(problems, lineProblem(n, "anchor %q is not lower-case kebab-case", m[1]))
			case anchors[m[1]]:
				problems = append(problems, lineProblem(n, "anchor %q appears twice", m[1]))
			}
			anchors[m[1]] = true
		}
		if headingLine.MatchString(line) && !inCode && !anchorLine.MatchString(prev) {
			problems = append(problems, lineProblem(n, "heading %q has no anchor line before it", line))
		}
		prev = line
	}
	for _, m := range localLink.FindAllStringSubmatch(md, -1) {
		if !anchors[m[1]] {
			problems = append(problems, "link to #"+m[1]+": no such anchor")
		}
	}
	return anchors, problems
}

func lineProblem(n int, format string, args ...any) string {
	return "line " + strconv.Itoa(n) + ": " + fmt.Sprintf(format, args...)
}

func TestCitationChecker(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"spec section sign", "// the envelope (spec §3)", []string{"spec section"}},
		{"spec section sign, capital", "// Spec §9.", []string{"spec section"}},
		{"spec section sign, no space", "// spec§4", []string{"spec section"}},
		{"spec section word", "// the rule of spec section 1", []string{"spec section"}},
		{"the spec's", "// exactly the spec's shape", []string{"the spec's"}},
		{"notes file", "// see notes/codex-research.md Q1", []string{"notes file"}},
		{"issue number", "// pins the conventions of issue 10", []string{"issue number"}},
		{"issue number with section", "// Self-healing tasks (issue 14 §4).", []string{"issue number"}},
		{"issues range", "// issues 10–15", []string{"issue number"}},
		{"issue with hash", "// Issue #7 asked for it", []string{"issue number"}},
		{"issue section", "// as #14 §7 says", []string{"issue section"}},
		{"several at once", "// spec §9, issue 14, #14 §7, notes/codex-oracle.md", []string{"spec section", "notes file", "issue number", "issue section"}},
		{"protocol citation", "// the envelope (docs/protocol.md#envelope)", nil},
		{"RFC section", "// RFC 8032 §7.1 and RFC 9110 §10.2.3", nil},
		{"inspect is not spec", "// inspect section 3 of the answer", nil},
		{"specific is not spec", "// a specific section", nil},
		{"release notes", "// the release notes say so", nil},
		{"an issue without a number", "// a known issue of the Codex CLI", nil},
		{"upstream pull request", "// openai/codex PR #21420 was closed", []string{"pull request"}},
		{"pull request without hash", "// see PR 4269", []string{"pull request"}},
		{"pull requests, words", "// openai/codex pull requests #10636 and #10732", []string{"pull request"}},
		{"pull request URL", "// https://github.com/openai/codex/pull/21420", []string{"pull request URL"}},
		{"issue tracker URL", "// https://github.com/golang/go/issues/1234", []string{"issue URL"}},
		{"upstream source path", "// codex-rs/login/src/auth/manager.rs", []string{"upstream source file"}},
		{"upstream source file", "// workspace_routing.rs in openai/codex", []string{"upstream source file"}},
		{"the word PRs alone", "// PRs welcome", nil},
		{"a crate name is no file", "// the keyring-rs crate", nil},
		{"issues list URL", "// https://github.com/openai/codex/issues", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, citationProblems(tt.text), "%q", tt.text)
		})
	}
}

func TestAnchorChecker(t *testing.T) {
	anchors := map[string]bool{"keys": true, "auth-json-lock": true}
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"known anchor", "// see docs/protocol.md#keys.", nil},
		{"known sub-anchor", "(docs/protocol.md#auth-json-lock)", nil},
		{"unknown anchor", "// see docs/protocol.md#no-such-anchor", []string{"no-such-anchor"}},
		{"two, one unknown", "docs/protocol.md#keys and docs/protocol.md#keyz", []string{"keyz"}},
		{"placeholder is no citation", "cite it as docs/protocol.md#<anchor>", nil},
		{"no citation", "// nothing here", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, unknownAnchors(tt.text, anchors))
		})
	}
}

func TestProtocolAnchorStructure(t *testing.T) {
	tests := []struct {
		name         string
		md           string
		wantAnchors  []string
		wantProblems int
	}{
		{"good", "<a id=\"a\"></a>\n# A\n\n<a id=\"a-b\"></a>\n## B\nsee [A](#a)\n", []string{"a", "a-b"}, 0},
		{"heading without anchor", "<a id=\"a\"></a>\n# A\n\n## B\n", []string{"a"}, 1},
		{"blank line between anchor and heading", "<a id=\"a\"></a>\n\n# A\n", []string{"a"}, 1},
		{"duplicate anchor", "<a id=\"a\"></a>\n# A\n<a id=\"a\"></a>\n## B\n", []string{"a"}, 1},
		{"bad anchor name", "<a id=\"Auth_JSON\"></a>\n# A\n", []string{"Auth_JSON"}, 1},
		{"broken local link", "<a id=\"a\"></a>\n# A\nsee [B](#b)\n", []string{"a"}, 1},
		{"heading inside code", "<a id=\"a\"></a>\n# A\n```sh\n# a shell comment\n```\n", []string{"a"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			anchors, problems := protocolAnchors(tt.md)
			var got []string
			for a := range anchors {
				got = append(got, a)
			}
			slices.Sort(got)
			assert.Equal(t, tt.wantAnchors, got)
			assert.Len(t, problems, tt.wantProblems, "%q", problems)
		})
	}
}

// citationTextFiles are the files other than Go sources whose comments or
// prose must follow the same rules (slash-separated, relative to the module
// root; a folder means every file under it).
var citationTextFiles = []string{"README.md", "docs", "Makefile", "endpoints.toml", "scripts", ".ci", "testdata/SOURCES.md", "testdata/resolve_seeds.txt"}

// TestCommentsCiteOnlyTheRepository walks every Go file of the module
// (tests, build-tagged and generated files included) and the text files of
// citationTextFiles. It fails for a comment (or text line) that cites the
// contract's outside source, a notes file or an issue, and for a citation of
// docs/protocol.md#<anchor> whose anchor the document does not define. The
// document itself must give every heading an anchor (protocolAnchors).
func TestCommentsCiteOnlyTheRepository(t *testing.T) {
	md, err := os.ReadFile(protocolDoc)
	require.NoError(t, err)
	anchors, problems := protocolAnchors(string(md))
	for _, p := range problems {
		t.Errorf("%s: %s", protocolDoc, p)
	}
	require.Greater(t, len(anchors), 20, "%s must define its anchors", protocolDoc)

	cited := 0
	check := func(where, text string) {
		for _, name := range citationProblems(text) {
			t.Errorf("%s: cites something outside the repository (%s): cite %s#<anchor> or give the reason itself", where, name, protocolDoc)
		}
		for _, a := range unknownAnchors(text, anchors) {
			t.Errorf("%s: cites %s#%s, which %s does not define", where, protocolDoc, a, protocolDoc)
		}
		cited += len(protocolCitation.FindAllString(text, -1))
	}

	parsed := 0
	fset := token.NewFileSet()
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		parsed++
		for _, g := range f.Comments {
			for _, c := range g.List {
				check(fset.Position(c.Slash).String(), c.Text)
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, parsed, 100, "the walk must reach the module's Go files")

	for _, root := range citationTextFiles {
		err := filepath.WalkDir(filepath.FromSlash(root), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			fh, err := os.Open(path)
			if err != nil {
				return err
			}
			defer fh.Close()
			sc := bufio.NewScanner(fh)
			sc.Buffer(nil, 1<<20)
			for n := 1; sc.Scan(); n++ {
				check(filepath.ToSlash(path)+":"+strconv.Itoa(n), sc.Text())
			}
			return sc.Err()
		})
		require.NoError(t, err, root)
	}
	assert.Greater(t, cited, 50, "the comments cite %s; a walk that finds none reads the wrong files", protocolDoc)
}
