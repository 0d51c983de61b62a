//go:build interop

package interop

// Rows (j) and (k): the credentials in the keyring (cli_auth_credentials_store
// = "keyring"), written by this module and used by the real Codex, and the
// reverse. A session bus (dbus-daemon) and an unlocked gnome-keyring-daemon
// are started inside the loopback-only namespace, next to the fake backend,
// with their files in the run's temporary folder; the whole namespace copy
// runs in a session keyring of its own (joined by outer before it starts
// it) and, through unshare -r, in a user namespace of its own (and so its own
// persistent keyring), so neither the user's Secret Service nor the user's
// kernel keyrings are touched.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/identitytest"
)

// sessionKeyringEnv tells the copy inside the namespace whether outer gave
// it a session keyring of its own ("1") or why not.
const sessionKeyringEnv = "AGENTID_INTEROP_SESSION_KEYRING"

const (
	rowKeyringProvisioned = `(j) Codex uses an identity this module provisioned in the keyring (cli_auth_credentials_store = "keyring", no auth.json): zero registrations`
	rowKeyringLoad        = `(k) identity.Load reads the identity Codex provisioned in the keyring: same agent and task, entry unchanged, Transport requests verify`
)

// runInFreshSessionKeyring runs cmd from an OS thread that has joined a new
// session keyring, so that the process, and everything it starts, has a
// session keyring of its own. The thread is never unlocked: its
// credentials changed, and Go ends a locked thread with its goroutine.
func runInFreshSessionKeyring(cmd *exec.Cmd) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if _, err := unix.KeyctlJoinSessionKeyring("agentidentity-interop-" + randomHex(8)); err != nil {
			cmd.Env = append(cmd.Env, sessionKeyringEnv+"=no: join a new session keyring: "+err.Error())
		} else {
			cmd.Env = append(cmd.Env, sessionKeyringEnv+"=1")
		}
		done <- cmd.Run()
	}()
	return <-done
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// keyringUnavailable fails the keyring rows under CI=true and reports them
// skipped elsewhere.
func keyringUnavailable(reason string) {
	for _, name := range []string{rowKeyringProvisioned, rowKeyringLoad} {
		if os.Getenv("CI") == "true" {
			addRow(name, errors.New(reason+" (CI=true: the keyring rows must run)"), "")
			continue
		}
		fmt.Printf("SKIP %s: %s; to run it install dbus, gnome-keyring and keyutils (as .ci/run does)\n", name, reason)
	}
}

// secretService is a private session bus and gnome-keyring-daemon.
type secretService struct {
	bus   string // DBUS_SESSION_BUS_ADDRESS
	procs []*exec.Cmd
}

