package backfill

import (
	"bytes"
	dbsql "database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulse-analytics/pulse/ingest"
)

// contractLimitRows are edge rows (edgeRows' columns, from base) at the
// limits the bulk lane's SQL must not cross on its own: the event's total
// size, ts in the last millisecond before 1970, and strings whose escapes
// the contract rewrites when it stores them.
func contractLimitRows(base func(i int) []string) [][]string {
	with := func(i int, cols map[int]string) []string {
		r := base(i)
		for col, v := range cols {
			r[col] = v
		}
		return r
	}
	big := func(key string, n int) string { return `{"` + key + `":"` + strings.Repeat("x", n) + `"}` }
	ctl := "u" + strings.Repeat("\x01", 255) // 256 characters, each escaped as 6 bytes in event JSON
	const user, ts, props, ctx, plan = 2, 5, 7, 8, 9
	return [][]string{
		// The event's size (32 KiB by default), which properties and
		// context share: each alone passes the object checks.
		with(100, map[int]string{props: big("p", 20000), ctx: big("c", 20000)}),
		with(101, map[int]string{props: big("p", 16250), ctx: big("c", 16250)}), // just under
		with(102, map[int]string{props: big("p", 16300), ctx: big("c", 16300)}), // just over
		with(103, map[int]string{props: big("p", 29900)}),
		with(104, map[int]string{user: ctl, props: big("p", 29000)}),
		with(105, map[int]string{user: ctl, props: big("p", 29900), ctx: big("c", 1200)}),
		with(106, map[int]string{props: big("p", 16000), plan: strings.Repeat("y", 17000)}),
		// ts around the epoch: the contract truncates to the millisecond
		// towards the past, and refuses anything before 1970.
		with(110, map[int]string{ts: "1969-12-31T23:59:59.9995Z"}),
		with(111, map[int]string{ts: "1969-12-31T23:59:59.999999Z"}),
		with(112, map[int]string{ts: "1969-12-31T23:59:59.999Z"}),
		with(113, map[int]string{ts: "1970-01-01T00:00:00Z"}),
		with(114, map[int]string{ts: "1970-01-01T00:00:00.0005Z"}),
		with(115, map[int]string{ts: "1970-01-01T00:00:00.001Z"}),
		with(116, map[int]string{ts: "1970-01-01T05:29:59.9999+05:30"}),
		with(117, map[int]string{ts: "1970-01-01T05:30:00.0001+05:30"}),
		// The other forms the contract takes: a space for the T, offsets
		// as ±hhmm and ±hh.
		with(118, map[int]string{ts: "2026-09-01 12:00:00.5+00:00"}),
		with(119, map[int]string{ts: "2026-09-01T12:00:00.123456+0530"}),
		with(146, map[int]string{ts: "2026-09-01 12:00:00-03"}),
		with(147, map[int]string{ts: "2026-09-01  12:00:00Z"}),
		with(148, map[int]string{ts: "2026-09-01 12:00:00+01:"}),
		with(149, map[int]string{ts: "1970-01-01 05:29:59.999+0530"}),
		// Escapes and characters in strings: the contract stores strings
		// re-encoded (only '"', '\' and control characters escaped; \n, \r
		// and \t short, the others as \u00xx), everything else as it is.
		with(120, map[int]string{props: `{"k":"\u00e9"}`}),
		with(121, map[int]string{props: `{"k":"a\/b"}`}),
		with(122, map[int]string{props: `{"k":"x\u0041"}`}),
		with(123, map[int]string{props: `{"k":"\b"}`}),
		with(124, map[int]string{props: `{"k":"\f"}`}),
		with(125, map[int]string{props: `{"k":"\u0008","l":"\u001f","m":"\u0000"}`}),
		with(126, map[int]string{props: `{"k":"\u001F"}`}),
		with(127, map[int]string{props: `{"k":"\u000a","l":"\u0009","m":"\u000d"}`}),
		with(128, map[int]string{props: `{"k":"\n\r\t\"\\"}`}),
		with(129, map[int]string{props: `{"k":"\u0022","l":"\u005c","m":"\u002F"}`}),
		with(130, map[int]string{props: "{\"k\":\"a\u2028b\u2029c\"}"}),
		with(131, map[int]string{props: `{"k":"\u2028"}`}),
		with(132, map[int]string{props: `{"k":"<a href=\"x\">&amp;</a>"}`}),
		with(133, map[int]string{props: "{\"k\":\"a\x7fb\"}"}),
		with(134, map[int]string{props: `{"k":"\u007f"}`}),
		with(135, map[int]string{props: `{"k":"\ud83d\ude00","l":"\uD83D\uDE00","m":"😀"}`}),
		with(136, map[int]string{props: `{"k":"\u00"}`}),
		with(137, map[int]string{ctx: `{"os":"\u004cinux","app":"a\/b"}`}),
		with(138, map[int]string{ctx: `{"os":"linux","tab":"a\tb"}`}),
		with(139, map[int]string{plan: "a/b"}),
		with(140, map[int]string{plan: "tab\there"}),
		with(141, map[int]string{plan: "x\x7fy"}),
		with(142, map[int]string{plan: "é\u2028"}),
		with(143, map[int]string{plan: `quote"d back\slash`}),
		with(144, map[int]string{plan: "\x01ctl\x08bs\x0cff"}),
		with(145, map[int]string{plan: "<>&"}),
		// An extra column's key counts towards the 256 properties.
		with(157, map[int]string{props: manyKeys(256), plan: "x"}),
		with(158, map[int]string{props: manyKeys(255), plan: "x"}),
	}
}

