package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentidentity/agentidentity/internal/ids"
	"github.com/agentidentity/agentidentity/internal/limitio"
	"github.com/agentidentity/agentidentity/internal/strictjson"
	"github.com/agentidentity/agentidentity/internal/wire"
)

// maxKeysFileSize is the largest keys file FileKeys and ParseKeys read, in
// bytes (documented on ParseKeys).
const maxKeysFileSize = 4 << 20

// keysCheckInterval is how often FileKeys looks at the file.
const keysCheckInterval = time.Second

// ParseKeys parses a keys file: JSON lines, one agent per line,
//
//	{"runtime_id":"agent-123","public_key":"ssh-ed25519 AAAA…","account_id":"acct-1","fedramp":false}
//
// runtime_id (the runtime-id allowlist) and public_key (an OpenSSH
// ssh-ed25519 line, as ParsePublicKeySSH reads it) are required; account_id
// ("" or absent: not checked) and fedramp (absent: false) are optional. Empty
// lines and lines whose first byte is '#' are skipped. Refused, with an error
// wrapping ErrInvalidKeysFile that names the line: other or repeated
// members (a misspelt "account_id" would turn the account check off),
// values of the wrong type, a runtime id that appears twice, more than 4 MiB.
func ParseKeys(data []byte) (StaticKeys, error) {
	if len(data) > maxKeysFileSize {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrInvalidKeysFile, maxKeysFileSize)
	}
	keys := make(StaticKeys)
	for n := 1; len(data) > 0; n++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(bytes.TrimSpace(line)) == 0 || line[0] == '#' {
			continue
		}
		a, err := parseKeyLine(line)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrInvalidKeysFile, n, err)
		}
		if _, dup := keys[a.RuntimeID]; dup {
			return nil, fmt.Errorf("%w: line %d: runtime id %q appears twice", ErrInvalidKeysFile, n, a.RuntimeID)
		}
		keys[a.RuntimeID] = a
	}
	return keys, nil
}

