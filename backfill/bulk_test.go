package backfill

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pulse-analytics/pulse/gen"
	"github.com/pulse-analytics/pulse/ingest"
)

// edgeRows are CSV records (event_id, event, user_id, tenant_id,
// session_id, ts, event_version, properties, context, plan) at and around
// every rule of the contract, valid and not: the bulk lane must store and
// reject exactly what the row-by-row lane does.
func edgeRows() [][]string {
	future := time.Now().UTC().Add(48 * time.Hour).Format("2006-01-02T15:04:05.000Z")
	id := func(i int) string { return fmt.Sprintf("0193a8f0-0000-7000-8000-%012d", i) }
	base := func(i int) []string {
		return []string{id(i), "page_view", "u1", "acme", "s1", "2026-09-01T10:00:00.000Z", "1", `{"path":"/a"}`, `{"os":"linux"}`, ""}
	}
	with := func(i, col int, v string) []string {
		r := base(i)
		r[col] = v
		return r
	}
	rows := [][]string{
		base(1),
		with(2, 0, strings.ToUpper(id(2))),
		with(3, 0, "00000000-0000-0000-0000-000000000000"),
		with(4, 0, "not-a-uuid"),
		with(5, 0, ""), // content-derived id
		with(6, 0, "{"+id(6)+"}"),
		with(7, 1, ""),
		with(8, 1, "page\x01view"),
		with(9, 1, "café_opened"),
		with(10, 1, strings.Repeat("e", 128)),
		with(11, 1, strings.Repeat("e", 129)),
		with(12, 1, "   "),
		with(13, 3, "ac me"),
		with(14, 3, strings.Repeat("t", 64)),
		with(15, 3, strings.Repeat("t", 65)),
		with(16, 2, " \t "),
		with(17, 2, strings.Repeat("u", 257)),
		with(18, 2, strings.Repeat("é", 200)),
		with(19, 4, ""),
		with(20, 5, "2026-09-01T10:00:00"),
		with(21, 5, "2026-09-01T12:00:00.5+02:00"),
		with(22, 5, "2026-09-01T10:00:00.123456789Z"),
		with(23, 5, "2026-02-30T10:00:00Z"),
		with(24, 5, future),
		with(25, 5, "1969-12-31T23:59:59Z"),
		with(26, 5, "2026-09-01T10:00:00+0200"),
		with(27, 5, "2026-09-01 10:00:00Z"),
		with(28, 5, "2026-09-01T10:00:00.999999Z"),
		with(29, 6, "0"),
		with(30, 6, "01"),
		with(31, 6, "2"),
		with(32, 6, "1.0"),
		with(33, 6, "99999999999"),
		with(34, 6, "2147483648"),
		with(35, 6, ""),
		with(36, 7, "{}"),
		with(37, 7, `{"a":1,"a":2}`),
		with(38, 7, `{"a":{"b":1}}`),
		with(39, 7, `[1]`),
		with(40, 7, `null`),
		with(41, 7, `{"a":null,"b":true}`),
		with(42, 7, `{ "a" : 1 }`),
		with(43, 7, `{"a":"x\u00e9\n"}`),
		with(44, 7, `{"":1}`),
		with(45, 7, `{" ":1}`),
		with(46, 7, `not json`),
		with(47, 7, `{"a":1e5,"b":-0.25}`),
		with(48, 7, `{"a":12345678901234567890}`),
		with(49, 7, `{"plan":"x"}`),
		with(50, 7, `{"`+strings.Repeat("k", 128)+`":1}`),
		with(51, 7, `{"`+strings.Repeat("k", 129)+`":1}`),
		with(52, 7, manyKeys(256)),
		with(53, 7, manyKeys(257)),
		with(54, 7, `{"a":"1","b":"1","a ":"2"}`),
		with(55, 8, `{"os":"linux","os":"mac"}`),
		with(56, 8, `{"nested":[1]}`),
		with(57, 9, "pro"),
		with(58, 7, `{"x\"y":1}`),
		with(59, 7, `{":a":1,"b":"c,\":d"}`),
		with(60, 7, `{"big":"`+strings.Repeat("x", 40000)+`"}`),
		with(61, 7, "{\"a\":\"multi\nline\"}"),
		with(62, 7, `{"a":1.50,"b":0.1}`),
		with(63, 8, `{"os":"linux","app":"4.1"}`),
		with(64, 2, "user\x7f"),
		with(65, 7, `{"a":"\ud800"}`),
		with(66, 7, `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"a":8}`),
		with(67, 7, `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"e":12}`),
		with(68, 7, `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12}`),
		with(70, 2, "  spaced user "),
		with(71, 4, " s 1"),
		with(72, 7, `{"path":" /a "}`),
		with(69, 8, `{"a":"x","b":"y","c":"z","d":"w","e":"v","f":"u","g":"t","h":"s","h":"r"}`),
		// Numbers at the edges of what ClickHouse's JSONExtract renders
		// as written (its bulk lane sends only those).
		with(73, 7, `{"n":0.000001}`),
		with(74, 7, `{"n":0.0000001}`),
		with(75, 7, `{"n":123456789.123456}`),
		with(76, 7, `{"n":1234567890.123456}`),
		with(77, 7, `{"n":-0}`),
		with(78, 7, `{"n":-0.5,"m":0}`),
		with(79, 7, `{"n":999999999999999,"m":-999999999999999}`),
		with(80, 7, `{"n":0.10}`),
		with(81, 7, `{"n":1.0000001}`),
		with(82, 7, `{"s":"nul\u0000x","t":"\/\b\f\r\t","u":"\u00e9\u20ac"}`),
		with(83, 8, `{"os":"linux","n":2.50}`),
		// A comma after the last member is not JSON (DuckDB's functions
		// take it).
		// Any JSON number is kept as written; not-quite numbers are not.
		with(150, 7, `{"n":0.34990030527114868,"e":1.5E+20,"f":-2.5e-7,"g":1e400}`),
		with(151, 7, `{"n":01}`),
		with(152, 7, `{"n":.5}`),
		with(153, 7, `{"n":1.}`),
		with(154, 7, `{"n":1e}`),
		with(155, 7, `{"n":+1}`),
		with(156, 8, `{"os":"linux","n":-0.0e-0}`),
		with(84, 7, `{"plan":"pro","seats":3,}`),
		with(85, 8, `{"os":"linux",}`),
		with(86, 7, `{,}`),
		// Blank or not around line breaks and non-ASCII spaces.
		with(87, 2, " \n u"),
		with(88, 4, "\n\t"),
		with(89, 2, "\u00a0\u2003"),
		with(90, 1, "\npage_view"),
		// Row 43's properties as the contract stores them: without
		// event_id, the same content (a copy), which the bulk lane
		// reads as written and the contract from its escapes.
		with(91, 7, "{\"a\":\"xé\\n\"}"),
	}
	rows = append(rows, contractLimitRows(base)...)
	// Copies: the same key again (stored once), the same id at another ts
	// or in another tenant (different events), and a copy of a rejected
	// row's key.
	rows = append(rows, base(1), with(1, 5, "2026-09-01T11:00:00.000Z"), with(1, 3, "globex"), with(7, 1, "valid_now"),
		base(2), base(2), with(2, 5, "2026-09-01T12:00:00+02:00"))
	return rows
}

