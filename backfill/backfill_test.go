package backfill

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pulse-analytics/pulse/gen"
	"github.com/pulse-analytics/pulse/ingest"
	"github.com/pulse-analytics/pulse/store"
)

func TestLoadsEveryFormatAndCompression(t *testing.T) {
	events := generated(t, 3000)
	dir := t.TempDir()
	ndjson := encode(t, events, gen.FormatNDJSON)
	csvData := encode(t, events, gen.FormatCSV)
	tests := []struct {
		name string
		path string
	}{
		{"csv", writeFile(t, dir, "events.csv", csvData)},
		{"csv gzip", writeFile(t, dir, "events.csv.gz", gzipped(t, csvData))},
		{"csv zstd", writeFile(t, dir, "events.csv.zst", zstded(t, csvData))},
		{"ndjson", writeFile(t, dir, "events.ndjson", ndjson)},
		{"ndjson gzip", writeFile(t, dir, "events.jsonl.gz", gzipped(t, ndjson))},
		{"ndjson zstd", writeFile(t, dir, "events.ndjson.zst", zstded(t, ndjson))},
		{"parquet", parquetOf(t, dir, "events.parquet", events)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newStore(t)
			summary, err := load(t, db, "", Config{BatchRows: 1000}, tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if summary.Rows != 3000 || summary.Loaded != 3000 || summary.Rejected != 0 || summary.Duplicates != 0 {
				t.Fatalf("summary %+v; want 3000 rows read and loaded", summary)
			}
			got := stored(t, db)
			if !slices.Equal(storedIDs(got), ids(events)) {
				t.Fatalf("stored %d events, not the file's %d (ids differ)", len(got), len(events))
			}
			byID := map[string]ingest.Event{}
			for _, ev := range events {
				byID[ev.EventID] = ev
			}
			for _, s := range got {
				want := byID[s.ID]
				if !s.TS.Equal(want.TS) || s.Tenant != want.TenantID || s.User != want.UserID || s.Event != want.Event || s.Session != want.SessionID || !sameJSON(t, s.Props, string(want.Properties)) || !sameJSON(t, s.Context, string(want.Context)) {
					t.Fatalf("stored %+v, want %+v", s, want)
				}
			}
		})
	}
}

