package codexhome

// Where the Codex CLI keeps its credentials (docs/protocol.md#credential-stores),
// and what this package does the same way:
//
//   - cli_auth_credentials_store (lower case, default "file") picks the store. The
//     keyring entry has the service "Codex Auth" and the account "cli|" followed by
//     the first 16 lower-case hex digits of the SHA-256 of the canonical CODEX_HOME
//     path (the path as given when it cannot be made canonical). Its value is the
//     whole auth.json as compact JSON; after a successful keyring write auth.json is
//     removed (a failure to remove it is only logged). A value that is not a valid
//     auth.json is an error, never an empty login. "auto" reads the keyring when it
//     holds a value, else auth.json, and writes auth.json when the keyring cannot be
//     reached. "ephemeral" keeps the value in a process-wide map keyed like the
//     keyring entry and never touches auth.json. (On Windows the Codex CLI keeps an
//     encrypted file in CODEX_HOME whose key is in the keyring; this package does not.)
//   - One keyring entry per value. Some unreleased Codex builds split a long value
//     into "CODEX_CHUNKED:<count>:<first chunk>" plus entries "<account>:<i>"; the
//     released Codex writes one entry, and so does this package, which still reads a
//     chunked value back.
//   - The keyring on Linux is the Secret Service. Items are found, over every
//     collection, by the attributes service and username (an item whose target is
//     absent or "default" matches; two matches are an error); a write changes the
//     secret of the matching item, else creates one in the default collection with
//     the attributes service, username, target = "default" and application =
//     "rust-keyring", content type text/plain.
//   - The Codex CLI's keyring library describes a kernel keyutils entry as well
//     ("keyring-rs:<user>@<service>", a "user" key in the session keyring linked
//     into the user's persistent keyring), but the constructor Codex calls returns a
//     Secret Service credential only, so Codex reads and writes the Secret Service
//     alone. This package treats the Secret Service as the one source of truth and
//     keeps the keyutils entry as a mirror, written (or, when that fails,
//     invalidated) on every save, so that a Codex build that reads keyutils first
//     never finds a stale copy; it never reads the credentials from keyutils.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// CredentialsStore is the Codex CLI's cli_auth_credentials_store setting:
// where a Store keeps the content of auth.json. Store.ReadSource names with
// it the store the credentials were read from (file, keyring or ephemeral).
type CredentialsStore string

// The values of cli_auth_credentials_store.
const (
	// CredentialsStoreFile keeps the credentials in $CODEX_HOME/auth.json
	// (the default).
	CredentialsStoreFile CredentialsStore = "file"
	// CredentialsStoreKeyring keeps them in the operating system's keyring
	// and fails when it cannot be reached.
	CredentialsStoreKeyring CredentialsStore = "keyring"
	// CredentialsStoreAuto uses the keyring when it can be reached and
	// auth.json otherwise.
	CredentialsStoreAuto CredentialsStore = "auto"
	// CredentialsStoreEphemeral keeps them in this process's memory only.
	CredentialsStoreEphemeral CredentialsStore = "ephemeral"
)

func (m CredentialsStore) valid() bool {
	switch m {
	case CredentialsStoreFile, CredentialsStoreKeyring, CredentialsStoreAuto, CredentialsStoreEphemeral:
		return true
	}
	return false
}

// keyringService is the keyring service under which the Codex CLI keeps
// its credentials.
const keyringService = "Codex Auth"

// keyringAccount returns the keyring account under which the Codex CLI
// keeps the credentials of codexHome: "cli|" and the first 16 hex digits
// of the SHA-256 of the canonical path (symbolic links resolved; the
// absolute path when it does not exist). It is not a secret.
func keyringAccount(codexHome string) string {
	p := codexHome
	if abs, err := filepath.Abs(codexHome); err == nil {
		p = abs
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			p = real
		}
	}
	sum := sha256.Sum256([]byte(p))
	return "cli|" + hex.EncodeToString(sum[:])[:16]
}

// keyringBackend reads and writes one raw value per account under
// keyringService. Errors of an unreachable store wrap
// ErrKeyringUnavailable; no error quotes a value.
type keyringBackend interface {
	load(account string) (value string, found bool, err error)
	save(account, value string) error
	remove(account string) error
}

// chunkPrefix is the header of a value split by the unreleased chunking
// of the Codex CLI's keyring store.
const chunkPrefix = "CODEX_CHUNKED:"

// maxChunks bounds the chunk count of such a value (512-character chunks
// of the largest accepted value).
const maxChunks = maxAuthFileSize/512 + 1

// loadValue reads the value of account, joining a chunked value, and
// bounds its size.
func loadValue(kb keyringBackend, account string) (string, bool, error) {
	v, ok, err := kb.load(account)
	if err != nil || !ok {
		return "", ok, err
	}
	if len(v) > maxAuthFileSize {
		return "", false, corrupt("the keyring entry %q is larger than %d bytes", account, maxAuthFileSize)
	}
	rest, chunked := strings.CutPrefix(v, chunkPrefix)
	if !chunked {
		return v, true, nil
	}
	countText, first, ok := strings.Cut(rest, ":")
	if !ok {
		return "", false, corrupt("the keyring entry %q has a chunk header without a count", account)
	}
	count, err := strconv.Atoi(countText)
	if err != nil || count < 1 || count > maxChunks {
		return "", false, corrupt("the keyring entry %q has an invalid chunk count", account)
	}
	var b strings.Builder
	b.WriteString(first)
	for i := 1; i < count; i++ {
		part := fmt.Sprintf("%s:%d", account, i)
		c, ok, err := kb.load(part)
		if err != nil {
			return "", false, err
		}
		if !ok {
			return "", false, corrupt("the keyring entry %q lacks its chunk %d of %d", account, i, count)
		}
		if b.Len()+len(c) > maxAuthFileSize {
			return "", false, corrupt("the keyring entry %q is larger than %d bytes", account, maxAuthFileSize)
		}
		b.WriteString(c)
	}
	return b.String(), true, nil
}

// ephemeralStore is the process-wide memory of CredentialsStoreEphemeral,
// keyed by keyringAccount as the Codex CLI keys its own.
var ephemeralStore struct {
	sync.Mutex
	m map[string][]byte
}

func ephemeralGet(key string) ([]byte, bool) {
	ephemeralStore.Lock()
	defer ephemeralStore.Unlock()
	v, ok := ephemeralStore.m[key]
	return v, ok
}

func ephemeralPut(key string, data []byte) {
	ephemeralStore.Lock()
	defer ephemeralStore.Unlock()
	if ephemeralStore.m == nil {
		ephemeralStore.m = map[string][]byte{}
	}
	ephemeralStore.m[key] = data
}
