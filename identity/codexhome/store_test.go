//go:build unix

package codexhome

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gofrs/flock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/internal/atomicfile"
	"github.com/agentidentity/agentidentity/internal/strictjson"
)

// Environment of the helper process started by the multi-process tests.
const (
	helperModeEnv = "IDENTITY_STORE_HELPER_MODE"
	helperHomeEnv = "IDENTITY_STORE_HELPER_HOME"
	helperNEnv    = "IDENTITY_STORE_HELPER_N"
)

// TestStoreHelperProcess is not a test: the multi-process tests start the
// test binary again with -test.run naming it and helperModeEnv set.
func TestStoreHelperProcess(t *testing.T) {
	mode := os.Getenv(helperModeEnv)
	if mode == "" {
		return // an ordinary run: nothing to do
	}
	home := os.Getenv(helperHomeEnv)
	n, _ := strconv.Atoi(os.Getenv(helperNEnv))
	s := OpenStore(home)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	switch mode {
	case "hold-lock":
		fl := flock.New(filepath.Join(home, authLockFileName))
		if err := fl.Lock(); err != nil {
			fail(err)
		}
		fmt.Println("locked")
		time.Sleep(time.Minute)
	case "count":
		for range n {
			if err := s.Update(ctx, incrementCounter); err != nil {
				fail(err)
			}
		}
	case "save-loop":
		// One save completes before "ready", so every round saves at
		// least once whatever the machine's load; the kill lands in one of
		// the saves that follow.
		if err := s.Update(ctx, flipContent); err != nil {
			fail(err)
		}
		fmt.Println("ready")
		for {
			if err := s.Update(ctx, flipContent); err != nil {
				fail(err)
			}
		}
	case "fsize-limit":
		// A real write failure as a full disk gives it: the file size
		// limit makes write(2) fail with EFBIG.
		lim := syscall.Rlimit{Cur: 4096, Max: 4096}
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
			fail(err)
		}
		signalIgnoreXFSZ()
		err := s.Update(ctx, setBigContent)
		fmt.Println("update error:", err)
	case "update-once":
		err := s.Update(ctx, func(f *AuthFile) error { return f.SetAgentIdentityJWT(NewSecret("new.jwt.value")) })
		fmt.Println("update error:", err)
	default:
		fail(errors.New("unknown mode " + mode))
	}
	os.Exit(0)
}

// startHelper starts the test binary in a helper mode.
func startHelper(t *testing.T, mode, home string, n int, stdout io.Writer) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestStoreHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperModeEnv+"="+mode, helperHomeEnv+"="+home, helperNEnv+"="+strconv.Itoa(n))
	cmd.Stdout = stdout
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	return cmd
}

func counterOf(t testing.TB, f *AuthFile) int {
	t.Helper()
	raw, ok := f.member("counter")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(string(raw))
	require.NoError(t, err)
	return n
}

func incrementCounter(f *AuthFile) error {
	n := 0
	if raw, ok := f.member("counter"); ok {
		var err error
		if n, err = strconv.Atoi(string(raw)); err != nil {
			return err
		}
	}
	f.setMember("counter", json.RawMessage(strconv.Itoa(n+1)))
	return nil
}

const contentSize = 64 << 10

var (
	contentA = strictjson.Quote(strings.Repeat("A", contentSize))
	contentB = strictjson.Quote(strings.Repeat("B", contentSize))
)

func flipContent(f *AuthFile) error {
	raw, _ := f.member("content")
	if string(raw) == string(contentA) {
		f.setMember("content", contentB)
	} else {
		f.setMember("content", contentA)
	}
	return nil
}

func setBigContent(f *AuthFile) error {
	f.setMember("content", contentB)
	return nil
}

func marshalWith(t testing.TB, base []byte, name string, raw json.RawMessage) []byte {
	t.Helper()
	f := mustParse(t, base)
	f.setMember(name, raw)
	out, err := f.Marshal()
	require.NoError(t, err)
	return out
}

func writeFile(t testing.TB, path string, data []byte, perm fs.FileMode) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, data, perm))
	require.NoError(t, os.Chmod(path, perm))
}

