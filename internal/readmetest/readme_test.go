package readmetest

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/gen"
	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
)

const root = "../.."

type block struct {
	lang string
	text string
	line int
}

var fence = regexp.MustCompile("(?m)^```([a-z]*)\n")

func readmeBlocks(t *testing.T) []block {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	s := string(data)
	var out []block
	for {
		loc := fence.FindStringSubmatchIndex(s)
		if loc == nil {
			break
		}
		lang := s[loc[2]:loc[3]]
		rest := s[loc[1]:]
		end := strings.Index(rest, "\n```")
		require.GreaterOrEqual(t, end, 0, "unterminated code block")
		line := strings.Count(string(data[:len(data)-len(s)+loc[0]]), "\n") + 1
		out = append(out, block{lang: lang, text: rest[:end+1], line: line})
		s = rest[end+4:]
	}
	return out
}

// TestREADMEOpensWithTheTwoCommands checks the newcomer's first lines.
func TestREADMEOpensWithTheTwoCommands(t *testing.T) {
	blocks := readmeBlocks(t)
	require.NotEmpty(t, blocks)
	require.Equal(t, "$ go run ./cmd/agentid demo\n$ make test\n", blocks[0].text)
	ci, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	require.NoError(t, err)
	require.Contains(t, string(ci), "\nmake test\n", ".ci/run runs the README's test command")
}

func TestREADMEBlocks(t *testing.T) {
	examples := exampleBodies(t)
	var agentid string
	binDir := t.TempDir() // outlives the subtests that share the binary
	for _, b := range readmeBlocks(t) {
		t.Run(b.lang+"@line"+strconv.Itoa(b.line), func(t *testing.T) {
			switch b.lang {
			case "go":
				checkGoBlock(t, b, examples)
			case "toml":
				checkTOMLBlock(t, b)
			case "ini":
				checkSystemdUnit(t, b, buildAgentid(t, binDir, &agentid))
			case "sh":
				for _, cmd := range strings.Split(strings.TrimSpace(b.text), "\n") {
					require.True(t, strings.HasPrefix(cmd, "$ "), "shell lines start with $: %q", cmd)
					runShell(t, strings.TrimPrefix(cmd, "$ "), binDir, &agentid)
				}
			default:
				t.Fatalf("code block of unknown kind %q: teach this test to run it", b.lang)
			}
		})
	}
}

// exampleBodies returns the normalised source lines of every Example
// function with an "// Output:" comment (so `go test` runs it) in the
// module's test files.
func exampleBodies(t *testing.T) [][]string {
	t.Helper()
	var out [][]string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || !strings.HasPrefix(fn.Name.Name, "Example") || fn.Body == nil {
				continue
			}
			body := string(src[fset.Position(fn.Body.Pos()).Offset:fset.Position(fn.Body.End()).Offset])
			if !strings.Contains(body, "// Output:") {
				continue
			}
			out = append(out, normalise(body))
		}
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, out)
	return out
}

func normalise(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// checkGoBlock requires the block to appear, line for line, in an Example
// that go test runs and checks.
func checkGoBlock(t *testing.T, b block, examples [][]string) {
	want := normalise(b.text)
	require.NotEmpty(t, want)
	for _, ex := range examples {
		for i := 0; i+len(want) <= len(ex); i++ {
			match := true
			for j := range want {
				if ex[i+j] != want[j] {
					match = false
					break
				}
			}
			if match {
				return
			}
		}
	}
	t.Fatalf("README Go block at line %d is not part of any Example with // Output:\n%s", b.line, b.text)
}

func checkTOMLBlock(t *testing.T, b block) {
	switch {
	case strings.Contains(b.text, "[features]"):
		home := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(home, "config.toml"), []byte(b.text), 0o600))
		cfg, err := codexhome.LoadConfig(home)
		require.NoError(t, err)
		require.True(t, cfg.UseAgentIdentity)
		require.Equal(t, identity.PolicyChatGPTAuth, identity.PolicyFromConfig(cfg))
	case strings.Contains(b.text, "[environments."):
		data, err := os.ReadFile(filepath.Join(root, "endpoints.toml"))
		require.NoError(t, err)
		table, err := gen.Parse("endpoints.toml", append(append(data, '\n'), b.text...))
		require.NoError(t, err, "the README's new environment is accepted by the generator")
		src, err := gen.Generate(table)
		require.NoError(t, err)
		require.Contains(t, string(src), "canary.chatgpt.example")
	default:
		t.Fatalf("TOML block at line %d: teach this test what it is", b.line)
	}
}

