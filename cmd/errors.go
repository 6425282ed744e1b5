package cmd

import (
	"errors"
	"fmt"
)

// Exit codes: 0 success, 1 runtime error, 2 usage error.
const (
	ExitOK      = 0
	ExitRuntime = 1
	ExitUsage   = 2
)

// UsageError is a mistake in how the command was called; it exits 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// usageErrorf builds a UsageError; the message should say how to fix it.
func usageErrorf(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ExitCodeError lets a command choose its exit code without printing more,
// e.g. `schema plan` exiting 1 when changes are pending.
type ExitCodeError struct {
	Code int
	Err  error
}

func (e *ExitCodeError) Error() string { return e.Err.Error() }
func (e *ExitCodeError) Unwrap() error { return e.Err }

func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var usage *UsageError
	if errors.As(err, &usage) {
		return ExitUsage
	}
	var coded *ExitCodeError
	if errors.As(err, &coded) {
		return coded.Code
	}
	return ExitRuntime
}
