package backfill

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulse-analytics/pulse/gen"
)

// The bulk lane splits CSV records itself; it must cut them where
// encoding/csv (the row-by-row lane) does, or the lanes number rows
// differently.
func TestCSVRecordsSplitAsEncodingCSVDoes(t *testing.T) {
	inputs := []string{
		"a,b,c\n1,2,3\n",
		"a,\"b\nb\",c\n1,2,3\n",
		"a,\"b\"\"\nx\"\"\",c\n1,2,3\n",
		"a,b\"c,d\n\"open,x\ny\",z\n",  // a bare quote ends the record with its line
		"a,\"b\"c,d\n\"x\ny\",z\n",     // so does a quote after a closing one
		"a,b\"c,\"d\ne,f\n",            // a quote after a bare one opens nothing
		"\"a\"\r\n\"b\r\nc\"\r\nd\r\n", // CRLF, inside quotes too
		"a,\"\",\"\"\"\"\n\"\"\n",
		"a,\"b\n\nc\n",      // a quoted field open at the end of the file
		"x,y\n\n\"z\"\nw\n", // an empty line
		"a,\"b\",\n,\n",
		"a,\"b\"\r\nc\r\n",
		"a,\"b\"\rc\nd\n", // a lone CR after a closing quote
	}
	for _, in := range inputs {
		want := encodingCSVRecordEnds(in)
		got := splitterRecordEnds(t, in)
		if !slices.Equal(got, want) {
			t.Errorf("%q: records end at %v; encoding/csv ends them at %v", in, got, want)
		}
	}
}

func encodingCSVRecordEnds(in string) []int64 {
	r := csv.NewReader(strings.NewReader(in))
	r.FieldsPerRecord = -1
	var ends []int64
	for {
		_, err := r.Read()
		if errors.Is(err, io.EOF) {
			return ends
		}
		ends = append(ends, r.InputOffset())
	}
}

func splitterRecordEnds(t *testing.T, in string) []int64 {
	cs := &csvSteps{comma: ',', in: &input{r: bufio.NewReaderSize(strings.NewReader(in), 16)}}
	var ends []int64
	var offset int64
	for {
		rec, err := cs.record()
		if errors.Is(err, io.EOF) {
			return ends
		}
		if err != nil {
			t.Fatal(err)
		}
		offset += int64(len(rec))
		if !bytes.Equal(rec, []byte("\n")) { // encoding/csv passes over empty lines
			ends = append(ends, offset)
		}
	}
}

// A quote that never closes makes the rest of the file one record; both
// lanes give up on it at maxCSVRecordBytes with an error that says where,
// instead of holding the rest of the file in memory.
func TestUnclosedQuoteFailsWithinTheRecordLimit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "open.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.WriteString("event_id,event,user_id,tenant_id,session_id,ts\n")
	w.WriteString("6a1f0c52-0d5e-4a57-9a38-1c1e5e4f1a01,signup,u1,acme,s1,2026-09-01T10:00:00Z\n")
	w.WriteString("6a1f0c52-0d5e-4a57-9a38-1c1e5e4f1a02,\"signup,u2,acme,s2,2026-09-01T10:00:00Z\n")
	line := strings.Repeat("x", 1023) + "\n"
	for range maxCSVRecordBytes/len(line) + 1 {
		w.WriteString(line)
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		t.Fatal(err)
	}
	for _, rowByRow := range []bool{false, true} {
		s, err := load(t, newStore(t), "", Config{RowByRow: rowByRow}, path)
		if err == nil || !strings.Contains(err.Error(), "never closes") {
			t.Errorf("row by row %v: %v (%+v); want the record limit's error", rowByRow, err, s)
		}
	}
}

