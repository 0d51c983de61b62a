//go:build unix

package testkit

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKnownKeyringCrash(t *testing.T) {
	tests := []struct {
		name string
		log  string
		want bool
	}{
		{"the OpenSession race", "\n** (gnome-keyring-daemon:15295): CRITICAL **: 23:51:42.715: gkd_secret_service_get_pkcs11_session: assertion 'client' failed\n\n** (gnome-keyring-daemon:15295): CRITICAL **: 23:51:42.715: plain_negotiate: assertion 'session' failed\n", true},
		{"another assertion", "** (gnome-keyring-daemon:1): CRITICAL **: gkd_secret_objects_foo: assertion 'x' failed\n", false},
		{"an empty log", "", false},
		{"a killed daemon", "gnome-keyring-daemon: received signal, exiting\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, KnownKeyringCrash(tt.log))
		})
	}
}

// startOrSkip starts a SecretService, skipping the test when dbus-daemon or
// gnome-keyring-daemon is not installed (failing it under CI=true).
func startOrSkip(t *testing.T) *SecretService {
	t.Helper()
	for _, bin := range []string{"dbus-daemon", "gnome-keyring-daemon", "timeout"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not found (CI=true: install dbus and gnome-keyring, as .ci/run does)", bin)
			}
			t.Skipf("%s not found", bin)
		}
	}
	s, err := StartSecretService(t.TempDir(), time.Minute)
	require.NoError(t, err)
	t.Cleanup(s.Stop)
	return s
}

func TestSecretServiceReadyAndStopped(t *testing.T) {
	s := startOrSkip(t)
	assert.Contains(t, s.Env, "DBUS_SESSION_BUS_ADDRESS="+s.Address)

	// Ready: the default collection is there and a session opens.
	conn, err := dbus.Connect(s.Address)
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	svc := conn.Object("org.freedesktop.secrets", "/org/freedesktop/secrets")
	var collections dbus.Variant
	require.NoError(t, svc.Call("org.freedesktop.DBus.Properties.Get", 0, "org.freedesktop.Secret.Service", "Collections").Store(&collections))
	var coll dbus.ObjectPath
	require.NoError(t, svc.Call("org.freedesktop.Secret.Service.ReadAlias", 0, "default").Store(&coll))
	assert.NotEqual(t, dbus.ObjectPath("/"), coll, "a default collection")
	var out dbus.Variant
	var session dbus.ObjectPath
	require.NoError(t, svc.Call("org.freedesktop.Secret.Service.OpenSession", 0, "plain", dbus.MakeVariant("")).Store(&out, &session))

	_, _, died := s.Died()
	assert.False(t, died, "running")
	s.Stop()
	_, _, died = s.Died()
	assert.False(t, died, "stopped, not died")
	s.Stop() // a second Stop does nothing
}

func TestSecretServiceDied(t *testing.T) {
	s := startOrSkip(t)
	// End the daemon from outside, as a crash would: its whole group.
	require.NoError(t, syscall.Kill(-s.keyring.Process.Pid, syscall.SIGKILL))
	<-s.gkDone
	how, log, died := s.Died()
	assert.True(t, died)
	assert.Contains(t, how, "killed")
	assert.False(t, KnownKeyringCrash(log))
}
