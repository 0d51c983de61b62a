package gen

import (
	"bytes"
	"flag"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite the expected output of every archive of testdata/good and testdata/bad")

// Members of a golden archive.
const (
	inputMember  = "endpoints.toml" // the endpoints file given to Parse
	outputMember = "urlmap_gen.go"  // good cases: what Generate must write
	errorMember  = "error"          // bad cases: the exact error of Parse
)

// goldenCase is one testdata/DIR/NAME.txtar archive: a comment saying what
// the case is about, the input endpoints.toml and the expected output.
type goldenCase struct {
	name string // NAME
	path string
	ar   *txtar.Archive
}

// cases returns the archives of one testdata folder.
func cases(t testing.TB, dir string) []goldenCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.txtar"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var out []goldenCase
	for _, path := range files {
		ar, err := txtar.ParseFile(path)
		require.NoError(t, err)
		out = append(out, goldenCase{name: strings.TrimSuffix(filepath.Base(path), ".txtar"), path: path, ar: ar})
	}
	return out
}

// member returns the data of the archive member name, and whether it is
// there.
func (c goldenCase) member(name string) ([]byte, bool) {
	for _, f := range c.ar.Files {
		if f.Name == name {
			return f.Data, true
		}
	}
	return nil, false
}

// input returns the endpoints file of the case.
func (c goldenCase) input(t testing.TB) []byte {
	t.Helper()
	data, ok := c.member(inputMember)
	require.True(t, ok, "%s has no %s member", c.path, inputMember)
	return data
}

// golden compares got with the archive member name, or rewrites that member
// (keeping the comment and the input) with -update. The archive must hold
// the input and that member only.
func (c goldenCase) golden(t *testing.T, name string, got []byte) {
	t.Helper()
	if *update {
		files := []txtar.File{{Name: inputMember, Data: c.input(t)}, {Name: name, Data: got}}
		ar := &txtar.Archive{Comment: c.ar.Comment, Files: files}
		require.NoError(t, os.WriteFile(c.path, txtar.Format(ar), 0o644))
		return
	}
	var names []string
	for _, f := range c.ar.Files {
		names = append(names, f.Name)
	}
	assert.Equal(t, []string{inputMember, name}, names, "members of %s", c.path)
	want, ok := c.member(name)
	require.True(t, ok, "%s has no %s member; run go test ./gen -update", c.path, name)
	assert.Equal(t, string(want), string(got))
}

// TestGoodTables generates the endpoints.toml of each testdata/good/NAME.txtar
// and compares the output with its urlmap_gen.go member.
func TestGoodTables(t *testing.T) {
	for _, c := range cases(t, "good") {
		t.Run(c.name, func(t *testing.T) {
			table, err := Parse(inputMember, c.input(t))
			require.NoError(t, err)
			src, err := Generate(table)
			require.NoError(t, err)
			c.golden(t, outputMember, src)

			again, err := Generate(table)
			require.NoError(t, err)
			assert.Equal(t, src, again, "output must be byte-identical on every run")
			assertGeneratedShape(t, src)
		})
	}
}

// TestBadTables parses the endpoints.toml of each testdata/bad/NAME.txtar and
// compares the error with its error member.
func TestBadTables(t *testing.T) {
	line := regexp.MustCompile(`^endpoints\.toml:[1-9][0-9]*: ([^:]+: )?[^A-Z].*$`)
	for _, c := range cases(t, "bad") {
		t.Run(c.name, func(t *testing.T) {
			table, err := Parse(inputMember, c.input(t))
			require.Error(t, err)
			assert.Nil(t, table)
			c.golden(t, errorMember, []byte(err.Error()+"\n"))

			list := problems(err)
			require.NotEmpty(t, list)
			var first *Error
			require.ErrorAs(t, err, &first)
			assert.Same(t, list[0], first)
			for _, l := range strings.Split(err.Error(), "\n") {
				assert.Regexp(t, line, l)
			}
		})
	}
}

// problems returns the *Error values err joins, in order; nil if err joins
// anything else.
func problems(err error) []*Error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return nil
	}
	var list []*Error
	for _, e := range j.Unwrap() {
		pe, ok := e.(*Error)
		if !ok {
			return nil
		}
		list = append(list, pe)
	}
	return list
}

// goodInput returns the endpoints file of testdata/good/NAME.txtar.
func goodInput(t testing.TB, name string) []byte {
	t.Helper()
	for _, c := range cases(t, "good") {
		if c.name == name {
			return c.input(t)
		}
	}
	t.Fatalf("no testdata/good/%s.txtar", name)
	return nil
}

