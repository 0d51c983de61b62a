package codexhome

// Where the Codex CLI keeps its credentials, as read in its sources (openai/codex,
// codex-rs; the commits named are the stored versions read):
//
//   - codex-rs/login/src/auth/storage.rs @06566159f5193a7d99e751296bd1540c2b845443:
//     KEYRING_SERVICE = "Codex Auth"; compute_store_key(codex_home) canonicalises the
//     CODEX_HOME path (falling back to the path as given when that fails), hashes its
//     text with SHA-256 and returns "cli|" + the first 16 lower-case hex digits.
//     DirectKeyringAuthStorage::save stores serde_json::to_string(auth) (compact JSON of
//     the whole auth.json) under that service and account, then removes auth.json
//     (a failure to remove is only logged); load parses the value as auth.json and
//     reports a value that does not parse as an error. AutoAuthStorage::load returns
//     the keyring's value when there is one, else auth.json, and falls back to auth.json
//     on any keyring error; save tries the keyring and writes auth.json when that fails.
//     EphemeralAuthStorage keeps the value in a process-wide map keyed by the same store
//     key and never reads or writes auth.json. The mode comes from
//     cli_auth_credentials_store (AuthCredentialsStoreMode, lower case, default file).
//     The keyring backend kind defaults to "direct" everywhere but Windows, where it is
//     "secrets" (an encrypted file in CODEX_HOME whose key is in the keyring).
//   - codex-rs/keyring-store/src/lib.rs (stored version id 16130209207):
//     DefaultKeyringStore is keyring::Entry::new(service, account) with set_password /
//     get_password / delete_credential, one entry per value. Versions that split long
//     values as "CODEX_CHUNKED:<count>:<first chunk>" plus entries "<account>:<i>"
//     (@dfc7c9ecf8688519c289d045b217f6cca29b76ed, 512-character chunks;
//     @616a94e80278a4299b702811274f1e319dabeee6, 1200) come from openai/codex pull
//     requests #10636 and #10732, both closed unmerged; the released Codex writes one
//     entry. This package writes one entry too, and reads a chunked value back.
//   - codex-rs/keyring-store/Cargo.toml @71163530a46dc568775f9ee95a9b57de3385cd9a:
//     keyring 3.6 with "linux-native-async-persistent" on Linux, "apple-native" on macOS,
//     "windows-native" on Windows, "sync-secret-service" on FreeBSD and OpenBSD.
//   - keyring-rs (hwchen/keyring-rs) src/lib.rs: with that feature the default store is
//     keyutils_persistent. src/keyutils_persistent.rs @f59afd50e4b9be4e333e6c050ac8f97f51fe632d:
//     KeyutilsPersistentCredential writes keyutils first, then the Secret Service
//     (restoring keyutils when the Secret Service fails), and reads keyutils first,
//     refilling it from the Secret Service on a miss. But its builder,
//     KeyutilsPersistentCredentialBuilder::build, returns a plain SsCredential (so in
//     both stored versions of the file), so keyring::Entry::new, which Codex calls,
//     reads and writes the Secret Service only. This package therefore treats the
//     Secret Service as the one source of truth, and keeps the keyutils entry that a
//     persistent credential would keep as a mirror, written (or, when that fails,
//     invalidated) on every save, so that a Codex whose crate reads keyutils first never
//     finds a stale copy; it never reads the credentials from keyutils.
//   - src/keyutils.rs @11ace18514e8da80482986836e5c2f78f5197f68: a "user" key described
//     "keyring-rs:<user>@<service>", added to the session keyring and linked into the
//     user's persistent keyring (KEYCTL_GET_PERSISTENT into the session keyring), read by
//     a search of the session keyring.
//   - src/secret_service.rs @05dcc6b397a21da72d46adc08c1cfa853e269cff: items are searched
//     over all collections by the attributes service and username; an item whose target
//     attribute is absent or "default" matches; two matches are an ambiguity error; a set
//     changes the secret of the one matching item, else creates one in the default
//     collection with the attributes service, username, target = "default" and
//     application = "rust-keyring", content type text/plain.

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