// buildAgentid builds the agentid binary into binDir once.
func buildAgentid(t *testing.T, binDir string, agentid *string) string {
	t.Helper()
	if *agentid == "" {
		bin := filepath.Join(binDir, "agentid")
		build := exec.Command("go", "build", "-o", bin, "./cmd/agentid")
		build.Dir = root
		out, err := build.CombinedOutput()
		require.NoError(t, err, string(out))
		*agentid = bin
	}
	return *agentid
}

// checkSystemdUnit checks an ini block that is a systemd unit running
// agentid gateway: its sections, that every flag of its ExecStart is a flag
// of agentid gateway (from its help), that the stop is SIGTERM and that the
// service manager waits longer than --shutdown-timeout.
func checkSystemdUnit(t *testing.T, b block, agentid string) {
	keys := map[string]string{}
	sections := map[string]bool{}
	for _, line := range strings.Split(b.text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			sections[line] = true
		default:
			k, v, ok := strings.Cut(line, "=")
			require.True(t, ok, "not key=value: %q", line)
			keys[k] = v
		}
	}
	for _, s := range []string{"[Unit]", "[Service]", "[Install]"} {
		require.True(t, sections[s], "the unit has no %s section", s)
	}
	argv := strings.Fields(keys["ExecStart"])
	require.GreaterOrEqual(t, len(argv), 2)
	require.Equal(t, "agentid", filepath.Base(argv[0]))
	require.Equal(t, "gateway", argv[1])
	help, err := execCommand(agentid, "gateway", "--help")
	require.NoError(t, err, help)
	shutdown := 30 * time.Second
	for i, a := range argv[2:] {
		if !strings.HasPrefix(a, "--") {
			continue
		}
		require.Contains(t, help, "  "+a+" ", "%s is not a flag of agentid gateway", a)
		if a == "--shutdown-timeout" {
			shutdown, err = time.ParseDuration(argv[2+i+1])
			require.NoError(t, err)
		}
	}
	require.Equal(t, "SIGTERM", keys["KillSignal"], "the graceful stop is SIGTERM")
	stop, err := time.ParseDuration(keys["TimeoutStopSec"])
	require.NoError(t, err)
	require.Greater(t, stop, shutdown, "TimeoutStopSec must outlast --shutdown-timeout")
}

func execCommand(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// runShell runs one README command. `make test` cannot run inside the tests
// it starts, so it is checked with make's dry run; every other command runs
// for real, agentid through a binary built once.
func runShell(t *testing.T, line, binDir string, agentid *string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fields := strings.Fields(line)
	var cmd *exec.Cmd
	switch {
	case line == "make test":
		if _, err := exec.LookPath("make"); err != nil {
			t.Fatalf("make is needed for the README's test command: %v", err)
		}
		cmd = exec.CommandContext(ctx, "make", "-n", "test")
		cmd.Dir = root
	case line == "go generate ./...":
		cmd = exec.CommandContext(ctx, "go", "generate", "./...")
		cmd.Dir = root
	case len(fields) >= 3 && fields[0] == "go" && fields[1] == "run" && fields[2] == "./cmd/agentid":
		buildAgentid(t, binDir, agentid)
		// "$HOME" (a path outside the clone) is a fresh folder of its own.
		userHome := t.TempDir()
		args := append([]string(nil), fields[3:]...)
		for i, a := range args {
			if strings.Contains(a, "$HOME") {
				args[i] = strings.Trim(strings.ReplaceAll(a, "$HOME", userHome), `"`)
			}
		}
		cmd = exec.CommandContext(ctx, *agentid, args...)
		cmd.Dir = t.TempDir()
		home := t.TempDir()
		cmd.Env = append(os.Environ(), "CODEX_HOME="+home, "CODEX_ACCESS_TOKEN=", "HOME="+userHome)
	default:
		t.Fatalf("README command %q: teach this test to run it", line)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, err, "%s\nstdout:\n%s\nstderr:\n%s", line, stdout.String(), stderr.String())
}
