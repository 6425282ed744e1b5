package backfill

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
)

// rejectsJournal keeps a source's rejects beside its checkpoint, synced
// before each checkpoint: a run killed before its rejects file appears
// leaves them there, and the run that resumes lists them again, so that
// its rejects file covers every row it did not load.
type rejectsJournal struct {
	mu   sync.Mutex
	path string
	f    *os.File
	w    *bufio.Writer
}

func (s *StateDir) journalPath(k sourceKey) string {
	return strings.TrimSuffix(s.file(k), ".json") + ".rejects.ndjson"
}

// openJournal returns the rejects an earlier run journaled for the rows up
// to upTo (the checkpoint's; later ones the resumed run checks again) and
// the journal, cut to them, open for appending.
func (s *StateDir) openJournal(k sourceKey, upTo int64) (*rejectsJournal, []Reject, error) {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("create the state directory: %w", err)
	}
	path := s.journalPath(k)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("open the rejects journal: %w", err)
	}
	var kept []Reject
	var keep int64
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			break // a torn last line is dropped with the rest
		}
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("read the rejects journal %s: %w", path, err)
		}
		var rej Reject
		if json.Unmarshal(line, &rej) != nil || rej.Row > upTo {
			break
		}
		kept = append(kept, rej)
		keep += int64(len(line))
	}
	if err := f.Truncate(keep); err == nil {
		_, err = f.Seek(keep, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("cut the rejects journal %s: %w", path, err)
	}
	return &rejectsJournal{path: path, f: f, w: bufio.NewWriter(f)}, kept, nil
}

func (j *rejectsJournal) write(rej Reject) error {
	data, err := json.Marshal(rej)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	_, err = j.w.Write(append(data, '\n'))
	return err
}

// sync makes the journal durable, before a checkpoint counts its rows.
func (j *rejectsJournal) sync() error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.w.Flush(); err != nil {
		return err
	}
	return j.f.Sync()
}

func (j *rejectsJournal) close() error {
	if err := j.sync(); err != nil {
		j.f.Close()
		return err
	}
	return j.f.Close()
}

// removeJournals deletes journals once a run has written its rejects file
// whole: it lists them all.
func removeJournals(paths []string) error {
	var errs []error
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
