//go:build interop

package interop

// Rows (j) and (k): the credentials in the keyring (cli_auth_credentials_store
// = "keyring"), written by this module and used by the real Codex, and the
// reverse. Each row runs against a session bus (dbus-daemon) and an unlocked
// gnome-keyring-daemon of its own (testkit.StartSecretService), started
// inside the loopback-only namespace, next to the fake backend, with their
// files in the run's temporary folder; the whole namespace copy runs in a
// session keyring of its own (joined by outer before it starts it) and,
// through unshare -r, in a user namespace of its own (and so its own
// persistent keyring), so neither the user's Secret Service nor the user's
// kernel keyrings are touched.

import (
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
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/identitytest"
	"github.com/agentidentity/agentidentity/internal/testkit"
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

// keyringUnavailable fails a keyring row under CI=true and reports it
// skipped elsewhere.
func keyringUnavailable(name, reason string) {
	if os.Getenv("CI") == "true" {
		addRow(name, errors.New(reason+" (CI=true: the keyring rows must run)"), "")
		return
	}
	fmt.Printf("SKIP %s: %s; to run it install dbus, gnome-keyring and keyutils (as .ci/run does)\n", name, reason)
}

// keyringAttempts bounds the runs of one keyring row. A row runs again only
// when gnome-keyring-daemon died of the crash testkit.KeyringCrashAssertion
// describes, which a client whose first call is OpenSession can trigger:
// codexhome reads the service's properties first, but the real Codex is
// not this module's to change. Any other failure, or a last run the daemon
// did not survive, fails the row.
const keyringAttempts = 3

// daemonBound is how long the daemons a row starts may run at most: as long
// as the whole run inside the namespace (boundEnv, else namespaceTimeout).
func daemonBound() time.Duration {
	if v, err := strconv.Atoi(os.Getenv(boundEnv)); err == nil && v > 0 {
		return time.Duration(v) * time.Second
	}
	return namespaceTimeout
}

// rowsKeyring runs rows (j) and (k), each against a private Secret Service.
func (h *harness) rowsKeyring() {
	rows := []struct {
		name, home string
		run        func(ss *testkit.SecretService, home string) (string, error)
	}{
		{rowKeyringProvisioned, "home-j", h.rowKeyringProvisioned},
		{rowKeyringLoad, "home-k", h.rowKeyringLoad},
	}
	if v := os.Getenv(sessionKeyringEnv); v != "1" {
		for _, r := range rows {
			keyringUnavailable(r.name, "no session keyring of its own for this run ("+v+")")
		}
		return
	}
	for _, r := range rows {
		h.keyringRow(r.name, r.home, r.run)
	}
}

// keyringRow runs one keyring row against a fresh bus and
// gnome-keyring-daemon, with a fresh Codex home named after home, and adds
// its result. When the daemon died during the row of its known crash, the
// row is run again from that clean state, up to keyringAttempts runs in
// all; each such death is printed with the daemon's log and noted in the
// row's evidence.
func (h *harness) keyringRow(name, home string, run func(ss *testkit.SecretService, home string) (string, error)) {
	var retried []string
	for attempt := 1; ; attempt++ {
		attemptHome := home
		if attempt > 1 {
			attemptHome = fmt.Sprintf("%s-%d", home, attempt)
		}
		ss, err := testkit.StartSecretService(filepath.Join(h.tmp, "keyring-"+attemptHome), daemonBound())
		if err != nil {
			keyringUnavailable(name, err.Error())
			return
		}
		fmt.Printf("codex-interop: session bus %s and gnome-keyring-daemon inside the namespace\n", ss.Address)
		// codexhome reads the bus address from the environment.
		_ = os.Setenv("DBUS_SESSION_BUS_ADDRESS", ss.Address)
		evidence, err := run(ss, attemptHome)
		how, log, died := ss.Died()
		ss.Stop()
		_ = os.Unsetenv("DBUS_SESSION_BUS_ADDRESS")
		if died && testkit.KnownKeyringCrash(log) && attempt < keyringAttempts {
			note := fmt.Sprintf("run %d: gnome-keyring-daemon died of its known OpenSession crash (%s), run again on a fresh bus, daemon and home", attempt, how)
			fmt.Printf("codex-interop: %s: %s; the row had: %v; the daemon's log:\n%s\n", name, note, err, log)
			retried = append(retried, note)
			continue
		}
		if died {
			err = fmt.Errorf("gnome-keyring-daemon died during the row (%s; its log: %q); the row had: %v", how, strings.TrimSpace(log), err)
		}
		if len(retried) > 0 {
			evidence = strings.Join(retried, "; ") + "; " + evidence
		}
		addRow(name, err, evidence)
		return
	}
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
func (h *harness) rowKeyringProvisioned(ss *testkit.SecretService, name string) (string, error) {
	var r codexRun
	ev := ""
	err := func() error {
		home, _, err := h.newKeyringHome(name)
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
		r = h.runCodex(home, "DBUS_SESSION_BUS_ADDRESS="+ss.Address)
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
	return ev + r.summary(), err
}

// (k) Codex provisions in keyring mode; this module loads the result.
func (h *harness) rowKeyringLoad(ss *testkit.SecretService, name string) (string, error) {
	var r codexRun
	ev := ""
	err := func() error {
		home, _, err := h.newKeyringHome(name)
		if err != nil {
			return err
		}
		r = h.runCodex(home, "DBUS_SESSION_BUS_ADDRESS="+ss.Address)
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
	return ev + r.summary(), err
}