// assertGeneratedShape checks the properties of a generated file that tools
// and reviewers rely on.
func assertGeneratedShape(t *testing.T, src []byte) {
	t.Helper()
	first, _, _ := bytes.Cut(src, []byte("\n"))
	assert.Regexp(t, `^// Code generated .* DO NOT EDIT\.$`, string(first))
	f, err := parser.ParseFile(token.NewFileSet(), "urlmap_gen.go", src, parser.ParseComments)
	require.NoError(t, err)
	assert.Equal(t, pkgName, f.Name.Name)
	assert.Empty(t, f.Imports, "the generated file needs no imports")
	assert.NotContains(t, string(src), "func init", "the lookup must need no work at init")
}

func TestRepositoryTableGeneratesHeader(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "endpoints.toml"))
	require.NoError(t, err)
	table, err := Parse("endpoints.toml", data)
	require.NoError(t, err)
	src, err := Generate(table)
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(src, []byte("// Code generated by genendpoints from endpoints.toml; DO NOT EDIT.\n")))
}

func TestParseTable(t *testing.T) {
	table, err := Parse("dir/two_environments.toml", goodInput(t, "two_environments"))
	require.NoError(t, err)
	assert.Equal(t, &Table{
		Source:      "two_environments.toml",
		LoginIssuer: "https://auth.openai.com",
		Environments: []Environment{
			{
				Name:             "production",
				ChatGPTBaseURL:   "https://chatgpt.com/backend-api",
				AuthAPIBaseURL:   "https://auth.openai.com/api/accounts",
				JWKSURL:          "https://chatgpt.com/backend-api/wham/agent-identities/jwks",
				Issuer:           "https://chatgpt.com/codex-backend/agent-identity",
				Audience:         "codex-app-server",
				AcceptedBaseURLs: []string{"https://chatgpt.com", "https://chatgpt.com/backend-api"},
			},
			{
				Name:             "staging",
				ChatGPTBaseURL:   "https://chatgpt-staging.com/backend-api",
				AuthAPIBaseURL:   "https://auth.api.openai.org/api/accounts",
				JWKSURL:          "https://chatgpt-staging.com/backend-api/wham/agent-identities/jwks",
				Issuer:           "https://chatgpt.com/codex-backend/agent-identity",
				Audience:         "codex-app-server",
				AcceptedBaseURLs: []string{"https://chatgpt-staging.com", "https://chatgpt-staging.com/backend-api"},
			},
		},
	}, table)
}

func TestParseRefusesLargeFile(t *testing.T) {
	_, err := Parse("big.toml", bytes.Repeat([]byte("#"), MaxFileSize+1))
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "big.toml", e.File)
	assert.Contains(t, e.Msg, "larger than")
}

func TestGenerateValidatesHandBuiltTables(t *testing.T) {
	good := Environment{
		Name:             "production",
		ChatGPTBaseURL:   "https://chatgpt.com/backend-api",
		AuthAPIBaseURL:   "https://auth.openai.com/api/accounts",
		JWKSURL:          "https://chatgpt.com/backend-api/wham/agent-identities/jwks",
		Issuer:           "iss",
		Audience:         "aud",
		AcceptedBaseURLs: []string{"https://chatgpt.com/backend-api"},
	}
	const login = "https://auth.openai.com"
	tests := []struct {
		name  string
		table *Table
		want  string
	}{
		{"nil", nil, "nil table"},
		{"empty", &Table{LoginIssuer: login}, "at least"},
		{"no login issuer", &Table{Environments: []Environment{good}}, "login_issuer: must not be empty"},
		{"login issuer with a path", &Table{LoginIssuer: login + "/x", Environments: []Environment{good}}, "login_issuer: " + `"https://auth.openai.com/x" must be an origin`},
		{"login issuer with go code", &Table{LoginIssuer: login + `"; func init() {}; const x = "`, Environments: []Environment{good}}, "login_issuer: "},
		{"duplicate name", &Table{LoginIssuer: login, Environments: []Environment{good, good}}, "defined twice"},
		{"no production", &Table{LoginIssuer: login, Environments: []Environment{func() Environment { e := good; e.Name = "dev"; return e }()}}, `"production" is required`},
		{"go code in name", &Table{LoginIssuer: login, Environments: []Environment{good, func() Environment {
			e := good
			e.Name = `x"}; func init() { panic(1) }; var _ = []int{"`
			e.AcceptedBaseURLs = []string{"https://x.example"}
			e.ChatGPTBaseURL = "https://x.example"
			e.JWKSURL = "https://x.example/agent-identities/jwks"
			return e
		}()}}, "environment name"},
		{"newline in source", &Table{Source: "a\nb", LoginIssuer: login, Environments: []Environment{good}}, "one line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := Generate(tt.table)
			require.Error(t, err)
			assert.Nil(t, src)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "gen: "), err.Error())
		})
	}
}

