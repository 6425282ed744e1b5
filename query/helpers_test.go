package query

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pulse-analytics/pulse/ingest"
	"github.com/pulse-analytics/pulse/output"
	"github.com/pulse-analytics/pulse/store"
)

// fixtureSeq makes event ids unique across a test binary's fixtures.
var fixtureSeq atomic.Uint64

// ev builds an event at ts (RFC 3339 with milliseconds, UTC); props is an
// optional properties JSON object.
func ev(tenant, user, name, ts string, props ...string) ingest.Event {
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		panic(err)
	}
	p := "{}"
	if len(props) > 0 {
		p = props[0]
	}
	return ingest.Event{
		EventID: uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "%d", fixtureSeq.Add(1))).String(),
		Event:   name, UserID: user, TenantID: tenant, SessionID: "s", TS: t.UTC(),
		EventVersion: 1, Properties: json.RawMessage(p), Context: json.RawMessage(`{"os":"iOS"}`),
	}
}

// openFixture stores each batch in its own commit (so the rollups see
// events arrive batch by batch, in the given order), then reopens the file
// read-only as the query commands do.
func openFixture(t testing.TB, batches ...[]ingest.Event) *Embedded {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pulse.db")
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		if _, err := st.Insert(ctx, b); err != nil {
			st.Close()
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := OpenEmbedded(ctx, EmbeddedOptions{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// mustRun validates and runs a metric.
func mustRun(t testing.TB, b Backend, m Metric) *output.Table {
	t.Helper()
	if err := m.Validate(); err != nil {
		t.Fatalf("validate %T: %v", m, err)
	}
	tbl, err := m.Run(context.Background(), b)
	if err != nil {
		t.Fatalf("run %T: %v", m, err)
	}
	return tbl
}

// rows renders a table's rows as strings, one per row with cells joined
// by " | ", for compact expected values in tests.
func rows(t *output.Table) []string {
	var out []string
	for _, r := range t.Rows {
		cells := make([]string, len(r))
		for i, v := range r {
			switch x := v.(type) {
			case nil:
				cells[i] = "NULL"
			case time.Time:
				if t.Columns[i].Type == output.Date {
					cells[i] = x.Format(time.DateOnly)
				} else {
					cells[i] = x.UTC().Format(time.RFC3339Nano)
				}
			default:
				cells[i] = fmt.Sprint(x)
			}
		}
		out = append(out, strings.Join(cells, " | "))
	}
	return out
}

func columns(t *output.Table) []string {
	out := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		out[i] = c.Name
	}
	return out
}

func expectRows(t *testing.T, got *output.Table, wantCols []string, want []string) {
	t.Helper()
	if gotCols := columns(got); !reflect.DeepEqual(gotCols, wantCols) {
		t.Errorf("columns = %q, want %q", gotCols, wantCols)
	}
	gotRows := rows(got)
	if !reflect.DeepEqual(gotRows, want) {
		t.Errorf("rows:\n got:\n  %s\n want:\n  %s", strings.Join(gotRows, "\n  "), strings.Join(want, "\n  "))
	}
}

// day returns the range of whole UTC days from..to.
func days(from, to string) Range {
	r, err := ParseRange(from, to, time.Time{})
	if err != nil {
		panic(err)
	}
	return r
}