func sameJSON(t testing.TB, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("%q: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

func TestMappingExtraColumnsAndJSONColumnBecomeProperties(t *testing.T) {
	dir := t.TempDir()
	csvPath := writeFile(t, dir, "export.csv", []byte(
		"timestamp,uid,account,name,sess,attrs,plan,seats\n"+
			`2026-09-01T10:00:00Z,u1,acme,signup,s1,"{""source"":""ads"",""trial"":true}",pro,5`+"\n"+
			"2026-09-01T10:05:00.250+02:00,u2,acme,login,s2,,free,\n"))
	ndjsonPath := writeFile(t, dir, "export.ndjson", []byte(
		`{"timestamp":"2026-09-02T10:00:00Z","uid":"u3","account":"acme","name":"signup","sess":"s3","attrs":"{\"source\":\"seo\"}","plan":"pro","seats":7}`+"\n"))
	pqSrc := writeFile(t, dir, "pq.ndjson", []byte(
		`{"timestamp":"2026-09-03 08:30:00.5","uid":"u4","account":"acme","name":"signup","sess":"s4","attrs":{"source":"partner"},"plan":"team","seats":3}`+"\n"))
	pqPath := filepath.Join(dir, "export.parquet")
	duckdbExec(t, `COPY (SELECT * FROM read_ndjson('`+pqSrc+`', columns = {timestamp: 'TIMESTAMP', uid: 'VARCHAR', account: 'VARCHAR', name: 'VARCHAR', sess: 'VARCHAR', attrs: 'JSON', plan: 'VARCHAR', seats: 'INTEGER'})) TO '`+pqPath+`' (FORMAT parquet)`)

	m, err := ParseMapping([]string{"ts=timestamp,user_id=uid", "tenant_id=account,event=name,session_id=sess,properties=attrs"})
	if err != nil {
		t.Fatal(err)
	}
	db := newStore(t)
	summary, err := load(t, db, "", Config{Mapping: m}, csvPath, ndjsonPath, pqPath)
	if err != nil {
		t.Fatalf("%v (%+v)", err, summary)
	}
	if summary.Loaded != 4 || summary.Rejected != 0 {
		t.Fatalf("summary %+v; want 4 loaded", summary)
	}
	byUser := map[string]storedEvent{}
	for _, e := range stored(t, db) {
		byUser[e.User] = e
	}
	tests := []struct {
		user, ts, event, props string
	}{
		{"u1", "2026-09-01T10:00:00.000Z", "signup", `{"source":"ads","trial":true,"plan":"pro","seats":"5"}`},
		{"u2", "2026-09-01T08:05:00.250Z", "login", `{"plan":"free"}`},                          // empty cells are absent
		{"u3", "2026-09-02T10:00:00.000Z", "signup", `{"source":"seo","plan":"pro","seats":7}`}, // JSON in a string
		{"u4", "2026-09-03T08:30:00.500Z", "signup", `{"source":"partner","plan":"team","seats":3}`},
	}
	for _, tt := range tests {
		e, ok := byUser[tt.user]
		if !ok {
			t.Fatalf("%s not stored", tt.user)
		}
		if got := e.TS.UTC().Format(ingest.TSLayout); got != tt.ts || e.Event != tt.event || e.Tenant != "acme" || !sameJSON(t, e.Props, tt.props) {
			t.Errorf("%s: ts %s event %s tenant %s properties %s; want ts %s event %s tenant acme properties %s", tt.user, got, e.Event, e.Tenant, e.Props, tt.ts, tt.event, tt.props)
		}
	}
}

func TestParseMappingRefusesMistakes(t *testing.T) {
	tests := []struct{ value, want string }{
		{"ts", "want field=column"},
		{"when=timestamp", `"when" is not an event field`},
		{"ts=a,ts=b", "mapped twice"},
		{"ts=a,user_id=a", "feeds both"},
	}
	for _, tt := range tests {
		if _, err := ParseMapping([]string{tt.value}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseMapping(%q) = %v; want an error containing %q", tt.value, err, tt.want)
		}
	}
	m, _ := ParseMapping([]string{"ts=when"})
	if _, err := Expand([]string{writeFile(t, t.TempDir(), "x.csv", []byte("ts,event\n"))}, ""); err != nil {
		t.Fatal(err)
	}
	db := newStore(t)
	_, err := load(t, db, "", Config{Mapping: m}, writeFile(t, t.TempDir(), "x.csv", []byte("ts,event\n")))
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), `no column "when"`) {
		t.Fatalf("a mapped column the header lacks: %v; want an InputError naming it", err)
	}
}

// A source without a column for a field every event needs fails at its
// header, naming the field and the flag that fixes it, instead of
// rejecting every row for the same reason; so does a JSON array given as
// NDJSON.
func TestSourceWithoutARequiredColumnIsRefusedAtItsHeader(t *testing.T) {
	dir := t.TempDir()
	parquet := filepath.Join(dir, "no-ts.parquet")
	duckdbExec(t, `COPY (SELECT 'signup' AS event, 'u1' AS user_id, 'acme' AS tenant_id, 's1' AS session_id, TIMESTAMP '2026-09-01' AS "when") TO '`+parquet+`' (FORMAT parquet)`)
	for _, c := range []struct{ path, want string }{
		{writeFile(t, dir, "no-session.csv", []byte("event,user_id,tenant_id,ts\nsignup,u1,acme,2026-09-01T10:00:00Z\n")),
			"no column for session_id, which every event needs (columns: event, user_id, tenant_id, ts); name the column that holds it with --map session_id=COLUMN"},
		{writeFile(t, dir, "semicolons.csv", []byte("event;user_id;tenant_id;session_id;ts\nsignup;u1;acme;s1;2026-09-01T10:00:00Z\n")),
			`if its fields are separated by ";", give --delimiter ';'`},
		{writeFile(t, dir, "tabs.csv", []byte("event\tuser_id\ttenant_id\tsession_id\tts\n")), "give --delimiter 'tab'"},
		{parquet, "no column for ts, which every event needs"},
		{writeFile(t, dir, "array.json", []byte("\n[\n  {\"event\": \"signup\"},\n  {\"event\": \"login\"}\n]\n")),
			"line 2 starts a JSON array; backfill reads one JSON object per line (NDJSON): convert the file with jq -c '.[]'"},
	} {
		sum, err := load(t, newStore(t), "", Config{}, c.path)
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), c.want) || sum.Rejected != 0 {
			t.Errorf("%s: %+v, %v; want an InputError saying %q", filepath.Base(c.path), sum, err, c.want)
		}
	}
}

