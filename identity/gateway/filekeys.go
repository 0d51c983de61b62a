package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
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
	// OnReload, if set, is called after every read of a new version of the
	// file, and once when the file becomes unreadable, with the number of
	// agents now in use and the read's error (nil: the new version is in
	// use), for metrics. It must be quick and must not call the FileKeys.
	OnReload func(agents int, err error)
}

// FileKeys is a Keys backed by a keys file that an operator edits (the
// format of ParseKeys). It is safe for concurrent use.
//
// Agent looks at the file at most once a second and re-reads it when it
// changed; Reload re-reads it at once. A change of content is seen whatever
// the edit kept: the check compares the file's device, inode, size,
// modification and change times, and a read compares a SHA-256 of the
// content, so a rotated key of the same length whose mtime was restored
// (cp -p, rsync -t, tar, Nix) is picked up within the second. While the
// file's change time is too recent to tell a later edit apart (2 seconds),
// and on systems without inode numbers, every check reads and hashes the
// content. An edit that does not parse (or a file that disappears) keeps the
// last good set of agents in use, is logged with the reason and reported to
// OnReload; it is retried when the file changes again.
//
// A path that is not a regular file (a FIFO, a device, a directory) is
// refused without blocking: the file is opened non-blocking and checked on
// the opened descriptor before anything is read, and at most 4 MiB are
// read, so NewFileKeys, Reload and Agent never wait on what the path names.
// Write the file by renaming a new one over it, so that a reader never sees
// half an edit.
type FileKeys struct {
	path     string
	logger   *slog.Logger
	now      func() time.Time
	onReload func(int, error)

	set atomic.Pointer[StaticKeys]

	mu         sync.Mutex // serialises checks and reloads; guards what follows
	lastCheck  time.Time
	version    fileVersion // of the last version read, good or bad
	sum        [sha256.Size]byte
	haveSum    bool
	lastErr    error // of the last version read
	racy       bool  // version cannot tell a later edit apart: hash on every check
	unreadable bool  // the last check could not look at the file (logged once)
}

// racyWindow is how recent a change time must be for a later edit to
// possibly share it (file systems stamp times at a clock tick, and a
// network file system by its own clock).
const racyWindow = 2 * time.Second

// NewFileKeys reads the keys file at path. Unlike later reloads, a first
// read that fails is an error: there is no good set to keep.
func NewFileKeys(path string, o FileKeysOptions) (*FileKeys, error) {
	k := &FileKeys{path: path, logger: o.Logger, now: o.Now, onReload: o.OnReload}
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

// maybeCheck looks at the file when the interval has passed. A caller that
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
	k.checkLocked()
}

// checkLocked stats the file and reads it when its version changed or
// cannot be trusted to show a change.
func (k *FileKeys) checkLocked() {
	v, err := statKeysFile(k.path)
	if err != nil {
		k.failLocked(err)
		return
	}
	if v == k.version && !k.racy && !k.unreadable {
		return
	}
	_ = k.readLocked(false)
}

// Reload re-reads the keys file now. On an error the last good set stays in
// use (the error is also logged and reported to OnReload).
func (k *FileKeys) Reload() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.lastCheck = k.now()
	return k.readLocked(true)
}

// failLocked reports a file that cannot be looked at, once until it can.
func (k *FileKeys) failLocked(err error) {
	if k.unreadable {
		return
	}
	k.unreadable = true
	k.version = fileVersion{}
	k.haveSum = false
	k.logger.Warn("gateway: keys file unreadable; keeping the last good set", "path", k.path, "error", err, "agents", k.Len())
	if k.onReload != nil {
		k.onReload(k.Len(), err)
	}
}

// readLocked reads the file and, when its content differs from the last
// version read (or force), parses it and puts it in use.
func (k *FileKeys) readLocked(force bool) error {
	data, v, err := readKeysFile(k.path)
	if err != nil {
		if k.set.Load() == nil {
			return err
		}
		if force {
			k.unreadable = false // report this one too
		}
		k.failLocked(err)
		return err
	}
	k.unreadable = false
	k.version = v
	k.racy = !v.exact || time.Since(time.Unix(0, v.ctime)) < racyWindow
	sum := sha256.Sum256(data)
	if !force && k.haveSum && sum == k.sum {
		return k.lastErr // the same content: nothing to parse or report
	}
	k.sum, k.haveSum = sum, true
	keys, err := ParseKeys(data)
	if err != nil {
		err = fmt.Errorf("%s: %w", k.path, err)
	}
	k.lastErr = err
	if err != nil {
		if k.set.Load() != nil {
			k.logger.Warn("gateway: keys file edit refused; keeping the last good set", "path", k.path, "error", err, "agents", k.Len())
			if k.onReload != nil {
				k.onReload(k.Len(), err)
			}
		}
		return err
	}
	k.set.Store(&keys)
	k.logger.Info("gateway: keys file loaded", "path", k.path, "agents", len(keys))
	if k.onReload != nil {
		k.onReload(len(keys), nil)
	}
	return nil
}

// fileVersion is what a check compares to tell that a file changed.
type fileVersion struct {
	dev, ino uint64
	size     int64
	mtime    int64 // Unix nanoseconds
	ctime    int64
	// exact is set where dev, ino and ctime are known (Unix); elsewhere
	// only size and mtime are, and every check hashes the content.
	exact bool
}

// readKeysFile reads the regular file at path, at most maxKeysFileSize
// bytes, without blocking on anything else the path may name: it is checked
// by stat, then opened non-blocking and checked again on the descriptor
// (the path may have been replaced in between) before it is read.
func readKeysFile(path string) ([]byte, fileVersion, error) {
	if _, err := statKeysFile(path); err != nil {
		return nil, fileVersion{}, err
	}
	f, err := openNonBlocking(path)
	if err != nil {
		return nil, fileVersion{}, fmt.Errorf("gateway: keys file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fileVersion{}, fmt.Errorf("gateway: keys file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fileVersion{}, notRegular(path, fi)
	}
	v := versionOf(fi)
	data, err := limitio.ReadAll(f, maxKeysFileSize)
	switch {
	case errors.Is(err, limitio.ErrTooLarge):
		return nil, v, fmt.Errorf("%w: %s: %w", ErrInvalidKeysFile, path, err)
	case err != nil:
		return nil, v, fmt.Errorf("gateway: keys file: %w", err)
	}
	return data, v, nil
}

// statKeysFile returns the version of the file at path, refusing anything
// but a regular file.
func statKeysFile(path string) (fileVersion, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileVersion{}, fmt.Errorf("gateway: keys file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fileVersion{}, notRegular(path, fi)
	}
	return versionOf(fi), nil
}

func notRegular(path string, fi os.FileInfo) error {
	return fmt.Errorf("%w: %s is not a regular file (%s)", ErrInvalidKeysFile, path, fi.Mode().Type())
}
