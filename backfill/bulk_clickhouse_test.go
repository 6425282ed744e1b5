package backfill

import (
	"context"
	"encoding/csv"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/pulse-analytics/pulse/chstore"
	"github.com/pulse-analytics/pulse/ingest"
)

// The bulk lane into ClickHouse stores, rejects and counts what the
// row-by-row lane does: the same rows with the same maps (keys in the same
// order, numbers as written), the same rejects, the same derived ids.
func TestBulkLaneMatchesRowByRowIntoClickHouse(t *testing.T) {
	csvPath, parquets := edgeFiles(t)
	for _, path := range append(append([]string{csvPath}, parquets...), withoutEventIDs(t, csvPath)...) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			bulk := bothLanesClickHouse(t, path, Config{})
			if bulk.Bulk < 2900 {
				t.Errorf("bulk lane took %d rows, want nearly all 3000 generated ones", bulk.Bulk)
			}
		})
	}
	t.Run("typed-extras.parquet", func(t *testing.T) {
		if bulk := bothLanesClickHouse(t, typedExtrasParquet(t, t.TempDir(), 3000, false), Config{}); bulk.Bulk < 1000 {
			t.Errorf("bulk lane took %d rows, want at least 1000", bulk.Bulk)
		}
	})
	// Numbers events_bulk's JSONExtract would render anew, in most rows:
	// the file's steps go to events_bulk_raw.
	t.Run("typed-extras-doubles.parquet", func(t *testing.T) {
		if bulk := bothLanesClickHouse(t, typedExtrasParquet(t, t.TempDir(), 3000, true), Config{}); bulk.Bulk < 2000 {
			t.Errorf("bulk lane took %d rows, want at least 2000", bulk.Bulk)
		}
	})
	t.Run("float-properties.csv", func(t *testing.T) {
		if bulk := bothLanesClickHouse(t, floatPropertiesCSV(t, t.TempDir(), 3000), Config{}); bulk.Bulk < 2900 {
			t.Errorf("bulk lane took %d rows, want at least 2900", bulk.Bulk)
		}
	})
	t.Run("ts-forms.csv", func(t *testing.T) {
		path := tsFormsCSV(t, t.TempDir(), 2200)
		if bulk := bothLanesClickHouse(t, path, Config{TS: mustRule(t, "UTC", "ms")}); bulk.Bulk < 800 {
			t.Errorf("bulk lane took %d rows, want at least 800", bulk.Bulk)
		}
	})
	t.Run("mapped.csv", func(t *testing.T) {
		path, m := mappedCSV(t, t.TempDir())
		if bulk := bothLanesClickHouse(t, path, Config{Mapping: m}); bulk.Bulk < 1000 {
			t.Errorf("bulk lane took %d rows, want most of the 2000", bulk.Bulk)
		}
	})
}

// bothLanesClickHouse loads path into two fresh ClickHouse databases,
// through the bulk lane and row by row, with cfg's mapping, ts rule,
// contract and step size, and compares them.
func bothLanesClickHouse(t *testing.T, path string, cfg Config) Summary {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	contract := cfg.Contract
	if contract == nil {
		contract = ingest.NewContract()
	}
	now := time.Now()
	contract.Now = func() time.Time { return now }
	var summaries [2]Summary
	var rows [2][]string
	var rejects [2][]string
	for i, rowByRow := range []bool{false, true} {
		dsn, conn, p := clickhouseDatabase(t)
		if _, err := chstore.Apply(ctx, conn, p); err != nil {
			t.Fatal(err)
		}
		// The lanes must insert the same rows, copies included: a merge of
		// the ReplacingMergeTree in one database before the comparison
		// would drop a copy there alone.
		if err := conn.Exec(ctx, "SYSTEM STOP MERGES "+p.Database+".events"); err != nil {
			t.Fatal(err)
		}
		target, err := OpenClickHouse(ctx, dsn, p)
		if err != nil {
			t.Fatal(err)
		}
		sources, err := Expand([]string{path}, "")
		if err != nil {
			t.Fatal(err)
		}
		cfg := Config{Sources: sources, Mapping: cfg.Mapping, TS: cfg.TS, Target: target, Contract: contract, RowByRow: rowByRow,
			BulkRows: cfg.BulkRows, RejectsPath: filepath.Join(dir, "rejects-"+p.Database+".ndjson")}
		if testing.Verbose() {
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
		}
		summaries[i], err = Run(ctx, cfg)
		target.Close()
		if err != nil {
			t.Fatalf("row by row %v: %v", rowByRow, err)
		}
		rows[i] = clickhouseRows(t, conn, p)
		rejects[i] = rejectLines(t, cfg.RejectsPath)
	}
	bulk, rowByRow := summaries[0], summaries[1]
	if !reflect.DeepEqual(rows[0], rows[1]) {
		t.Errorf("stored rows differ (%d bulk, %d row by row):\nonly bulk:\n%s\nonly row by row:\n%s", len(rows[0]), len(rows[1]),
			strings.Join(missing(rows[0], rows[1]), "\n"), strings.Join(missing(rows[1], rows[0]), "\n"))
	}
	if !reflect.DeepEqual(rejects[0], rejects[1]) {
		t.Errorf("rejects differ:\nonly bulk:\n%s\nonly row by row:\n%s", strings.Join(missing(rejects[0], rejects[1]), "\n"), strings.Join(missing(rejects[1], rejects[0]), "\n"))
	}
	if bulk.Rows != rowByRow.Rows || bulk.Loaded != rowByRow.Loaded || bulk.Rejected != rowByRow.Rejected || bulk.DuplicatesKnown || rowByRow.DuplicatesKnown {
		t.Errorf("summaries differ: bulk %+v, row by row %+v", bulk, rowByRow)
	}
	if bulk.Rejected == 0 {
		t.Error("nothing rejected; the fixture lost its edges")
	}
	return bulk
}

// clickhouseRows reads every row of a database's events table (copies
// included: the lanes must insert the same ones) as text, sorted.
func clickhouseRows(t *testing.T, conn driver.Conn, p chstore.Params) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT formatRowNoNewline('TSV', tenant_id, ts, event, user_id, session_id, event_id, event_version, properties, context) AS r FROM `+p.Database+`.events ORDER BY r`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// floatPropertiesCSV writes rows whose properties hold numbers as JSON
// writers print them (17 digits, exponents, trailing zeros) beside strings
// with every escape the contract writes, and a few rows the contract
// rejects.
func floatPropertiesCSV(t *testing.T, dir string, n int) string {
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Write([]string{"event_id", "event", "user_id", "tenant_id", "session_id", "ts", "properties", "context"})
	for i := range n {
		props := fmt.Sprintf(`{"amount":%s,"price":%d.50,"tiny":%de-7,"count":%d,"note":"a\"b\\c\nd\u0001é:%d,}{"}`,
			strconv.FormatFloat(float64(i)/7.0+0.1234567891234, 'g', 17, 64), i, i+1, i, i)
		if i%500 == 7 {
			props = `{"amount":1.50,"nested":{"no":1}}` // rejected
		}
		w.Write([]string{fmt.Sprintf("0193a8f0-0000-7000-8000-%012d", i), "paid", fmt.Sprintf("u%d", i%50), "acme", "s1",
			fmt.Sprintf("2026-09-01T10:%02d:%02d.000Z", i/60%60, i%60), props, `{"os":"linux","ratio":0.10}`})
	}
	w.Flush()
	return writeFile(t, dir, "float-properties.csv", []byte(b.String()))
}
