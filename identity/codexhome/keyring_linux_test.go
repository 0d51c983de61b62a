//go:build linux

package codexhome

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agentidentity/agentidentity/internal/testkit"
	"github.com/godbus/dbus/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// sandboxEnv marks the child process that runs the keyring tests in a new
// user namespace (with its own persistent keyring) and a new session
// keyring, against a private session bus and gnome-keyring-daemon, so
// that no test touches the user's keyrings.
const sandboxEnv = "AGENTID_KEYRING_SANDBOX"

func keyringSkipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: the keyring tests must run)", msg)
	}
	t.Skipf("%s; to run the keyring tests install dbus, gnome-keyring and keyutils (as .ci/run does) and run go test ./identity/codexhome/ -run TestKeyring", msg)
}

// TestKeyring runs TestKeyringSandboxed in a sandboxed child process.
func TestKeyring(t *testing.T) {
	if os.Getenv(sandboxEnv) != "" {
		t.Skip("the sandboxed child runs TestKeyringSandboxed only")
	}
	for _, bin := range []string{"dbus-daemon", "gnome-keyring-daemon"} {
		if _, err := exec.LookPath(bin); err != nil {
			keyringSkipOrFail(t, "%s not found", bin)
		}
	}
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		// The thread is never unlocked: its session keyring changes, and
		// Go ends a locked thread with its goroutine.
		runtime.LockOSThread()
		if _, err := unix.KeyctlJoinSessionKeyring("agentidentity-test-" + randomHex(8)); err != nil {
			done <- result{err: fmt.Errorf("join a new session keyring: %w", err)}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run", "^TestKeyringSandboxed$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), sandboxEnv+"=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: os.Getuid(), HostID: os.Getuid(), Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: os.Getgid(), HostID: os.Getgid(), Size: 1}},
		}
		out, err := cmd.CombinedOutput()
		done <- result{out: out, err: err}
	}()
	r := <-done
	if r.out == nil && r.err != nil {
		keyringSkipOrFail(t, "cannot start the sandbox: %v", r.err)
	}
	t.Logf("sandboxed keyring tests:\n%s", r.out)
	require.NoError(t, r.err, "the sandboxed keyring tests failed")
	require.Contains(t, string(r.out), "--- PASS: TestKeyringSandboxed")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// startSecretService starts a private session bus and an unlocked
// gnome-keyring-daemon (testkit.StartSecretService: keyrings in a temporary
// folder, ready before it returns), points DBUS_SESSION_BUS_ADDRESS, HOME
// and the XDG folders at them, and stops both at cleanup.
//
// A daemon that exits before that crashed, and fails the test with its log
// (instead of only the calls after it failing with "org.freedesktop.secrets
// was not provided"). That is never retried here: the crash this
// gnome-keyring is known for (testkit.KeyringCrashAssertion) comes from a
// client whose first call is OpenSession, and the only clients here are
// codexhome and libsecret's secret-tool, which both read the service's
// properties first; a death is a regression of that.
func startSecretService(t *testing.T) {
	ss, err := testkit.StartSecretService(t.TempDir(), 3*time.Minute)
	if err != nil {
		keyringSkipOrFail(t, "cannot start the Secret Service: %v", err)
	}
	t.Cleanup(func() {
		if how, log, died := ss.Died(); died {
			t.Errorf("gnome-keyring-daemon exited during the test (%s); its log:\n%s", how, log)
		}
		ss.Stop()
	})
	for _, kv := range ss.Env {
		if k, v, _ := strings.Cut(kv, "="); k != "PATH" {
			t.Setenv(k, v)
		}
	}
}

// secretTool reads an item with libsecret's secret-tool, an independent
// reader, when it is installed (under CI it must be).
func secretTool(t *testing.T, account string) (string, bool) {
	if !haveSecretTool(t) {
		return "", false
	}
	out, err := exec.Command("secret-tool", "lookup", "service", keyringService, "username", account).Output()
	if err != nil {
		return "", true
	}
	return string(out), true
}

