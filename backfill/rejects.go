package backfill

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Reject is a source row that did not become an event, and why.
type Reject struct {
	Source string `json:"source"`
	// Row is the row's number: the CSV record after the header (1 is the
	// first data row), the NDJSON line, the Parquet row, counted from 1.
	Row int64 `json:"row"`
	// Line is the line the row starts on, for text formats; 0 otherwise.
	Line   int64  `json:"line,omitempty"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// rejectsFile collects rejects into a temporary file beside its final
// path and moves it into place when closed, so a run's rejects file
// appears whole, and only when there was something to reject.
type rejectsFile struct {
	// mu: rejects are written as rows are decoded and flushed when a
	// batch is checkpointed, on another goroutine.
	mu    sync.Mutex
	path  string
	tmp   *os.File
	w     *bufio.Writer
	csv   *csv.Writer
	count int64
}

// rejectsFilePrefix starts the name of every default rejects file.
const rejectsFilePrefix = "backfill-rejects-"

// DefaultRejectsPath names a run's rejects file after its start time.
func DefaultRejectsPath(start time.Time) string {
	return rejectsFilePrefix + start.UTC().Format("20060102T150405Z") + ".ndjson"
}

func newRejectsFile(path string) *rejectsFile { return &rejectsFile{path: path} }

func (r *rejectsFile) write(rej Reject) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tmp == nil {
		dir, base := filepath.Split(r.path)
		if dir == "" {
			dir = "."
		}
		removeStaleRejects(dir)
		tmp, err := os.CreateTemp(dir, fmt.Sprintf(".%s.%d-*.tmp", base, os.Getpid()))
		if err != nil {
			return fmt.Errorf("create the rejects file: %w", err)
		}
		r.tmp, r.w = tmp, bufio.NewWriter(tmp)
		if strings.EqualFold(filepath.Ext(r.path), ".csv") {
			r.csv = csv.NewWriter(r.w)
			if err := r.csv.Write([]string{"source", "row", "line", "field", "reason"}); err != nil {
				return err
			}
		}
	}
	r.count++
	if r.csv != nil {
		line := ""
		if rej.Line > 0 {
			line = strconv.FormatInt(rej.Line, 10)
		}
		return r.csv.Write([]string{rej.Source, strconv.FormatInt(rej.Row, 10), line, rej.Field, rej.Reason})
	}
	data, err := json.Marshal(rej)
	if err != nil {
		return err
	}
	_, err = r.w.Write(append(data, '\n'))
	return err
}

// removeStaleRejects removes the temporary rejects files that killed
// runs left in dir: named .<rejects file>.<pid>-<random>.tmp, for a
// process that is gone.
func removeStaleRejects(dir string) {
	for _, ext := range []string{".ndjson", ".csv"} {
		stale, _ := filepath.Glob(filepath.Join(dir, ".*"+ext+".*-*.tmp"))
		for _, path := range stale {
			name := strings.TrimSuffix(filepath.Base(path), ".tmp")
			pid, _, _ := strings.Cut(name[strings.LastIndexByte(name, '.')+1:], "-")
			if n, err := strconv.Atoi(pid); err == nil && processGone(n) {
				os.Remove(path)
			}
		}
	}
}

// processGone reports whether no process has the id pid: the owner of a
// temporary file or directory named after it was killed.
func processGone(pid int) bool {
	return pid != os.Getpid() && errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// flush makes the rejects written so far durable (in the temporary
// file), before a checkpoint says their rows are done.
func (r *rejectsFile) flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tmp == nil {
		return nil
	}
	if r.csv != nil {
		r.csv.Flush()
		if err := r.csv.Error(); err != nil {
			return err
		}
	}
	if err := r.w.Flush(); err != nil {
		return err
	}
	return r.tmp.Sync()
}

// close moves the file into place; it returns the final path, or "" when
// nothing was rejected.
func (r *rejectsFile) close() (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tmp == nil {
		return "", nil
	}
	if r.csv != nil {
		r.csv.Flush()
		if err := r.csv.Error(); err != nil {
			return "", err
		}
	}
	err := r.w.Flush()
	if err == nil {
		err = r.tmp.Sync()
	}
	if closeErr := r.tmp.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Chmod(r.tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(r.tmp.Name(), r.path)
	}
	if err != nil {
		os.Remove(r.tmp.Name())
		return "", fmt.Errorf("write the rejects file %s: %w", r.path, err)
	}
	return r.path, nil
}
