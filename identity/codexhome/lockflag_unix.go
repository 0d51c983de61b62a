//go:build unix

package codexhome

import (
	"os"
	"syscall"
)

// lockOpenFlag opens auth.json.lock without following a symbolic link
// planted at its path between our check and the open.
const lockOpenFlag = os.O_CREATE | os.O_RDWR | syscall.O_NOFOLLOW | syscall.O_CLOEXEC