func TestGenerateSortsEnvironments(t *testing.T) {
	table, err := Parse("two_environments.toml", goodInput(t, "two_environments"))
	require.NoError(t, err)
	want, err := Generate(table)
	require.NoError(t, err)

	reversed := &Table{Source: table.Source, LoginIssuer: table.LoginIssuer, Environments: []Environment{table.Environments[1], table.Environments[0]}}
	got, err := Generate(reversed)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))
}

func TestCheckURL(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		ok   bool
	}{
		{"bare host", "https://chatgpt.com", true},
		{"path", "https://chatgpt.com/backend-api/codex", true},
		{"port", "https://x.example:8443/a", true},
		{"unreserved path characters", "https://x.example/a-b_c.d~e", true},
		{"empty", "", false},
		{"http", "http://chatgpt.com", false},
		{"upper-case scheme", "HTTPS://chatgpt.com", false},
		{"space", "https://chatgpt.com/a b", false},
		{"non-ASCII", "https://chatgpt.cöm", false},
		{"user info", "https://u@chatgpt.com", false},
		{"query", "https://chatgpt.com?", false},
		{"fragment", "https://chatgpt.com#", false},
		{"percent", "https://chatgpt.com/%41", false},
		{"backslash", `https://chatgpt.com\a`, false},
		{"trailing slash", "https://chatgpt.com/", false},
		{"empty segment", "https://chatgpt.com//a", false},
		{"dot", "https://chatgpt.com/./a", false},
		{"dot-dot", "https://chatgpt.com/a/..", false},
		{"port 443", "https://chatgpt.com:443", false},
		{"port 0443", "https://chatgpt.com:0443", false},
		{"port 0", "https://chatgpt.com:0", false},
		{"empty port", "https://chatgpt.com:", false},
		{"port too big", "https://chatgpt.com:65536", false},
		{"upper-case host", "https://Chatgpt.com", false},
		{"trailing dot", "https://chatgpt.com.", false},
		{"label with dash edge", "https://-chatgpt.com", false},
		{"ip literal", "https://[::1]", false},
		{"no host", "https:///a", false},
		{"path with colon", "https://chatgpt.com/a:b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := checkURL(tt.raw)
			if tt.ok {
				require.NoError(t, err)
				// The run-time lookup finds a table URL under the URL
				// without its scheme.
				key, ok := lookupKey(u)
				assert.True(t, ok)
				assert.Equal(t, strings.TrimPrefix(tt.raw, "https://"), key)
			} else {
				assert.Error(t, err)
			}
		})
	}
}

// FuzzParse checks that Parse never panics, that every error line has the
// "file:line: key: message" form, and that every table it accepts generates
// a file that parses as Go.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"good", "bad"} {
		for _, c := range cases(f, dir) {
			f.Add(c.input(f))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		table, err := Parse("fuzz.toml", data)
		if err != nil {
			list := problems(err)
			if len(list) == 0 {
				t.Fatalf("error %v does not join *Error values", err)
			}
			for _, e := range list {
				if e.File != "fuzz.toml" || e.Line < 1 || e.Msg == "" {
					t.Fatalf("malformed error %#v", e)
				}
			}
			return
		}
		src, err := Generate(table)
		if err != nil {
			t.Fatalf("Parse accepted a table Generate refuses: %v", err)
		}
		if _, err := parser.ParseFile(token.NewFileSet(), "urlmap_gen.go", src, 0); err != nil {
			t.Fatalf("generated file does not parse: %v", err)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "endpoints.toml"))
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("endpoints.toml", data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTOMLDecodeBaseline is the baseline for BenchmarkParse: a plain
// toml.Decode of the same file into a map, with no checks.
func BenchmarkTOMLDecodeBaseline(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "endpoints.toml"))
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]any
		if _, err := toml.Decode(string(data), &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "endpoints.toml"))
	require.NoError(b, err)
	table, err := Parse("endpoints.toml", data)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Generate(table); err != nil {
			b.Fatal(err)
		}
	}
}
