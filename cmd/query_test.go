package cmd

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pulse-analytics/pulse/ingest"
	"github.com/pulse-analytics/pulse/store"
)

// queryExec runs `pulse query args...` with stdin and returns stdout,
// stderr and the exit code. terminal says whether stdout is a terminal.
func queryExec(t *testing.T, terminal bool, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	streams := Streams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut, OutIsTerminal: terminal}
	code := Execute(t.Context(), append([]string{"query"}, args...), streams)
	return out.String(), errOut.String(), code
}

// queryStore writes a small store: acme's u1 active on 03-01 and 03-02,
// u2 on 03-02; globex's u1 on 03-01.
func queryStore(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pulse.db")
	st, err := store.Open(t.Context(), store.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := func(s string) time.Time {
		ts, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	var events []ingest.Event
	for _, e := range []struct{ tenant, user, name, ts, props string }{
		{"acme", "u1", "signup", "2026-03-01T10:00:00Z", `{"plan":"pro"}`},
		{"acme", "u1", "api_request", "2026-03-02T10:00:00Z", `{"latency_ms":120,"status":503}`},
		{"acme", "u2", "api_request", "2026-03-02T11:00:00Z", `{"latency_ms":80,"status":200}`},
		{"globex", "u1", "signup", "2026-03-01T10:00:00Z", `{"plan":"free"}`},
	} {
		events = append(events, ingest.Event{
			EventID: uuid.NewString(), Event: e.name, UserID: e.user, TenantID: e.tenant, SessionID: "s",
			TS: at(e.ts), EventVersion: 1, Properties: []byte(e.props), Context: []byte(`{"os":"iOS"}`),
		})
	}
	if _, err := st.Insert(t.Context(), events); err != nil {
		t.Fatal(err)
	}
	return path
}

var march = []string{"--from", "2026-03-01", "--to", "2026-03-02"}

func TestQueryActiveWritesCSVWhenStdoutIsNotATerminal(t *testing.T) {
	data := queryStore(t)
	out, errOut, code := queryExec(t, false, "", append([]string{"active", "--data", data, "--tenant", "acme"}, march...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := "day,dau,wau,mau,stickiness\n2026-03-01,1,1,1,1\n2026-03-02,2,2,2,1\n"
	if out != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s", out, want)
	}
	if errOut != "" {
		t.Errorf("stderr should be empty, got %q", errOut)
	}
}

func TestQueryFormats(t *testing.T) {
	data := queryStore(t)
	args := append([]string{"errors", "--data", data, "--all-tenants", "--event", "api_request", "--where", "properties.status>=500"}, march...)

	t.Run("table on a terminal", func(t *testing.T) {
		out, errOut, code := queryExec(t, true, "", args...)
		if code != 0 || !strings.Contains(out, "│ tenant_id │") || !strings.Contains(out, "0.5") {
			t.Fatalf("exit %d, stderr %s, stdout:\n%s", code, errOut, out)
		}
	})
	t.Run("json", func(t *testing.T) {
		out, errOut, code := queryExec(t, true, "", append(args, "--format", "json")...)
		var rows []map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &rows) != nil {
			t.Fatalf("exit %d, stderr %s, stdout not a JSON array:\n%s", code, errOut, out)
		}
		// acme: 03-01 no calls (rate null), 03-02 one 503 of two.
		want := []map[string]any{
			{"tenant_id": "acme", "bucket": "2026-03-01T00:00:00Z", "events": 0.0, "errors": 0.0, "error_rate": nil},
			{"tenant_id": "acme", "bucket": "2026-03-02T00:00:00Z", "events": 2.0, "errors": 1.0, "error_rate": 0.5},
		}
		if fmt.Sprint(rows) != fmt.Sprint(want) {
			t.Fatalf("rows = %v\nwant %v", rows, want)
		}
	})
	t.Run("ndjson", func(t *testing.T) {
		out, _, code := queryExec(t, false, "", append(args, "--format", "ndjson")...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) != 2 || !json.Valid([]byte(lines[1])) {
			t.Fatalf("exit %d, stdout:\n%s", code, out)
		}
	})
	t.Run("csv", func(t *testing.T) {
		out, _, code := queryExec(t, true, "", append(args, "--format", "csv")...)
		records, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if code != 0 || err != nil || len(records) != 3 || strings.Join(records[0], ",") != "tenant_id,bucket,events,errors,error_rate" {
			t.Fatalf("exit %d, err %v, stdout:\n%s", code, err, out)
		}
	})
}

func TestQueryUsageMistakesExit2WithAHint(t *testing.T) {
	data := queryStore(t)
	for _, tc := range []struct {
		name string
		args []string
		hint string
	}{
		{"no tenant", []string{"active"}, "--all-tenants"},
		{"tenant and all tenants", []string{"active", "--tenant", "acme", "--all-tenants"}, "exclude each other"},
		{"from after to", []string{"active", "--tenant", "acme", "--from", "2026-03-05", "--to", "2026-03-01"}, "swap them"},
		{"bad date", []string{"active", "--tenant", "acme", "--from", "yesterday"}, "2006-01-02"},
		{"bad format", []string{"active", "--tenant", "acme", "--format", "yaml"}, "table, csv, json, ndjson"},
		{"bad interval", []string{"events", "--tenant", "acme", "--interval", "fortnight"}, "hour, day, week, month"},
		{"bad by", []string{"events", "--tenant", "acme", "--by", "plan"}, "properties.KEY"},
		{"too many hours", []string{"events", "--tenant", "acme", "--interval", "hour", "--from", "2020-01-01", "--to", "2026-01-01"}, "coarser --interval"},
		{"one step", []string{"funnel", "--tenant", "acme", "--steps", "signup"}, "at least two"},
		{"bad window", []string{"funnel", "--tenant", "acme", "--steps", "a,b", "--window", "7 days"}, "7d"},
		{"no start event", []string{"retention", "--tenant", "acme", "--return-event", "x"}, "--start-event"},
		{"month retention", []string{"retention", "--tenant", "acme", "--start-event", "a", "--return-event", "b", "--period", "month"}, "day, week"},
		{"no feature", []string{"adoption", "--tenant", "acme"}, "--feature"},
		{"no where", []string{"errors", "--tenant", "acme", "--event", "api_request"}, "--where"},
		{"bad where", []string{"errors", "--tenant", "acme", "--event", "api_request", "--where", "status>=500"}, "properties.status>=500"},
		{"no event", []string{"latency", "--tenant", "acme"}, "--event"},
		{"typo in subcommand", []string{"actve"}, "unknown command"},
		{"stray argument", []string{"active", "--tenant", "acme", "extra"}, "takes no arguments"},
		{"unknown flag", []string{"active", "--tenant", "acme", "--bogus"}, "--help"},
		{"two statements", []string{"sql", "SELECT 1; SELECT 2"}, "exactly one"},
		{"a write", []string{"sql", "DELETE FROM events"}, "read-only"},
		{"not SQL", []string{"sql", "SELEC 1"}, "does not parse"},
		{"sql with tenant", []string{"sql", "--tenant", "acme", "SELECT 1"}, "WHERE tenant_id"},
		{"sql without statement", []string{"sql"}, "exactly one argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := queryExec(t, false, "", append(tc.args, "--data", data)...)
			if code != ExitUsage {
				t.Fatalf("exit %d, want %d; stderr: %s", code, ExitUsage, errOut)
			}
			if !strings.Contains(errOut, tc.hint) {
				t.Errorf("stderr %q should contain %q", errOut, tc.hint)
			}
			if out != "" {
				t.Errorf("stdout should be empty, got %q", out)
			}
		})
	}
}

func TestQueryWithoutAStoreExits1AndCreatesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.db")
	_, errOut, code := queryExec(t, false, "", "active", "--tenant", "acme", "--data", path)
	if code != ExitRuntime || !strings.Contains(errOut, "no embedded store at "+path) || !strings.Contains(errOut, "pulse ingest") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the query created %s (stat: %v)", path, err)
	}
}

