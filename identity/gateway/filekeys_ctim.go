//go:build linux || android || openbsd || dragonfly || solaris || illumos

package gateway

import "syscall"

func statCtime(st *syscall.Stat_t) (int64, bool) {
	return st.Ctim.Nano(), true
}
