package gateway_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/internal/testkit"
	"github.com/agentidentity/agentidentity/internal/wire"
)

func keyLine(t testing.TB, runtimeID, account string, fedRAMP bool) string {
	t.Helper()
	km, err := identity.GenerateKeyMaterial()
	require.NoError(t, err)
	return fmt.Sprintf(`{"runtime_id":%q,"public_key":%q,"account_id":%q,"fedramp":%v}`, runtimeID, km.PublicKeySSH, account, fedRAMP)
}

func TestParseKeys(t *testing.T) {
	good := keyLine(t, "agent-1", "acct-1", true)
	key := strings.Split(good, `"public_key":"`)[1]
	key = key[:strings.IndexByte(key, '"')]
	for _, tc := range []struct {
		name, in string
		n        int
		err      string
	}{
		{"one", good, 1, ""},
		{"blank and comment lines, CRLF", "# agents\r\n\r\n" + good + "\r\n\n", 1, ""},
		{"only required members", `{"runtime_id":"a","public_key":"` + key + `"}`, 1, ""},
		{"two", good + "\n" + keyLine(t, "agent-2", "", false), 2, ""},
		{"duplicate runtime id", good + "\n" + good, 0, "line 2: runtime id"},
		{"unknown member", `{"runtime_id":"a","public_key":"` + key + `","acount_id":"x"}`, 0, "unknown member"},
		{"repeated member", `{"runtime_id":"a","runtime_id":"b","public_key":"` + key + `"}`, 0, "line 1"},
		{"missing key", `{"runtime_id":"a"}`, 0, "public_key is missing"},
		{"missing runtime id", `{"public_key":"` + key + `"}`, 0, "runtime_id is missing"},
		{"bad runtime id", `{"runtime_id":"a/b","public_key":"` + key + `"}`, 0, "runtime_id"},
		{"bad key", `{"runtime_id":"a","public_key":"ssh-rsa AAAA"}`, 0, "public_key"},
		{"fedramp a string", `{"runtime_id":"a","public_key":"` + key + `","fedramp":"true"}`, 0, "fedramp"},
		{"account a number", `{"runtime_id":"a","public_key":"` + key + `","account_id":1}`, 0, "account_id"},
		{"account control char", `{"runtime_id":"a","public_key":"` + key + `","account_id":"a\u0000"}`, 0, "control"},
		{"not JSON", "runtime_id=a", 0, "line 1"},
		{"array", "[]", 0, "line 1"},
		{"too large", strings.Repeat("#", 4<<20+1), 0, "more than"}, // the documented 4 MiB
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := gateway.ParseKeys([]byte(tc.in))
			if tc.err != "" {
				require.ErrorIs(t, err, gateway.ErrInvalidKeysFile)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Len(t, k, tc.n)
		})
	}
	k, err := gateway.ParseKeys([]byte(good))
	require.NoError(t, err)
	a, err := k.Agent(context.Background(), "agent-1")
	require.NoError(t, err)
	assert.Equal(t, "acct-1", a.AccountID)
	assert.True(t, a.FedRAMP)
	_, err = k.Agent(context.Background(), "agent-2")
	assert.ErrorIs(t, err, gateway.ErrUnknownAgent)
}

