//go:build darwin || ios || freebsd || netbsd

package gateway

import "syscall"

func statCtime(st *syscall.Stat_t) (int64, bool) {
	return st.Ctimespec.Nano(), true
}
