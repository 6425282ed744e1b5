package backfill

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulse-analytics/pulse/gen"
	"github.com/pulse-analytics/pulse/ingest"
	"github.com/pulse-analytics/pulse/store"
)

// loadBothLanes loads one file into two fresh stores, in bulk where the
// file allows and row by row, and returns each store's events by user and
// each run's rejects by row.
func loadBothLanes(t *testing.T, path string, cfg Config) (map[bool]map[string]storedEvent, map[bool]map[int64]Reject) {
	t.Helper()
	events := map[bool]map[string]storedEvent{}
	rejects := map[bool]map[int64]Reject{}
	for _, rowByRow := range []bool{false, true} {
		cfg := cfg
		cfg.RowByRow = rowByRow
		cfg.RejectsPath = filepath.Join(t.TempDir(), "rejects.ndjson")
		db := newStore(t)
		if _, err := load(t, db, "", cfg, path); err != nil {
			t.Fatalf("row by row %v: %v", rowByRow, err)
		}
		events[rowByRow] = map[string]storedEvent{}
		for _, e := range stored(t, db) {
			events[rowByRow][e.User] = e
		}
		rejects[rowByRow] = map[int64]Reject{}
		if _, err := os.Stat(cfg.RejectsPath); err == nil {
			for _, r := range readRejects(t, cfg.RejectsPath) {
				rejects[rowByRow][r.Row] = r
			}
		}
	}
	return events, rejects
}

// properties given as JSON text in a string are unpacked whether or not
// extra columns join them, and a null one is absent, in every format.
func TestPropertiesAsJSONTextOrNull(t *testing.T) {
	dir := t.TempDir()
	const id = "ffff0000-0000-4000-8000-00000000000"
	row := func(n, props, extra string) string {
		return `{"event_id":"` + id + n + `","event":"ev","tenant_id":"acme","user_id":"u` + n + `","session_id":"s","ts":"2026-01-05T10:00:00Z","properties":` + props + extra + "}\n"
	}
	ndjson := writeFile(t, dir, "text.ndjson", []byte(row("1", `"{\"a\":1}"`, "")+row("2", `"{\"a\":1}"`, `,"plan":"x"`)+
		row("3", "null", `,"plan":"x"`)+row("4", `"null"`, `,"plan":"x"`)))
	csv := writeFile(t, dir, "null.csv", []byte("event_id,event,tenant_id,user_id,session_id,ts,properties,plan\n"+
		id+"5,ev,acme,u5,s,2026-01-05T10:00:00Z,null,pro\n"+
		id+"6,ev,acme,u6,s,2026-01-05T10:00:00Z,null,\n"+
		id+"7,ev,acme,u7,s,2026-01-05T10:00:00Z,{},pro\n"))
	want := map[string]string{"u1": `{"a":1}`, "u2": `{"a":1,"plan":"x"}`, "u3": `{"plan":"x"}`, "u4": `{"plan":"x"}`,
		"u5": `{"plan":"pro"}`, "u6": `{}`, "u7": `{"plan":"pro"}`}
	for _, path := range []string{ndjson, csv} {
		events, rejects := loadBothLanes(t, path, Config{})
		for rowByRow, byUser := range events {
			if len(rejects[rowByRow]) > 0 {
				t.Errorf("%s, row by row %v: rejects %v", filepath.Base(path), rowByRow, rejects[rowByRow])
			}
			for user, e := range byUser {
				if !sameJSON(t, e.Props, want[user]) {
					t.Errorf("%s, row by row %v: %s has properties %s; want %s", filepath.Base(path), rowByRow, user, e.Props, want[user])
				}
			}
		}
	}
}