// The edge rows at the event size limit land on both sides of it: the
// differential tests would pass vacuously if the fixture missed the limit.
func TestEventSizeEdgeRowsStraddleTheLimit(t *testing.T) {
	path := edgeCSV(t, t.TempDir(), 1)
	rejectsPath := filepath.Join(t.TempDir(), "rejects.ndjson")
	if _, err := load(t, "", "", Config{RowByRow: true, RejectsPath: rejectsPath}, path); err != nil {
		t.Fatal(err)
	}
	rejected := map[int64]string{}
	for _, l := range rejectLines(t, rejectsPath) {
		var r Reject
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		rejected[r.Row] = r.Field + ": " + r.Reason
	}
	// Row numbers: the edge rows follow the generated row (a blank line
	// between them is no row).
	row := map[int]int64{}
	for i, rec := range edgeRows() {
		var id int
		fmt.Sscanf(rec[0], "0193a8f0-0000-7000-8000-%012d", &id)
		if _, seen := row[id]; !seen {
			row[id] = int64(i + 2)
		}
	}
	for id, tooBig := range map[int]bool{100: true, 101: false, 102: true, 103: false, 104: false, 105: true, 106: true} {
		reason, isRejected := rejected[row[id]]
		if tooBig != (isRejected && strings.Contains(reason, "the limit is 32768 bytes")) {
			t.Errorf("edge row %d: rejected %v (%s), want rejected for its size %v", id, isRejected, reason, tooBig)
		}
	}
}

// collidingFile writes a CSV whose extra columns are named like the names
// the bulk lane's SQL gives its own values (and DuckDB its row numbers):
// each must stay an extra column, a key of properties with its own cell.
func collidingFile(t *testing.T, dir string) string {
	t.Helper()
	extras := []string{"p_in", "c_in", "n_props", "n_ctx", "n_event", "n_tenant", "n_user", "n_session", "n_version",
		"n_event_id", "row_no", "ts_ms", "__pulse_row", "__pulse_line", "file_row_number", "c0", "c1", "c12", "v", "k", "o", "text"}
	header := append([]string{"event_id", "event", "user_id", "tenant_id", "session_id", "ts", "properties", "context"}, extras...)
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(header)
	for i := range 300 {
		rec := []string{fmt.Sprintf("0193a8f0-0000-7000-8000-%012d", i), "click", fmt.Sprintf("u%d", i%7), "acme", "s1",
			time.Date(2026, 9, 1, 0, 0, i, 0, time.UTC).Format(time.RFC3339), `{"path":"/a"}`, `{"os":"linux"}`}
		switch i % 10 {
		case 3:
			rec[5] = "not a time" // for the contract, in every step
		case 7:
			rec[6], rec[7] = "", ""
		}
		for j, name := range extras {
			cell := ""
			switch {
			case i%5 == 4:
				// empty: absent
			case name == "p_in" || name == "c_in" || name == "n_props" || name == "n_ctx":
				cell = fmt.Sprintf(`{"evil":%d}`, j)
			case name == "n_version":
				cell = "0"
			case name == "n_event_id":
				cell = "00000000-0000-0000-0000-000000000000"
			case name == "row_no" || name == "__pulse_row" || name == "file_row_number" || name == "ts_ms":
				cell = "1"
			default:
				cell = "evil " + name
			}
			rec = append(rec, cell)
		}
		w.Write(rec)
	}
	w.Flush()
	return writeFile(t, dir, "colliding.csv", buf.Bytes())
}

