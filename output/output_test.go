package output

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// sample covers every column type, NULLs, text that needs CSV quoting,
// and numbers JSON must keep as numbers.
func sample() *Table {
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	huge, _ := new(big.Int).SetString("170141183460469231731687303715884105727", 10)
	return &Table{
		Columns: []Column{
			{"day", Date}, {"ts", Timestamp}, {"event", String}, {"users", Int},
			{"share", Float}, {"ok", Bool}, {"props", Other},
		},
		Rows: [][]any{
			{day, day.Add(90 * time.Minute), "page_viewed", int64(1234), 0.3333, true, map[string]any{"plan": "pro"}},
			{day.AddDate(0, 0, 1), day.Add(1500 * time.Millisecond), `quote " and, comma`, int64(0), nil, false, []any{1.5, "x"}},
			{nil, nil, "line\nbreak", huge, math.NaN(), nil, nil},
		},
	}
}

func TestResolveFormat(t *testing.T) {
	for _, tc := range []struct {
		name     string
		terminal bool
		want     Format
	}{
		{"", true, FormatTable},
		{"", false, FormatCSV},
		{"json", true, FormatJSON},
		{"NDJSON", false, FormatNDJSON},
		{"table", false, FormatTable},
		{" csv ", true, FormatCSV},
	} {
		got, err := ResolveFormat(tc.name, tc.terminal)
		if err != nil || got != tc.want {
			t.Errorf("ResolveFormat(%q, %v) = %q, %v; want %q", tc.name, tc.terminal, got, err, tc.want)
		}
	}
}

func TestUnknownFormatListsTheValidOnes(t *testing.T) {
	_, err := ResolveFormat("yaml", false)
	if err == nil || !strings.Contains(err.Error(), "table, csv, json, ndjson") {
		t.Fatalf("ResolveFormat(yaml) error = %v, want one listing table, csv, json, ndjson", err)
	}
}

func TestCSVParsesBackToTheSameValues(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, FormatCSV, sample()); err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("output is not CSV: %v\n%s", err, buf.String())
	}
	want := [][]string{
		{"day", "ts", "event", "users", "share", "ok", "props"},
		{"2026-03-01", "2026-03-01T01:30:00Z", "page_viewed", "1234", "0.3333", "true", `{"plan":"pro"}`},
		{"2026-03-02", "2026-03-01T00:00:01.5Z", `quote " and, comma`, "0", "", "false", `[1.5,"x"]`},
		{"", "", "line\nbreak", "170141183460469231731687303715884105727", "", "", ""},
	}
	if !reflect.DeepEqual(records, want) {
		t.Fatalf("CSV records:\n got %q\nwant %q", records, want)
	}
}

func TestJSONIsAnArrayOfObjectsWithNumbersAsNumbers(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, FormatJSON, sample()); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	if !json.Valid(buf.Bytes()) {
		t.Fatalf("invalid JSON:\n%s", text)
	}
	dec := json.NewDecoder(&buf)
	dec.UseNumber()
	var got []map[string]any
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d objects, want 3", len(got))
	}
	first := got[0]
	if first["users"] != json.Number("1234") || first["share"] != json.Number("0.3333") || first["ok"] != true {
		t.Errorf("numbers and booleans must stay JSON numbers and booleans: %v", first)
	}
	if first["day"] != "2026-03-01" || first["ts"] != "2026-03-01T01:30:00Z" {
		t.Errorf("dates: %v %v", first["day"], first["ts"])
	}
	if got[1]["share"] != nil || got[2]["share"] != nil {
		t.Errorf("NULL and NaN must be null: %v %v", got[1]["share"], got[2]["share"])
	}
	if got[2]["users"] != json.Number("170141183460469231731687303715884105727") {
		t.Errorf("128-bit integers must stay exact numbers: %v", got[2]["users"])
	}
	// Keys keep the column order.
	line := strings.SplitN(text, "\n", 3)[1]
	if !strings.HasPrefix(strings.TrimSpace(line), `{"day":`) {
		t.Errorf("first key should be day: %s", line)
	}
}

func TestJSONOfNoRowsIsAnEmptyArray(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, FormatJSON, &Table{Columns: []Column{{"a", Int}}}); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(buf.String()); got != "[]" {
		t.Fatalf("got %q, want []", got)
	}
}

func TestNDJSONIsOneObjectPerLine(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, FormatNDJSON, sample()); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&buf)
	n := 0
	for sc.Scan() {
		var obj map[string]any
		if err := json.Unmarshal(sc.Bytes(), &obj); err != nil {
			t.Fatalf("line %d is not a JSON object: %v: %s", n+1, err, sc.Text())
		}
		if len(obj) != 7 {
			t.Errorf("line %d has %d keys, want 7", n+1, len(obj))
		}
		n++
	}
	if n != 3 {
		t.Fatalf("%d lines, want 3", n)
	}
}

func TestTableMatchesGoldenFile(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, FormatTable, sample()); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "table.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./output -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("table differs from %s (go test ./output -update rewrites it):\n got:\n%s\nwant:\n%s", golden, buf.String(), want)
	}
}

func TestDropColumn(t *testing.T) {
	tbl := sample()
	tbl.DropColumn("event")
	tbl.DropColumn("missing")
	if tbl.ColumnIndex("event") != -1 || len(tbl.Columns) != 6 || len(tbl.Rows[0]) != 6 || tbl.Rows[0][2] != int64(1234) {
		t.Fatalf("after DropColumn: %v %v", tbl.Columns, tbl.Rows[0])
	}
}