func TestParseDelimiter(t *testing.T) {
	for in, want := range map[string]byte{"": ',', ";": ';', "|": '|', "tab": '\t', `\t`: '\t', "\t": '\t'} {
		if got, err := ParseDelimiter(in); err != nil || got != want {
			t.Errorf("ParseDelimiter(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{`"`, " ", "\n", ";;", "é", "\x00"} {
		if _, err := ParseDelimiter(in); err == nil || !strings.Contains(err.Error(), "--delimiter") {
			t.Errorf("ParseDelimiter(%q) = %v; want an error naming --delimiter", in, err)
		}
	}
}

// badRows is a CSV file with one good row and one row per kind of mistake,
// and the rejects it must give.
func badRows(t *testing.T) (string, []Reject) {
	t.Helper()
	data := "event,user_id,tenant_id,session_id,ts,properties\n" +
		"signup,u1,acme,s1,2026-09-01T10:00:00Z,\n" + // row 1: good
		"signup,,acme,s1,2026-09-01T10:00:00Z,\n" + // row 2: no user_id
		"signup,u1,acme,s1,2026-09-01 10:00:00,\n" + // row 3: ts without zone
		`signup,u1,acme,s1,2026-09-01T10:00:00Z,"{""a"":{""b"":1}}"` + "\n" + // row 4: nested property
		"signup,u1,acme,s1,2026-09-01T10:00:00Z,{not json\n" + // row 5: properties not JSON
		"signup,u1,acme\n" + // row 6: too few columns
		"signup,u1,ac me,s1,2026-09-01T10:00:00Z,\n" + // row 7: bad tenant
		"login,u1,acme,s1,2026-09-01T10:01:00Z,\n" // row 8: good
	path := writeFile(t, t.TempDir(), "bad.csv", []byte(data))
	want := []Reject{
		{Row: 2, Line: 3, Field: "user_id"},
		{Row: 3, Line: 4, Field: "ts"},
		{Row: 4, Line: 5, Field: "properties.a"},
		{Row: 5, Line: 6, Field: "properties"},
		{Row: 6, Line: 7, Field: ingest.RootField},
		{Row: 7, Line: 8, Field: "tenant_id"},
	}
	for i := range want {
		want[i].Source = path
	}
	return path, want
}

func readRejects(t *testing.T, path string) []Reject {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Reject
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r Reject
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func TestRejectedRowsAreListedWithRowFieldAndReason(t *testing.T) {
	path, want := badRows(t)
	db := newStore(t)
	rejects := filepath.Join(t.TempDir(), "rejects.ndjson")
	summary, err := load(t, db, "", Config{RejectsPath: rejects}, path)
	if err != nil {
		t.Fatal(err)
	}
	if summary.Rows != 8 || summary.Loaded != 2 || summary.Rejected != 6 || summary.RejectsPath != rejects {
		t.Fatalf("summary %+v; want 8 rows, 2 loaded, 6 rejected listed in %s", summary, rejects)
	}
	got := readRejects(t, rejects)
	if len(got) != len(want) {
		t.Fatalf("rejects file lists %d rows: %+v", len(got), got)
	}
	for i := range want {
		if got[i].Source != want[i].Source || got[i].Row != want[i].Row || got[i].Line != want[i].Line || got[i].Field != want[i].Field || got[i].Reason == "" {
			t.Errorf("reject %d = %+v; want %+v with a reason", i, got[i], want[i])
		}
	}
	if !strings.Contains(got[1].Reason, "no time zone") {
		t.Errorf("the zone-less ts is rejected for %q; want the contract's reason", got[1].Reason)
	}
	if n := len(stored(t, db)); n != 2 {
		t.Fatalf("store holds %d events; want the 2 good rows", n)
	}
}

func TestMaxRejects(t *testing.T) {
	path, _ := badRows(t) // 6 of 8 rows rejected (75%)
	tests := []struct {
		limit string
		fail  bool
	}{
		{"", false},
		{"6", false},
		{"5", true},
		{"0", true},
		{"75%", false},
		{"74.9%", true},
	}
	for _, tt := range tests {
		t.Run(tt.limit, func(t *testing.T) {
			limit, err := ParseLimit(tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			_, err = load(t, newStore(t), "", Config{MaxRejects: limit}, path)
			if got := errors.Is(err, ErrTooManyRejects); got != tt.fail {
				t.Fatalf("--max-rejects %q: err %v; want failure %v", tt.limit, err, tt.fail)
			}
		})
	}
	for _, bad := range []string{"-1", "x", "101%", "%"} {
		if _, err := ParseLimit(bad); err == nil {
			t.Errorf("ParseLimit(%q) accepted it", bad)
		}
	}
}

// A bulk step is stored before its rejects are counted, so a run that
// --max-rejects stops must still checkpoint it: the next run resumes
// after it instead of finding its rows in the store again.
func TestMaxRejectsCheckpointsWhatItStored(t *testing.T) {
	events := generated(t, 3000)
	for i := 1500; i < 1510; i++ {
		events[i].TenantID = "no spaces allowed"
	}
	dir := t.TempDir()
	path := writeFile(t, dir, "events.csv", encode(t, events, gen.FormatCSV))
	db := newStore(t)
	state := filepath.Join(dir, "state")
	first, err := load(t, db, state, Config{BulkRows: 1000, MaxRejects: MaxRejectCount(5)}, path)
	if !errors.Is(err, ErrTooManyRejects) || first.Loaded == 0 || first.Bulk == 0 {
		t.Fatalf("first run: %+v, %v; want rows loaded in bulk, then too many rejects", first, err)
	}
	second, err := load(t, db, state, Config{BulkRows: 1000}, path)
	if err != nil || second.Resumed == 0 || second.Duplicates != 0 {
		t.Fatalf("second run: %+v, %v; want it to resume after the first run's rows, finding none of them again", second, err)
	}
	if n := len(stored(t, db)); n != 2990 {
		t.Fatalf("store holds %d events; want 2990", n)
	}
}

func TestSameFileTwiceStoresNothingTwice(t *testing.T) {
	events := generated(t, 2000)
	// Half the rows carry no event_id: they get one from their content.
	for i := range events {
		if i%2 == 0 {
			events[i].EventID = ""
		}
	}
	dir := t.TempDir()
	path := writeFile(t, dir, "events.ndjson", []byte(strings.ReplaceAll(string(encode(t, events, gen.FormatNDJSON)), `"event_id":"",`, "")))
	db := newStore(t)
	state := filepath.Join(dir, "state")

	first, err := load(t, db, state, Config{BatchRows: 500}, path)
	if err != nil || first.Loaded != 2000 {
		t.Fatalf("first run: %+v, %v; want 2000 loaded", first, err)
	}
	second, err := load(t, db, state, Config{BatchRows: 500}, path)
	if err != nil || second.Loaded != 0 || second.Resumed != 2000 {
		t.Fatalf("second run: %+v, %v; want nothing loaded, 2000 skipped as loaded before", second, err)
	}
	// Without checkpoints every row is read again and the store finds each
	// one, derived ids included, already there.
	third, err := load(t, db, "", Config{BatchRows: 500}, path)
	if err != nil || third.Loaded != 0 || third.Duplicates != 2000 || third.Rows != 2000 {
		t.Fatalf("run without checkpoints: %+v, %v; want 2000 rows read, all duplicates", third, err)
	}
	if n := len(stored(t, db)); n != 2000 {
		t.Fatalf("store holds %d events; want 2000", n)
	}
}

// A run killed after a bulk step committed and before the rollups caught
// up leaves events the rollups lack; the run that resumes may find its
// file done and load nothing, and must still bring the rollups up to them.
func TestResumedRunCatchesTheRollupsUp(t *testing.T) {
	events := generated(t, 1200)
	dir := t.TempDir()
	path := parquetOf(t, dir, "events.parquet", events[:1000])
	db := newStore(t)
	state := filepath.Join(dir, "state")
	if _, err := load(t, db, state, Config{}, path); err != nil {
		t.Fatal(err)
	}
	// What the killed run committed without its refresh.
	st, err := store.Open(context.Background(), store.Options{Path: db})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.InsertEvents(context.Background(), events[1000:]); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	again, err := load(t, db, state, Config{}, path)
	if err != nil || again.Loaded != 0 || again.Resumed != 1000 {
		t.Fatalf("resumed run: %+v, %v; want the file skipped as done", again, err)
	}
	want := map[string]bool{}
	for _, ev := range events {
		want[ev.TenantID+"/"+ev.TS.UTC().Format(time.DateOnly)+"/"+ev.UserID] = true
	}
	ro, err := store.Open(context.Background(), store.Options{Path: db, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	var days int
	if err := ro.DB.QueryRow(`SELECT count(*) FROM user_days`).Scan(&days); err != nil {
		t.Fatal(err)
	}
	if days != len(want) {
		t.Fatalf("user_days holds %d (tenant, day, user) keys; the 1,200 events stored make %d", days, len(want))
	}
}

// A run that reads a file with another --map makes other events of its
// rows, so the earlier run's checkpoint must not make it skip them.
func TestChangedMappingReadsTheFileAgain(t *testing.T) {
	dir := t.TempDir()
	// user_id and ts hold nothing usable: without --map both rows are rejected.
	path := writeFile(t, dir, "export.csv", []byte("event_id,event,uid,user_id,tenant_id,session_id,timestamp,ts\n"+
		"6a1f0c52-0d5e-4a57-9a38-1c1e5e4f1a01,signup,u1,,acme,s1,2026-09-01T10:00:00Z,local\n"+
		"6a1f0c52-0d5e-4a57-9a38-1c1e5e4f1a02,login,u2,,acme,s2,2026-09-01T11:00:00Z,local\n"))
	other := writeFile(t, dir, "other.csv", []byte("event_id,event,user_id,tenant_id,session_id,ts\n"+
		"6a1f0c52-0d5e-4a57-9a38-1c1e5e4f1a00,signup,u0,acme,s0,2026-09-01T09:00:00Z\n"))
	db := newStore(t)
	state := filepath.Join(dir, "state")
	// A store that holds events: an empty one distrusts every checkpoint.
	if s, err := load(t, db, state, Config{}, other); err != nil || s.Loaded != 1 {
		t.Fatalf("other file: %+v, %v", s, err)
	}
	first, err := load(t, db, state, Config{}, path)
	if err != nil || first.Rejected != 2 || first.Loaded != 0 {
		t.Fatalf("run without --map: %+v, %v; want both rows rejected (no user_id)", first, err)
	}
	m, err := ParseMapping([]string{"ts=timestamp,user_id=uid"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := load(t, db, state, Config{Mapping: m}, path)
	if err != nil || second.Loaded != 2 || second.Resumed != 0 {
		t.Fatalf("run with --map: %+v, %v; want both rows read again and loaded", second, err)
	}
	third, err := load(t, db, state, Config{Mapping: m}, path)
	if err != nil || third.Loaded != 0 || third.Resumed != 2 {
		t.Fatalf("same --map again: %+v, %v; want both rows skipped as loaded before", third, err)
	}
}

func TestContentIDFollowsTheNormalisedEvent(t *testing.T) {
	c := ingest.NewContract()
	id := func(raw string) string {
		ev, fe := c.Decode([]byte(raw))
		if fe != nil {
			t.Fatal(fe)
		}
		id, _ := contentID(&ev, nil)
		return id
	}
	a := id(`{"event":"e","user_id":"u","tenant_id":"t","session_id":"s","ts":"2026-09-01T12:00:00.1234+02:00","properties":{"a":1,"b":"x"}}`)
	// The same occurrence as the contract stores it: ts in another zone
	// and precision, a string escaped differently, context and version
	// added.
	same := id(`{"ts":"2026-09-01T10:00:00.123Z","properties":{"a":1,"b":"\u0078"},"session_id":"s","tenant_id":"t","user_id":"u","event":"e","context":{"os":"Linux"},"event_version":2}`)
	if a != same {
		t.Fatalf("same event as stored: %s != %s", a, same)
	}
	for name, raw := range map[string]string{
		"a millisecond later": `{"event":"e","user_id":"u","tenant_id":"t","session_id":"s","ts":"2026-09-01T10:00:00.124Z","properties":{"a":1,"b":"x"}}`,
		"another session":     `{"event":"e","user_id":"u","tenant_id":"t","session_id":"s2","ts":"2026-09-01T10:00:00.123Z","properties":{"a":1,"b":"x"}}`,
		"a number as written": `{"event":"e","user_id":"u","tenant_id":"t","session_id":"s","ts":"2026-09-01T10:00:00.123Z","properties":{"a":1.0,"b":"x"}}`,
		"user and event swap": `{"event":"u","user_id":"e","tenant_id":"t","session_id":"s","ts":"2026-09-01T10:00:00.123Z","properties":{"a":1,"b":"x"}}`,
	} {
		if id(raw) == a {
			t.Errorf("%s: same id %s", name, a)
		}
	}
	if _, err := uuid.Parse(a); err != nil {
		t.Fatalf("id %q is not a UUID: %v", a, err)
	}
	// Absent properties are stored as {} and hashed so.
	if id(`{"event":"e","user_id":"u","tenant_id":"t","session_id":"s","ts":"2026-09-01T10:00:00Z"}`) != id(`{"event":"e","user_id":"u","tenant_id":"t","session_id":"s","ts":"2026-09-01T10:00:00Z","properties":{}}`) {
		t.Error("absent and empty properties got different ids")
	}
}

func TestEmbeddedStoreWithoutSchemaIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.db")
	_, err := OpenEmbedded(context.Background(), path, "")
	var se *SchemaError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "pulse schema apply --data "+path) {
		t.Fatalf("missing store: %v; want a SchemaError telling to run pulse schema apply", err)
	}
	if _, statErr := os.Stat(path); !os.IsNotExist(statErr) {
		t.Fatal("backfill created the store file")
	}
}

func TestExpandDirectoriesAndGlobs(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"b.csv", "a.ndjson.gz", "sub/c.parquet", ".hidden.csv", "README.md",
		// pulse's own output: a store's checkpoints and rejects journal, a
		// default rejects file, this run's --rejects and --state.
		"pulse.db", "pulse.db.backfill/0f3a.json", "pulse.db.backfill/0f3a.rejects.ndjson",
		"backfill-rejects-20261101T101010Z.ndjson", "out/bad.ndjson", "state/1b2c.json",
		// named like a checkpoint directory, but no store beside it
		"2024.backfill/d.csv"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		writeFile(t, dir, name, nil)
	}
	got, err := Expand([]string{dir, filepath.Join(dir, "*.csv"), filepath.Join(dir, "*.ndjson")}, "",
		filepath.Join(dir, "out/bad.ndjson"), filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Source{
		{filepath.Join(dir, "2024.backfill/d.csv"), FormatCSV},
		{filepath.Join(dir, "a.ndjson.gz"), FormatNDJSON},
		{filepath.Join(dir, "b.csv"), FormatCSV},
		{filepath.Join(dir, "sub/c.parquet"), FormatParquet},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Expand = %v; want %v", got, want)
	}
	// Named on the command line, a file is read whatever it is.
	rejects := filepath.Join(dir, "backfill-rejects-20261101T101010Z.ndjson")
	if got, err := Expand([]string{rejects}, ""); err != nil || len(got) != 1 {
		t.Fatalf("Expand(%s) = %v, %v; want the file", rejects, got, err)
	}
	if _, err := Expand([]string{filepath.Join(dir, "README.md")}, ""); err == nil || !strings.Contains(err.Error(), "--format") {
		t.Fatalf("unknown extension: %v; want advice to give --format", err)
	}
	if _, err := Expand([]string{filepath.Join(dir, "nope-*.csv")}, ""); err == nil {
		t.Fatal("a glob matching nothing was accepted")
	}
}