// startBounded starts a daemon under timeout, in its own process group.
func startBounded(env []string, name string, args ...string) *exec.Cmd {
	bound := fmt.Sprint(int(namespaceTimeout.Seconds()))
	if v := os.Getenv(boundEnv); v != "" {
		bound = v // the seconds of the timeout the whole run is under
	}
	cmd := exec.Command("timeout", append([]string{"-k", "5", bound, name}, args...)...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// stop ends the daemons this run started, by pid: SIGTERM to timeout (which
// passes it on), then SIGKILL to the process group it leads.
func (s *secretService) stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		p := s.procs[i]
		_ = p.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
		}
		_ = syscall.Kill(-p.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// startSecretService starts dbus-daemon and an unlocked gnome-keyring-daemon
// inside this namespace, with their files under dir, and waits until the
// Secret Service takes a write through codexhome.
func startSecretService(dir string) (*secretService, error) {
	for _, bin := range []string{"dbus-daemon", "gnome-keyring-daemon"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("%s not found", bin)
		}
	}
	run, data := filepath.Join(dir, "run"), filepath.Join(dir, "data")
	for _, d := range []string{run, data} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	conf := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=`+run+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
</busconfig>
`), 0o600); err != nil {
		return nil, err
	}
	s := &secretService{}
	base := []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + dir, "XDG_DATA_HOME=" + data, "XDG_RUNTIME_DIR=" + run}
	bus := startBounded(base, "dbus-daemon", "--config-file="+conf, "--nofork", "--print-address=1")
	stdout, err := bus.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := bus.Start(); err != nil {
		return nil, fmt.Errorf("start dbus-daemon: %v", err)
	}
	s.procs = append(s.procs, bus)
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		addr <- strings.TrimSpace(line)
	}()
	select {
	case s.bus = <-addr:
	case <-time.After(10 * time.Second):
	}
	if s.bus == "" {
		s.stop()
		return nil, errors.New("dbus-daemon printed no address")
	}
	gk := startBounded(append(base, "DBUS_SESSION_BUS_ADDRESS="+s.bus),
		"gnome-keyring-daemon", "--unlock", "--components=secrets", "--foreground")
	gk.Stdin = strings.NewReader("interop-test-password")
	if err := gk.Start(); err != nil {
		s.stop()
		return nil, fmt.Errorf("start gnome-keyring-daemon: %v", err)
	}
	s.procs = append(s.procs, gk)

	// codexhome reads the bus address from the environment.
	_ = os.Setenv("DBUS_SESSION_BUS_ADDRESS", s.bus)
	probe := filepath.Join(dir, "probe-home")
	if err := os.MkdirAll(probe, 0o700); err != nil {
		s.stop()
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(probe, "config.toml"), []byte(`cli_auth_credentials_store = "keyring"`+"\n"), 0o600); err != nil {
		s.stop()
		return nil, err
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := codexhome.OpenStore(probe).Update(context.Background(),
			func(f *codexhome.AuthFile) error { return f.SetAuthMode("probe-" + randomHex(4)) })
		if err == nil {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.stop()
			_ = os.Unsetenv("DBUS_SESSION_BUS_ADDRESS")
			return nil, fmt.Errorf("the Secret Service did not come up: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// rowsKeyring runs rows (j) and (k) against a private Secret Service.
func (h *harness) rowsKeyring() {
	if v := os.Getenv(sessionKeyringEnv); v != "1" {
		keyringUnavailable("no session keyring of its own for this run (" + v + ")")
		return
	}
	ss, err := startSecretService(filepath.Join(h.tmp, "keyring"))
	if err != nil {
		keyringUnavailable(err.Error())
		return
	}
	defer func() {
		ss.stop()
		_ = os.Unsetenv("DBUS_SESSION_BUS_ADDRESS")
	}()
	fmt.Printf("codex-interop: session bus %s and gnome-keyring-daemon inside the namespace\n", ss.bus)
	h.rowKeyringProvisioned(ss)
	h.rowKeyringLoad(ss)
}

// newKeyringHome makes a Codex home whose config.toml sets
// cli_auth_credentials_store = "keyring" and whose fresh ChatGPT login is in
// the keyring only: written as auth.json, then moved into the keyring by
// codexhome under cli_auth_credentials_store = "auto" (the keyring is
// reachable, so the write goes there and auth.json is removed, as the Codex
// CLI does).
func (h *harness) newKeyringHome(name string) (string, identitytest.ChatGPTLogin, error) {
	home, login := h.newHome(name, identitytest.LoginOptions{})
	cfgPath := filepath.Join(home, "config.toml")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		return "", login, err
	}
	// A top-level key: before the first table.
	withStore := func(mode string) error {
		return os.WriteFile(cfgPath, append([]byte(`cli_auth_credentials_store = "`+mode+`"`+"\n"), cfg...), 0o600)
	}
	if err := withStore("auto"); err != nil {
		return "", login, err
	}
	err = codexhome.OpenStore(home).Update(context.Background(), func(f *codexhome.AuthFile) error {
		return f.SetRefreshedTokens(codexhome.Tokens{AccessToken: login.AccessToken}, time.Now())
	})
	if err != nil {
		return "", login, fmt.Errorf("move the login into the keyring: %v", err)
	}
	if err := withStore("keyring"); err != nil {
		return "", login, err
	}
	if err := noAuthFile(home); err != nil {
		return "", login, err
	}
	f, src, err := codexhome.OpenStore(home).ReadSource()
	if err != nil || src != codexhome.CredentialsStoreKeyring || f.Tokens() == nil {
		return "", login, fmt.Errorf("the keyring does not hold the login (read from %s: %v)", src, err)
	}
	return home, login, nil
}

// codexKeyringService and codexKeyringAccount name the keyring entry in
// which the Codex CLI keeps the credentials of home
// (docs/protocol.md#credential-stores: service "Codex Auth", account "cli|"
// and the first 16 hex digits of the SHA-256 of the canonical $CODEX_HOME
// path), computed here independently of codexhome, so that the rows check
// that codexhome writes where Codex reads.
const codexKeyringService = "Codex Auth"

func codexKeyringAccount(home string) string {
	p := home
	if abs, err := filepath.Abs(home); err == nil {
		p = abs
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			p = real
		}
	}
	sum := sha256.Sum256([]byte(p))
	return "cli|" + hex.EncodeToString(sum[:])[:16]
}

func noAuthFile(home string) error {
	if _, err := os.Lstat(filepath.Join(home, "auth.json")); !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("auth.json exists in keyring mode (%v)", err)
	}
	return nil
}