// DuckDB reads a quote inside an unquoted field as text; encoding/csv
// refuses the row. The bulk lane hands such a file to the row-by-row lane
// at that row, so both lanes reject it alike and store the rest.
func TestQuoteOutOfPlaceIsRejectedInBothLanes(t *testing.T) {
	path := writeFile(t, t.TempDir(), "quotes.csv", []byte("event_id,event,user_id,tenant_id,session_id,ts\n"+
		"6a1f0c52-0d5e-4a57-9a38-1c1e5e4f1a01,signup,u1,acme,s1,2026-09-01T10:00:00Z\n"+
		"6a1f0c52-0d5e-4a57-9a38-1c1e5e4f1a02,sign\"up,u2,acme,s2,2026-09-01T10:00:00Z\n"+
		"6a1f0c52-0d5e-4a57-9a38-1c1e5e4f1a03,signup,u3,acme,s3,2026-09-01T10:00:00Z\n"+
		"6a1f0c52-0d5e-4a57-9a38-1c1e5e4f1a04,signup,u4,acme,s4,2026-09-01T10:00:00Z\n"))
	for _, rowByRow := range []bool{false, true} {
		rejects := filepath.Join(t.TempDir(), "rejects.ndjson")
		db := newStore(t)
		s, err := load(t, db, "", Config{RowByRow: rowByRow, RejectsPath: rejects}, path)
		if err != nil || s.Loaded != 3 || s.Rejected != 1 {
			t.Fatalf("row by row %v: %+v, %v; want 3 loaded, 1 rejected", rowByRow, s, err)
		}
		var rows []int64
		for _, r := range readRejects(t, rejects) {
			rows = append(rows, r.Row)
		}
		if users := storedUsers(t, db); !slices.Equal(rows, []int64{2}) || strings.Join(users, ",") != "u1,u3,u4" {
			t.Errorf("row by row %v: rejected rows %v, stored users %v; want row 2 rejected, u1, u3 and u4 stored", rowByRow, rows, users)
		}
	}
}

func storedUsers(t *testing.T, db string) []string {
	var users []string
	for _, e := range stored(t, db) {
		users = append(users, e.User)
	}
	slices.Sort(users)
	return users
}

// The bulk lane spools a step ahead of the one it stores; its progress
// must count the rows stored, not the rows spooled.
func TestCSVProgressCountsStoredRows(t *testing.T) {
	events := generated(t, 3000)
	path := writeFile(t, t.TempDir(), "events.csv", encode(t, events, gen.FormatCSV))
	var reports []Progress
	var mu sync.Mutex
	cfg := Config{BulkRows: 500, ProgressEvery: time.Millisecond, Progress: func(p Progress) {
		mu.Lock()
		reports = append(reports, p)
		mu.Unlock()
	}}
	if s, err := load(t, newStore(t), "", cfg, path); err != nil || s.Bulk != 3000 {
		t.Fatalf("%+v, %v; want 3000 rows in bulk", s, err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range reports {
		// A row's share of the file's bytes varies a little.
		if done := float64(p.Rows) / 3000; p.Fraction > done+0.02 {
			t.Errorf("progress says %.0f%% done after %d of 3000 rows", 100*p.Fraction, p.Rows)
		}
	}
}

// The contract's rows of a CSV step are read back from the slice as
// encoding/csv reads them from the source, whether a few (each from its
// offset) or many (one pass).
func TestCSVSliceRowsReadBackAsTheSourceHasThem(t *testing.T) {
	var src strings.Builder
	src.WriteString("a,b\r\n")
	for i := 1; i <= 100; i++ {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&src, "r%d,\"multi\r\nline \"\"%d\"\"\"\r\n", i, i)
		case 1:
			fmt.Fprintf(&src, "r%d,plain\n", i)
		case 2:
			fmt.Fprintf(&src, "\"r%d\",\"a,b\"\n", i)
		default:
			fmt.Fprintf(&src, "r%d,\n\n", i) // and an empty line, which is no row
		}
	}
	path := writeFile(t, t.TempDir(), "rows.csv", []byte(src.String()))
	want, err := csv.NewReader(strings.NewReader(src.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want = want[1:] // the header
	in, err := openInput(Source{Path: path, Format: FormatCSV}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs := &csvSteps{comma: ',', in: in, dir: t.TempDir(), spooled: map[string]bool{}, sizes: stepSizes{rows: 1000}, header: []string{"a", "b"}}
	defer cs.Close()
	if _, err := cs.record(); err != nil {
		t.Fatal(err)
	}
	cs.line = 1
	step, more, err := cs.next(context.Background(), 0)
	if err != nil || !more || step.from != 1 || step.to != 101 {
		t.Fatalf("step %+v, %v, %v; want rows 1 to 100", step, more, err)
	}
	for _, rows := range [][]int64{{3, 50, 100}, func() (all []int64) {
		for i := int64(1); i <= 100; i++ {
			all = append(all, i)
		}
		return all
	}()} {
		c := &chunk{}
		if err := cs.fillGo(c, step, rows); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(c.nums, rows) {
			t.Fatalf("rows %v read back; want %v", c.nums, rows)
		}
		for i, row := range rows {
			got := c.cells[c.cellEnds[i]-2 : c.cellEnds[i]]
			if !slices.Equal(got, want[row-1]) {
				t.Errorf("row %d read back as %q; the source has %q", row, got, want[row-1])
			}
		}
	}
}
