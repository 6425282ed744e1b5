package cmd

import (
	"io"
	"os"
)

// Streams is the one place commands get their input and output from, so
// tests can capture them and output can adapt to a terminal.
type Streams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// OutIsTerminal selects human formats (tables, colour, progress bars).
	OutIsTerminal bool
	ErrIsTerminal bool
}

// SystemStreams returns the process's stdin, stdout and stderr.
func SystemStreams() Streams {
	return Streams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		OutIsTerminal: isTerminal(os.Stdout), ErrIsTerminal: isTerminal(os.Stderr),
	}
}

func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// ColorEnabled honours NO_COLOR (https://no-color.org) and never colours
// output that is not a terminal.
func (s Streams) ColorEnabled() bool {
	return s.OutIsTerminal && os.Getenv("NO_COLOR") == ""
}