// fakeClock is an injectable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestFileKeys(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agents.jsonl")
	write := func(s string, mtime time.Time) {
		tmp := path + ".tmp"
		require.NoError(t, os.WriteFile(tmp, []byte(s), 0o600))
		require.NoError(t, os.Chtimes(tmp, mtime, mtime))
		require.NoError(t, os.Rename(tmp, path))
	}
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	line1 := keyLine(t, "agent-1", "", false)
	write(line1+"\n", base)
	clock := &fakeClock{t: base}
	var logs testkit.Buffer
	k, err := gateway.NewFileKeys(path, gateway.FileKeysOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: clock.now})
	require.NoError(t, err)
	_, err = k.Agent(ctx, "agent-1")
	require.NoError(t, err)
	_, err = k.Agent(ctx, "agent-2")
	require.ErrorIs(t, err, gateway.ErrUnknownAgent)

	t.Run("edit picked up through Reload", func(t *testing.T) {
		write(line1+"\n"+keyLine(t, "agent-2", "", false)+"\n", base.Add(time.Second))
		require.NoError(t, k.Reload())
		_, err := k.Agent(ctx, "agent-2")
		require.NoError(t, err)
	})
	t.Run("edit picked up on its own, at most once a second", func(t *testing.T) {
		write(line1+"\n"+keyLine(t, "agent-3", "", false)+"\n", base.Add(2*time.Second))
		clock.add(500 * time.Millisecond)
		_, err := k.Agent(ctx, "agent-3")
		// The last check (Reload) was less than a second ago.
		require.ErrorIs(t, err, gateway.ErrUnknownAgent)
		clock.add(600 * time.Millisecond)
		_, err = k.Agent(ctx, "agent-3")
		require.NoError(t, err)
		_, err = k.Agent(ctx, "agent-2")
		require.ErrorIs(t, err, gateway.ErrUnknownAgent, "a removed agent is gone")
	})
	t.Run("same size, new mtime", func(t *testing.T) {
		l4 := strings.Replace(line1, "agent-1", "agent-4", 1)
		write(l4+"\n"+keyLine(t, "agent-3", "", false)+"\n", base.Add(3*time.Second))
		clock.add(time.Second)
		_, err := k.Agent(ctx, "agent-4")
		require.NoError(t, err)
	})
	t.Run("broken edit keeps the last good set and logs why", func(t *testing.T) {
		write(`{"runtime_id":"agent-4"`+"\n", base.Add(4*time.Second))
		clock.add(time.Second)
		_, err := k.Agent(ctx, "agent-4")
		require.NoError(t, err)
		assert.Contains(t, logs.String(), "keeping the last good set")
		assert.Contains(t, logs.String(), "line 1")
		assert.Error(t, k.Reload())
		_, err = k.Agent(ctx, "agent-4")
		require.NoError(t, err)
	})
	t.Run("file removed", func(t *testing.T) {
		require.NoError(t, os.Remove(path))
		clock.add(time.Second)
		_, err := k.Agent(ctx, "agent-4")
		require.NoError(t, err)
		assert.Contains(t, logs.String(), "unreadable")
	})
	t.Run("fixed again", func(t *testing.T) {
		write(keyLine(t, "agent-5", "", false)+"\n", base.Add(5*time.Second))
		clock.add(time.Second)
		_, err := k.Agent(ctx, "agent-5")
		require.NoError(t, err)
		assert.Equal(t, 1, k.Len())
	})
	t.Run("first read must succeed", func(t *testing.T) {
		_, err := gateway.NewFileKeys(filepath.Join(dir, "missing"), gateway.FileKeysOptions{})
		assert.Error(t, err)
		bad := filepath.Join(dir, "bad")
		require.NoError(t, os.WriteFile(bad, []byte("nope"), 0o600))
		_, err = gateway.NewFileKeys(bad, gateway.FileKeysOptions{})
		assert.ErrorIs(t, err, gateway.ErrInvalidKeysFile)
	})
	t.Run("concurrent lookups", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < 20; j++ {
					clock.add(100 * time.Millisecond)
					_, _ = k.Agent(ctx, "agent-5")
				}
			}()
		}
		wg.Wait()
	})
}

