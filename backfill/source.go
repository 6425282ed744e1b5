package backfill

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
)

// Format is a source file format.
type Format string

// Source formats.
const (
	FormatCSV     Format = "csv"
	FormatNDJSON  Format = "ndjson"
	FormatParquet Format = "parquet"
)

// Formats lists the valid --format values.
func Formats() []string {
	return []string{string(FormatCSV), string(FormatNDJSON), string(FormatParquet)}
}

// ParseFormat checks a --format value; "" means by extension.
func ParseFormat(s string) (Format, error) {
	if s == "" || slices.Contains(Formats(), s) {
		return Format(s), nil
	}
	return "", inputErrorf("unknown format %q (valid: %s)", s, strings.Join(Formats(), ", "))
}

// InputError is a mistake in how backfill was called (an unknown format,
// a file that does not exist, a --map column the file lacks), as opposed
// to a failure while loading.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputErrorf(format string, args ...any) error {
	return &InputError{Err: fmt.Errorf(format, args...)}
}

// Stdin names standard input among the sources.
const Stdin = "-"

// Source is one input: a file, or standard input.
type Source struct {
	Path string
	// Format is the --format given, or the one the extension names; empty
	// for standard input without --format (sniffed from its first bytes).
	Format Format
}

// compressionExts are stripped before the format extension is read; the
// compression itself is recognised from the file's first bytes.
var compressionExts = []string{".gz", ".gzip", ".zst", ".zstd"}

// formatOf names a file's format by its extension, "" when unknown.
func formatOf(path string) Format {
	name := strings.ToLower(filepath.Base(path))
	for _, ext := range compressionExts {
		name = strings.TrimSuffix(name, ext)
	}
	switch filepath.Ext(name) {
	case ".csv":
		return FormatCSV
	case ".ndjson", ".jsonl", ".json":
		return FormatNDJSON
	case ".parquet", ".pq":
		return FormatParquet
	}
	return ""
}

// Expand turns FILE|DIR|GLOB|- arguments into sources, in argument order:
// a directory gives its files with a known extension (walked recursively,
// in name order, hidden ones skipped), a glob its matches in name order.
// format, when set, applies to every source. Directories and globs leave
// out what pulse writes: the paths in own (this run's --state and
// --rejects), default rejects files and the embedded store's checkpoint
// directories; else the next run over the same directory would read a
// run's checkpoints and rejects as events.
func Expand(args []string, format Format, own ...string) ([]Source, error) {
	var out []Source
	seen := map[string]bool{}
	owned := ownOutput(own)
	add := func(path string, explicit bool) error {
		if path != Stdin {
			if seen[path] {
				return nil
			}
			seen[path] = true
			if !explicit && owned(path) {
				return nil
			}
		}
		f := format
		if f == "" && path != Stdin {
			f = formatOf(path)
			if f == "" {
				if !explicit {
					return nil
				}
				return inputErrorf("cannot tell the format of %s from its extension (.csv, .ndjson/.jsonl/.json, .parquet, optionally .gz or .zst): give --format", path)
			}
		}
		out = append(out, Source{Path: path, Format: f})
		return nil
	}
	for _, arg := range args {
		if arg == Stdin {
			if err := add(Stdin, true); err != nil {
				return nil, err
			}
			continue
		}
		info, err := os.Stat(arg)
		switch {
		case err == nil && info.IsDir():
			files, err := walk(arg)
			if err != nil {
				return nil, err
			}
			for _, f := range files {
				if err := add(f, false); err != nil {
					return nil, err
				}
			}
			continue
		case err == nil:
			if err := add(arg, true); err != nil {
				return nil, err
			}
			continue
		case !errors.Is(err, fs.ErrNotExist):
			return nil, inputErrorf("%v", err)
		}
		matches, globErr := filepath.Glob(arg)
		if globErr != nil {
			return nil, inputErrorf("invalid pattern %q: %v", arg, globErr)
		}
		if len(matches) == 0 {
			return nil, inputErrorf("%s: no such file, directory or matching files", arg)
		}
		for _, m := range matches { // Glob returns them sorted
			if strings.HasPrefix(filepath.Base(m), ".") && !strings.HasPrefix(filepath.Base(arg), ".") {
				continue // as a shell's * does
			}
			if info, err := os.Stat(m); err == nil && !info.IsDir() {
				if err := add(m, true); err != nil {
					return nil, err
				}
			}
		}
	}
	if len(out) == 0 {
		return nil, inputErrorf("no input files with a known extension in %s (give --format to read others)", strings.Join(args, " "))
	}
	return out, nil
}

// ownOutput reports whether a path is, or lies in, one of pulse's
// outputs: the paths given, a default rejects file (backfill-rejects-*) or
// a file in a checkpoint directory.
func ownOutput(paths []string) func(string) bool {
	var abs []string
	for _, p := range paths {
		if a, err := filepath.Abs(p); err == nil && p != "" {
			abs = append(abs, a)
		}
	}
	return func(path string) bool {
		a, err := filepath.Abs(path)
		if err != nil {
			return false
		}
		for _, o := range abs {
			if a == o || strings.HasPrefix(a, o+string(filepath.Separator)) {
				return true
			}
		}
		return strings.HasPrefix(filepath.Base(a), rejectsFilePrefix) || isStateDir(filepath.Dir(a))
	}
}

