package backfill

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Checkpoint records how far the load of one source file into one target
// has got. It is written only after the rows it counts are durable in the
// target, so a run that stops at any point (Ctrl-C, kill -9, power loss)
// resumes after Rows without gaps; rows stored after the last checkpoint
// are stored again on resume, and the target's (tenant_id, event_id, ts)
// de-duplication absorbs them.
type Checkpoint struct {
	Source  string    `json:"source"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime"`
	// Reading is how the rows were read (format and --map): a run that
	// reads them differently makes other events of them, so it starts over.
	Reading string `json:"reading"`
	Target  string `json:"target"`
	// Rows is the number of the last row whose fate is durable: stored,
	// found already stored, or rejected.
	Rows     int64     `json:"rows"`
	Complete bool      `json:"complete"`
	Loaded   int64     `json:"loaded"`
	Rejected int64     `json:"rejected"`
	Updated  time.Time `json:"updated"`
}

// StateDir holds the checkpoints of one target, one file per source.
type StateDir struct {
	Dir    string
	Target string
}

// sourceKey identifies a source file by absolute path, size and
// modification time, and how it is read: a file that changes, or is read
// with another format or --map, starts over, which the target's
// de-duplication makes safe.
type sourceKey struct {
	path    string
	size    int64
	modTime time.Time
	reading string
}

func statSource(path, reading string) (sourceKey, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return sourceKey{}, err
	}
	info, err := os.Stat(abs)
	if err != nil {
		return sourceKey{}, err
	}
	return sourceKey{path: abs, size: info.Size(), modTime: info.ModTime().UTC(), reading: reading}, nil
}

func (s *StateDir) file(k sourceKey) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00%d\x00%s", s.Target, k.path, k.size, k.modTime.UnixNano(), k.reading)
	return filepath.Join(s.Dir, hex.EncodeToString(h.Sum(nil))[:32]+".json")
}

// Load returns the checkpoint of a source, or a zero one (Rows 0) when
// there is none.
func (s *StateDir) Load(k sourceKey) (Checkpoint, error) {
	cp := s.fresh(k)
	data, err := os.ReadFile(s.file(k))
	if errors.Is(err, fs.ErrNotExist) {
		return cp, nil
	}
	if err != nil {
		return cp, fmt.Errorf("read checkpoint: %w", err)
	}
	var stored Checkpoint
	if err := json.Unmarshal(data, &stored); err != nil {
		return cp, fmt.Errorf("checkpoint %s is corrupt (%v): delete it to load %s from the start", s.file(k), err, k.path)
	}
	if stored.Source != k.path || stored.Size != k.size || !stored.ModTime.Equal(k.modTime) || stored.Reading != k.reading || stored.Target != s.Target {
		return cp, nil // a hash collision in name only
	}
	return stored, nil
}

// fresh is the checkpoint of a source nothing of which is loaded yet.
func (s *StateDir) fresh(k sourceKey) Checkpoint {
	return Checkpoint{Source: k.path, Size: k.size, ModTime: k.modTime, Reading: k.reading, Target: s.Target}
}

// Save writes cp atomically and durably: a temporary file, fsync, rename
// over the old checkpoint, fsync of the directory. A crash leaves either
// the old or the new checkpoint, never a torn one.
func (s *StateDir) Save(k sourceKey, cp Checkpoint) error {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return fmt.Errorf("create the state directory: %w", err)
	}
	cp.Updated = time.Now().UTC()
	data, err := json.MarshalIndent(cp, "", "  ")
	if err != nil {
		return err
	}
	final := s.file(k)
	tmp, err := os.CreateTemp(s.Dir, ".checkpoint-*.tmp")
	if err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	_, err = tmp.Write(append(data, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), final)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write checkpoint %s: %w", final, err)
	}
	return syncDir(s.Dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