// A reject names the field at fault, not the JSON the row became.
func TestRejectsNameTheFieldAtFault(t *testing.T) {
	dir := t.TempDir()
	csv := writeFile(t, dir, "version.csv", []byte("event_id,event,tenant_id,user_id,session_id,ts,event_version\n"+
		"eeee0000-0000-4000-8000-000000000001,ev,acme,u1,s1,2026-01-05T10:00:00Z,007\n"+
		"eeee0000-0000-4000-8000-000000000002,ev,acme,u2,s2,2026-01-05T10:00:00Z,7\n"))
	pq := filepath.Join(dir, "floats.parquet")
	duckdbExec(t, `COPY (SELECT * FROM (VALUES
		('eeee0000-0000-4000-8000-000000000003', 'u3', CAST('nan' AS DOUBLE)),
		('eeee0000-0000-4000-8000-000000000004', 'u4', CAST('-inf' AS DOUBLE)),
		('eeee0000-0000-4000-8000-000000000005', 'u5', 1.5)) AS t(event_id, user_id, f),
		(SELECT 'ev' AS event, 'acme' AS tenant_id, 's' AS session_id, '2026-01-05T10:00:00Z' AS ts)) TO '`+pq+`' (FORMAT parquet)`)
	tests := []struct {
		path  string
		row   int64
		field string
	}{
		{csv, 1, "event_version"},
		{pq, 1, "properties.f"},
		{pq, 2, "properties.f"},
	}
	for _, path := range []string{csv, pq} {
		events, rejects := loadBothLanes(t, path, Config{})
		for _, rowByRow := range []bool{false, true} {
			for _, tt := range tests {
				if tt.path != path {
					continue
				}
				if got := rejects[rowByRow][tt.row]; got.Field != tt.field {
					t.Errorf("%s row %d, row by row %v: rejected as %q (%s); want field %s", filepath.Base(path), tt.row, rowByRow, got.Field, got.Reason, tt.field)
				}
			}
			if len(events[rowByRow]) != 1 {
				t.Errorf("%s, row by row %v: %d events stored; want the one valid row", filepath.Base(path), rowByRow, len(events[rowByRow]))
			}
		}
	}
}

// Spreadsheet tools start text files with a byte-order mark; it is not
// part of the first row, from a file or from standard input.
func TestByteOrderMarkIsSkipped(t *testing.T) {
	line := `{"event":"ev","tenant_id":"acme","user_id":"u1","session_id":"s","ts":"2026-01-05T10:00:00Z"}` + "\n"
	data := append([]byte("\ufeff"), line...)
	path := writeFile(t, t.TempDir(), "bom.ndjson", data)
	for _, args := range [][]string{{path}, {Stdin}} {
		s, err := load(t, newStore(t), "", Config{Stdin: bytes.NewReader(data)}, args...)
		if err != nil || s.Loaded != 1 || s.Rejected != 0 {
			t.Errorf("%v: %+v, %v; want the row loaded", args, s, err)
		}
	}
}

// Timestamps with a zone are stored in UTC whatever zone the process runs
// in, even one whose offset has seconds (Monrovia's before 1972).
func TestTimestampsIgnoreTheProcessZone(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := pulse(t)
	dir := t.TempDir()
	pq := filepath.Join(dir, "tz.parquet")
	duckdbExec(t, `COPY (SELECT 'ev' AS event, 'acme' AS tenant_id, 'u' || i AS user_id, 's' AS session_id,
		CAST(ts AS TIMESTAMPTZ) AS ts FROM (VALUES (1, '1971-06-01 12:00:00+00'), (2, '2026-01-05 10:00:00.123+00')) AS t(i, ts)) TO '`+pq+`' (FORMAT parquet)`)
	db := newStore(t)
	cmd := exec.Command(bin, "backfill", pq, "--data", db, "--rejects", filepath.Join(dir, "rejects.ndjson"))
	cmd.Env = append(os.Environ(), "TZ=Africa/Monrovia")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("backfill: %v\n%s", err, out)
	}
	want := map[string]string{"u1": "1971-06-01T12:00:00.000Z", "u2": "2026-01-05T10:00:00.123Z"}
	events := stored(t, db)
	if len(events) != 2 {
		t.Fatalf("%d events stored; want 2", len(events))
	}
	for _, e := range events {
		if got := e.TS.UTC().Format(ingest.TSLayout); got != want[e.User] {
			t.Errorf("%s stored at %s; want %s", e.User, got, want[e.User])
		}
	}
}

