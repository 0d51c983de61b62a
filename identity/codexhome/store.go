package codexhome

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"

	"github.com/agentidentity/agentidentity/internal/atomicfile"
	"github.com/agentidentity/agentidentity/internal/limitio"
)

// authFileName is the name of the credentials file in $CODEX_HOME, and
// authLockFileName the name of the lock file beside it.
const (
	authFileName     = "auth.json"
	authLockFileName = "auth.json.lock"
	// moduleLockFileName is the lock file by which this module's own
	// processes take turns at work that talks to the network before it
	// writes auth.json (provisioning an identity, refreshing the ChatGPT
	// login). It is never auth.json.lock or auth.lock, which the Codex CLI
	// uses: the Codex CLI takes auth.json.lock only to commit and gives up
	// after about 5 s, so that lock is held only around a read-modify-write
	// (Update), never across a network call.
	moduleLockFileName = "agentidentity.lock"
)

// lockRetryDelay is how often Update retries a lock held by another process.
const lockRetryDelay = 10 * time.Millisecond

// Store reads and updates auth.json in one $CODEX_HOME, compatibly with the
// Codex CLI. A Store is safe for concurrent use by many goroutines, and
// Update serialises read-modify-write cycles with other goroutines and with
// other processes (through a lock on auth.json.lock).
type Store struct {
	home           string
	path           string
	lockPath       string
	moduleLockPath string

	// writeHook, if set, is passed to atomicfile as its FailHook (tests).
	writeHook func(atomicfile.Stage) error

	// mode, if set, is used instead of config.toml's
	// cli_auth_credentials_store; keyring, if set, replaces the system
	// keyring (tests).
	mode    CredentialsStore
	keyring keyringBackend
}

// OpenStore returns the store of the credentials of codexHome. It touches
// nothing on disk: a missing folder or file is reported by Read or Update.
// An empty codexHome makes every method fail. Every Read and Update reads
// config.toml's cli_auth_credentials_store (see LoadConfig) and uses the
// store it names, as the Codex CLI does: auth.json ("file", the default),
// the keyring ("keyring"), the keyring or else auth.json ("auto"), or this
// process's memory ("ephemeral").
func OpenStore(codexHome string) *Store {
	return openStore(codexHome, "")
}

// openStoreMode is OpenStore with the credentials store given instead of
// read from config.toml (tests). An invalid mode makes every method fail.
func openStoreMode(codexHome string, mode CredentialsStore) *Store {
	if mode == "" {
		mode = CredentialsStoreFile
	}
	return openStore(codexHome, mode)
}

func openStore(codexHome string, mode CredentialsStore) *Store {
	s := &Store{home: codexHome, mode: mode}
	if codexHome == "" {
		return s
	}
	dir := filepath.Clean(codexHome)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	s.path = filepath.Join(dir, authFileName)
	s.lockPath = filepath.Join(dir, authLockFileName)
	s.moduleLockPath = filepath.Join(dir, moduleLockFileName)
	return s
}

// DefaultDir returns $CODEX_HOME when it is set and not blank, else
// ~/.codex, using getenv (nil means os.Getenv) for both CODEX_HOME and the
// home folder (HOME, or USERPROFILE on Windows).
func DefaultDir(getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if h := strings.TrimSpace(getenv("CODEX_HOME")); h != "" {
		return filepath.Clean(h), nil
	}
	homeVar := "HOME"
	if runtime.GOOS == "windows" {
		homeVar = "USERPROFILE"
	}
	home := strings.TrimSpace(getenv(homeVar))
	if home == "" {
		var err error
		home, err = os.UserHomeDir()
		if err != nil || home == "" {
			return "", fmt.Errorf("codexhome: cannot find the home folder for ~/.codex; set CODEX_HOME: %w", err)
		}
	}
	return filepath.Join(home, ".codex"), nil
}

// Path returns the path of auth.json ("" for a store opened with an empty
// codexHome).
func (s *Store) Path() string { return s.path }

// credentialsStore returns the credentials store in use: the one given to
// openStoreMode, else config.toml's (CredentialsStoreFile when it names
// none). An unreadable config.toml gives an error wrapping
// ErrInvalidConfig.
func (s *Store) credentialsStore() (CredentialsStore, error) {
	if s.mode != "" {
		if !s.mode.valid() {
			return "", fmt.Errorf("codexhome: unknown credentials store %q", string(s.mode))
		}
		return s.mode, nil
	}
	cfg, err := LoadConfig(s.home)
	if err != nil {
		return "", err
	}
	if cfg.CredentialsStore == "" {
		return CredentialsStoreFile, nil
	}
	return cfg.CredentialsStore, nil
}