// TestQueryHelperHoldsTheStoreOpen is not a test: the test below runs it
// in a child process to hold a store open for writing, as pulse ingest
// does.
func TestQueryHelperHoldsTheStoreOpen(t *testing.T) {
	path := os.Getenv("PULSE_TEST_HOLD_STORE")
	if path == "" {
		t.Skip("helper process only")
	}
	st, err := store.Open(context.Background(), store.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fmt.Println("holding")
	io.Copy(io.Discard, os.Stdin) // until the parent closes stdin
}

func TestQueryOfAStoreInUseExits1WithAClearMessage(t *testing.T) {
	data := queryStore(t)
	child := exec.Command(os.Args[0], "-test.run=^TestQueryHelperHoldsTheStoreOpen$")
	child.Env = append(os.Environ(), "PULSE_TEST_HOLD_STORE="+data)
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		child.Wait()
	}()
	buf := make([]byte, 7)
	if _, err := io.ReadFull(stdout, buf); err != nil || string(buf) != "holding" {
		t.Fatalf("helper did not start: %q %v", buf, err)
	}
	_, errOut, code := queryExec(t, false, "", "active", "--tenant", "acme", "--data", data)
	if code != ExitRuntime || !strings.Contains(errOut, "open for writing by another process") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestQueryTakesSettingsFromTheEnvironment(t *testing.T) {
	data := queryStore(t)
	t.Setenv("PULSE_DATA", data)
	t.Setenv("PULSE_TENANT", "globex")
	t.Setenv("PULSE_FORMAT", "ndjson")
	out, errOut, code := queryExec(t, true, "", append([]string{"active"}, march...)...)
	if code != 0 || !strings.HasPrefix(out, `{"day":"2026-03-01","dau":1,`) {
		t.Fatalf("exit %d, stderr %s, stdout:\n%s", code, errOut, out)
	}
	// --all-tenants on the command line beats PULSE_TENANT.
	out, errOut, code = queryExec(t, true, "", append([]string{"active", "--all-tenants"}, march...)...)
	if code != 0 || strings.Count(out, "\n") != 4 || !strings.Contains(out, `"tenant_id":"globex"`) {
		t.Fatalf("exit %d, stderr %s, stdout:\n%s", code, errOut, out)
	}
}

func TestQuerySQLRunsOneReadOnlyStatement(t *testing.T) {
	data := queryStore(t)
	out, errOut, code := queryExec(t, false, "", "sql", "--data", data,
		"SELECT tenant_id, count(*) AS events FROM events GROUP BY ALL ORDER BY tenant_id")
	if code != 0 || out != "tenant_id,events\nacme,3\nglobex,1\n" {
		t.Fatalf("exit %d, stderr %s, stdout:\n%s", code, errOut, out)
	}
	// From stdin, and files stay out of reach.
	_, errOut, code = queryExec(t, false, "SELECT * FROM read_csv('/etc/hostname')", "sql", "--data", data, "-")
	if code != ExitRuntime || !strings.Contains(errOut, "disabled") {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
}
