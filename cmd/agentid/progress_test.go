package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity/codexhome"
)

// fired is the after seam of a wait that has lasted longer than the
// threshold already: no test sleeps.
func fired(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- time.Now()
	return ch
}

// lineWatch is a writer that closes seen once a written line contains want.
type lineWatch struct {
	mu   sync.Mutex
	b    strings.Builder
	want string
	seen chan struct{}
	once sync.Once
}

func newLineWatch(want string) *lineWatch { return &lineWatch{want: want, seen: make(chan struct{})} }

func (w *lineWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if strings.Contains(w.b.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

// signalSeam is the notify seam: interrupt sends SIGINT to the command once
// it listens for signals.
type signalSeam struct{ ch chan chan<- os.Signal }

func newSignalSeam() *signalSeam { return &signalSeam{ch: make(chan chan<- os.Signal, 4)} }

func (s *signalSeam) notify(c chan<- os.Signal, _ ...os.Signal) { s.ch <- c }

func (s *signalSeam) interrupt() { (<-s.ch) <- os.Interrupt }

// TestProvisionSaysItWaitsForTheLock: on a terminal, provision that waits
// more than a second for the lock another provisioner holds says so.
func TestProvisionSaysItWaitsForTheLock(t *testing.T) {
	srv := fakeBackend(t)
	home, env, _ := loginHome(t, srv, true)
	env["HOME"] = t.TempDir()
	held, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- codexhome.OpenStore(home).Coordinate(context.Background(), func() error {
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	want := "agentid: provision: still waiting for the lock " + filepath.Join(home, moduleLockFileName) + " (another agentid or program of this module is provisioning this home)"
	watch := newLineWatch(want)
	go func() {
		<-watch.seen
		close(release)
	}()
	r := runInProcess(t, inProcess{args: []string{"provision"}, env: env, stderrTerminal: true, after: fired, stderr: watch})
	require.NoError(t, <-done)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, want+"\n")
	assert.Contains(t, r.stdout, "identity registered")

	t.Run("not on a terminal", func(t *testing.T) {
		r := runInProcess(t, inProcess{args: []string{"provision"}, env: env, after: fired})
		require.Equal(t, 0, r.code, r.stderr)
		assert.NotContains(t, r.stderr, "still waiting")
		assert.Contains(t, r.stdout, "identity reused")
	})
}

// TestDemoProgress: on a terminal each demo step that waits more than a
// second says what it waits for; in a pipe it does not.
func TestDemoProgress(t *testing.T) {
	for _, terminal := range []bool{true, false} {
		t.Run(map[bool]string{true: "terminal", false: "pipe"}[terminal], func(t *testing.T) {
			r := runInProcess(t, inProcess{args: []string{"demo", "--requests", "2"}, env: map[string]string{"TMPDIR": t.TempDir()}, stderrTerminal: terminal, after: fired})
			require.Equal(t, 0, r.code, r.stderr)
			if terminal {
				assert.Contains(t, r.stderr, "agentid: demo: still waiting for start fake backend\n")
				assert.Contains(t, r.stderr, "agentid: demo: still waiting for provision identity")
			} else {
				assert.NotContains(t, r.stderr, "still waiting")
			}
			assert.Contains(t, r.stderr, "agentid: demo: provision identity …\n", "the steps are shown in both")
		})
	}
}

// TestStartupProgress: serve and gateway show their start-up on a terminal,
// and what they wait for past a second; nothing of it in a pipe.
func TestStartupProgress(t *testing.T) {
	keys := filepath.Join(t.TempDir(), "agents.jsonl")
	require.NoError(t, os.WriteFile(keys, []byte(newGWAgent(t, "agent-1", "").line+"\n"), 0o600))
	tests := []struct {
		name  string
		args  []string
		ready string // the stderr line after which the command is stopped
		want  []string
	}{
		{"serve", []string{"serve", "--tls"}, "agentid: serving on ", []string{
			"agentid: serve: starting the fake backend on 127.0.0.1:0 …\n",
			"agentid: serve: still waiting for the fake backend to start on 127.0.0.1:0 (making its certificate authority)\n",
		}},
		{"gateway", []string{"gateway", "--keys", keys, "--upstream", "http://127.0.0.1:1"}, "agentid: gateway: listening on ", []string{
			"agentid: gateway: reading the keys file " + keys + " …\n",
			"agentid: gateway: still waiting for the keys file " + keys + "\n",
		}},
	}
	for _, tt := range tests {
		for _, terminal := range []bool{true, false} {
			t.Run(tt.name+map[bool]string{true: " on a terminal", false: " in a pipe"}[terminal], func(t *testing.T) {
				ready := tt.ready
				if !terminal && tt.name == "gateway" {
					ready = "" // nothing on stderr: stop at once
				}
				watch := newLineWatch(ready)
				sig := newSignalSeam()
				go func() {
					<-watch.seen
					sig.interrupt()
				}()
				if ready == "" {
					watch.once.Do(func() { close(watch.seen) })
				}
				r := runInProcess(t, inProcess{args: tt.args, stderrTerminal: terminal, after: fired, stderr: watch, notify: sig.notify})
				require.Equal(t, 0, r.code, r.stderr)
				for _, w := range tt.want {
					if terminal {
						assert.Contains(t, r.stderr, w)
					} else {
						assert.NotContains(t, r.stderr, w)
					}
				}
			})
		}
	}
}
