package gen

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/pulse-analytics/pulse/ingest"
)

func TestAppendEventJSONMatchesJSONMarshal(t *testing.T) {
	events := generateAll(t, driverData(2000))
	odd := ingest.Event{
		EventID: "x", Event: "a<b>&\"c\"\\\n\t\b\f\x01 é \u2028 \xff", UserID: "ü", TenantID: "t",
		SessionID: "", TS: time.Date(2026, 1, 2, 3, 4, 5, 999_999_999, time.FixedZone("Y", -7200)), EventVersion: 42,
		Properties: json.RawMessage(`{ "a" : "x<y" , "b":[1, 2] }`),
		Context:    json.RawMessage(`{"k":"\u00e9","l":"é"}`),
	}
	empty := ingest.Event{TS: time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC)}
	farFuture := ingest.Event{TS: time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC), Properties: json.RawMessage(`{}`)}
	events = append(events, odd, empty, farFuture)
	for _, ev := range events {
		want, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendEventJSON(nil, ev); !bytes.Equal(got, want) {
			t.Fatalf("appendEventJSON differs from json.Marshal:\n got %s\nwant %s", got, want)
		}
	}
}

func TestCSVParsesBackToTheNDJSONEvents(t *testing.T) {
	cfg := driverData(3000)
	var nd, cs bytes.Buffer
	for format, out := range map[string]*bytes.Buffer{FormatNDJSON: &nd, FormatCSV: &cs} {
		w, err := NewWriter(out, format)
		if err != nil {
			t.Fatal(err)
		}
		if err := Generate(t.Context(), cfg, w.Write); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	contract := ingest.NewContract()
	contract.Now = func() time.Time { return cfg.End.Add(time.Hour) }

	var fromNDJSON []ingest.Event
	lines := bufio.NewScanner(&nd)
	for lines.Scan() {
		ev, fe := contract.Decode(lines.Bytes())
		if fe != nil {
			t.Fatalf("NDJSON line rejected: %v", fe)
		}
		fromNDJSON = append(fromNDJSON, ev)
	}

	r := csv.NewReader(&cs)
	header, err := r.Read()
	if err != nil || strings.Join(header, ",") != "event_id,event,user_id,tenant_id,session_id,ts,event_version,properties,context" {
		t.Fatalf("CSV header %v (%v)", header, err)
	}
	var fromCSV []ingest.Event
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		// Rebuild the event JSON from the columns and decode it the way the
		// gateway would.
		obj := map[string]json.RawMessage{}
		for i, name := range header {
			switch name {
			case "properties", "context", "event_version":
				obj[name] = json.RawMessage(rec[i])
			default:
				obj[name], _ = json.Marshal(rec[i])
			}
		}
		raw, _ := json.Marshal(obj)
		ev, fe := contract.Decode(raw)
		if fe != nil {
			t.Fatalf("CSV row %v rejected: %v", rec, fe)
		}
		fromCSV = append(fromCSV, ev)
	}
	if len(fromCSV) != 3000 || len(fromNDJSON) != 3000 {
		t.Fatalf("%d CSV rows and %d NDJSON lines, want 3000 each", len(fromCSV), len(fromNDJSON))
	}
	for i := range fromCSV {
		a, _ := json.Marshal(fromCSV[i])
		b, _ := json.Marshal(fromNDJSON[i])
		if !bytes.Equal(a, b) {
			t.Fatalf("row %d differs:\n csv %s\njson %s", i, a, b)
		}
	}
}

func TestNDJSONLinesAreTheNormalisedEvents(t *testing.T) {
	events := generateAll(t, driverData(50))
	var out bytes.Buffer
	w, _ := NewWriter(&out, FormatNDJSON)
	for _, ev := range events {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for i, ev := range events {
		want, _ := json.Marshal(ev)
		if lines[i] != string(want) {
			t.Fatalf("line %d:\n got %s\nwant %s", i, lines[i], want)
		}
	}
}

func TestNewWriterRejectsUnknownFormats(t *testing.T) {
	if _, err := NewWriter(io.Discard, "parquet"); err == nil || !strings.Contains(err.Error(), "ndjson or csv") {
		t.Errorf("NewWriter(parquet) error = %v, want one naming ndjson or csv", err)
	}
}

func TestEmptyCSVHasAHeader(t *testing.T) {
	var out bytes.Buffer
	w, _ := NewWriter(&out, FormatCSV)
	w.Flush()
	if out.String() != strings.Join(CSVHeader(), ",")+"\n" {
		t.Errorf("empty CSV is %q", out.String())
	}
}