func (s *Store) backend() keyringBackend {
	if s.keyring != nil {
		return s.keyring
	}
	return newSystemKeyring()
}

// readKeyring reads and parses the keyring entry; a value that does not
// parse is refused (wrapping ErrCorruptAuthFile) and left as it is.
func (s *Store) readKeyring() (*AuthFile, bool, error) {
	account := keyringAccount(s.home)
	v, found, err := loadValue(s.backend(), account)
	if err != nil || !found {
		return nil, false, err
	}
	af, err := ParseAuthFile([]byte(v))
	if err != nil {
		return nil, false, fmt.Errorf("codexhome: the keyring entry %q (service %q): %w", account, keyringService, err)
	}
	return af, true, nil
}

func (s *Store) readEphemeral() (*AuthFile, error) {
	data, ok := ephemeralGet(keyringAccount(s.home))
	if !ok {
		return &AuthFile{}, nil
	}
	return ParseAuthFile(data)
}

// readMode reads the credentials from the store mode names; tighten is as
// for read.
func (s *Store) readMode(mode CredentialsStore, tighten bool) (*AuthFile, CredentialsStore, error) {
	switch mode {
	case CredentialsStoreEphemeral:
		af, err := s.readEphemeral()
		return af, CredentialsStoreEphemeral, err
	case CredentialsStoreKeyring, CredentialsStoreAuto:
		af, found, err := s.readKeyring()
		switch {
		case err == nil && found:
			return af, CredentialsStoreKeyring, nil
		case err == nil && mode == CredentialsStoreKeyring:
			return &AuthFile{}, CredentialsStoreKeyring, nil
		case err != nil && (mode == CredentialsStoreKeyring || !errors.Is(err, ErrKeyringUnavailable)):
			return nil, CredentialsStoreKeyring, err
		}
	}
	af, _, err := s.read(tighten)
	return af, CredentialsStoreFile, err
}

func (s *Store) check() error {
	if s == nil || s.path == "" {
		return errors.New("codexhome: no CODEX_HOME folder given for auth.json")
	}
	return nil
}

// Read reads auth.json without taking the lock; writers replace the file
// atomically, so Read sees a whole old or new file. A missing file gives an
// empty AuthFile whose Exists is false. A corrupt file gives an error
// wrapping ErrCorruptAuthFile, a symbolic link or non-regular file at the
// path one wrapping ErrUnsafeAuthFile.
func (s *Store) Read() (*AuthFile, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	f, _, err := s.ReadSource()
	return f, err
}

// ReadSource is Read that also says which store the credentials were read
// from: CredentialsStoreFile, CredentialsStoreKeyring or
// CredentialsStoreEphemeral, never CredentialsStoreAuto (with auto, the
// keyring when it holds them, else auth.json). With a keyring store, a
// keyring entry that is not a valid auth.json is refused with an error
// wrapping ErrCorruptAuthFile and left untouched, also with
// CredentialsStoreAuto (the Codex CLI would use auth.json instead); an
// unreachable keyring gives an error wrapping ErrKeyringUnavailable with
// CredentialsStoreKeyring.
func (s *Store) ReadSource() (*AuthFile, CredentialsStore, error) {
	if err := s.check(); err != nil {
		return nil, "", err
	}
	mode, err := s.credentialsStore()
	if err != nil {
		return nil, "", err
	}
	return s.readMode(mode, false)
}

// read reads and parses the file; with tighten, a looser mode than 0600 is
// tightened through the open descriptor once the content parsed.
func (s *Store) read(tighten bool) (*AuthFile, bool, error) {
	fh, _, err := atomicfile.OpenRegular(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return &AuthFile{}, false, nil
	}
	if errors.Is(err, atomicfile.ErrNotRegular) {
		return nil, false, fmt.Errorf("%w: %s: %w", ErrUnsafeAuthFile, s.path, err)
	}
	if err != nil {
		return nil, false, fmt.Errorf("codexhome: open %s: %w", s.path, err)
	}
	defer func() { _ = fh.Close() }()
	data, err := limitio.ReadAll(fh, maxAuthFileSize)
	if errors.Is(err, limitio.ErrTooLarge) {
		return nil, false, corrupt("the file is larger than %d bytes", maxAuthFileSize)
	}
	if err != nil {
		return nil, false, fmt.Errorf("codexhome: read %s: %w", s.path, err)
	}
	af, err := ParseAuthFile(data)
	if err != nil {
		return nil, false, err
	}
	tightened := false
	if tighten {
		tightened, err = atomicfile.Tighten(fh, 0o600)
		if err != nil {
			return nil, false, fmt.Errorf("codexhome: %s: %w", s.path, err)
		}
	}
	return af, tightened, nil
}

