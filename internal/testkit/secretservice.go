//go:build unix

package testkit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/godbus/dbus/v5"
)

// KeyringCrashAssertion is what gnome-keyring-daemon (42 to 50 at least)
// logs just before it aborts on an OpenSession from a caller it has not
// recorded yet. It records each caller from a high-priority idle that its
// D-Bus message filter queues, and GLib's main loop lets go of its lock
// while it checks each ready source, so such an idle can miss its round
// while the caller's method call, queued after it, is dispatched in that
// round. A client whose first call is OpenSession can lose that race
// (codexhome reads the service's properties first, as libsecret does), and
// then the daemon, and every client's keyring with it, is gone.
const KeyringCrashAssertion = "gkd_secret_service_get_pkcs11_session: assertion 'client' failed"

// KnownKeyringCrash reports whether log, the output of a
// gnome-keyring-daemon that died, shows the crash KeyringCrashAssertion
// describes: the one death of the daemon a keyring test may answer by
// running again on a fresh daemon. Any other death is a failure.
func KnownKeyringCrash(log string) bool {
	return strings.Contains(log, KeyringCrashAssertion)
}

// secretServiceReady bounds the wait for the Secret Service to answer.
const secretServiceReady = 20 * time.Second

// SecretService is a private D-Bus session bus (dbus-daemon) and an
// unlocked gnome-keyring-daemon serving the Secret Service on it, with every
// file of both under one folder: what the keyring tests run against instead
// of the user's session. Stop ends both; Died tells whether the keyring
// daemon ended before that.
type SecretService struct {
	// Address is the bus address, for DBUS_SESSION_BUS_ADDRESS.
	Address string
	// Env is the environment the daemons run in: PATH, and HOME,
	// XDG_DATA_HOME and XDG_RUNTIME_DIR under the folder, and
	// DBUS_SESSION_BUS_ADDRESS.
	Env []string

	logPath string
	bus     *exec.Cmd
	keyring *exec.Cmd
	busDone chan struct{}
	gkDone  chan struct{}
	gkErr   error // set before gkDone is closed

	mu      sync.Mutex
	stopped bool
}

// StartSecretService starts a session bus and an unlocked
// gnome-keyring-daemon with their files under dir (made if missing), each
// under coreutils timeout (so neither outlives bound, even if the test
// dies) in a process group of its own, and waits until the Secret Service
// has finished starting: until its Collections property can be read (the
// daemon answers that from its main loop, which it enters only once its
// service is fully set up) and then, on a second connection, its default
// collection found. It sends no OpenSession, so it cannot trip the crash
// KeyringCrashAssertion describes. On error nothing is left running.
func StartSecretService(dir string, bound time.Duration) (*SecretService, error) {
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
	s := &SecretService{logPath: filepath.Join(dir, "gnome-keyring-daemon.log"), busDone: make(chan struct{}), gkDone: make(chan struct{})}
	base := []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + dir, "XDG_DATA_HOME=" + data, "XDG_RUNTIME_DIR=" + run}

	s.bus = bounded(dir, base, bound, "dbus-daemon", "--config-file="+conf, "--nofork", "--print-address=1")
	stdout, err := s.bus.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.bus.Start(); err != nil {
		return nil, fmt.Errorf("start dbus-daemon: %w", err)
	}
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		addr <- strings.TrimSpace(line)
		_ = s.bus.Wait()
		close(s.busDone)
	}()
	select {
	case s.Address = <-addr:
	case <-time.After(secretServiceReady):
	}
	if s.Address == "" {
		s.Stop()
		return nil, errors.New("dbus-daemon printed no address")
	}
	s.Env = append(base, "DBUS_SESSION_BUS_ADDRESS="+s.Address)

	logFile, err := os.Create(s.logPath)
	if err != nil {
		s.Stop()
		return nil, err
	}
	defer func() { _ = logFile.Close() }() // the daemon has its own copy
	s.keyring = bounded(dir, s.Env, bound, "gnome-keyring-daemon", "--unlock", "--components=secrets", "--foreground")
	s.keyring.Stdin = strings.NewReader("test-password")
	s.keyring.Stdout, s.keyring.Stderr = logFile, logFile
	if err := s.keyring.Start(); err != nil {
		s.Stop()
		return nil, fmt.Errorf("start gnome-keyring-daemon: %w", err)
	}
	go func() {
		s.gkErr = s.keyring.Wait()
		close(s.gkDone)
	}()
	if err := s.waitReady(); err != nil {
		how, log, died := s.Died()
		s.Stop()
		if died {
			return nil, fmt.Errorf("gnome-keyring-daemon exited while starting (%s); its log:\n%s", how, log)
		}
		return nil, err
	}
	return s, nil
}

// bounded is name under coreutils timeout, in dir, with env only, in a
// process group of its own.
func bounded(dir string, env []string, bound time.Duration, name string, args ...string) *exec.Cmd {
	secs := fmt.Sprint(int(bound.Seconds()))
	cmd := exec.Command("timeout", append([]string{"-k", "5", secs, name}, args...)...)
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// waitReady polls the Secret Service until it answers; see
// StartSecretService.
func (s *SecretService) waitReady() error {
	deadline := time.Now().Add(secretServiceReady)
	var err error
	for {
		// The first read that succeeds proves the daemon set its service
		// up (its message filter, which records callers, included); it may
		// have reached the daemon before that filter, so the default
		// collection is looked up on a fresh connection.
		if err = s.call(false); err == nil {
			if err = s.call(true); err == nil {
				return nil
			}
		}
		select {
		case <-s.gkDone:
			return errors.New("gnome-keyring-daemon exited")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the Secret Service did not come up in %v: %v", secretServiceReady, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// call reads the service's Collections property on a new connection and,
// when withDefault is set, then looks up the default collection.
func (s *SecretService) call(withDefault bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := dbus.Connect(s.Address, dbus.WithContext(ctx))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	svc := conn.Object("org.freedesktop.secrets", "/org/freedesktop/secrets")
	var collections dbus.Variant
	if err := svc.CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, "org.freedesktop.Secret.Service", "Collections").Store(&collections); err != nil {
		return err
	}
	if !withDefault {
		return nil
	}
	var coll dbus.ObjectPath
	if err := svc.CallWithContext(ctx, "org.freedesktop.Secret.Service.ReadAlias", 0, "default").Store(&coll); err != nil {
		return err
	}
	if coll == "/" {
		return errors.New("the Secret Service has no default collection yet")
	}
	return nil
}

// Died reports whether gnome-keyring-daemon has exited without Stop and,
// if so, how (the wait status) and what it logged.
func (s *SecretService) Died() (how, log string, died bool) {
	s.mu.Lock()
	stopped := s.stopped
	s.mu.Unlock()
	if stopped || s.keyring == nil {
		return "", "", false
	}
	select {
	case <-s.gkDone:
	default:
		return "", "", false
	}
	b, _ := os.ReadFile(s.logPath)
	how = "exit status 0"
	if s.gkErr != nil {
		how = s.gkErr.Error()
	}
	return how, string(b), true
}

// Stop ends gnome-keyring-daemon and then the bus, by pid: SIGTERM to
// timeout (which passes it on), then, after 3 seconds, SIGKILL to the
// process group it leads. It waits for both. A second Stop does nothing.
func (s *SecretService) Stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	s.mu.Unlock()
	for _, p := range []struct {
		cmd  *exec.Cmd
		done chan struct{}
	}{{s.keyring, s.gkDone}, {s.bus, s.busDone}} {
		if p.cmd == nil || p.cmd.Process == nil {
			continue
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(3 * time.Second):
		}
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}
