//go:build !linux

package backfill

// lowerPriority is Linux's only: elsewhere the work runs at the process's
// priority.
func lowerPriority() {}
