package codexhome

import "errors"

// Sentinel errors that callers branch on with errors.Is. Every error the
// package returns for one of these conditions wraps the matching sentinel.
var (
	// ErrCorruptAuthFile means auth.json exists but cannot be read safely:
	// it is too large, not UTF-8, not one strict JSON object, or a known
	// member has the wrong type. The file is left untouched; the message
	// names the member, never its value.
	ErrCorruptAuthFile = errors.New("codexhome: auth.json is corrupt")

	// ErrUnsafeAuthFile means the auth.json path names a symbolic link, a
	// directory or another non-regular file. The store neither reads through
	// nor replaces it; the user has to fix the path.
	ErrUnsafeAuthFile = errors.New("codexhome: auth.json is not a regular file")

	// ErrInvalidConfig means config.toml exists but cannot be used: it is not
	// TOML, is larger than 1 MiB, is not a regular file, or a key this
	// package reads has the wrong type. The message names the key and line.
	ErrInvalidConfig = errors.New("codexhome: invalid config.toml")

	// ErrInvalidValue means a value given to a setter of AuthFile cannot be
	// written: the file would be one its own reader refuses.
	ErrInvalidValue = errors.New("codexhome: invalid value for auth.json")
)

// ErrKeyringUnavailable means the keyring could not be reached (no session
// bus, no Secret Service, a locked collection, an unsupported system, a
// timeout). With CredentialsStoreAuto a Store then uses auth.json instead.
var ErrKeyringUnavailable = errors.New("codexhome: the keyring is not available")