// isStateDir reports whether dir is an embedded store's checkpoint
// directory: named <store>.backfill, beside the store file.
func isStateDir(dir string) bool {
	store, ok := strings.CutSuffix(dir, stateDirSuffix)
	if !ok {
		return false
	}
	info, err := os.Stat(store)
	return err == nil && info.Mode().IsRegular()
}

func walk(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if path != dir && d.IsDir() && isStateDir(path) {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, inputErrorf("%v", err)
	}
	slices.Sort(files)
	return files, nil
}

// Compression of a stream, recognised by its magic bytes.
const (
	compressionNone = "none"
	compressionGzip = "gzip"
	compressionZstd = "zstd"
)

var (
	gzipMagic    = []byte{0x1f, 0x8b}
	zstdMagic    = []byte{0x28, 0xb5, 0x2f, 0xfd}
	parquetMagic = []byte("PAR1")
	utf8BOM      = []byte("\ufeff")
)

// input is an opened source: its decompressed bytes and how far into the
// raw bytes reading has got, for progress.
type input struct {
	r           *bufio.Reader
	format      Format
	compression string
	// size is the raw size in bytes, 0 when unknown (stdin).
	size int64
	// consumed counts the raw bytes read so far; read from the progress
	// goroutine.
	consumed *atomic.Int64
	closers  []func() error
}

func (in *input) Close() error {
	var errs []error
	for i := len(in.closers) - 1; i >= 0; i-- {
		errs = append(errs, in.closers[i]())
	}
	return errors.Join(errs...)
}

// decompressed says what a decompressor's error means: a bare "unexpected
// EOF" does not tell that the file is cut short.
type decompressed struct {
	r           io.Reader
	compression string
}

func (d decompressed) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("the %s data is truncated or corrupt (was the file cut short?): %w", d.compression, err)
	}
	return n, err
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// openInput opens a CSV or NDJSON source (or standard input of any
// format), undoing gzip or zstd compression found by magic bytes.
func openInput(src Source, stdin io.Reader) (*input, error) {
	in := &input{format: src.Format, consumed: new(atomic.Int64)}
	var raw io.Reader
	if src.Path == Stdin {
		raw = stdin
	} else {
		f, err := os.Open(src.Path)
		if err != nil {
			return nil, err
		}
		in.closers = append(in.closers, f.Close)
		if info, err := f.Stat(); err == nil {
			in.size = info.Size()
		}
		raw = f
	}
	br := bufio.NewReaderSize(countingReader{raw, in.consumed}, 1<<20)
	head, _ := br.Peek(4)
	var r io.Reader = br
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			in.Close()
			return nil, fmt.Errorf("gzip: %w", err)
		}
		in.closers = append(in.closers, zr.Close)
		in.compression, r = compressionGzip, decompressed{zr, compressionGzip}
	case bytes.HasPrefix(head, zstdMagic):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			in.Close()
			return nil, fmt.Errorf("zstd: %w", err)
		}
		in.closers = append(in.closers, func() error { zr.Close(); return nil })
		in.compression, r = compressionZstd, decompressed{zr, compressionZstd}
	default:
		in.compression = compressionNone
	}
	if r == br {
		in.r = br
	} else {
		in.r = bufio.NewReaderSize(r, 1<<20)
	}
	if head, _ := in.r.Peek(len(utf8BOM)); bytes.Equal(head, utf8BOM) {
		in.r.Discard(len(utf8BOM)) // spreadsheet exports start with one
	}
	if in.format == "" {
		in.format = sniffFormat(in.r)
	}
	if in.format == FormatParquet && in.compression != compressionNone {
		in.Close()
		return nil, inputErrorf("the file is %s-compressed Parquet; Parquet compresses its own pages: decompress the file first", in.compression)
	}
	return in, nil
}

// sniffFormat tells the format of standard input from its first bytes.
func sniffFormat(r *bufio.Reader) Format {
	head, _ := r.Peek(4096)
	if bytes.HasPrefix(head, parquetMagic) {
		return FormatParquet
	}
	if trimmed := bytes.TrimLeft(head, " \t\r\n"); len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		return FormatNDJSON // an array: the NDJSON reader says what to do
	}
	return FormatCSV
}

// ParseDelimiter reads --delimiter: one ASCII character other than a
// quote, a line break or a space, or "tab" (also "\\t" as typed in a shell).
func ParseDelimiter(s string) (byte, error) {
	switch s {
	case "":
		return ',', nil
	case "tab", `\t`, "\t":
		return '\t', nil
	}
	if len(s) != 1 || s[0] <= ' ' || s[0] > '~' || s[0] == '"' {
		return 0, fmt.Errorf("invalid --delimiter %q: give one ASCII character such as ; or |, or tab", s)
	}
	return s[0], nil
}