// collidingFiles writes collidingFile's rows as CSV and as Parquet (less
// the file_row_number column, which has a test of its own).
func collidingFiles(t *testing.T) []string {
	dir := t.TempDir()
	csvPath := collidingFile(t, dir)
	parquetPath := filepath.Join(dir, "colliding.parquet")
	duckdbExec(t, `COPY (SELECT * EXCLUDE (file_row_number) FROM read_csv('`+csvPath+`', all_varchar = true, header = true)) TO '`+parquetPath+`' (FORMAT parquet, ROW_GROUP_SIZE 100)`)
	return []string{csvPath, parquetPath}
}

func TestBulkLaneKeepsColumnsNamedLikeItsOwn(t *testing.T) {
	for _, path := range collidingFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			// Steps of 64 rows: every step has rows for the contract.
			bulk, _ := bothLanes(t, path, Config{BulkRows: 64})
			if bulk.Bulk < 250 || bulk.Rejected != 30 {
				t.Errorf("bulk lane took %d rows and %d were rejected; want most in bulk and the 30 bad ts rejected", bulk.Bulk, bulk.Rejected)
			}
		})
	}
}

// A Parquet file with a column named file_row_number (DuckDB's name for
// its row numbers) loads in bulk with the column as a property, as the
// same rows load from CSV.
func TestBulkLaneReadsAParquetColumnNamedFileRowNumber(t *testing.T) {
	dir := t.TempDir()
	csvPath := collidingFile(t, dir)
	parquetPath := filepath.Join(dir, "file_row_number.parquet")
	duckdbExec(t, `COPY (SELECT * FROM read_csv('`+csvPath+`', all_varchar = true, header = true)) TO '`+parquetPath+`' (FORMAT parquet, ROW_GROUP_SIZE 100)`)
	for _, dryRun := range []bool{false, true} {
		t.Run(fmt.Sprintf("dry run %v", dryRun), func(t *testing.T) {
			contract := ingest.NewContract()
			now := time.Now()
			contract.Now = func() time.Time { return now }
			// The Parquet file in bulk and row by row, against the CSV row
			// by row.
			loads := []struct {
				path     string
				rowByRow bool
			}{{parquetPath, false}, {parquetPath, true}, {csvPath, true}}
			var dbs [3]string
			var summaries [3]Summary
			var rejects [3][]string
			for i, l := range loads {
				cfg := Config{Contract: contract, BulkRows: 64, RowByRow: l.rowByRow, RejectsPath: filepath.Join(t.TempDir(), "rejects.ndjson")}
				if !dryRun {
					dbs[i] = newStore(t)
				}
				var err error
				if summaries[i], err = load(t, dbs[i], "", cfg, l.path); err != nil {
					t.Fatalf("%s, row by row %v: %v", filepath.Base(l.path), l.rowByRow, err)
				}
				rejects[i] = rowRejects(t, cfg.RejectsPath)
			}
			csv := summaries[2]
			for i, s := range summaries[:2] {
				if !dryRun {
					sameEvents(t, stored(t, dbs[i]), stored(t, dbs[2]))
				}
				if !reflect.DeepEqual(rejects[i], rejects[2]) {
					t.Errorf("rejects differ:\nParquet, row by row %v:\n%s\nCSV row by row:\n%s", loads[i].rowByRow, strings.Join(rejects[i], "\n"), strings.Join(rejects[2], "\n"))
				}
				if s.Rows != csv.Rows || s.Loaded != csv.Loaded || s.Rejected != csv.Rejected || (i == 0 && s.Bulk < 250) {
					t.Errorf("summaries differ: Parquet, row by row %v: %+v, CSV row by row %+v", loads[i].rowByRow, s, csv)
				}
			}
		})
	}
}

// rowRejects reads a rejects file as row, field and reason, without the
// source: files of two formats are compared.
func rowRejects(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	for _, l := range rejectLines(t, path) {
		var r Reject
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d %s: %s", r.Row, r.Field, r.Reason))
	}
	slices.Sort(out)
	return out
}