// ingested_at is UTC whatever zone the process runs in, in both lanes: it
// orders commits for the rollup refresh, so a bulk step stored nine hours
// ahead (Tokyo) would hide the next file's events from the rollups.
func TestIngestedAtIsUTCInEveryZone(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := pulse(t)
	events := generated(t, 1500)
	dir := t.TempDir()
	bulk := parquetOf(t, dir, "a.parquet", events[:1000])
	rowByRow := writeFile(t, dir, "b.ndjson", encode(t, events[1000:], gen.FormatNDJSON))
	db := newStore(t)
	before := time.Now().UTC().Add(-time.Second)
	cmd := exec.Command(bin, "backfill", bulk, rowByRow, "--data", db, "--rejects", filepath.Join(dir, "rejects.ndjson"))
	cmd.Env = append(os.Environ(), "TZ=Asia/Tokyo")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("backfill: %v\n%s", err, out)
	}
	after := time.Now().UTC().Add(time.Second)
	st, err := store.Open(context.Background(), store.Options{Path: db, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var first, last time.Time
	var days int
	if err := st.DB.QueryRow(`SELECT min(ingested_at), max(ingested_at), (SELECT count(*) FROM user_days) FROM events`).Scan(&first, &last, &days); err != nil {
		t.Fatal(err)
	}
	if first.Before(before) || last.After(after) {
		t.Errorf("ingested_at from %s to %s; the run went from %s to %s (UTC)", first, last, before, after)
	}
	want := map[string]bool{}
	for _, ev := range events {
		want[ev.TenantID+"/"+ev.TS.UTC().Format(time.DateOnly)+"/"+ev.UserID] = true
	}
	if days != len(want) {
		t.Errorf("user_days holds %d (tenant, day, user) keys; the events stored make %d", days, len(want))
	}
}

// A compressed file cut short fails with an error that says so, after
// storing the rows before the cut, in every lane.
func TestTruncatedCompressedFile(t *testing.T) {
	events := generated(t, 3000)
	dir := t.TempDir()
	for _, format := range []string{gen.FormatCSV, gen.FormatNDJSON} {
		whole := gzipped(t, encode(t, events, format))
		path := writeFile(t, dir, "cut."+format+".gz", whole[:len(whole)/2])
		for _, rowByRow := range []bool{false, true} {
			s, err := load(t, newStore(t), "", Config{RowByRow: rowByRow, BulkRows: 500}, path)
			if err == nil || !strings.Contains(err.Error(), "truncated or corrupt") || s.Loaded == 0 {
				t.Errorf("%s, row by row %v: %+v, %v; want some rows loaded, then an error telling the file is cut short", format, rowByRow, s, err)
			}
		}
	}
}

// A killed run leaves its rejects in a hidden temporary file; the next run
// that writes rejects there removes it, and only if its process is gone.
func TestKilledRunsTemporaryRejectsAreRemoved(t *testing.T) {
	dir := t.TempDir()
	done := exec.Command("true")
	if err := done.Run(); err != nil {
		t.Fatal(err)
	}
	stale := writeFile(t, dir, fmt.Sprintf(".backfill-rejects-20261101T000000Z.ndjson.%d-123.tmp", done.Process.Pid), []byte("{}\n"))
	live := writeFile(t, dir, fmt.Sprintf(".other.ndjson.%d-456.tmp", os.Getppid()), []byte("{}\n"))
	path, _ := badRows(t)
	if _, err := load(t, newStore(t), "", Config{RejectsPath: filepath.Join(dir, "rejects.ndjson")}, path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("%s is still there (%v); its process is gone", stale, err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("%s was removed (%v); its process runs", live, err)
	}
}