func TestStoreReadMissing(t *testing.T) {
	s := OpenStore(t.TempDir())
	f, err := s.Read()
	require.NoError(t, err)
	assert.False(t, f.Exists())
	assert.Empty(t, f.memberNames())
}

func TestStoreUpdateWritesPrivateFile(t *testing.T) {
	home := t.TempDir()
	s := OpenStore(home)
	assert.Equal(t, filepath.Join(home, "auth.json"), s.Path())
	ctx := context.Background()

	// No change: nothing is created.
	require.NoError(t, s.Update(ctx, func(f *AuthFile) error { return nil }))
	_, err := os.Lstat(s.Path())
	assert.ErrorIs(t, err, fs.ErrNotExist)

	require.NoError(t, s.Update(ctx, func(f *AuthFile) error {
		assert.False(t, f.Exists())
		if err := f.SetAuthMode(authModeAgentIdentity); err != nil {
			return err
		}
		return f.SetAgentIdentityJWT(NewSecret("h.p.s"))
	}))
	fi, err := os.Stat(s.Path())
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())
	data, err := os.ReadFile(s.Path())
	require.NoError(t, err)
	assert.Equal(t, "{\n  \"auth_mode\": \"agentIdentity\",\n  \"OPENAI_API_KEY\": null,\n  \"agent_identity\": \"h.p.s\"\n}", string(data))

	got, err := s.Read()
	require.NoError(t, err)
	assert.True(t, got.Exists())
	assert.Equal(t, "h.p.s", got.AgentIdentityJWT().Reveal())
}

func TestStoreUpdateKeepsCodexMembers(t *testing.T) {
	for _, name := range authSamples {
		t.Run(name, func(t *testing.T) {
			s := OpenStore(t.TempDir())
			orig := readSample(t, name)
			writeFile(t, s.Path(), orig, 0o600)
			require.NoError(t, s.Update(context.Background(), func(f *AuthFile) error {
				r := f.AgentIdentityRecord()
				if r == nil {
					r = &AgentIdentityRecord{AgentRuntimeID: "agent-new", AgentPrivateKey: NewSecret(testPrivateKey)}
				}
				r.TaskID = "task-new"
				return f.SetAgentIdentityRecord(r)
			}))
			data, err := os.ReadFile(s.Path())
			require.NoError(t, err)
			before, after := compactMembers(t, orig), compactMembers(t, data)
			for k, v := range before {
				if k != memberAgentIdentity {
					assert.Equal(t, v, after[k], "member %q", k)
				}
			}
			rec := mustParse(t, data).AgentIdentityRecord()
			require.NotNil(t, rec)
			assert.Equal(t, "task-new", rec.TaskID)
		})
	}
}

func TestStoreUpdateFnErrorWritesNothing(t *testing.T) {
	s := OpenStore(t.TempDir())
	orig := readSample(t, "record_form.json")
	writeFile(t, s.Path(), orig, 0o600)
	sentinel := errors.New("caller says no")
	err := s.Update(context.Background(), func(f *AuthFile) error {
		f.ClearAgentIdentity()
		return sentinel
	})
	assert.Same(t, sentinel, err)
	data, err := os.ReadFile(s.Path())
	require.NoError(t, err)
	assert.Equal(t, orig, data)
}

func TestStoreTightensLooseFile(t *testing.T) {
	tests := []struct {
		name   string
		change bool
	}{
		{"with a change", true},
		{"without a change", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := OpenStore(t.TempDir())
			orig := readSample(t, "jwt_form.json")
			writeFile(t, s.Path(), orig, 0o644)
			require.NoError(t, s.Update(context.Background(), func(f *AuthFile) error {
				if tt.change {
					return f.SetAgentIdentityJWT(NewSecret("x.y.z"))
				}
				return nil
			}))
			fi, err := os.Stat(s.Path())
			require.NoError(t, err)
			assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())
		})
	}
}