// The bulk lane's size bound is the contract's limit, whatever it is set
// to: with a 4 KiB limit, rows of 5 KB go to the contract, which refuses
// them.
func TestBulkLaneTakesTheEventSizeLimitFromTheContract(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"event_id", "event", "user_id", "tenant_id", "session_id", "ts", "properties", "context"})
	for i := range 400 {
		props := fmt.Sprintf(`{"n":%d}`, i)
		if i%4 == 1 {
			props = `{"big":"` + strings.Repeat("x", 1000*(i%9)) + `"}`
		}
		w.Write([]string{fmt.Sprintf("0193a8f0-0000-7000-8000-%012d", i), "click", "u1", "acme", "s1",
			time.Date(2026, 9, 1, 0, 0, i, 0, time.UTC).Format(time.RFC3339), props, `{"os":"linux"}`})
	}
	w.Flush()
	csvPath := writeFile(t, dir, "sizes.csv", buf.Bytes())
	parquetPath := filepath.Join(dir, "sizes.parquet")
	duckdbExec(t, `COPY (SELECT * FROM read_csv('`+csvPath+`', all_varchar = true, header = true)) TO '`+parquetPath+`' (FORMAT parquet)`)
	for _, path := range []string{csvPath, parquetPath} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			contract := ingest.NewContract()
			contract.MaxEventBytes = 4096
			bulk, _ := bothLanes(t, path, Config{Contract: contract})
			// i%4 == 1 and i%9 >= 4: 5 of the 9 sizes, in 100 rows.
			if bulk.Rejected < 50 || bulk.Bulk < 300 {
				t.Errorf("%d rejected, %d in bulk; want the rows over 4 KiB rejected and the rest in bulk", bulk.Rejected, bulk.Bulk)
			}
		})
	}
}

// Typed Parquet timestamps around the epoch: the contract refuses every
// instant before 1970, however close, where DuckDB's epoch_ms rounds
// towards zero (to 1970-01-01T00:00:00.000).
func TestBulkLaneTypedTimestampsAroundTheEpoch(t *testing.T) {
	dir := t.TempDir()
	// Nanoseconds for TIMESTAMP_NS, microseconds for the others.
	const ns, us = "(-1), (-999999), (-1000000), (0), (1), (999999), (1000000), (1767607200123456789)",
		"(-1), (-999), (-1000), (0), (1), (999), (1000), (1767607200123456)"
	cases := map[string][2]string{
		"timestamp_ns": {"make_timestamp_ns(n)", ns},
		"timestamp":    {"make_timestamp(n)", us},
		"timestamptz":  {"CAST(make_timestamp(n) AS TIMESTAMPTZ)", us},
		"timestamp_ms": {"CAST(make_timestamp(n) AS TIMESTAMP_MS)", us},
	}
	for name, c := range cases {
		expr, values := c[0], c[1]
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name+".parquet")
			duckdbExec(t, `COPY (SELECT uuid() AS event_id, 'e' AS event, 'u' AS user_id, 'acme' AS tenant_id, 's' AS session_id, `+expr+` AS ts
				FROM (VALUES `+values+`) v(n)) TO '`+path+`' (FORMAT parquet)`)
			bulk, _ := bothLanes(t, path, Config{})
			if bulk.Rejected < 2 || bulk.Loaded < 4 {
				t.Errorf("%d loaded, %d rejected; want the instants before 1970 rejected, the others loaded", bulk.Loaded, bulk.Rejected)
			}
		})
	}
}

// A Parquet string that is not UTF-8 makes DuckDB refuse the whole file:
// the error names the file and says what is wrong and what to do.
func TestInvalidUTF8InParquetIsExplained(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "badutf8.parquet")
	const marker = "PULSE-NOT-UTF-8!"
	duckdbExec(t, `COPY (SELECT uuid() AS event_id, 'e' AS event, CASE WHEN n = 5 THEN '`+marker+`' ELSE 'u' || n END AS user_id, 'acme' AS tenant_id, 's' AS session_id,
		TIMESTAMP '2026-09-01 00:00:00' + INTERVAL (n) SECOND AS ts FROM range(10) r(n)) TO '`+path+`' (FORMAT parquet, COMPRESSION uncompressed)`)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(marker)) {
		t.Fatal("the marker is not in the file as written")
	}
	// The same length, so that the file's structure holds.
	data = bytes.ReplaceAll(data, []byte(marker), []byte("PULSE-\xff\xfe-UTF-8!!"))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, rowByRow := range []bool{false, true} {
		_, err = load(t, newStore(t), "", Config{RowByRow: rowByRow}, path)
		if err == nil {
			t.Fatalf("row by row %v: loaded a file DuckDB cannot read", rowByRow)
		}
		for _, want := range []string{path, "not valid UTF-8", "re-export"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("row by row %v: error %q does not say %q", rowByRow, err, want)
			}
		}
	}
}