// keyringEntry is what the keyring holds for home: the value read back
// through codexhome (which must say it read the keyring), the agent
// identity record in it, and what secret-tool, an independent reader, and
// the keyutils entry (the mirror the keyring crate's persistent credential
// keeps) hold.
type keyringEntry struct {
	value      []byte // codexhome's reading, as auth.json would hold it
	rec        storedIdentity
	secretTool string // "" when secret-tool is not installed
	keyutils   []byte // nil when there is no keyutils entry
}

func (h *harness) readKeyringEntry(home string) (keyringEntry, error) {
	var e keyringEntry
	if err := noAuthFile(home); err != nil {
		return e, err
	}
	f, src, err := codexhome.OpenStore(home).ReadSource()
	if err != nil {
		return e, err
	}
	if src != codexhome.CredentialsStoreKeyring {
		return e, fmt.Errorf("codexhome read the credentials from %s, not the keyring", src)
	}
	if e.value, err = f.Marshal(); err != nil {
		return e, err
	}
	if e.rec, err = h.identityRecord(e.value); err != nil {
		return e, fmt.Errorf("the keyring entry: %v", err)
	}

	account := codexKeyringAccount(home)
	if _, err := exec.LookPath("secret-tool"); err == nil {
		cmd := exec.Command("timeout", "10", "secret-tool", "lookup", "service", codexKeyringService, "username", account)
		cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "DBUS_SESSION_BUS_ADDRESS=" + os.Getenv("DBUS_SESSION_BUS_ADDRESS")}
		out, err := cmd.Output()
		if err != nil {
			return e, fmt.Errorf("secret-tool lookup service %q username %q: %v", codexKeyringService, account, err)
		}
		if !sameJSON(out, e.value) {
			return e, errors.New("secret-tool reads another value than codexhome")
		}
		e.secretTool = string(out)
	}
	id, err := unix.KeyctlSearch(unix.KEY_SPEC_SESSION_KEYRING, "user", "keyring-rs:"+account+"@"+codexKeyringService, 0)
	if err == nil {
		buf := make([]byte, 64<<10)
		n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, id, buf, 0)
		if err != nil || n > len(buf) {
			return e, fmt.Errorf("read the keyutils entry: %v", err)
		}
		e.keyutils = buf[:n]
	}
	return e, nil
}

