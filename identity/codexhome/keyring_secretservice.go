//go:build linux || freebsd || openbsd || netbsd || dragonfly

package codexhome

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/godbus/dbus/v5"
)

// The Secret Service D-Bus API (freedesktop.org Secret Service 0.2).
const (
	ssName        = "org.freedesktop.secrets"
	ssPath        = dbus.ObjectPath("/org/freedesktop/secrets")
	ssService     = "org.freedesktop.Secret.Service"
	ssCollection  = "org.freedesktop.Secret.Collection"
	ssItem        = "org.freedesktop.Secret.Item"
	ssSession     = "org.freedesktop.Secret.Session"
	ssNoPrompt    = dbus.ObjectPath("/")
	ssContentType = "text/plain"
)

// ssTimeout bounds one whole exchange with the Secret Service.
const ssTimeout = 10 * time.Second

// ssSecret is the Secret struct of the API, (oayays).
type ssSecret struct {
	Session     dbus.ObjectPath
	Parameters  []byte
	Value       []byte
	ContentType string
}

// secretService talks to the Secret Service on the session bus over a
// private connection per operation, every call bounded by ssTimeout, with
// the item layout of the keyring crate that the Codex CLI uses.
//
// It is written on github.com/godbus/dbus (the D-Bus library that
// github.com/zalando/go-keyring itself uses) rather than through go-keyring,
// for strictness and compatibility: go-keyring's Linux backend writes an item
// with only the service and username attributes, so next to an item the
// Codex CLI created (service, username, target=default,
// application=rust-keyring) it would add a second one, and the Codex CLI
// then fails with an ambiguous entry; it also waits without a bound on an
// unlock prompt and shares one global bus connection. Its exported
// building blocks (github.com/zalando/go-keyring/secret_service) were not
// enough either: they connect only through dbus.SessionBus (the shared
// connection, which may autolaunch a bus), take no context (no call is
// bounded), search one collection rather than the whole service, cannot
// read an item's attributes (needed for the target rule) or change a secret
// in place (Item.SetSecret), and wait on a prompt's signal for ever. What
// is left here is the D-Bus calls themselves; godbus does the transport,
// the marshalling and the per-call deadlines. go-keyring is still what this
// package uses for the macOS Keychain.
type secretService struct {
	// address is the bus address; empty means $DBUS_SESSION_BUS_ADDRESS,
	// else $XDG_RUNTIME_DIR/bus (never an autolaunched bus).
	address string
}

func (s secretService) busAddress() (string, error) {
	if s.address != "" {
		return s.address, nil
	}
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" {
		return a, nil
	}
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		dir = fmt.Sprintf("/run/user/%d", os.Getuid())
	}
	if fi, err := os.Stat(dir + "/bus"); err == nil && fi.Mode()&os.ModeSocket != 0 {
		return "unix:path=" + dir + "/bus", nil
	}
	return "", fmt.Errorf("%w: no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)", ErrKeyringUnavailable)
}

// ssConn is one open connection and plain-text session.
type ssConn struct {
	ctx     context.Context
	conn    *dbus.Conn
	session dbus.ObjectPath
}

func (s secretService) open(ctx context.Context) (*ssConn, error) {
	addr, err := s.busAddress()
	if err != nil {
		return nil, err
	}
	conn, err := dbus.Connect(addr, dbus.WithContext(ctx))
	if err != nil {
		return nil, unavailable("connect to the session bus", err)
	}
	c := &ssConn{ctx: ctx, conn: conn}
	// The first call on a new connection reads the service's Collections
	// property (as libsecret does: it reads all of them); OpenSession comes
	// second. gnome-keyring-daemon (42 to 50 at least) records each caller
	// from a high-priority idle that its D-Bus message filter queues, and
	// GLib's main loop lets go of its lock while it checks each ready
	// source, so such an idle can miss its round while the caller's method
	// call, queued after it, is dispatched in that round. OpenSession needs
	// the record: without it the daemon aborts ("assertion 'client'
	// failed") and every client loses its keyring. Collections is read with
	// the daemon's own session, needs no record, and is answered from that
	// main loop, so once its reply is here the idle runs before any later
	// call of this connection.
	var collections dbus.Variant
	if err := c.service().CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, ssService, "Collections").Store(&collections); err != nil {
		_ = conn.Close()
		return nil, unavailable("reach the Secret Service", err)
	}
	var ignored dbus.Variant
	if err := c.service().CallWithContext(ctx, ssService+".OpenSession", 0, "plain", dbus.MakeVariant("")).Store(&ignored, &c.session); err != nil {
		_ = conn.Close()
		return nil, unavailable("open a Secret Service session", err)
	}
	return c, nil
}

func (c *ssConn) close() {
	if c.session != "" {
		_ = c.conn.Object(ssName, c.session).CallWithContext(c.ctx, ssSession+".Close", 0).Err
	}
	_ = c.conn.Close()
}

func (c *ssConn) service() dbus.BusObject { return c.conn.Object(ssName, ssPath) }

func unavailable(what string, err error) error {
	return fmt.Errorf("%w: %s: %v", ErrKeyringUnavailable, what, err)
}

