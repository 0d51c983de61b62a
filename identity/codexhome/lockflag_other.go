//go:build !unix

package codexhome

import "os"

// lockOpenFlag is the flag auth.json.lock is opened with; on this system a
// symbolic link is refused by the Lstat check before the open only.
const lockOpenFlag = os.O_CREATE | os.O_RDWR