func TestBulkLaneKeepsColumnsNamedLikeItsOwnIntoClickHouse(t *testing.T) {
	for _, path := range collidingFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			if bulk := bothLanesClickHouse(t, path, Config{BulkRows: 64}); bulk.Bulk < 250 {
				t.Errorf("bulk lane took %d rows, want most of the 300", bulk.Bulk)
			}
		})
	}
}

func TestBulkLaneTakesTheEventSizeLimitFromTheContractIntoClickHouse(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"event_id", "event", "user_id", "tenant_id", "session_id", "ts", "properties"})
	for i := range 200 {
		// A minority of big rows: were most rows the contract's, the file
		// would go to the row-by-row lane.
		props := fmt.Sprintf(`{"n":%d}`, i)
		if i%3 == 1 {
			props = `{"big":"` + strings.Repeat("x", 1000*(i%9)) + `"}`
		}
		w.Write([]string{fmt.Sprintf("0193a8f0-0000-7000-8000-%012d", i), "click", "u1", "acme", "s1",
			time.Date(2026, 9, 1, 0, 0, i, 0, time.UTC).Format(time.RFC3339), props})
	}
	w.Flush()
	path := writeFile(t, dir, "sizes.csv", buf.Bytes())
	contract := ingest.NewContract()
	contract.MaxEventBytes = 4096
	if bulk := bothLanesClickHouse(t, path, Config{Contract: contract}); bulk.Rejected < 30 || bulk.Bulk < 120 {
		t.Errorf("%d rejected, %d in bulk; want the rows over 4 KiB rejected and the rest in bulk", bulk.Rejected, bulk.Bulk)
	}
}

// parquet.sql's statements for a file with a column of its own named
// file_row_number, which number rows by position, read what the numbered
// ones read from any other file: the same rows, in the same order,
// rendered alike.
func TestParquetStatementsByPositionReadAsNumberedOnes(t *testing.T) {
	dir := t.TempDir()
	path := parquetOf(t, dir, "events.parquet", generated(t, 2500)) // row groups of 1000
	bytesPath := filepath.Join(dir, "bytes.parquet")
	duckdbExec(t, `COPY (SELECT * REPLACE (unhex(replace(CAST(event_id AS VARCHAR), '-', '')) AS event_id) FROM '`+path+`') TO '`+bytesPath+`' (FORMAT parquet, ROW_GROUP_SIZE 700)`)
	db, err := openPrivateDuckDB(parquetReaderMB, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	query := func(stmt string, args ...any) []string {
		t.Helper()
		rows, err := db.Query(stmt, args...)
		if err != nil {
			t.Fatalf("%v\n%s", err, stmt)
		}
		defer rows.Close()
		columns, _ := rows.Columns()
		cells := make([]dbsql.RawBytes, len(columns))
		dest := make([]any, len(cells))
		for i := range cells {
			dest[i] = &cells[i]
		}
		var out []string
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				t.Fatal(err)
			}
			row := make([]string, len(cells))
			for i, c := range cells {
				row[i] = string(c)
			}
			out = append(out, strings.Join(row, "\t"))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for path, file := range map[string]parquetFile{path: {}, bytesPath: {BytesID: `"event_id"`}} {
		render := func(name string) string {
			var b strings.Builder
			if err := parquetTemplate.ExecuteTemplate(&b, name, file); err != nil {
				t.Fatal(err)
			}
			return b.String()
		}
		for _, r := range [][2]int64{{0, 10}, {995, 1005}, {2400, 2500}} {
			want, got := query(render("rows"), path, r[0], r[1]), query(render("rows_by_position"), path, r[0], r[1])
			if len(want) != int(r[1]-r[0]) || !slices.Equal(got, want) {
				t.Errorf("%s rows [%d, %d): by position\n%s\nnumbered\n%s", filepath.Base(path), r[0], r[1], strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
		listed := "[1,2,999,1000,1001,2500]"
		want, got := query(render("listed_rows"), path, listed), query(render("listed_rows_by_position"), path, listed)
		if len(want) != 6 || !slices.Equal(got, want) {
			t.Errorf("%s listed rows: by position\n%s\nnumbered\n%s", filepath.Base(path), strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}