// find returns the one item matching service and account, "" when there is
// none, unlocking it when it is locked (without prompting).
func (c *ssConn) find(service, account string) (dbus.ObjectPath, error) {
	var unlocked, locked []dbus.ObjectPath
	attrs := map[string]string{"service": service, "username": account}
	if err := c.service().CallWithContext(c.ctx, ssService+".SearchItems", 0, attrs).Store(&unlocked, &locked); err != nil {
		return "", unavailable("search the Secret Service", err)
	}
	var matches, lockedMatches []dbus.ObjectPath
	for _, group := range []struct {
		items  []dbus.ObjectPath
		locked bool
	}{{unlocked, false}, {locked, true}} {
		for _, it := range group.items {
			v, err := c.conn.Object(ssName, it).GetProperty(ssItem + ".Attributes")
			if err != nil {
				return "", unavailable("read an item's attributes", err)
			}
			a, _ := v.Value().(map[string]string)
			if t, ok := a["target"]; ok && t != "default" {
				continue
			}
			matches = append(matches, it)
			if group.locked {
				lockedMatches = append(lockedMatches, it)
			}
		}
	}
	switch {
	case len(matches) == 0:
		return "", nil
	case len(matches) > 1:
		return "", fmt.Errorf("%w: %d Secret Service items match service %q and account %q; remove all but one", ErrKeyringUnavailable, len(matches), service, account)
	}
	if len(lockedMatches) > 0 {
		if err := c.unlock(lockedMatches[0]); err != nil {
			return "", err
		}
	}
	return matches[0], nil
}

// unlock unlocks a collection or an item; one that needs a prompt is
// refused, since a library cannot answer it.
func (c *ssConn) unlock(obj dbus.ObjectPath) error {
	var done []dbus.ObjectPath
	var prompt dbus.ObjectPath
	if err := c.service().CallWithContext(c.ctx, ssService+".Unlock", 0, []dbus.ObjectPath{obj}).Store(&done, &prompt); err != nil {
		return unavailable("unlock the keyring", err)
	}
	if prompt != ssNoPrompt || len(done) != 1 {
		return fmt.Errorf("%w: the keyring is locked; unlock it (for example by logging in to the desktop)", ErrKeyringUnavailable)
	}
	return nil
}

func (s secretService) load(account string) (string, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ssTimeout)
	defer cancel()
	c, err := s.open(ctx)
	if err != nil {
		return "", false, err
	}
	defer c.close()
	item, err := c.find(keyringService, account)
	if err != nil || item == "" {
		return "", false, err
	}
	var sec ssSecret
	if err := c.conn.Object(ssName, item).CallWithContext(ctx, ssItem+".GetSecret", 0, c.session).Store(&sec); err != nil {
		return "", false, unavailable("read the secret", err)
	}
	return string(sec.Value), true, nil
}

func (s secretService) save(account, value string) error {
	ctx, cancel := context.WithTimeout(context.Background(), ssTimeout)
	defer cancel()
	c, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer c.close()
	sec := ssSecret{Session: c.session, Parameters: []byte{}, Value: []byte(value), ContentType: ssContentType}
	item, err := c.find(keyringService, account)
	if err != nil {
		return err
	}
	if item != "" {
		if err := c.conn.Object(ssName, item).CallWithContext(ctx, ssItem+".SetSecret", 0, sec).Err; err != nil {
			return unavailable("write the secret", err)
		}
		return nil
	}
	var coll dbus.ObjectPath
	if err := c.service().CallWithContext(ctx, ssService+".ReadAlias", 0, "default").Store(&coll); err != nil {
		return unavailable("find the default collection", err)
	}
	if coll == ssNoPrompt {
		return fmt.Errorf("%w: the Secret Service has no default collection", ErrKeyringUnavailable)
	}
	if v, err := c.conn.Object(ssName, coll).GetProperty(ssCollection + ".Locked"); err == nil {
		if locked, _ := v.Value().(bool); locked {
			if err := c.unlock(coll); err != nil {
				return err
			}
		}
	}
	props := map[string]dbus.Variant{
		ssItem + ".Label": dbus.MakeVariant(fmt.Sprintf("Codex Auth (%s), written by github.com/agentidentity/agentidentity", account)),
		ssItem + ".Attributes": dbus.MakeVariant(map[string]string{
			"service": keyringService, "username": account, "target": "default", "application": "rust-keyring",
		}),
	}
	var created, prompt dbus.ObjectPath
	if err := c.conn.Object(ssName, coll).CallWithContext(ctx, ssCollection+".CreateItem", 0, props, sec, true).Store(&created, &prompt); err != nil {
		return unavailable("create the keyring item", err)
	}
	if prompt != ssNoPrompt {
		return fmt.Errorf("%w: creating the keyring item needs a prompt; unlock the keyring first", ErrKeyringUnavailable)
	}
	return nil
}

func (s secretService) remove(account string) error {
	ctx, cancel := context.WithTimeout(context.Background(), ssTimeout)
	defer cancel()
	c, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer c.close()
	item, err := c.find(keyringService, account)
	if err != nil || item == "" {
		return err
	}
	var prompt dbus.ObjectPath
	if err := c.conn.Object(ssName, item).CallWithContext(ctx, ssItem+".Delete", 0).Store(&prompt); err != nil {
		return unavailable("delete the keyring item", err)
	}
	if prompt != ssNoPrompt {
		return errors.New("codexhome: deleting the keyring item needs a prompt")
	}
	return nil
}
