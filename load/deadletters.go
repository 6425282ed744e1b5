package load

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// DeadLetters is where records that are not valid events go. Write must
// make the letters durable before it returns: the batch's offsets are
// committed right after.
type DeadLetters interface {
	Write(ctx context.Context, letters []DeadLetter) error
}

// DeadLetterFile appends dead letters to an NDJSON file, one object per
// line. Each Write is one append of whole lines followed by fsync, so a
// crash leaves at worst a torn last line from a write that never returned,
// whose offsets were therefore never committed: OpenDeadLetterFile cuts it
// off, the records are read again and their lines rewritten.
//
// One loader writes a file at a time; pairing it with the embedded store,
// which one process owns, keeps it so.
type DeadLetterFile struct {
	f    *os.File
	path string
	size int64
}

// DefaultDeadLetterPath is the file next to an embedded store: pulse.db
// gets pulse-dead-letters.ndjson.
func DefaultDeadLetterPath(storePath string) string {
	base := filepath.Base(storePath)
	return filepath.Join(filepath.Dir(storePath), strings.TrimSuffix(base, filepath.Ext(base))+"-dead-letters.ndjson")
}

// OpenDeadLetterFile opens path for appending, creating it (and syncing its
// directory, so the file itself survives a crash) when missing, and cuts
// off a torn last line.
func OpenDeadLetterFile(path string) (*DeadLetterFile, error) {
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open dead-letter file: %w (is the directory writable? choose another with --dead-letters)", err)
	}
	size, err := repairTail(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("dead-letter file %s: %w", path, err)
	}
	if created {
		if err := syncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, err
		}
	}
	return &DeadLetterFile{f: f, path: path, size: size}, nil
}

// repairTail truncates f after its last newline and returns the new size.
func repairTail(f *os.File) (int64, error) {
	info, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := info.Size()
	// Read backwards in blocks until a newline (or the start) is found.
	const block = 64 << 10
	keep := int64(0)
	buf := make([]byte, block)
	for end := size; end > 0; {
		start := max(end-block, 0)
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			keep = start + int64(i) + 1
			break
		}
		end = start
	}
	if keep == size {
		return size, nil
	}
	if err := f.Truncate(keep); err != nil {
		return 0, fmt.Errorf("cut off a torn last line: %w", err)
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return keep, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// Path is the file written.
func (w *DeadLetterFile) Path() string { return w.path }

// Write appends one line per letter in a single write, then fsyncs. A
// failed write is cut off again, so the file never keeps half a batch.
func (w *DeadLetterFile) Write(_ context.Context, letters []DeadLetter) error {
	if len(letters) == 0 {
		return nil
	}
	var buf bytes.Buffer
	for _, d := range letters {
		line, err := json.Marshal(d)
		if err != nil {
			return fmt.Errorf("encode dead letter %s/%d@%d: %w", d.Topic, d.Partition, d.Offset, err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	n, err := w.f.Write(buf.Bytes())
	if err == nil {
		err = w.f.Sync()
	}
	if err != nil {
		if n > 0 {
			err = errors.Join(err, w.f.Truncate(w.size))
		}
		return fmt.Errorf("write %d dead letters to %s: %w (is the disk full?)", len(letters), w.path, err)
	}
	w.size += int64(n)
	return nil
}

// Close closes the file.
func (w *DeadLetterFile) Close() error { return w.f.Close() }

// ReadDeadLetterFile reads every dead letter in an NDJSON dead-letter
// file. A last line without its newline is a write still in progress or
// torn by a crash; it is skipped and reported by torn.
func ReadDeadLetterFile(path string) (letters []DeadLetter, torn bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for lineNo := 1; ; lineNo++ {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return letters, len(line) > 0, nil
		}
		if err != nil {
			return nil, false, err
		}
		var d DeadLetter
		if err := json.Unmarshal(line, &d); err != nil {
			return nil, false, fmt.Errorf("%s line %d: %w", path, lineNo, err)
		}
		letters = append(letters, d)
	}
}
