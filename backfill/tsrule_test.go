package backfill

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulse-analytics/pulse/ingest"
)

func mustRule(t *testing.T, zone, unit string) TSRule {
	t.Helper()
	r, err := ParseTSRule(zone, unit)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestTSRuleConvertsEpochNumbersAndZonelessText(t *testing.T) {
	berlin := mustRule(t, "Europe/Berlin", "s")
	utcMS := mustRule(t, "UTC", "ms")
	us := mustRule(t, "", "us")
	for _, c := range []struct {
		rule TSRule
		in   string
		text bool
		want string // "" unchanged; "!" refused
	}{
		{utcMS, "1790669993645", true, "2026-09-29T08:19:53.645Z"},
		{utcMS, "1790669993645", false, "2026-09-29T08:19:53.645Z"},
		{utcMS, "0001790669993645", true, "2026-09-29T08:19:53.645Z"},
		{utcMS, "1.790669993645e12", false, "2026-09-29T08:19:53.645Z"},
		{berlin, "1790669993.645", false, "2026-09-29T08:19:53.645Z"}, // exact, not 644 as a float64 would give
		{berlin, "1790669993", true, "2026-09-29T08:19:53Z"},
		{berlin, "-1.5", false, "1969-12-31T23:59:58.5Z"}, // the contract refuses it, saying why
		{us, "1790669993645999", true, "2026-09-29T08:19:53.645999Z"},
		{mustRule(t, "", "ns"), "1790669993645999999", false, "2026-09-29T08:19:53.645999999Z"},
		{berlin, "253402300800", false, "!"}, // after 9999
		{utcMS, "1e999999999", false, "!"},
		{utcMS, "99999999999999999999999", true, "!"},
		{utcMS, "2026-09-29 08:19:53.645", true, "2026-09-29T08:19:53.645Z"},
		{utcMS, "2026-09-29T08:19:53", true, "2026-09-29T08:19:53Z"},
		{utcMS, "2026-09-29", true, "2026-09-29T00:00:00Z"},
		{berlin, "2026-09-29 10:19:53.645", true, "2026-09-29T08:19:53.645Z"},
		{berlin, "2026-01-15 10:00:00", true, "2026-01-15T09:00:00Z"},
		{berlin, "2026-09-29T10:19:53.645+02:00", true, ""}, // has a zone: the contract reads it
		{berlin, "yesterday", true, ""},
		{berlin, "12:00", true, ""},
		{us, "2026-09-29 08:19:53", true, ""}, // no --ts-zone: the contract refuses it
		{mustRule(t, "UTC", ""), "1790669993645", true, ""},
		{mustRule(t, "UTC", ""), "1790669993645", false, ""},
	} {
		var got []byte
		var ok bool
		var fe *ingest.FieldError
		if c.text {
			got, ok, fe = c.rule.appendText(nil, c.in)
		} else {
			got, ok, fe = c.rule.appendNumber(nil, c.in)
		}
		switch {
		case c.want == "!" && fe == nil:
			t.Errorf("%v %q: got %s, want refused", c.rule, c.in, got)
		case c.want == "" && (ok || fe != nil):
			t.Errorf("%v %q: got %s %v, want it unchanged", c.rule, c.in, got, fe)
		case c.want != "!" && c.want != "" && string(got) != `"`+c.want+`"`:
			t.Errorf("%v %q: got %s (%v), want %q", c.rule, c.in, got, fe, c.want)
		}
	}
}

func TestParseTSRuleRefusesUnknownValues(t *testing.T) {
	for _, c := range [][2]string{{"Mars/Olympus", ""}, {"Local", ""}, {"", "sec"}, {"", "h"}} {
		if _, err := ParseTSRule(c[0], c[1]); err == nil || !strings.Contains(err.Error(), "--ts-") {
			t.Errorf("ParseTSRule(%q, %q) = %v, want an error naming the flag", c[0], c[1], err)
		}
	}
	if r := mustRule(t, "Europe/Berlin", "ms"); r.String() != "zone=Europe/Berlin,unit=ms" {
		t.Errorf("String() = %q", r.String())
	}
	if r := mustRule(t, "", ""); r.String() != "" || r.converts() {
		t.Errorf("the zero rule renders as %q and converts=%v", r.String(), r.converts())
	}
}

// tsFormsCSV writes n generated-looking rows, every third of whose ts
// cycles through forms other systems write: epoch numbers (with a
// fraction, negative, out of range), timestamps without a zone (around
// Berlin's daylight-saving changes, date alone), with a zone, and garbage.
// The others are plain, so that the rows the bulk lane leaves to the
// contract stay a minority (a majority hands the file to the row lane).
func tsFormsCSV(t *testing.T, dir string, n int) string {
	forms := []func(i int) string{
		func(i int) string { return fmt.Sprint(1790669993645 + int64(i)*7919) },
		func(i int) string { return fmt.Sprintf("%d.%03d", 1790669993+i, i%1000) },
		func(i int) string { return fmt.Sprint(1790669993 + i) },
		func(i int) string { return fmt.Sprint(1790669993645123 + int64(i)*7919) },
		func(i int) string {
			return time.UnixMilli(1790669993645 + int64(i)*7919).UTC().Format("2006-01-02 15:04:05.000")
		},
		func(i int) string {
			return time.UnixMilli(1790669993645 + int64(i)*7919).UTC().Format("2006-01-02T15:04:05")
		},
		func(i int) string {
			return time.UnixMilli(1790669993645 + int64(i)*7919).UTC().Format("2006-01-02 15:04:05.000000Z07:00")
		},
		func(i int) string { return fmt.Sprintf("2026-10-25 02:%02d:00", i%60) }, // Berlin: twice
		func(i int) string { return fmt.Sprintf("2026-03-29 02:%02d:00", i%60) }, // Berlin: never
		func(i int) string { return "2026-09-29" },
		func(i int) string { return fmt.Sprintf("%d.%09d", 1790669993645+int64(i)*7919, i*7) }, // 9 fraction digits
		func(i int) string { return fmt.Sprintf("1790669993.%010d", i) },                       // 10: the contract's lane
		func(i int) string {
			return []string{"-1", "0", "1e3", "99999999999999999999", "soon", "253402300800000", "253402300799.9999", "1.", ".5"}[i%9]
		},
	}
	var b strings.Builder
	b.WriteString("event_id,event,user_id,tenant_id,session_id,ts\n")
	for i := range n {
		ts := time.UnixMilli(1790669993645 + int64(i)*7919).UTC().Format("2006-01-02T15:04:05.000Z")
		if i%3 == 0 {
			ts = forms[(i/3)%len(forms)](i)
		}
		fmt.Fprintf(&b, "0193a8f0-0000-7000-8000-%012d,page_viewed,u%d,acme,s%d,%s\n", i, i%97, i%13, ts)
	}
	return writeFile(t, dir, "ts-forms.csv", []byte(b.String()))
}

// The bulk lane reads ts by --ts-zone and --ts-unit as the contract's lane
// does, in CSV and in Parquet (text, integer and typed columns).
func TestBulkLaneReadsTSByTheRuleAsTheContractLaneDoes(t *testing.T) {
	dir := t.TempDir()
	csvPath := tsFormsCSV(t, dir, 2200)
	text := filepath.Join(dir, "ts-text.parquet")
	integer := filepath.Join(dir, "ts-integer.parquet")
	naive := filepath.Join(dir, "ts-naive.parquet")
	double := filepath.Join(dir, "ts-double.parquet")
	noID := filepath.Join(dir, "ts-noid.csv")
	read := `read_csv('` + csvPath + `', all_varchar = true)`
	duckdbExec(t,
		`COPY (SELECT * EXCLUDE (event_id) FROM `+read+`) TO '`+noID+`' (HEADER)`,
		`COPY (SELECT * FROM `+read+`) TO '`+text+`' (FORMAT parquet)`,
		`COPY (SELECT * REPLACE (TRY_CAST(ts AS BIGINT) AS ts) FROM `+read+` WHERE TRY_CAST(ts AS BIGINT) IS NOT NULL) TO '`+integer+`' (FORMAT parquet)`,
		`COPY (SELECT * REPLACE (TRY_CAST(ts AS DOUBLE) AS ts) FROM `+read+` WHERE TRY_CAST(ts AS DOUBLE) IS NOT NULL) TO '`+double+`' (FORMAT parquet)`,
		`COPY (SELECT * REPLACE (TRY_CAST(ts AS TIMESTAMP) AS ts) FROM `+read+` WHERE TRY_CAST(ts AS TIMESTAMP) IS NOT NULL AND ts NOT LIKE '%+%') TO '`+naive+`' (FORMAT parquet)`,
	)
	for _, c := range []struct{ zone, unit string }{
		{"UTC", "ms"}, {"Europe/Berlin", "s"}, {"", "us"}, {"UTC", ""}, {"Asia/Kolkata", ""}, {"", ""},
	} {
		paths := []string{csvPath, text, integer, double, naive}
		if c.zone == "UTC" && c.unit == "ms" {
			paths = append(paths, noID) // ids derived from the ts read
		}
		for _, path := range paths {
			t.Run(fmt.Sprintf("%s/%s/%s", c.zone, c.unit, filepath.Base(path)), func(t *testing.T) {
				bulk, _ := bothLanes(t, path, Config{TS: mustRule(t, c.zone, c.unit)})
				// The rows the bulk lane must take itself: the plain ones
				// of the text files; the epoch numbers, given a unit that
				// makes most of them instants; the typed timestamps, unless
				// the zone is left to Go.
				want := int64(0)
				switch {
				case path != integer && path != double && path != naive:
					want = 1400
				case (path == integer || path == double) && (c.unit == "ms" || c.unit == "us"):
					want = 200 // as seconds, most of these numbers are after 9999
				case path == naive && (c.zone == "" || c.zone == "UTC"):
					want = 500
				}
				if bulk.Bulk < want {
					t.Errorf("bulk lane took %d rows, want at least %d", bulk.Bulk, want)
				}
			})
		}
	}
}

// Stored instants are the ones the values name, whichever lane reads them.
func TestTSRuleStoresTheInstantsTheValuesName(t *testing.T) {
	dir := t.TempDir()
	csvPath := writeFile(t, dir, "few.csv", []byte("event_id,event,user_id,tenant_id,session_id,ts\n"+
		"0193a8f0-0000-7000-8000-000000000001,a,u,acme,s,1790669993645\n"+
		"0193a8f0-0000-7000-8000-000000000002,a,u,acme,s,2026-09-29 10:19:53.645\n"+
		"0193a8f0-0000-7000-8000-000000000003,a,u,acme,s,2026-09-29T08:19:53.645Z\n"+
		"0193a8f0-0000-7000-8000-000000000004,a,u,acme,s,2026-01-15\n"))
	want := map[string]time.Time{
		"0193a8f0-0000-7000-8000-000000000001": time.Date(2026, 9, 29, 8, 19, 53, 645e6, time.UTC),
		"0193a8f0-0000-7000-8000-000000000002": time.Date(2026, 9, 29, 8, 19, 53, 645e6, time.UTC),
		"0193a8f0-0000-7000-8000-000000000003": time.Date(2026, 9, 29, 8, 19, 53, 645e6, time.UTC),
		"0193a8f0-0000-7000-8000-000000000004": time.Date(2026, 1, 14, 23, 0, 0, 0, time.UTC),
	}
	for _, rowByRow := range []bool{false, true} {
		db := newStore(t)
		sum, err := load(t, db, "", Config{TS: mustRule(t, "Europe/Berlin", "ms"), RowByRow: rowByRow}, csvPath)
		if err != nil || sum.Loaded != 4 {
			t.Fatalf("row by row %v: %+v, %v", rowByRow, sum, err)
		}
		for _, ev := range stored(t, db) {
			if !ev.TS.Equal(want[ev.ID]) {
				t.Errorf("row by row %v: %s stored at %s, want %s", rowByRow, ev.ID, ev.TS.UTC(), want[ev.ID])
			}
		}
	}
}

// Without the flags such values are refused, and the reason names the flag
// that reads them; a run with the flag then reads the file again, although
// the first run completed it.
func TestTSRejectsNameTheFlagAndTheFlagRereadsTheFile(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "epoch.ndjson", []byte(
		`{"event":"a","user_id":"u","tenant_id":"acme","session_id":"s","ts":1790669993645}`+"\n"+
			`{"event":"a","user_id":"u","tenant_id":"acme","session_id":"s","ts":"2026-09-29 08:19:53"}`+"\n"+
			`{"event":"a","user_id":"u","tenant_id":"acme","session_id":"s","ts":"1790669993646"}`+"\n"))
	db, state := newStore(t), t.TempDir()
	rejects := filepath.Join(dir, "rejects.ndjson")
	sum, err := load(t, db, state, Config{RejectsPath: rejects}, path)
	if err != nil || sum.Rejected != 3 {
		t.Fatalf("%+v, %v", sum, err)
	}
	var hints []string
	for _, l := range rejectLines(t, rejects) {
		var r Reject
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		hints = append(hints, r.Reason)
	}
	for i, flag := range []string{"--ts-unit", "--ts-zone", "--ts-unit"} {
		if !strings.Contains(hints[i], flag) {
			t.Errorf("row %d: reason %q does not name %s", i+1, hints[i], flag)
		}
	}
	sum, err = load(t, db, state, Config{TS: mustRule(t, "UTC", "ms")}, path)
	if err != nil || sum.Loaded != 3 {
		t.Fatalf("with the flags: %+v, %v", sum, err)
	}
}

// A step whose rows mostly need the contract (here ts in a zone DuckDB is
// not trusted to apply) hands the file to the row-by-row lane, which
// streams them, instead of holding them beside the step: nothing is lost
// or stored twice on the way.
func TestMostlyContractStepsGoToTheRowLane(t *testing.T) {
	var b strings.Builder
	b.WriteString("event,user_id,tenant_id,session_id,ts\n")
	for i := range 30000 {
		ts := time.UnixMilli(1790669993645 + int64(i)*997).UTC().Format("2006-01-02 15:04:05.000")
		if i%3 == 0 {
			ts += "Z" // a third the bulk lane could take
		}
		fmt.Fprintf(&b, "page_viewed,u%d,acme,s%d,%s\n", i%97, i%13, ts)
	}
	path := writeFile(t, t.TempDir(), "berlin.csv", []byte(b.String()))
	bulk, _ := bothLanes(t, path, Config{TS: mustRule(t, "Europe/Berlin", "")})
	if bulk.Bulk != 0 || bulk.Loaded != 30000 {
		t.Errorf("bulk lane took %d rows and loaded %d; want none taken (the row lane takes the file) and all 30000 loaded", bulk.Bulk, bulk.Loaded)
	}
}
