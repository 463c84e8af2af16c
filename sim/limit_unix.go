//go:build unix

package sim

import "syscall"

// openFileLimit returns how many files this process may open (0: unknown). The Go runtime has
// already raised the soft limit to the hard one.
func openFileLimit() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil || l.Cur > 1<<30 {
		return 0
	}
	return int(l.Cur)
}
