//go:build linux

package backfill

import (
	"runtime"
	"syscall"
)

// lowerPriority gives the calling goroutine's thread the lowest CPU
// priority, for work that should take only what the rest leaves idle.
// The goroutine keeps the thread, which ends with it: the priority never
// passes to other goroutines.
func lowerPriority() {
	runtime.LockOSThread()
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 19)
}
