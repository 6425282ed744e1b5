package load

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func letter(offset int64, raw string) DeadLetter {
	return DeadLetter{
		ReceivedAt: time.Date(2026, 9, 1, 12, 0, 1, 0, time.UTC), Topic: "product_events", Partition: 1, Offset: offset,
		Timestamp: produceTime, Reason: "malformed message", Error: "$: malformed JSON", Raw: []byte(raw), RawBytes: len(raw),
	}
}

func sameLetters(t *testing.T, got, want []DeadLetter) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d dead letters, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.ReceivedAt.Equal(w.ReceivedAt) || !g.Timestamp.Equal(w.Timestamp) || g.Topic != w.Topic || g.Partition != w.Partition ||
			g.Offset != w.Offset || g.Reason != w.Reason || g.Error != w.Error || g.TenantID != w.TenantID ||
			!bytes.Equal(g.Raw, w.Raw) || g.RawBytes != w.RawBytes {
			t.Fatalf("dead letter %d:\n got  %+v\n want %+v", i, g, w)
		}
	}
}

func TestDeadLetterFileRoundTripsEveryField(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dl.ndjson")
	w, err := OpenDeadLetterFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cut := letter(3, `{"event":"x`)
	cut.RawBytes = 5000
	cut.TenantID = "acme"
	want := []DeadLetter{letter(1, "{not json"), letter(2, "\xff\xfe binary"), cut}
	if err := w.Write(context.Background(), want[:2]); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(context.Background(), want[2:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, torn, err := ReadDeadLetterFile(path)
	if err != nil || torn {
		t.Fatalf("read: %v (torn %v)", err, torn)
	}
	sameLetters(t, got, want)
	if !got[2].Truncated() || got[0].Truncated() {
		t.Fatal("truncated flag lost")
	}
	raw, _ := os.ReadFile(path)
	if !bytes.Contains(raw, []byte(`"raw_message_base64":"//4gYmluYXJ5"`)) || !bytes.Contains(raw, []byte(`"raw_message":"{not json"`)) {
		t.Fatalf("unexpected encoding of raw values:\n%s", raw)
	}
}

func TestDeadLetterFileCutsOffATornLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dl.ndjson")
	w, err := OpenDeadLetterFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(context.Background(), []DeadLetter{letter(1, "a")}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	// A crash in the middle of the next write leaves half a line.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"received_at":"2026-09-01T12:00:01.000Z","topic":"product_ev`)
	f.Close()

	got, torn, err := ReadDeadLetterFile(path)
	if err != nil || !torn {
		t.Fatalf("reader: err %v, torn %v; want the torn line skipped and reported", err, torn)
	}
	sameLetters(t, got, []DeadLetter{letter(1, "a")})

	// Reopening for the re-read batch cuts the fragment off, so the
	// rewritten line starts on a line of its own.
	w, err = OpenDeadLetterFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(context.Background(), []DeadLetter{letter(2, "b")}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	got, torn, err = ReadDeadLetterFile(path)
	if err != nil || torn {
		t.Fatalf("after repair: err %v, torn %v", err, torn)
	}
	sameLetters(t, got, []DeadLetter{letter(1, "a"), letter(2, "b")})
}

func TestDeadLetterFileWithOnlyATornLineBecomesEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dl.ndjson")
	if err := os.WriteFile(path, []byte(`{"received_at`), 0o640); err != nil {
		t.Fatal(err)
	}
	w, err := OpenDeadLetterFile(path)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if info, _ := os.Stat(path); info.Size() != 0 {
		t.Fatalf("file is %d bytes, want 0", info.Size())
	}
}

func TestDefaultDeadLetterPathSitsNextToTheStore(t *testing.T) {
	for store, want := range map[string]string{
		"pulse.db":              "pulse-dead-letters.ndjson",
		"/var/lib/pulse/a.db":   "/var/lib/pulse/a-dead-letters.ndjson",
		"data/events.duckdb":    "data/events-dead-letters.ndjson",
		"/srv/noext":            "/srv/noext-dead-letters.ndjson",
		"/srv/dir.v2/pulse.db":  "/srv/dir.v2/pulse-dead-letters.ndjson",
		"/srv/dir.v2/store.v1x": "/srv/dir.v2/store-dead-letters.ndjson",
	} {
		if got := DefaultDeadLetterPath(store); got != want {
			t.Errorf("DefaultDeadLetterPath(%q) = %q, want %q", store, got, want)
		}
	}
}
