package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDemo(t *testing.T) {
	tmp := t.TempDir()
	// The demo must not read the user's Codex home or token: point both at
	// things that would break it if it did.
	env := map[string]string{
		"CODEX_HOME":                            filepath.Join(tmp, "does-not-exist"),
		envCodexAccessToken:                     "at-not-a-jwt-0123456789",
		"TMPDIR":                                tmp,
		"CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL": "http://evil.example/api",
	}
	start := time.Now()
	r := runBin(t, invocation{args: []string{"demo"}, env: env})
	elapsed := time.Since(start)
	require.Equal(t, 0, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	assert.Less(t, elapsed, 10*time.Second)
	assert.Contains(t, r.stdout, "STEP")
	assert.Contains(t, r.stdout, "20 signed requests")
	assert.Contains(t, r.stdout, "\nPASS: agent agent-1, run task task-1; 1 agent and 3 task registrations, 22 requests verified, 0 rejected")
	assert.NotContains(t, r.stdout, "FAIL")
	assert.Contains(t, r.stderr, "agentid: registering agent at http://127.0.0.1:")
	entries, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, entries, "the demo removes its temporary folder")

	t.Run("json", func(t *testing.T) {
		r := runBin(t, invocation{args: []string{"demo", "--json", "--requests", "5"}, env: env})
		require.Equal(t, 0, r.code, r.stderr)
		var rep demoReport
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
		assert.True(t, rep.OK)
		assert.Equal(t, 7, rep.RequestsVerified) // 5, one after the restart, one in the fork
		assert.Equal(t, 0, rep.RequestsRejected)
		assert.Equal(t, 1, rep.AgentsRegistered)
		assert.Equal(t, 3, rep.TasksRegistered)
		names := make([]string, len(rep.Steps))
		for i, s := range rep.Steps {
			names[i] = s.Step
			assert.True(t, s.OK, "%s: %s", s.Step, s.Result)
		}
		assert.Equal(t, []string{"start fake backend", "write $CODEX_HOME", "provision identity", "run task",
			"5 signed requests", "other origin gets no credentials", "restart: load again", "session fork"}, names)
		for _, s := range rep.Steps {
			if strings.HasPrefix(s.Step, "restart") {
				assert.Equal(t, 0, s.Registrations)
				assert.Equal(t, 1, s.Verified)
			}
		}
	})
}

// TestDemoReportsFailure runs the demo in-process with a canceled context:
// the network steps fail, the report says so and the table shows FAIL.
func TestDemoReportsFailure(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var log strings.Builder
	rep, err := demo(ctx, &log, 3)
	require.NoError(t, err)
	require.False(t, rep.OK)
	last := rep.Steps[len(rep.Steps)-1]
	assert.Equal(t, "provision identity", last.Step)
	assert.False(t, last.OK)
	assert.Contains(t, last.Result, "FAILED: ")
	assert.Contains(t, log.String(), "agentid: demo: provision identity failed: ")

	var out strings.Builder
	writeDemoTable(&out, rep)
	assert.Contains(t, out.String(), "provision identity")
	assert.Contains(t, out.String(), "FAIL")
	assert.Contains(t, out.String(), "\nFAIL: agent -, run task -;")
}