func FuzzParseKeys(f *testing.F) {
	f.Add([]byte(keyLine(f, "agent-1", "acct", true)))
	f.Add([]byte("# c\n\n" + keyLine(f, "agent-2", "", false) + "\r\n"))
	f.Add([]byte(`{"runtime_id":"a","public_key":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA=="}`))
	f.Add([]byte(`{"runtime_id":"a","runtime_id":"a"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := gateway.ParseKeys(data)
		if err != nil {
			if k != nil {
				t.Fatal("keys with an error")
			}
			return
		}
		for id, a := range k {
			if a.RuntimeID != id || len(a.PublicKey) != 32 {
				t.Fatalf("bad entry %q", id)
			}
			if err := identity.ValidateRuntimeID(id); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// reloads records FileKeysOptions.OnReload calls.
type reloads struct {
	mu     sync.Mutex
	ok     int
	failed []error
}

func (r *reloads) record(_ int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.failed = append(r.failed, err)
	} else {
		r.ok++
	}
}

func (r *reloads) counts() (int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ok, len(r.failed)
}

// TestFileKeysRotationKeepsMtime: a rotated key of the same length whose
// mtime (and size) the deploy tool restored is picked up at the next check,
// written in place or renamed over the file.
func TestFileKeysRotationKeepsMtime(t *testing.T) {
	old := newTestAgent(t, "agent-1", "acct-1", false)
	mtime := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, path string, data []byte)
	}{
		{"in place", func(t *testing.T, path string, data []byte) {
			require.NoError(t, os.WriteFile(path, data, 0o600))
		}},
		{"renamed over", func(t *testing.T, path string, data []byte) {
			require.NoError(t, os.WriteFile(path+".tmp", data, 0o600))
			require.NoError(t, os.Chtimes(path+".tmp", mtime, mtime))
			require.NoError(t, os.Rename(path+".tmp", path))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "agents.jsonl")
			line := func(a testAgent) []byte {
				ssh, err := wire.MarshalPublicKeySSH(a.agent.PublicKey)
				require.NoError(t, err)
				return fmt.Appendf(nil, `{"runtime_id":"agent-1","public_key":%q,"account_id":"acct-1"}`+"\n", ssh)
			}
			first := line(old)
			require.NoError(t, os.WriteFile(path, first, 0o600))
			require.NoError(t, os.Chtimes(path, mtime, mtime))
			clock := &fakeClock{t: testNow}
			var rec reloads
			k, err := gateway.NewFileKeys(path, gateway.FileKeysOptions{Logger: slog.New(slog.DiscardHandler), Now: clock.now, OnReload: rec.record})
			require.NoError(t, err)
			v := &gateway.Verifier{Keys: k, Now: func() time.Time { return testNow }}
			verify := func(a testAgent) error {
				r := httptest.NewRequest(http.MethodPost, "/codex/responses", nil)
				r.Header.Set("Authorization", a.header(t, "task-1", testNow))
				r.Header.Set("ChatGPT-Account-ID", "acct-1")
				_, err := v.Verify(r)
				return err
			}
			require.NoError(t, verify(old))

			rotated := newTestAgent(t, "agent-1", "acct-1", false)
			second := line(rotated)
			require.Len(t, second, len(first), "an ssh-ed25519 line has one length")
			before, err := os.Stat(path)
			require.NoError(t, err)
			tc.write(t, path, second)
			require.NoError(t, os.Chtimes(path, mtime, mtime))
			after, err := os.Stat(path)
			require.NoError(t, err)
			require.Equal(t, before.Size(), after.Size())
			require.True(t, before.ModTime().Equal(after.ModTime()))

			clock.add(time.Second)
			assert.ErrorIs(t, verify(old), gateway.ErrBadSignature, "the revoked key no longer verifies")
			assert.NoError(t, verify(rotated))
			ok, failed := rec.counts()
			assert.Equal(t, 2, ok)
			assert.Zero(t, failed)

			// A touch alone (same content) reloads nothing.
			now := time.Now()
			require.NoError(t, os.Chtimes(path, now, now))
			clock.add(time.Second)
			assert.NoError(t, verify(rotated))
			ok, _ = rec.counts()
			assert.Equal(t, 2, ok, "the same content is not reloaded")
		})
	}
}

// TestFileKeysFailedReload: an edit that does not parse keeps the last good
// set, is logged and counted once per version, and the next good version is
// loaded.
func TestFileKeysFailedReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agents.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(keyLine(t, "agent-1", "", false)+"\n"), 0o600))
	clock := &fakeClock{t: testNow}
	var logs testkit.Buffer
	var rec reloads
	k, err := gateway.NewFileKeys(path, gateway.FileKeysOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: clock.now, OnReload: rec.record})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte(`{"runtime_id":"agent-2"}`+"\n"), 0o600))
	for range 3 {
		clock.add(time.Second)
		_, err = k.Agent(context.Background(), "agent-1")
		require.NoError(t, err, "the last good set stays in use")
	}
	_, err = k.Agent(context.Background(), "agent-2")
	assert.ErrorIs(t, err, gateway.ErrUnknownAgent)
	ok, failed := rec.counts()
	assert.Equal(t, 1, ok)
	require.Equal(t, 1, failed, "one bad version is counted once")
	assert.ErrorIs(t, rec.failed[0], gateway.ErrInvalidKeysFile)
	assert.Equal(t, 1, strings.Count(logs.String(), "keys file edit refused"))
	assert.Contains(t, logs.String(), "agents=1")

	require.NoError(t, os.WriteFile(path, []byte(keyLine(t, "agent-3", "", false)+"\n"), 0o600))
	clock.add(time.Second)
	_, err = k.Agent(context.Background(), "agent-3")
	require.NoError(t, err)
	ok, failed = rec.counts()
	assert.Equal(t, 2, ok)
	assert.Equal(t, 1, failed)
}