func TestStoreRefusesUnsafePaths(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, home string) (check func(t *testing.T))
	}{
		{
			name: "symlink to a file",
			setup: func(t *testing.T, home string) func(t *testing.T) {
				target := filepath.Join(t.TempDir(), "elsewhere.json")
				orig := readSample(t, "jwt_form.json")
				writeFile(t, target, orig, 0o644)
				require.NoError(t, os.Symlink(target, filepath.Join(home, authFileName)))
				return func(t *testing.T) {
					data, err := os.ReadFile(target)
					require.NoError(t, err)
					assert.Equal(t, orig, data)
					fi, err := os.Stat(target)
					require.NoError(t, err)
					assert.Equal(t, fs.FileMode(0o644), fi.Mode().Perm())
					li, err := os.Lstat(filepath.Join(home, authFileName))
					require.NoError(t, err)
					assert.NotZero(t, li.Mode()&fs.ModeSymlink, "the link itself is left in place")
				}
			},
		},
		{
			name: "dangling symlink",
			setup: func(t *testing.T, home string) func(t *testing.T) {
				target := filepath.Join(t.TempDir(), "missing.json")
				require.NoError(t, os.Symlink(target, filepath.Join(home, authFileName)))
				return func(t *testing.T) {
					_, err := os.Lstat(target)
					assert.ErrorIs(t, err, fs.ErrNotExist, "nothing created through the link")
				}
			},
		},
		{
			name: "directory",
			setup: func(t *testing.T, home string) func(t *testing.T) {
				dir := filepath.Join(home, authFileName)
				require.NoError(t, os.Mkdir(dir, 0o700))
				require.NoError(t, os.WriteFile(filepath.Join(dir, "keep"), []byte("x"), 0o600))
				return func(t *testing.T) {
					data, err := os.ReadFile(filepath.Join(dir, "keep"))
					require.NoError(t, err)
					assert.Equal(t, "x", string(data))
				}
			},
		},
		{
			name: "fifo",
			setup: func(t *testing.T, home string) func(t *testing.T) {
				require.NoError(t, syscall.Mkfifo(filepath.Join(home, authFileName), 0o600))
				return func(t *testing.T) {}
			},
		},
		{
			name: "symlink as lock file",
			setup: func(t *testing.T, home string) func(t *testing.T) {
				target := filepath.Join(t.TempDir(), "lock-target")
				require.NoError(t, os.Symlink(target, filepath.Join(home, authLockFileName)))
				return func(t *testing.T) {
					_, err := os.Lstat(target)
					assert.ErrorIs(t, err, fs.ErrNotExist)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			check := tt.setup(t, home)
			s := OpenStore(home)
			called := false
			err := s.Update(context.Background(), func(f *AuthFile) error {
				called = true
				return f.SetAgentIdentityJWT(NewSecret("a.b.c"))
			})
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrUnsafeAuthFile)
			assert.NotErrorIs(t, err, ErrCorruptAuthFile)
			assert.False(t, called, "fn must not run")
			if tt.name != "symlink as lock file" {
				_, err = s.Read()
				assert.ErrorIs(t, err, ErrUnsafeAuthFile)
			}
			check(t)
		})
	}
}