// sameJSON compares two JSON texts after compaction (the keyring holds
// compact JSON, codexhome's Marshal the pretty form of auth.json).
func sameJSON(a, b []byte) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, bytes.TrimSpace(a)) != nil || json.Compact(&cb, bytes.TrimSpace(b)) != nil {
		return false
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

func (e keyringEntry) readers() string {
	s := "codexhome"
	if e.secretTool != "" {
		s += " and secret-tool"
	}
	return s
}

// (j) an identity this module provisioned in the keyring, used by Codex.
func (h *harness) rowKeyringProvisioned(ss *secretService) {
	var r codexRun
	ev := ""
	err := func() error {
		home, _, err := h.newKeyringHome("home-j")
		if err != nil {
			return err
		}
		ra, err := h.loadChatGPT(context.Background(), home)
		if err != nil {
			return err
		}
		e, err := h.readKeyringEntry(home)
		if err != nil {
			return err
		}
		if e.rec.AgentRuntimeID != ra.AgentRuntimeID() || e.rec.TaskID == "" {
			return fmt.Errorf("the keyring holds agent %q task %q, identity.Load made %q", e.rec.AgentRuntimeID, e.rec.TaskID, ra.AgentRuntimeID())
		}
		if e.keyutils == nil || !sameJSON(e.keyutils, e.value) {
			return errors.New("the keyutils mirror does not hold the value written to the Secret Service")
		}
		ev = "entry read by " + e.readers() + ", keyutils mirror equal; "
		r = h.runCodex(home, "DBUS_SESSION_BUS_ADDRESS="+ss.bus)
		if err := r.turnOK(); err != nil {
			return err
		}
		if err := signedOnlyAs(r, e.rec); err != nil {
			return err
		}
		after, err := h.readKeyringEntry(home)
		if err != nil {
			return fmt.Errorf("after Codex: %v", err)
		}
		if after.rec != e.rec {
			return errors.New("Codex changed the agent identity record in the keyring")
		}
		return nil
	}()
	addRow(rowKeyringProvisioned, err, ev+r.summary())
}

// (k) Codex provisions in keyring mode; this module loads the result.
func (h *harness) rowKeyringLoad(ss *secretService) {
	var r codexRun
	ev := ""
	err := func() error {
		home, _, err := h.newKeyringHome("home-k")
		if err != nil {
			return err
		}
		r = h.runCodex(home, "DBUS_SESSION_BUS_ADDRESS="+ss.bus)
		if err := r.turnOK(); err != nil {
			return err
		}
		agents, tasks := r.find(isAgentReg), r.find(isTaskReg)
		if len(agents) != 1 || len(tasks) != 1 {
			return fmt.Errorf("%d agent and %d task registrations, want 1 and 1", len(agents), len(tasks))
		}
		e, err := h.readKeyringEntry(home)
		if err != nil {
			return fmt.Errorf("after Codex: %v", err)
		}
		if err := h.sameRegistrationBodies(agents[0], tasks[0], e.rec, false); err != nil {
			return err
		}
		mirror := "no keyutils entry"
		if e.keyutils != nil {
			mirror = "keyutils entry equal"
			if !sameJSON(e.keyutils, e.value) {
				// The keyring crate's builder gives Codex a plain Secret
				// Service credential (see codexhome's credstore.go), so
				// the mirror of the seeding write is left as it was.
				mirror = "keyutils entry the seed's (Codex writes the Secret Service only)"
			}
		}
		ev = "Codex's entry read by " + e.readers() + ", " + mirror + "; "

		if err := h.loadsAsStored(home, e.rec); err != nil {
			return err
		}
		after, err := h.readKeyringEntry(home)
		if err != nil {
			return fmt.Errorf("after identity.Load: %v", err)
		}
		if !bytes.Equal(after.value, e.value) || after.secretTool != e.secretTool {
			return errors.New("identity.Load changed the keyring entry")
		}
		ev += "agent, task, 2 requests verified; "
		return nil
	}()
	addRow(rowKeyringLoad, err, ev+r.summary())
}