// haveSecretTool reports whether libsecret's secret-tool is installed; under
// CI (CI=true) its absence fails the test, as .ci/run installs it.
func haveSecretTool(t *testing.T) bool {
	t.Helper()
	if _, err := exec.LookPath("secret-tool"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("secret-tool not found (CI=true: install libsecret-tools, as .ci/run does)")
		}
		return false
	}
	return true
}

const seedAuth = `{"auth_mode":"chatgpt","OPENAI_API_KEY":null,"x_unknown":{"keep":[1,2,"three"]}}`

func TestKeyringSandboxed(t *testing.T) {
	if os.Getenv(sandboxEnv) == "" {
		t.Skip("runs inside TestKeyring's sandbox")
	}
	startSecretService(t)
	ss := secretService{}

	newHome := func(t *testing.T) (string, string) {
		home := t.TempDir()
		acct := keyringAccount(home)
		t.Cleanup(func() { _ = systemKeyring{}.remove(acct) })
		return home, acct
	}

	t.Run("each connection reads Collections before it opens a session", func(t *testing.T) {
		// gnome-keyring-daemon aborts on an OpenSession that is the first
		// call of a new connection (see secretService.open): the order of
		// codexhome's calls, as the bus carries them.
		mon, err := dbus.Connect(os.Getenv("DBUS_SESSION_BUS_ADDRESS"))
		require.NoError(t, err)
		defer func() { _ = mon.Close() }()
		rule := "type='method_call',destination='" + ssName + "'"
		require.NoError(t, mon.BusObject().Call("org.freedesktop.DBus.Monitoring.BecomeMonitor", 0, []string{rule}, uint32(0)).Err)
		msgs := make(chan *dbus.Message, 1024)
		mon.Eavesdrop(msgs) // from here on every message goes to msgs

		acct := "order|" + randomHex(4)
		tests := []struct {
			name string
			op   func() error
		}{
			{"save", func() error { return ss.save(acct, "v") }},
			{"load", func() error { _, _, err := ss.load(acct); return err }},
			{"remove", func() error { return ss.remove(acct) }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				require.NoError(t, tt.op())
				// One connection per operation, whose last call is
				// Session.Close.
				var sender string
				var calls []string
				var first []any
				for len(calls) == 0 || calls[len(calls)-1] != ssSession+".Close" {
					select {
					case m := <-msgs:
						if m.Type != dbus.TypeMethodCall {
							continue
						}
						from, _ := m.Headers[dbus.FieldSender].Value().(string)
						iface, _ := m.Headers[dbus.FieldInterface].Value().(string)
						member, _ := m.Headers[dbus.FieldMember].Value().(string)
						if sender == "" {
							sender, first = from, m.Body
						}
						require.Equal(t, sender, from, "one connection per operation (calls so far %v)", calls)
						calls = append(calls, iface+"."+member)
					case <-time.After(10 * time.Second):
						t.Fatalf("no Session.Close on the bus; calls seen: %v", calls)
					}
				}
				require.GreaterOrEqual(t, len(calls), 2)
				assert.Equal(t, []string{"org.freedesktop.DBus.Properties.Get", ssService + ".OpenSession"}, calls[:2], "all calls: %v", calls)
				assert.Equal(t, []any{ssService, "Collections"}, first)
			})
		}
	})

	t.Run("round trip in each mode", func(t *testing.T) {
		tests := []struct {
			mode        CredentialsStore
			wantBackend CredentialsStore
			inKeyring   bool
			inFile      bool
		}{
			{CredentialsStoreFile, CredentialsStoreFile, false, true},
			{CredentialsStoreKeyring, CredentialsStoreKeyring, true, false},
			{CredentialsStoreAuto, CredentialsStoreKeyring, true, false},
			{CredentialsStoreEphemeral, CredentialsStoreEphemeral, false, false},
		}
		for _, tt := range tests {
			t.Run(string(tt.mode), func(t *testing.T) {
				home, acct := newHome(t)
				require.NoError(t, os.WriteFile(filepath.Join(home, configFileName), []byte(`cli_auth_credentials_store = "`+tt.mode+"\"\n"), 0o600))
				switch tt.mode {
				case CredentialsStoreFile:
					require.NoError(t, os.WriteFile(filepath.Join(home, authFileName), []byte(seedAuth), 0o600))
				case CredentialsStoreEphemeral:
					ephemeralPut(acct, []byte(seedAuth))
				default:
					require.NoError(t, systemKeyring{}.save(acct, seedAuth))
				}
				s := OpenStore(home)
				require.NoError(t, s.Update(context.Background(), func(f *AuthFile) error { return f.SetAuthMode("apikey") }))
				f, src, err := s.ReadSource()
				require.NoError(t, err)
				assert.Equal(t, tt.wantBackend, src)
				assert.Equal(t, "apikey", f.AuthMode())
				assert.Contains(t, f.memberNames(), "x_unknown", "unknown members are kept")
				want := `{"auth_mode":"apikey","OPENAI_API_KEY":null,"x_unknown":{"keep":[1,2,"three"]}}`

				v, found, err := ss.load(acct)
				require.NoError(t, err)
				assert.Equal(t, tt.inKeyring, found)
				mirror, mfound, err := keyutilsGet(acct)
				require.NoError(t, err)
				assert.Equal(t, tt.inKeyring, mfound, "the keyutils mirror goes with the Secret Service")
				if tt.inKeyring {
					assert.Equal(t, want, v, "the keyring holds the whole auth.json as compact JSON")
					assert.Equal(t, want, string(mirror))
					if got, ok := secretTool(t, acct); ok {
						assert.Equal(t, want, got, "libsecret reads the same item")
					}
				}
				_, statErr := os.Lstat(filepath.Join(home, authFileName))
				assert.Equal(t, tt.inFile, statErr == nil, "auth.json present")
				if tt.mode == CredentialsStoreEphemeral {
					entries, err := os.ReadDir(home)
					require.NoError(t, err)
					assert.Len(t, entries, 1, "ephemeral writes nothing but the config.toml the test made")
				}
			})
		}
	})

	t.Run("item attributes as the keyring crate writes them", func(t *testing.T) {
		home, acct := newHome(t)
		s := openStoreMode(home, CredentialsStoreKeyring)
		require.NoError(t, s.Update(context.Background(), func(f *AuthFile) error { return f.SetAuthMode("apikey") }))
		if !haveSecretTool(t) {
			t.Skip("secret-tool not installed (install libsecret-tools to check the item's attributes)")
		}
		out, err := exec.Command("secret-tool", "search", "--all", "service", keyringService, "username", acct).CombinedOutput()
		require.NoError(t, err)
		for _, want := range []string{"attribute.target = default", "attribute.application = rust-keyring", "attribute.username = " + acct} {
			assert.Contains(t, string(out), want)
		}
		assert.Equal(t, 1, strings.Count(string(out), "attribute.service = "+keyringService), "one item after a second write")
		require.NoError(t, s.Update(context.Background(), func(f *AuthFile) error { return f.SetAuthMode("chatgpt") }))
		out, err = exec.Command("secret-tool", "search", "--all", "service", keyringService, "username", acct).CombinedOutput()
		require.NoError(t, err)
		assert.Equal(t, 1, strings.Count(string(out), "attribute.service = "+keyringService), "a write changes the one item")
	})

	t.Run("chunked and long values", func(t *testing.T) {
		home, acct := newHome(t)
		long := `{"auth_mode":"chatgpt","x_pad":"` + strings.Repeat("p", 5000) + `"}`
		parts := []string{long[:512], long[512:1024], long[1024:]}
		require.NoError(t, ss.save(acct, chunkPrefix+"3:"+parts[0]))
		require.NoError(t, ss.save(acct+":1", parts[1]))
		require.NoError(t, ss.save(acct+":2", parts[2]))
		t.Cleanup(func() { _ = ss.remove(acct + ":1"); _ = ss.remove(acct + ":2") })
		s := openStoreMode(home, CredentialsStoreKeyring)
		f, err := s.Read()
		require.NoError(t, err)
		assert.Contains(t, f.memberNames(), "x_pad")

		require.NoError(t, ss.remove(acct+":2"))
		_, err = s.Read()
		assert.ErrorIs(t, err, ErrCorruptAuthFile, "a missing chunk is refused")

		require.NoError(t, ss.save(acct, long))
		require.NoError(t, s.Update(context.Background(), func(f *AuthFile) error { return f.SetAuthMode("apikey") }))
		v, _, err := ss.load(acct)
		require.NoError(t, err)
		assert.False(t, strings.HasPrefix(v, chunkPrefix), "a long value is written as one entry, as the released Codex CLI does")
		assert.Contains(t, v, `"x_pad"`)
	})

	t.Run("two writers under the lock", func(t *testing.T) {
		home, acct := newHome(t)
		require.NoError(t, systemKeyring{}.save(acct, `{"auth_mode":"0"}`))
		const n = 12
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := openStoreMode(home, CredentialsStoreKeyring)
				assert.NoError(t, s.Update(context.Background(), func(f *AuthFile) error {
					i, err := strconv.Atoi(f.AuthMode())
					if err != nil {
						return err
					}
					return f.SetAuthMode(strconv.Itoa(i + 1))
				}))
			}()
		}
		wg.Wait()
		f, err := openStoreMode(home, CredentialsStoreKeyring).Read()
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(n), f.AuthMode(), "no update lost")
		_, err = os.Lstat(filepath.Join(home, authLockFileName))
		assert.NoError(t, err, "auth.json.lock guards keyring writes too")
	})

	t.Run("processes lose no update and keep unknown members", func(t *testing.T) {
		for _, mode := range []CredentialsStore{CredentialsStoreKeyring, CredentialsStoreAuto} {
			t.Run(string(mode), func(t *testing.T) {
				home, acct := newHome(t)
				require.NoError(t, os.WriteFile(filepath.Join(home, configFileName), []byte(`cli_auth_credentials_store = "`+mode+"\"\n"), 0o600))
				require.NoError(t, systemKeyring{}.save(acct, seedAuth))
				// Real processes, each with its own Store and D-Bus
				// connections; auth.json.lock is all they share.
				const procs, each = 3, 8
				cmds := make([]*exec.Cmd, procs)
				for i := range cmds {
					cmds[i] = startHelper(t, "count", home, each, io.Discard)
				}
				s := OpenStore(home)
				for range each {
					require.NoError(t, s.Update(context.Background(), incrementCounter))
				}
				for _, c := range cmds {
					require.NoError(t, c.Wait())
				}
				f, src, err := s.ReadSource()
				require.NoError(t, err)
				assert.Equal(t, CredentialsStoreKeyring, src)
				assert.Equal(t, (procs+1)*each, counterOf(t, f), "no update lost between processes")
				assert.Contains(t, f.memberNames(), "x_unknown", "unknown members survive every rewrite")
				v, found, err := ss.load(acct)
				require.NoError(t, err)
				require.True(t, found)
				assert.Contains(t, v, `"x_unknown":{"keep":[1,2,"three"]}`)
				mirror, _, err := keyutilsGet(acct)
				require.NoError(t, err)
				assert.Equal(t, v, string(mirror), "the keyutils mirror holds the last write")
				_, statErr := os.Lstat(filepath.Join(home, authFileName))
				assert.True(t, errors.Is(statErr, os.ErrNotExist), "no auth.json")
			})
		}
	})

	t.Run("ephemeral persists nothing from another process", func(t *testing.T) {
		home, acct := newHome(t)
		require.NoError(t, os.WriteFile(filepath.Join(home, configFileName), []byte(`cli_auth_credentials_store = "ephemeral"`+"\n"), 0o600))
		var out strings.Builder
		require.NoError(t, startHelper(t, "update-once", home, 0, &out).Wait())
		assert.Equal(t, "update error: <nil>\n", out.String())
		entries, err := os.ReadDir(home)
		require.NoError(t, err)
		assert.Len(t, entries, 1, "nothing but the config.toml the test made")
		_, found, err := ss.load(acct)
		require.NoError(t, err)
		assert.False(t, found, "no Secret Service item")
		_, found, err = keyutilsGet(acct)
		require.NoError(t, err)
		assert.False(t, found, "no keyutils entry")
		f, err := OpenStore(home).Read()
		require.NoError(t, err)
		assert.False(t, f.Exists(), "this process finds nothing")
	})

	t.Run("no Secret Service reachable", func(t *testing.T) {
		tests := []struct {
			mode     CredentialsStore
			wantErr  bool
			wantFile bool
		}{
			{CredentialsStoreAuto, false, true},
			{CredentialsStoreKeyring, true, false},
		}
		for _, tt := range tests {
			t.Run(string(tt.mode), func(t *testing.T) {
				home, acct := newHome(t)
				s := openStoreMode(home, tt.mode)
				s.keyring = systemKeyring{ss: secretService{address: "unix:path=" + filepath.Join(home, "no-bus")}}
				err := s.Update(context.Background(), func(f *AuthFile) error { return f.SetAuthMode("apikey") })
				_, statErr := os.Lstat(filepath.Join(home, authFileName))
				assert.Equal(t, tt.wantFile, statErr == nil)
				_, mirrored, kerr := keyutilsGet(acct)
				require.NoError(t, kerr)
				assert.False(t, mirrored, "a failed Secret Service write leaves no keyutils copy")
				if tt.wantErr {
					assert.ErrorIs(t, err, ErrKeyringUnavailable)
					return
				}
				require.NoError(t, err)
				f, src, err := s.ReadSource()
				require.NoError(t, err)
				assert.Equal(t, CredentialsStoreFile, src)
				assert.Equal(t, "apikey", f.AuthMode())
			})
		}
	})

	t.Run("corrupt keyring value refused untouched", func(t *testing.T) {
		const secretText = "sk-proj-DoNotPrintMe123"
		values := []struct{ name, value string }{
			{"not JSON", "{not json " + secretText},
			{"wrong type", `{"tokens":"` + secretText + `"}`},
			{"bad chunk count", chunkPrefix + "x:" + secretText},
		}
		for _, mode := range []CredentialsStore{CredentialsStoreKeyring, CredentialsStoreAuto} {
			for _, tt := range values {
				t.Run(string(mode)+" "+tt.name, func(t *testing.T) {
					home, acct := newHome(t)
					require.NoError(t, ss.save(acct, tt.value))
					s := openStoreMode(home, mode)
					_, err := s.Read()
					require.ErrorIs(t, err, ErrCorruptAuthFile)
					assert.NotContains(t, err.Error(), secretText)
					called := false
					err = s.Update(context.Background(), func(f *AuthFile) error { called = true; return nil })
					require.ErrorIs(t, err, ErrCorruptAuthFile)
					assert.NotContains(t, err.Error(), secretText)
					assert.False(t, called)
					v, _, err := ss.load(acct)
					require.NoError(t, err)
					assert.Equal(t, tt.value, v, "the entry is not touched")
					_, statErr := os.Lstat(filepath.Join(home, authFileName))
					assert.True(t, errors.Is(statErr, os.ErrNotExist), "no auth.json written")
				})
			}
		}
	})
}
