//go:build unix

package gateway_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/internal/testkit"
)

// promptly runs f and fails the test if it has not returned within 10
// seconds (a blocking open never returns).
func promptly(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s blocked", what)
	}
}

// TestFileKeysNotRegular: a FIFO, a device or a directory at the path is
// refused at once, by NewFileKeys and by a later check or Reload, which
// keep the last good set.
func TestFileKeysNotRegular(t *testing.T) {
	good := keyLine(t, "agent-1", "", false) + "\n"
	for _, tc := range []struct {
		name string
		make func(t *testing.T, path string)
	}{
		{"fifo", func(t *testing.T, path string) { require.NoError(t, syscall.Mkfifo(path, 0o600)) }},
		{"directory", func(t *testing.T, path string) { require.NoError(t, os.Mkdir(path, 0o700)) }},
		{"device", func(t *testing.T, path string) { require.NoError(t, os.Symlink(os.DevNull, path)) }},
	} {
		t.Run(tc.name+"/NewFileKeys", func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "agents.jsonl")
			tc.make(t, path)
			promptly(t, "NewFileKeys", func() {
				_, err := gateway.NewFileKeys(path, gateway.FileKeysOptions{Logger: slog.New(slog.DiscardHandler)})
				assert.ErrorIs(t, err, gateway.ErrInvalidKeysFile)
				assert.ErrorContains(t, err, "not a regular file")
			})
		})
		t.Run(tc.name+"/later", func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "agents.jsonl")
			require.NoError(t, os.WriteFile(path, []byte(good), 0o600))
			clock := &fakeClock{t: testNow}
			var logs testkit.Buffer
			var rec reloads
			k, err := gateway.NewFileKeys(path, gateway.FileKeysOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: clock.now, OnReload: rec.record})
			require.NoError(t, err)
			require.NoError(t, os.Remove(path))
			tc.make(t, path)
			clock.add(time.Second)
			promptly(t, "Agent", func() {
				_, err := k.Agent(context.Background(), "agent-1")
				assert.NoError(t, err, "the last good set stays")
			})
			promptly(t, "Reload", func() {
				assert.ErrorIs(t, k.Reload(), gateway.ErrInvalidKeysFile)
			})
			_, err = k.Agent(context.Background(), "agent-1")
			assert.NoError(t, err)
			assert.Contains(t, logs.String(), "not a regular file")
			_, failed := rec.counts()
			assert.Equal(t, 2, failed, "the check and the Reload each count once")
		})
	}
}