func parseKeyLine(line []byte) (Agent, error) {
	obj, err := strictjson.Object(line)
	if err != nil {
		return Agent{}, errors.New("not one JSON object without repeated members")
	}
	var a Agent
	str := func(name string, required bool) (string, error) {
		raw, ok := obj[name]
		if !ok {
			if required {
				return "", fmt.Errorf("%s is missing", name)
			}
			return "", nil
		}
		s, ok := strictjson.String(raw)
		if !ok {
			return "", fmt.Errorf("%s is %s, want a string", name, strictjson.Kind(raw))
		}
		return s, nil
	}
	for name := range obj {
		switch name {
		case "runtime_id", "public_key", "account_id", "fedramp":
		default:
			return Agent{}, fmt.Errorf("unknown member %q (want runtime_id, public_key, account_id, fedramp)", truncate(name, 40))
		}
	}
	if a.RuntimeID, err = str("runtime_id", true); err != nil {
		return Agent{}, err
	}
	if err := ids.ValidateRuntimeID(a.RuntimeID); err != nil {
		return Agent{}, fmt.Errorf("runtime_id: %w", err)
	}
	line2, err := str("public_key", true)
	if err != nil {
		return Agent{}, err
	}
	if a.PublicKey, err = wire.ParsePublicKeySSH(line2); err != nil {
		return Agent{}, fmt.Errorf("public_key: %w", err)
	}
	if a.AccountID, err = str("account_id", false); err != nil {
		return Agent{}, err
	}
	for i := 0; i < len(a.AccountID); i++ {
		if c := a.AccountID[i]; c < 0x20 || c == 0x7f {
			return Agent{}, errors.New("account_id holds a control character")
		}
	}
	if raw, ok := obj["fedramp"]; ok {
		v, ok := strictjson.Bool(raw)
		if !ok {
			return Agent{}, fmt.Errorf("fedramp is %s, want true or false", strictjson.Kind(raw))
		}
		a.FedRAMP = v
	}
	return a, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// FileKeysOptions configures NewFileKeys. The zero value is usable.
type FileKeysOptions struct {
	// Logger receives a line for every reload and every refused edit
	// (nil: slog.Default()).
	Logger *slog.Logger
	// Now is the clock that paces the checks of the file (nil: time.Now).
	Now func() time.Time
}

// FileKeys is a Keys backed by a keys file that an operator edits (the
// format of ParseKeys). It is safe for concurrent use.
//
// Agent looks at the file's modification time and size at most once a
// second and re-reads the file when either changed; Reload re-reads it at
// once. An edit that does not parse (or a file that disappears) keeps the
// last good set of agents in use and is logged with the reason; it is
// retried when the file changes again. Write the file by renaming a new one
// over it, so that a reader never sees half an edit.
type FileKeys struct {
	path   string
	logger *slog.Logger
	now    func() time.Time

	set atomic.Pointer[StaticKeys]

	mu        sync.Mutex // serialises checks and reloads
	lastCheck time.Time
	modTime   time.Time
	size      int64
}

// NewFileKeys reads the keys file at path. Unlike later reloads, a first
// read that fails is an error: there is no good set to keep.
func NewFileKeys(path string, o FileKeysOptions) (*FileKeys, error) {
	k := &FileKeys{path: path, logger: o.Logger, now: o.Now}
	if k.logger == nil {
		k.logger = slog.Default()
	}
	if k.now == nil {
		k.now = time.Now
	}
	if err := k.Reload(); err != nil {
		return nil, err
	}
	return k, nil
}

// Agent returns the agent registered as runtimeID in the current set, after
// checking the file if a second has passed since the last check.
func (k *FileKeys) Agent(ctx context.Context, runtimeID string) (Agent, error) {
	k.maybeCheck()
	return (*k.set.Load()).Agent(ctx, runtimeID)
}

// Len returns the number of agents in the current set.
func (k *FileKeys) Len() int { return len(*k.set.Load()) }

// maybeCheck stats the file when the interval has passed. A caller that
// finds another check running does not wait for it.
func (k *FileKeys) maybeCheck() {
	if !k.mu.TryLock() {
		return
	}
	defer k.mu.Unlock()
	now := k.now()
	if !k.lastCheck.IsZero() && now.Sub(k.lastCheck) < keysCheckInterval && !now.Before(k.lastCheck) {
		return
	}
	k.lastCheck = now
	fi, err := os.Stat(k.path)
	if err != nil {
		if k.size != -1 {
			k.logger.Warn("gateway: keys file unreadable; keeping the last good set", "path", k.path, "error", err, "agents", k.Len())
			k.size = -1 // log once until it changes
		}
		return
	}
	if fi.ModTime().Equal(k.modTime) && fi.Size() == k.size {
		return
	}
	_ = k.reloadLocked()
}

// Reload re-reads the keys file now. On an error the last good set stays in
// use (the error is also logged).
func (k *FileKeys) Reload() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.lastCheck = k.now()
	return k.reloadLocked()
}

func (k *FileKeys) reloadLocked() error {
	keys, fi, err := k.read()
	if fi != nil {
		// Remember the version seen, good or bad: a broken edit is reported
		// once, and read again only when the file changes again.
		k.modTime, k.size = fi.ModTime(), fi.Size()
	}
	if err != nil {
		if k.set.Load() != nil {
			k.logger.Warn("gateway: keys file edit refused; keeping the last good set", "path", k.path, "error", err, "agents", k.Len())
		}
		return err
	}
	k.set.Store(&keys)
	k.logger.Info("gateway: keys file loaded", "path", k.path, "agents", len(keys))
	return nil
}

func (k *FileKeys) read() (StaticKeys, os.FileInfo, error) {
	f, err := os.Open(k.path)
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: keys file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: keys file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fi, fmt.Errorf("%w: %s is not a regular file", ErrInvalidKeysFile, k.path)
	}
	data, err := limitio.ReadAll(f, maxKeysFileSize)
	switch {
	case errors.Is(err, limitio.ErrTooLarge):
		return nil, fi, fmt.Errorf("%w: %s: %w", ErrInvalidKeysFile, k.path, err)
	case err != nil:
		return nil, fi, fmt.Errorf("gateway: keys file: %w", err)
	}
	keys, err := ParseKeys(data)
	if err != nil {
		return nil, fi, fmt.Errorf("%s: %w", k.path, err)
	}
	return keys, fi, nil
}