// processLocks serialises Update within this process, per auth.json path;
// file locks alone are not enough on platforms where they are per process.
var processLocks sync.Map // path -> chan struct{}

func (s *Store) lockProcess(ctx context.Context) (func(), error) {
	v, _ := processLocks.LoadOrStore(s.path, make(chan struct{}, 1))
	ch := v.(chan struct{})
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("codexhome: waiting for the auth.json lock: %w", context.Cause(ctx))
	}
}

// lockFile takes the cross-process lock on auth.json.lock, retrying until
// ctx is done. A lock held by a process that died is released by the
// operating system with the process, so it never blocks.
func (s *Store) lockFile(ctx context.Context) (func(), error) { return lockPath(ctx, s.lockPath) }

// lockPath takes an exclusive flock on path (created 0600, never through a
// symbolic link), retrying until ctx is done.
func lockPath(ctx context.Context, path string) (func(), error) {
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrUnsafeAuthFile, path)
	}
	fl := flock.New(path, flock.SetPermissions(0o600), flock.SetFlag(lockOpenFlag))
	ok, err := fl.TryLockContext(ctx, lockRetryDelay)
	if err != nil {
		_ = fl.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("codexhome: waiting for the lock %s: %w", filepath.Base(path), context.Cause(ctx))
		}
		return nil, fmt.Errorf("codexhome: lock %s: %w", path, err)
	}
	if !ok {
		_ = fl.Close()
		return nil, fmt.Errorf("codexhome: lock %s: not acquired", path)
	}
	return func() { _ = fl.Unlock() }, nil
}

// moduleLocks serialises Coordinate within this process, per home.
var moduleLocks sync.Map // module lock path -> chan struct{}

// Coordinate runs fn while holding this module's own lock,
// agentidentity.lock in $CODEX_HOME (and a process-wide one), waiting for it
// until ctx is done. Processes of this module that provision an identity or
// refresh a login inside Coordinate do so one at a time, so eight of them
// make one identity between them, while the Codex CLI, which does not take
// this lock, is never made to wait: fn talks to the network without holding
// auth.json.lock, and makes its changes with Update, re-reading the file
// (a Codex CLI may have written it meanwhile) and adopting what it finds.
// fn must not call Coordinate on the same store.
func (s *Store) Coordinate(ctx context.Context, fn func() error) error {
	if s.home == "" {
		return errors.New("codexhome: no CODEX_HOME folder given")
	}
	mode, err := s.credentialsStore()
	if err != nil {
		return err
	}
	v, _ := moduleLocks.LoadOrStore(s.moduleLockPath, make(chan struct{}, 1))
	ch := v.(chan struct{})
	select {
	case ch <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("codexhome: waiting for the %s lock: %w", moduleLockFileName, context.Cause(ctx))
	}
	defer func() { <-ch }()
	if mode == CredentialsStoreEphemeral {
		// Nothing is shared with other processes, and nothing is written.
		return fn()
	}
	unlock, err := lockPath(ctx, s.moduleLockPath)
	if err != nil {
		return err
	}
	defer unlock()
	return fn()
}