func TestStoreRefusesCorruptFileUntouched(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"truncated", []byte(`{"tokens": {"access_token": "x"`)},
		{"not an object", []byte(`[]`)},
		{"duplicate members", []byte(`{"a":1,"a":2}`)},
		{"wrong type", []byte(`{"agent_identity": 1}`)},
		{"too large", []byte(`{"x":"` + strings.Repeat("a", maxAuthFileSize) + `"}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := OpenStore(t.TempDir())
			writeFile(t, s.Path(), tt.data, 0o644)
			old := time.Unix(1_700_000_000, 0)
			require.NoError(t, os.Chtimes(s.Path(), old, old))
			_, err := s.Read()
			assert.ErrorIs(t, err, ErrCorruptAuthFile)
			err = s.Update(context.Background(), func(f *AuthFile) error {
				t.Error("fn called on a corrupt file")
				return nil
			})
			assert.ErrorIs(t, err, ErrCorruptAuthFile)
			data, err := os.ReadFile(s.Path())
			require.NoError(t, err)
			assert.Equal(t, len(tt.data), len(data))
			assert.Equal(t, string(tt.data), string(data))
			fi, err := os.Stat(s.Path())
			require.NoError(t, err)
			assert.Equal(t, fs.FileMode(0o644), fi.Mode().Perm(), "mode untouched")
			assert.True(t, fi.ModTime().Equal(old), "not rewritten")
		})
	}
}

func TestStoreFailedWriteKeepsOldFile(t *testing.T) {
	stages := []atomicfile.Stage{atomicfile.StageCreate, atomicfile.StageWrite, atomicfile.StageSync, atomicfile.StageClose, atomicfile.StageRename}
	for _, stage := range stages {
		for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EROFS, syscall.EACCES} {
			t.Run(stage.String()+" "+errno.Error(), func(t *testing.T) {
				home := t.TempDir()
				s := OpenStore(home)
				orig := readSample(t, "record_form.json")
				writeFile(t, s.Path(), orig, 0o600)
				s.writeHook = func(st atomicfile.Stage) error {
					if st == stage {
						return errno
					}
					return nil
				}
				err := s.Update(context.Background(), func(f *AuthFile) error { return f.SetAgentIdentityJWT(NewSecret("n.e.w")) })
				require.Error(t, err)
				assert.ErrorIs(t, err, errno)
				assert.True(t, strings.HasPrefix(err.Error(), "codexhome: write "), err.Error())
				data, err := os.ReadFile(s.Path())
				require.NoError(t, err)
				assert.Equal(t, orig, data)
				assertNoTempFiles(t, home)
			})
		}
	}
}

func assertNoTempFiles(t *testing.T, home string) {
	t.Helper()
	entries, err := os.ReadDir(home)
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.HasPrefix(e.Name(), atomicfile.TempPrefix(authFileName)), "temp file %s left", e.Name())
	}
}

// TestStoreWriteFailsOnFullDisk makes a real write(2) fail the way a full
// disk does, with a file-size limit in a child process.
func TestStoreWriteFailsOnFullDisk(t *testing.T) {
	home := t.TempDir()
	s := OpenStore(home)
	orig := readSample(t, "jwt_form.json")
	writeFile(t, s.Path(), orig, 0o600)
	var out strings.Builder
	cmd := startHelper(t, "fsize-limit", home, 0, &out)
	require.NoError(t, cmd.Wait())
	assert.Contains(t, out.String(), "update error: codexhome: write ")
	assert.Contains(t, out.String(), syscall.EFBIG.Error())
	data, err := os.ReadFile(s.Path())
	require.NoError(t, err)
	assert.Equal(t, orig, data)
	assertNoTempFiles(t, home)
}

// TestStoreWriteFailsInReadOnlyFolder uses a folder the writer may not
// write to. Root ignores folder permissions, so when the test runs as root
// the writer is a child process running as nobody.
func TestStoreWriteFailsInReadOnlyFolder(t *testing.T) {
	orig := readSample(t, "jwt_form.json")
	if os.Geteuid() != 0 {
		home := t.TempDir()
		s := OpenStore(home)
		writeFile(t, s.Path(), orig, 0o600)
		require.NoError(t, os.WriteFile(filepath.Join(home, authLockFileName), nil, 0o600))
		require.NoError(t, os.Chmod(home, 0o500))
		t.Cleanup(func() { _ = os.Chmod(home, 0o700) })
		err := s.Update(context.Background(), func(f *AuthFile) error { return f.SetAgentIdentityJWT(NewSecret("new.jwt.value")) })
		require.Error(t, err)
		assert.ErrorIs(t, err, fs.ErrPermission)
		data, rerr := os.ReadFile(s.Path())
		require.NoError(t, rerr)
		assert.Equal(t, orig, data)
		return
	}
	const nobody = 65534
	// A folder nobody can reach, holding a copy of this test binary.
	base, err := os.MkdirTemp("", "identity-rofolder-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	require.NoError(t, os.Chmod(base, 0o755))
	bin := filepath.Join(base, "identity.test")
	copyFile(t, os.Args[0], bin, 0o755)
	home := filepath.Join(base, "home")
	require.NoError(t, os.Mkdir(home, 0o755)) // owned by root: read-only for nobody
	s := OpenStore(home)
	writeFile(t, s.Path(), orig, 0o600)
	require.NoError(t, os.WriteFile(filepath.Join(home, authLockFileName), nil, 0o600))
	for _, p := range []string{s.Path(), filepath.Join(home, authLockFileName)} {
		require.NoError(t, os.Chown(p, nobody, nobody))
	}

	var out strings.Builder
	cmd := exec.Command(bin, "-test.run=^TestStoreHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperModeEnv+"=update-once", helperHomeEnv+"="+home, "GOCOVERDIR="+base)
	cmd.Dir = base
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	require.NoError(t, cmd.Run())
	assert.Contains(t, out.String(), "update error: codexhome: write ")
	assert.Contains(t, out.String(), "permission denied")
	data, err := os.ReadFile(s.Path())
	require.NoError(t, err)
	assert.Equal(t, orig, data)
}

func copyFile(t *testing.T, src, dst string, perm fs.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	require.NoError(t, err)
	defer func() { _ = in.Close() }()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}

func TestStoreConcurrentGoroutinesLoseNoUpdate(t *testing.T) {
	s := OpenStore(t.TempDir())
	const workers, each = 16, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			// Each goroutine uses its own Store value for the same path, as
			// independent callers of OpenStore would.
			own := OpenStore(filepath.Dir(s.Path()))
			for range each {
				errs <- own.Update(context.Background(), incrementCounter)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	f, err := s.Read()
	require.NoError(t, err)
	assert.Equal(t, workers*each, counterOf(t, f))
}

func TestStoreConcurrentProcessesLoseNoUpdate(t *testing.T) {
	home := t.TempDir()
	s := OpenStore(home)
	const procs, each = 3, 30
	cmds := make([]*exec.Cmd, procs)
	for i := range cmds {
		cmds[i] = startHelper(t, "count", home, each, io.Discard)
	}
	for range each {
		require.NoError(t, s.Update(context.Background(), incrementCounter))
	}
	for _, c := range cmds {
		require.NoError(t, c.Wait())
	}
	f, err := s.Read()
	require.NoError(t, err)
	assert.Equal(t, (procs+1)*each, counterOf(t, f))
	fi, err := os.Stat(s.Path())
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())
}

func TestStoreLockOfDeadProcessDoesNotBlock(t *testing.T) {
	home := t.TempDir()
	s := OpenStore(home)
	pr, pw := io.Pipe()
	cmd := startHelper(t, "hold-lock", home, 0, pw)
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "locked\n", line)
	go func() { _, _ = io.Copy(io.Discard, pr) }()

	// While the holder lives, Update waits and gives up with the context.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	err = s.Update(ctx, incrementCounter)
	cancel()
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	_ = pw.Close()
	// The lock file is still there, but its lock died with the process.
	_, err = os.Stat(filepath.Join(home, authLockFileName))
	require.NoError(t, err)
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	require.NoError(t, s.Update(ctx, incrementCounter))
	assert.Less(t, time.Since(start), 2*time.Second)
}

func TestStoreUpdateHonoursContext(t *testing.T) {
	s := OpenStore(t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Update(ctx, incrementCounter)
	assert.ErrorIs(t, err, context.Canceled)

	// A goroutine of this process holding the store waits its turn.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	err = s.Update(context.Background(), func(f *AuthFile) error {
		return s.Update(ctx2, incrementCounter) // must not deadlock forever
	})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestStoreEmptyHome(t *testing.T) {
	s := OpenStore("")
	_, err := s.Read()
	require.Error(t, err)
	require.Error(t, s.Update(context.Background(), incrementCounter))
	assert.Empty(t, s.Path())
	require.Error(t, OpenStore(t.TempDir()).Update(context.Background(), nil))
}

// TestStoreCrashDuringSave kills a process that saves in a loop at random
// points, 50 times in all (five homes side by side, ten kills each, to keep
// the test fast under -race): the file is always the whole old or the whole
// new content.
func TestStoreCrashDuringSave(t *testing.T) {
	const homes, rounds = 5, 10
	base := readSample(t, "record_form.json")
	wantA := marshalWith(t, base, "content", contentA)
	wantB := marshalWith(t, base, "content", contentB)
	for h := range homes {
		t.Run(fmt.Sprintf("home %d", h), func(t *testing.T) {
			t.Parallel()
			home := t.TempDir()
			s := OpenStore(home)
			writeFile(t, s.Path(), wantA, 0o600)
			rng := rand.New(rand.NewPCG(uint64(h), 2))
			for i := range rounds {
				pr, pw := io.Pipe()
				cmd := startHelper(t, "save-loop", home, 0, pw)
				line, err := bufio.NewReader(pr).ReadString('\n')
				require.NoError(t, err)
				// "ready" comes after a completed save, so every round has
				// saved at least once: whether the last save before the kill
				// left the old or the new content is chance, and the test
				// asserts only what must hold for every kill time.
				require.Equal(t, "ready\n", line)
				go func() { _, _ = io.Copy(io.Discard, pr) }()
				time.Sleep(time.Duration(rng.IntN(120000)) * time.Microsecond)
				require.NoError(t, cmd.Process.Kill())
				_ = cmd.Wait()
				_ = pw.Close()

				data, err := os.ReadFile(s.Path())
				require.NoError(t, err)
				isA, isB := string(data) == string(wantA), string(data) == string(wantB)
				require.True(t, isA || isB, "round %d: the file is neither the old nor the new content (%d bytes)", i, len(data))
				mustParse(t, data)
				fi, err := os.Stat(s.Path())
				require.NoError(t, err)
				require.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())
			}
			// The next save cleans up temporary files of killed writers.
			require.NoError(t, s.Update(context.Background(), flipContent))
			assertNoTempFiles(t, home)
		})
	}
}

func TestDefaultDir(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"CODEX_HOME set", map[string]string{"CODEX_HOME": "/srv/codex", "HOME": "/home/u"}, "/srv/codex"},
		{"CODEX_HOME cleaned", map[string]string{"CODEX_HOME": " /srv/codex/ ", "HOME": "/home/u"}, "/srv/codex"},
		{"CODEX_HOME blank", map[string]string{"CODEX_HOME": "  ", "HOME": "/home/u"}, "/home/u/.codex"},
		{"home only", map[string]string{"HOME": "/home/u"}, "/home/u/.codex"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DefaultDir(func(k string) string { return tt.env[k] })
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	t.Run("nil getenv", func(t *testing.T) {
		t.Setenv("CODEX_HOME", "/from/env")
		got, err := DefaultDir(nil)
		require.NoError(t, err)
		assert.Equal(t, "/from/env", got)
	})
}

// TestStoreRefusesFilesItsReaderRefuses: no write makes an auth.json that a
// later read would refuse; the old file stays byte for byte.
func TestStoreRefusesFilesItsReaderRefuses(t *testing.T) {
	tests := []struct {
		name string
		fn   func(f *AuthFile) error
	}{
		{"task id over the limit", func(f *AuthFile) error {
			return f.SetAgentIdentityRecord(&AgentIdentityRecord{AgentRuntimeID: "agent-1", AgentPrivateKey: NewSecret("k"), TaskID: strings.Repeat("t", 4097)})
		}},
		{"task id with a C1 control", func(f *AuthFile) error {
			return f.SetAgentIdentityRecord(&AgentIdentityRecord{AgentRuntimeID: "agent-1", AgentPrivateKey: NewSecret("k"), TaskID: "task\u009b"})
		}},
		{"runtime id with a slash", func(f *AuthFile) error {
			return f.SetAgentIdentityRecord(&AgentIdentityRecord{AgentRuntimeID: "../x", AgentPrivateKey: NewSecret("k")})
		}},
		{"file over maxAuthFileSize", func(f *AuthFile) error {
			return f.SetAgentIdentityJWT(NewSecret(strings.Repeat("a", maxAuthFileSize)))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := OpenStore(t.TempDir())
			old := []byte(`{"tokens":{"access_token":"x"},"zzz":1}`)
			writeFile(t, s.Path(), old, 0o600)
			err := s.Update(context.Background(), tt.fn)
			require.ErrorIs(t, err, ErrInvalidValue)
			data, rerr := os.ReadFile(s.Path())
			require.NoError(t, rerr)
			assert.Equal(t, string(old), string(data))
			_, rerr = s.Read()
			require.NoError(t, rerr)
		})
	}
}