func manyKeys(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"k%d":%d`, i, i)
	}
	b.WriteString("}")
	return b.String()
}

// edgeCSV writes generated events followed by the edge rows, with a blank
// line, CRLF endings and a header with a BOM, as exports have them.
func edgeCSV(t *testing.T, dir string, generatedRows int64) string {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteString("\ufeff")
	w := csv.NewWriter(&buf)
	w.UseCRLF = true
	w.Write([]string{"event_id", "event", "user_id", "tenant_id", "session_id", "ts", "event_version", "properties", "context", "plan"})
	r := csv.NewReader(bytes.NewReader(encode(t, generated(t, generatedRows), gen.FormatCSV)))
	r.Read() // gen's header
	for {
		rec, err := r.Read()
		if err != nil {
			break
		}
		w.Write(append(rec, ""))
	}
	w.Flush()
	buf.WriteString("\r\n")
	for _, rec := range edgeRows() {
		w.Write(rec)
	}
	w.Flush()
	return writeFile(t, dir, "edge.csv", buf.Bytes())
}

// rejectLines reads a rejects file as sorted lines ("" when absent).
func rejectLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// missing lists the lines of a that b lacks.
func missing(a, b []string) []string {
	in := map[string]bool{}
	for _, l := range b {
		in[l] = true
	}
	var out []string
	for _, l := range a {
		if !in[l] {
			out = append(out, l)
		}
	}
	return out
}

// sameEvents compares two stores' events byte for byte: the bulk lane
// stores only text the contract keeps as it is, so properties and context
// must be the contract's own bytes, not merely the same JSON values.
func sameEvents(t *testing.T, bulk, rowByRow []storedEvent) {
	t.Helper()
	if len(bulk) != len(rowByRow) {
		b, r := storedIDs(bulk), storedIDs(rowByRow)
		t.Fatalf("bulk lane stored %d events, row-by-row %d: only bulk %v, only row by row %v", len(bulk), len(rowByRow), missing(b, r), missing(r, b))
	}
	for i := range bulk {
		a, b := bulk[i], rowByRow[i]
		if a.Props != b.Props || a.Context != b.Context {
			t.Errorf("event %s: bulk properties %q context %q, row-by-row %q %q", a.ID, a.Props, a.Context, b.Props, b.Context)
		}
		a.Props, a.Context, b.Props, b.Context = "", "", "", ""
		if !a.TS.Equal(b.TS) {
			t.Errorf("event %s: bulk ts %v, row-by-row %v", a.ID, a.TS, b.TS)
		}
		a.TS, b.TS = time.Time{}, time.Time{}
		if a != b {
			t.Errorf("bulk stored %+v, row-by-row %+v", a, b)
		}
	}
}

// bothLanes loads path into two fresh stores, through the bulk lane and
// row by row, and checks that they stored, rejected and counted the same.
func bothLanes(t *testing.T, path string, cfg Config) (bulk, rowByRow Summary) {
	t.Helper()
	dir := t.TempDir()
	bulkDB, rowDB := newStore(t), newStore(t)
	// One clock for both lanes: the future-ts message says how far ahead.
	contract := cfg.Contract
	if contract == nil {
		contract = ingest.NewContract()
	}
	now := time.Now()
	contract.Now = func() time.Time { return now }
	cfg.Contract = contract
	bulkCfg, rowCfg := cfg, cfg
	if testing.Verbose() {
		bulkCfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	bulkCfg.RejectsPath = filepath.Join(dir, "bulk-rejects.ndjson")
	rowCfg.RejectsPath = filepath.Join(dir, "row-rejects.ndjson")
	rowCfg.RowByRow = true
	bulk, err := load(t, bulkDB, "", bulkCfg, path)
	if err != nil {
		t.Fatalf("bulk lane: %v", err)
	}
	rowByRow, err = load(t, rowDB, "", rowCfg, path)
	if err != nil {
		t.Fatalf("row-by-row lane: %v", err)
	}
	sameEvents(t, stored(t, bulkDB), stored(t, rowDB))
	if got, want := rejectLines(t, bulkCfg.RejectsPath), rejectLines(t, rowCfg.RejectsPath); !reflect.DeepEqual(got, want) {
		t.Errorf("rejects differ:\nonly bulk:\n%s\nonly row by row:\n%s", strings.Join(missing(got, want), "\n"), strings.Join(missing(want, got), "\n"))
	}
	if bulk.Rows != rowByRow.Rows || bulk.Loaded != rowByRow.Loaded || bulk.Rejected != rowByRow.Rejected || bulk.Duplicates != rowByRow.Duplicates {
		t.Errorf("summaries differ: bulk %+v, row by row %+v", bulk, rowByRow)
	}
	if rowByRow.Bulk != 0 {
		t.Errorf("row-by-row lane reports %d bulk rows", rowByRow.Bulk)
	}
	return bulk, rowByRow
}

func TestBulkLaneMatchesRowByRowOnCSV(t *testing.T) {
	path := edgeCSV(t, t.TempDir(), 3000)
	bulk, _ := bothLanes(t, path, Config{})
	edges := int64(len(edgeRows()))
	if bulk.Rows != 3000+edges {
		t.Fatalf("read %d rows, want %d", bulk.Rows, 3000+edges)
	}
	// The generated rows and the plain valid edge rows go through DuckDB;
	// the test would pass vacuously if everything fell back to Go.
	if bulk.Bulk < 3000 {
		t.Errorf("bulk lane took %d rows, want at least the 3000 generated ones", bulk.Bulk)
	}
	if bulk.Rejected < 30 || bulk.Duplicates < 1 {
		t.Errorf("edge rows: %d rejected, %d duplicates; the fixture lost its edges", bulk.Rejected, bulk.Duplicates)
	}
}

// edgeParquets writes the rows of an edge CSV as Parquet three times:
// strings as written (VARCHAR); a typed export (UUID, TIMESTAMP, INTEGER,
// properties as a MAP) of the rows that cast; and event_id as binaries,
// 16 bytes for a UUID (as writers without the UUID annotation store it),
// the text's bytes otherwise.
func edgeParquets(t *testing.T, dir, csvPath string) (text, typed, bytes string) {
	t.Helper()
	text = filepath.Join(dir, "text.parquet")
	typed = filepath.Join(dir, "typed.parquet")
	bytes = filepath.Join(dir, "bytes.parquet")
	duckdbExec(t,
		`COPY (SELECT * REPLACE (CASE WHEN TRY_CAST(event_id AS UUID) IS NOT NULL THEN unhex(replace(CAST(TRY_CAST(event_id AS UUID) AS VARCHAR), '-', '')) ELSE encode(event_id) END AS event_id,
		                 TRY_CAST(event_version AS INTEGER) AS event_version)
		      FROM read_csv('`+csvPath+`', all_varchar = true, header = true)) TO '`+bytes+`' (FORMAT parquet, ROW_GROUP_SIZE 1000)`,
		`COPY (SELECT * REPLACE (TRY_CAST(event_version AS INTEGER) AS event_version) FROM read_csv('`+csvPath+`', all_varchar = true, header = true)) TO '`+text+`' (FORMAT parquet, ROW_GROUP_SIZE 1000)`,
		`COPY (SELECT TRY_CAST(event_id AS UUID) AS event_id, event, user_id, tenant_id, session_id,
		        CAST(TRY_CAST(ts AS TIMESTAMPTZ) AS TIMESTAMP) AS ts, TRY_CAST(event_version AS INTEGER) AS event_version,
		        TRY_CAST(properties AS MAP(VARCHAR, VARCHAR)) AS properties, context, plan
		      FROM read_csv('`+csvPath+`', all_varchar = true, header = true)) TO '`+typed+`' (FORMAT parquet, ROW_GROUP_SIZE 700)`)
	return text, typed, bytes
}

// edgeFiles writes the edge rows, after 3000 generated ones, as CSV and as
// the Parquet files of edgeParquets.
func edgeFiles(t *testing.T) (csvPath string, parquets []string) {
	t.Helper()
	dir := t.TempDir()
	csvPath = edgeCSV(t, dir, 3000)
	text, typed, bytes := edgeParquets(t, dir, csvPath)
	return csvPath, []string{text, typed, bytes}
}

func TestBulkLaneMatchesRowByRowOnParquet(t *testing.T) {
	_, parquets := edgeFiles(t)
	for _, path := range parquets {
		t.Run(filepath.Base(path), func(t *testing.T) {
			bulk, _ := bothLanes(t, path, Config{})
			if bulk.Bulk < 2900 {
				t.Errorf("bulk lane took %d rows, want nearly all 3000 generated ones", bulk.Bulk)
			}
		})
	}
}

// A second load of the same Parquet file, checkpoints aside, finds every
// event stored: whatever the event_id's type (text in any case, UUID or
// 16 bytes), the bulk lane's check for stored events matches the store's.
func TestBulkLaneFindsStoredEventsAgainOnParquet(t *testing.T) {
	_, parquets := edgeFiles(t)
	for _, path := range parquets {
		t.Run(filepath.Base(path), func(t *testing.T) {
			loadTwice(t, path, 2900)
		})
	}
}

// loadTwice loads path into a fresh store twice, checkpoints aside: the
// second load must find every event stored, rejecting what the first did
// and taking at least minBulk rows in bulk, and leave the store as it was.
func loadTwice(t *testing.T, path string, minBulk int64) (first Summary) {
	t.Helper()
	db := newStore(t)
	first, err := load(t, db, "", Config{}, path)
	if err != nil {
		t.Fatal(err)
	}
	events := stored(t, db)
	second, err := load(t, db, "", Config{}, path)
	if err != nil {
		t.Fatal(err)
	}
	if second.Loaded != 0 || second.Duplicates != first.Loaded+first.Duplicates || second.Rejected != first.Rejected {
		t.Errorf("second load: %+v; first: %+v; want nothing loaded, every valid row a duplicate", second, first)
	}
	if second.Bulk < minBulk {
		t.Errorf("second load took %d rows in bulk, want at least %d", second.Bulk, minBulk)
	}
	sameEvents(t, stored(t, db), events)
	return first
}

// withoutEventIDs writes the rows of an edge CSV without the event_id
// column, as CSV, as Parquet of strings, as typed Parquet (properties a
// MAP), and as Parquet
// with a column of its own named file_row_number (rows numbered by
// position, see bulk.sql's "columns").
func withoutEventIDs(t *testing.T, csvPath string) []string {
	t.Helper()
	dir := t.TempDir()
	paths := []string{filepath.Join(dir, "noid.csv"), filepath.Join(dir, "noid.parquet"), filepath.Join(dir, "noid-typed.parquet"),
		filepath.Join(dir, "noid-file_row_number.parquet")}
	src := `read_csv('` + csvPath + `', all_varchar = true, header = true)`
	duckdbExec(t,
		`COPY (SELECT * EXCLUDE (event_id) FROM `+src+`) TO '`+paths[0]+`' (HEADER)`,
		`COPY (SELECT * EXCLUDE (event_id) REPLACE (TRY_CAST(event_version AS INTEGER) AS event_version) FROM `+src+`) TO '`+paths[1]+`' (FORMAT parquet, ROW_GROUP_SIZE 1000)`,
		`COPY (SELECT event, user_id, tenant_id, session_id, CAST(TRY_CAST(ts AS TIMESTAMPTZ) AS TIMESTAMP) AS ts,
		        TRY_CAST(event_version AS INTEGER) AS event_version, TRY_CAST(properties AS MAP(VARCHAR, VARCHAR)) AS properties, context, plan
		      FROM `+src+`) TO '`+paths[2]+`' (FORMAT parquet, ROW_GROUP_SIZE 700)`,
		`COPY (SELECT * EXCLUDE (event_id) REPLACE (TRY_CAST(event_version AS INTEGER) AS event_version), CAST(row_number() OVER () % 7 AS VARCHAR) AS file_row_number
		      FROM `+src+`) TO '`+paths[3]+`' (FORMAT parquet, ROW_GROUP_SIZE 500)`)
	return paths
}

// Without an event_id column the bulk lane derives each row's id in
// DuckDB: it must be the id the contract's lane derives for the same
// event (bothLanes compares the stored ids), copies by content included,
// and a second load must find every event stored.
func TestBulkLaneDerivesEventIDsAsTheContractDoes(t *testing.T) {
	csvPath, _ := edgeFiles(t)
	for _, path := range withoutEventIDs(t, csvPath) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			bulk, _ := bothLanes(t, path, Config{BulkRows: 1024})
			if bulk.Bulk < 2900 {
				t.Errorf("bulk lane took %d rows, want nearly all 3000 generated ones", bulk.Bulk)
			}
			if bulk.Duplicates < 5 {
				t.Errorf("%d duplicates; the edge rows hold at least 5 copies by content", bulk.Duplicates)
			}
			loadTwice(t, path, 2900)
		})
	}
}

// A file whose event_id column lacks some rows' ids (nulls, empty CSV
// cells) loads them in bulk too, with the ids the contract's lane derives;
// a second load finds them all.
func TestBulkLaneDerivesTheIDsAColumnLacks(t *testing.T) {
	dir := t.TempDir()
	csvPath := writeFile(t, dir, "all.csv", encode(t, generated(t, 3000), gen.FormatCSV))
	src := `(SELECT * REPLACE (CASE WHEN n % 3 = 0 THEN NULL ELSE event_id END AS event_id) FROM (SELECT *, row_number() OVER () AS n FROM read_csv('` + csvPath + `', all_varchar = true, header = true)))`
	mixedCSV, mixedParquet := filepath.Join(dir, "mixed.csv"), filepath.Join(dir, "mixed.parquet")
	duckdbExec(t,
		`COPY (SELECT * EXCLUDE (n) FROM `+src+`) TO '`+mixedCSV+`' (HEADER)`,
		`COPY (SELECT * EXCLUDE (n) REPLACE (TRY_CAST(event_version AS INTEGER) AS event_version) FROM `+src+`) TO '`+mixedParquet+`' (FORMAT parquet, ROW_GROUP_SIZE 700)`)
	for _, path := range []string{mixedCSV, mixedParquet} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			bulk, _ := bothLanes(t, path, Config{BulkRows: 1024})
			if bulk.Rows != 3000 || bulk.Bulk < 2990 {
				t.Errorf("read %d rows, %d in bulk; want 3000, nearly all in bulk", bulk.Rows, bulk.Bulk)
			}
			if first := loadTwice(t, path, 2990); first.Loaded != 3000 {
				t.Errorf("first load stored %d events, want 3000", first.Loaded)
			}
		})
	}
}

// Properties as a struct column (as pandas and pyarrow write dicts) have
// a null wherever a row lacks a field: the contract keeps those nulls, and
// so does the bulk lane, which takes such rows itself.
func TestBulkLaneTakesStructPropertiesWithNulls(t *testing.T) {
	dir := t.TempDir()
	csvPath := writeFile(t, dir, "all.csv", encode(t, generated(t, 3000), gen.FormatCSV))
	path := filepath.Join(dir, "struct.parquet")
	duckdbExec(t, `COPY (SELECT * REPLACE (TRY_CAST(event_version AS INTEGER) AS event_version,
	        {'plan': CASE WHEN n % 2 = 0 THEN 'pro' END, 'seats': CASE WHEN n % 3 = 0 THEN NULL ELSE n % 7 END, 'trial': n % 5 = 0} AS properties)
	    FROM (SELECT *, row_number() OVER () AS n FROM read_csv('`+csvPath+`', all_varchar = true, header = true))) TO '`+path+`' (FORMAT parquet)`)
	bulk, _ := bothLanes(t, path, Config{BulkRows: 1024})
	if bulk.Loaded != 3000 || bulk.Bulk < 2990 {
		t.Errorf("loaded %d rows, %d in bulk; want 3000, nearly all in bulk", bulk.Loaded, bulk.Bulk)
	}
}

// mappedCSV writes a CSV whose columns need --map and whose extra
// columns become properties, some clashing with a key the properties
// column holds.
func mappedCSV(t *testing.T, dir string) (string, Mapping) {
	t.Helper()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	// properties between two extra columns: its members go between theirs.
	w.Write([]string{"id", "name", "uid", "tenant_id", "session_id", "timestamp", "plan", "properties", "country"})
	for i := range 2000 {
		plan, country := []string{"free", "pro", ""}[i%3], []string{"DE", "", "BR"}[i%3]
		props := []string{"", `{"path":"/x"}`, `{"country":"clash"}`, `{"n":1}`}[i%4]
		w.Write([]string{fmt.Sprintf("0193a8f0-0000-7000-8000-%012d", i), "click", fmt.Sprintf("u%d", i%50), "acme", "s1",
			time.Date(2026, 9, 1, 0, 0, i, 0, time.UTC).Format(time.RFC3339), plan, props, country})
	}
	w.Flush()
	m, err := ParseMapping([]string{"event_id=id,event=name,user_id=uid,ts=timestamp"})
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, "mapped.csv", buf.Bytes()), m
}

func TestBulkLaneWithMappingAndExtraColumns(t *testing.T) {
	path, m := mappedCSV(t, t.TempDir())
	bulk, _ := bothLanes(t, path, Config{Mapping: m})
	if bulk.Bulk < 1000 || bulk.Rejected == 0 {
		t.Errorf("bulk took %d rows and %d were rejected; want most in bulk and the clashing keys rejected", bulk.Bulk, bulk.Rejected)
	}
}

// typedExtrasParquet writes generated events with extra columns of the
// types exports hold (doubles of every magnitude, NaN and infinities, big
// integers, booleans, dates, timestamps, strings with escapes, a list and
// a struct), which become properties. Without doubles, for ClickHouse: it
// renders numbers from their values, so the bulk lane sends it only those
// of at most 15 digits, and random doubles have 16 or 17.
func typedExtrasParquet(t *testing.T, dir string, n int64, doubles bool) string {
	src := parquetOf(t, dir, "events.parquet", generated(t, n))
	path := filepath.Join(dir, "typed-extras.parquet")
	duckdbExec(t, `COPY (SELECT *,
		    CASE i % 9 WHEN 0 THEN 'NaN'::DOUBLE WHEN 1 THEN 'inf'::DOUBLE WHEN 2 THEN -0.0 WHEN 3 THEN 1e-7 WHEN 4 THEN 1.5e300 ELSE random() END AS amount,
		    CAST(random() AS FLOAT) AS ratio,
		    CASE WHEN i % 5 = 0 THEN 12345678901234567 ELSE i END AS big,
		    i % 2 = 0 AS beta,
		    DATE '2026-09-01' + CAST(i % 30 AS INTEGER) AS day,
		    TIMESTAMP '2026-09-01 00:00:00' + INTERVAL (i) SECOND AS seen_at,
		    CASE i % 4 WHEN 0 THEN 'tab' || chr(9) || 'x' WHEN 1 THEN 'é/"q"' WHEN 2 THEN NULL ELSE 'plain' END AS note,
		    CASE WHEN i % 50 = 0 THEN [1, 2] END AS tags,
		    CASE WHEN i % 70 = 0 THEN {'a': 1} END AS nested
		FROM (SELECT *, row_number() OVER () AS i FROM read_parquet('`+src+`'))) TO '`+path+`' (FORMAT parquet, ROW_GROUP_SIZE 1000)`,
		`COPY (SELECT * EXCLUDE (i`+map[bool]string{true: "", false: ", amount, ratio"}[doubles]+`) FROM read_parquet('`+path+`')) TO '`+path+`.tmp' (FORMAT parquet, ROW_GROUP_SIZE 1000)`)
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
	return path
}

// Extra columns of every type are checked member by member, and the bulk
// lane stores and rejects what the contract's lane does.
func TestBulkLaneTakesTypedExtraColumns(t *testing.T) {
	path := typedExtrasParquet(t, t.TempDir(), 3000, true)
	bulk, _ := bothLanes(t, path, Config{})
	if bulk.Bulk < 2000 || bulk.Rejected == 0 {
		t.Errorf("bulk lane took %d rows and %d were rejected; want most in bulk and the NaN, list and struct rows rejected", bulk.Bulk, bulk.Rejected)
	}
}

// A CSV whose fields are separated by another delimiter loads, in both
// lanes, the events its comma-separated twin loads.
func TestBulkLaneReadsOtherDelimiters(t *testing.T) {
	dir := t.TempDir()
	commas := edgeCSV(t, dir, 1500)
	want := newStore(t)
	if _, err := load(t, want, "", Config{}, commas); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(commas)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	records, err := csv.NewReader(in).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for name, delimiter := range map[string]byte{"semicolons.csv": ';', "tabs.csv": '\t', "pipes.csv": '|'} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			w := csv.NewWriter(&b)
			w.Comma = rune(delimiter)
			w.WriteAll(records)
			path := writeFile(t, dir, name, b.Bytes())
			bulk, _ := bothLanes(t, path, Config{Delimiter: delimiter})
			if bulk.Bulk < 1500 {
				t.Errorf("bulk lane took %d rows, want the 1500 generated ones", bulk.Bulk)
			}
			got := newStore(t)
			if _, err := load(t, got, "", Config{Delimiter: delimiter}, path); err != nil {
				t.Fatal(err)
			}
			sameEvents(t, stored(t, got), stored(t, want))
		})
	}
}

// A record DuckDB cannot read (wrong column count) hands the rest of the
// file to the row-by-row lane after the last durable slice: nothing is
// lost or stored twice, and the bad row is rejected as the Go lane does.
func TestBulkLaneFallsBackOnAMalformedCSV(t *testing.T) {
	dir := t.TempDir()
	data := encode(t, generated(t, 500), gen.FormatCSV)
	data = append(data, []byte("only,three,columns\n")...)
	path := writeFile(t, dir, "bad.csv", data)
	bothLanes(t, path, Config{})
}

// A dry run checks in bulk too, and finds what the row-by-row lane's dry
// run finds: the same valid rows and rejects, and as many valid rows as a
// real load stores or skips as copies.
func TestBulkDryRunMatchesRowByRow(t *testing.T) {
	csvPath, parquets := edgeFiles(t)
	for _, path := range append(append([]string{csvPath}, parquets...), withoutEventIDs(t, csvPath)...) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			contract := ingest.NewContract()
			now := time.Now()
			contract.Now = func() time.Time { return now }
			bulkCfg := Config{Contract: contract, RejectsPath: filepath.Join(t.TempDir(), "bulk.ndjson")}
			rowCfg := bulkCfg
			rowCfg.RowByRow, rowCfg.RejectsPath = true, filepath.Join(t.TempDir(), "row.ndjson")
			bulk, err := load(t, "", "", bulkCfg, path)
			if err != nil {
				t.Fatalf("bulk dry run: %v", err)
			}
			rowByRow, err := load(t, "", "", rowCfg, path)
			if err != nil {
				t.Fatalf("row-by-row dry run: %v", err)
			}
			if !bulk.DryRun || bulk.Rows != rowByRow.Rows || bulk.Loaded != rowByRow.Loaded || bulk.Rejected != rowByRow.Rejected {
				t.Errorf("summaries differ: bulk %+v, row by row %+v", bulk, rowByRow)
			}
			if got, want := rejectLines(t, bulkCfg.RejectsPath), rejectLines(t, rowCfg.RejectsPath); !reflect.DeepEqual(got, want) {
				t.Errorf("rejects differ:\nonly bulk:\n%s\nonly row by row:\n%s", strings.Join(missing(got, want), "\n"), strings.Join(missing(want, got), "\n"))
			}
			if bulk.Bulk < 2900 || rowByRow.Bulk != 0 {
				t.Errorf("bulk lane checked %d rows (want nearly all 3000 generated ones), row by row %d", bulk.Bulk, rowByRow.Bulk)
			}
			stored, err := load(t, newStore(t), "", Config{Contract: contract}, path)
			if err != nil {
				t.Fatal(err)
			}
			if bulk.Loaded != stored.Loaded+stored.Duplicates {
				t.Errorf("dry run finds %d valid rows; a load stores %d and skips %d copies", bulk.Loaded, stored.Loaded, stored.Duplicates)
			}
		})
	}
}