// Update runs one read-modify-write cycle of the credentials, in the store
// that config.toml names (see OpenStore). With CredentialsStoreKeyring and CredentialsStoreAuto
// the value is the whole auth.json as compact JSON, in the keyring entry
// the Codex CLI uses (service "Codex Auth", account "cli|" and the first 16
// hex digits of the SHA-256 of the canonical $CODEX_HOME path), and
// auth.json is removed after a
// successful keyring write, as the Codex CLI does; auto writes auth.json
// when the keyring cannot be reached, unless the credentials were read from
// the keyring in this cycle (then the error wrapping ErrKeyringUnavailable
// is returned and nothing is written, so the keyring's entry cannot hide
// the update at the next read). auth.json.lock still guards the
// cycle. With CredentialsStoreEphemeral nothing is written to disk or to a
// keyring, and no lock file is made. The rest of this comment describes
// the file store. It takes the
// process-wide and cross-process locks (waiting for them until ctx is done),
// re-reads the file under the lock, and calls fn with it (an empty AuthFile
// when the file does not exist). If fn returns nil and changed the file,
// Update writes it atomically with mode 0600; if fn returns an error,
// Update writes nothing and returns that error unchanged.
//
// The folder $CODEX_HOME must exist. A corrupt file (ErrCorruptAuthFile) or
// a symbolic link or non-regular file at the path (ErrUnsafeAuthFile) is
// refused before fn runs, and the file is not touched. An existing file
// looser than 0600 is tightened. fn must not call Update on the same store
// (it would wait for itself until ctx is done).
func (s *Store) Update(ctx context.Context, fn func(f *AuthFile) error) error {
	if err := s.check(); err != nil {
		return err
	}
	if fn == nil {
		return errors.New("codexhome: Store.Update needs a function")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("codexhome: update auth.json: %w", context.Cause(ctx))
	}
	mode, err := s.credentialsStore()
	if err != nil {
		return err
	}
	unlockProcess, err := s.lockProcess(ctx)
	if err != nil {
		return err
	}
	defer unlockProcess()
	if mode != CredentialsStoreEphemeral {
		// auth.json.lock guards the read-modify-write whatever holds the
		// credentials, so processes of this module never lose an update.
		unlockFile, err := s.lockFile(ctx)
		if err != nil {
			return err
		}
		defer unlockFile()
	}

	af, src, err := s.readMode(mode, true)
	if err != nil {
		return err
	}
	work := af.clone()
	work.dirty = false
	if err := fn(work); err != nil {
		return err
	}
	if !work.dirty {
		return nil
	}
	data, err := work.Marshal()
	if err != nil {
		return err
	}
	if len(data) > maxAuthFileSize {
		// Its own reader would refuse the file as corrupt (and with it the
		// ChatGPT login it holds): keep the old one.
		return fmt.Errorf("%w: the new auth.json would be %d bytes, more than the %d its readers accept; nothing was written",
			ErrInvalidValue, len(data), maxAuthFileSize)
	}
	switch mode {
	case CredentialsStoreEphemeral:
		ephemeralPut(keyringAccount(s.home), data)
		return nil
	case CredentialsStoreKeyring, CredentialsStoreAuto:
		err := s.writeKeyring(data)
		// auto falls back to auth.json only when the credentials were read
		// from it. After a read from the keyring, a fallback write would be
		// shadowed by the keyring's older entry at the next read (which
		// prefers the keyring), and a refreshed token would be lost with its
		// consumed refresh token; the Codex CLI falls back regardless.
		if err == nil || mode == CredentialsStoreKeyring || src == CredentialsStoreKeyring || !errors.Is(err, ErrKeyringUnavailable) {
			return err
		}
	}
	return s.writeFile(data)
}

// writeKeyring stores data, compacted, as the keyring entry and then
// removes auth.json, as the Codex CLI does (a failure to remove it is
// ignored).
func (s *Store) writeKeyring(data []byte) error {
	var compact bytes.Buffer
	if err := json.Compact(&compact, data); err != nil {
		return fmt.Errorf("codexhome: compact auth.json for the keyring: %w", err)
	}
	if err := s.backend().save(keyringAccount(s.home), compact.String()); err != nil {
		return err
	}
	if fi, err := os.Lstat(s.path); err == nil && fi.Mode().IsRegular() {
		_ = os.Remove(s.path)
	}
	return nil
}

// writeFile replaces auth.json atomically with mode 0600.
func (s *Store) writeFile(data []byte) error {
	// Temporary files of writers that were killed are stale now that we
	// hold the lock; removing them is best effort.
	_ = atomicfile.RemoveStaleTemps(s.path)
	if err := atomicfile.WriteFile(s.path, data, &atomicfile.Options{Perm: 0o600, FailHook: s.writeHook}); err != nil {
		if errors.Is(err, atomicfile.ErrNotRegular) {
			return fmt.Errorf("%w: %s: %w", ErrUnsafeAuthFile, s.path, err)
		}
		return fmt.Errorf("codexhome: write %s: %w", s.path, err)
	}
	return nil
}
