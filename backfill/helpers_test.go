package backfill

import (
	"bytes"
	"compress/gzip"
	"context"
	dbsql "database/sql"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/pulse-analytics/pulse/gen"
	"github.com/pulse-analytics/pulse/ingest"
	"github.com/pulse-analytics/pulse/store"
)

// schemaApply creates an embedded store with its schema, as
// `pulse schema apply --data path` does.
func schemaApply(t testing.TB, path string) {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

// newStore returns the path of a fresh embedded store with its schema.
func newStore(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pulse.db")
	schemaApply(t, path)
	return path
}

// generated returns n deterministic events, in ts order.
func generated(t testing.TB, n int64) []ingest.Event {
	t.Helper()
	var events []ingest.Event
	cfg := gen.Config{Seed: 11, Tenants: 4, Users: 200, MaxEvents: n,
		Start: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)}
	if err := gen.Generate(context.Background(), cfg, func(ev ingest.Event) error {
		events = append(events, ev)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return events
}

// encode writes events as gen's NDJSON or CSV.
func encode(t testing.TB, events []ingest.Event, format string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := gen.NewWriter(&buf, format)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipped(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstded(t testing.TB, data []byte) []byte {
	t.Helper()
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zw.Close()
	return zw.EncodeAll(data, nil)
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// duckdbExec runs statements on a private in-memory DuckDB: the tests make
// Parquet fixtures with COPY ... TO.
func duckdbExec(t testing.TB, stmts ...string) {
	t.Helper()
	db, err := dbsql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%v\n%s", err, s)
		}
	}
}

// parquetOf writes events as Parquet the way a typical export looks: ts a
// TIMESTAMP (UTC, no zone), event_version an INTEGER, properties and
// context JSON text.
func parquetOf(t testing.TB, dir, name string, events []ingest.Event) string {
	t.Helper()
	ndjson := writeFile(t, dir, name+".src.ndjson", encode(t, events, gen.FormatNDJSON))
	path := filepath.Join(dir, name)
	duckdbExec(t, `COPY (SELECT * FROM read_ndjson('`+ndjson+`', columns = {event_id: 'UUID', event: 'VARCHAR', user_id: 'VARCHAR', tenant_id: 'VARCHAR', session_id: 'VARCHAR', ts: 'TIMESTAMP', event_version: 'INTEGER', properties: 'JSON', context: 'JSON'})) TO '`+path+`' (FORMAT parquet, ROW_GROUP_SIZE 1000)`)
	os.Remove(ndjson)
	return path
}

// storedEvent is one row of the embedded store's events table.
type storedEvent struct {
	ID, Tenant, User, Session, Event, Props, Context string
	TS                                               time.Time
	Version                                          int
}

// stored reads every event of an embedded store, ordered by its key (event_id, ts, tenant_id).
func stored(t testing.TB, path string) []storedEvent {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Path: path, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.DB.Query(`SELECT CAST(event_id AS VARCHAR), tenant_id, user_id, session_id, event, CAST(properties AS VARCHAR), CAST(context AS VARCHAR), ts, event_version FROM events ORDER BY event_id, ts, tenant_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []storedEvent
	for rows.Next() {
		var e storedEvent
		if err := rows.Scan(&e.ID, &e.Tenant, &e.User, &e.Session, &e.Event, &e.Props, &e.Context, &e.TS, &e.Version); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// ids returns the sorted event ids of events.
func ids(events []ingest.Event) []string {
	out := make([]string, len(events))
	for i, ev := range events {
		out[i] = ev.EventID
	}
	slices.Sort(out)
	return out
}

func storedIDs(evs []storedEvent) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	slices.Sort(out)
	return out
}

// load runs a backfill of paths into the embedded store at db, with
// checkpoints in state ("" for none).
func load(t testing.TB, db, state string, cfg Config, paths ...string) (Summary, error) {
	t.Helper()
	sources, err := Expand(paths, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Sources = sources
	if cfg.Mapping.fieldFor == nil {
		cfg.Mapping, _ = ParseMapping(nil)
	}
	if cfg.RejectsPath == "" {
		cfg.RejectsPath = filepath.Join(t.TempDir(), "rejects.ndjson")
	}
	if db != "" {
		target, err := OpenEmbedded(context.Background(), db, "256MB")
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := target.Close(); err != nil {
				t.Error(err)
			}
		}()
		cfg.Target = target
		if state != "" {
			cfg.State = &StateDir{Dir: state, Target: target.ID()}
		}
	}
	return Run(context.Background(), cfg)
}
