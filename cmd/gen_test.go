package cmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulse-analytics/pulse/ingest"
)

// genExec runs `pulse gen args...` and returns stdout, stderr and the exit
// code.
func genExec(t *testing.T, ctx context.Context, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Execute(ctx, append([]string{"gen"}, args...), Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	return out.String(), errOut.String(), code
}

// A small, fixed data set: tests must not depend on today's date.
var genSmall = []string{"--users", "300", "--tenants", "5", "--start", "2026-09-01", "--end", "2026-09-15"}

func genArgs(extra ...string) []string { return append(append([]string{}, genSmall...), extra...) }

func TestGenWritesDeterministicValidNDJSONToStdout(t *testing.T) {
	first, stderr, code := genExec(t, t.Context(), genArgs("--max-events", "500")...)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	second, _, _ := genExec(t, t.Context(), genArgs("--max-events", "500")...)
	if first != second {
		t.Fatal("two runs with the same flags wrote different output")
	}
	other, _, _ := genExec(t, t.Context(), genArgs("--max-events", "500", "--seed", "2")...)
	if other == first {
		t.Fatal("--seed 2 wrote the same output as seed 1")
	}
	contract := ingest.NewContract()
	contract.Now = func() time.Time { return time.Date(2026, 9, 16, 0, 0, 0, 0, time.UTC) }
	lines := strings.Split(strings.TrimSuffix(first, "\n"), "\n")
	if len(lines) != 500 {
		t.Fatalf("%d lines, want 500 (--max-events)", len(lines))
	}
	for _, line := range lines {
		ev, fe := contract.Decode([]byte(line))
		if fe != nil {
			t.Fatalf("line rejected by the contract: %v\n%s", fe, line)
		}
		if ev.TS.Before(time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)) || !ev.TS.Before(time.Date(2026, 9, 15, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("ts %s outside --start/--end", ev.TS)
		}
	}
}

func TestGenWritesCSV(t *testing.T) {
	out, stderr, code := genExec(t, t.Context(), genArgs("--format", "csv", "--max-events", "10")...)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if lines[0] != "event_id,event,user_id,tenant_id,session_id,ts,event_version,properties,context" || len(lines) != 11 {
		t.Errorf("CSV has header %q and %d lines, want the documented header and 10 rows", lines[0], len(lines)-1)
	}
}

func TestGenOutWritesTheFileAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.ndjson")
	stdout, stderr, code := genExec(t, t.Context(), genArgs("--out", path)...)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want, _, _ := genExec(t, t.Context(), genSmall...)
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Fatalf("file differs from stdout output (%v)", err)
	}
	if !strings.Contains(stdout, "wrote ") || !strings.Contains(stdout, path) {
		t.Errorf("stdout %q does not report the file written", stdout)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %v, want only the output file", entries)
	}

	// Interrupted: the previous file stays as it was and no temp file is
	// left behind.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, stderr, code = genExec(t, ctx, genArgs("--out", path, "--seed", "9")...)
	if code != ExitRuntime || !strings.Contains(stderr, "was not written") {
		t.Errorf("interrupted run: exit %d, stderr %q", code, stderr)
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(again, got) {
		t.Error("an interrupted run changed the existing file")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %v after an interrupted run", entries)
	}

	_, _, code = genExec(t, t.Context(), genArgs("--out", filepath.Join(dir, "missing", "x.ndjson"))...)
	if code != ExitRuntime {
		t.Errorf("writing into a missing directory exited %d, want 1", code)
	}
}

func TestGenUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--rate", "10"}, "only applies with --target"},
		{[]string{"--live"}, "only applies with --target"},
		{[]string{"--target", "http://127.0.0.1:1", "--out", "x"}, "use one or the other"},
		{[]string{"--format", "xml"}, "use ndjson or csv"},
		{[]string{"--start", "2026-01-01", "--end", "2026-02-01", "--days", "3"}, "over-determine"},
		{[]string{"--start", "yesterday"}, "invalid --start"},
		{[]string{"--start", "2026-02-01", "--end", "2026-01-01"}, "must be before"},
		{[]string{"--tenants", "0"}, "tenants must be at least 1"},
		{[]string{"--users", "3", "--tenants", "5"}, "must not exceed users"},
		{[]string{"--days", "0"}, "--days must be at least 1"},
		{[]string{"--target", "127.0.0.1:8080"}, "must be an http(s) URL"},
		{[]string{"--target", "http://127.0.0.1:1", "--batch", "0"}, "--batch must be at least 1"},
		{[]string{"--target", "http://127.0.0.1:1", "--concurrency", "0"}, "--concurrency must be at least 1"},
		{[]string{"stray"}, "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, stderr, code := genExec(t, t.Context(), tt.args...)
			if code != ExitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 and %q", code, stderr, tt.want)
			}
		})
	}
}

func TestGenRangeDefaultsToDaysEndingTodayUTC(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC) }
	tests := []struct {
		start, end string
		days       int
		daysSet    bool
		want       [2]string
	}{
		{"", "", 60, false, [2]string{"2026-09-26", "2026-11-25"}},
		{"", "2026-10-01", 10, true, [2]string{"2026-09-21", "2026-10-01"}},
		{"2026-10-01", "", 5, true, [2]string{"2026-10-01", "2026-10-06"}},
		{"2026-10-01", "", 60, false, [2]string{"2026-10-01", "2026-11-25"}},
		{"2026-10-01", "2026-10-03", 60, false, [2]string{"2026-10-01", "2026-10-03"}},
	}
	for _, tt := range tests {
		opts := &genOptions{Now: now, Start: tt.start, End: tt.end, Days: tt.days}
		start, end, err := genRange(opts, tt.daysSet)
		if err != nil {
			t.Fatalf("genRange(%+v): %v", tt, err)
		}
		if got := [2]string{start.Format(time.DateOnly), end.Format(time.DateOnly)}; got != tt.want {
			t.Errorf("start %q end %q days %d: range %v, want %v", tt.start, tt.end, tt.days, got, tt.want)
		}
	}
}

// genGateway answers like the gateway: 503 with Retry-After to the first
// request, then accepts everything, remembering event ids.
type genGateway struct {
	mu       sync.Mutex
	requests int
	ids      map[string]int
}

func (g *genGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.requests++
	w.Header().Set("Content-Type", "application/json")
	if g.requests == 1 {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(ingest.Response{Rejected: []ingest.Rejection{}, Error: &ingest.APIError{Code: "backpressure"}})
		return
	}
	for _, raw := range raws {
		var ev struct {
			EventID string `json:"event_id"`
		}
		json.Unmarshal(raw, &ev)
		g.ids[ev.EventID]++
	}
	json.NewEncoder(w).Encode(ingest.Response{Accepted: len(raws), Rejected: []ingest.Rejection{}})
}

func TestGenTargetPostsAndPrintsASummary(t *testing.T) {
	gw := &genGateway{ids: map[string]int{}}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	out, stderr, code := genExec(t, t.Context(), genArgs("--target", srv.URL, "--max-events", "400", "--batch", "100", "--concurrency", "2")...)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"events sent  400", "accepted     400", "rejected     0", "failed       0", "requests     5 (1 retries)", "events/s", "p50", "p99"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if len(gw.ids) != 400 {
		t.Errorf("gateway stored %d distinct events, want 400", len(gw.ids))
	}
}

func TestGenTargetPrintsTheSummaryWhenInterrupted(t *testing.T) {
	gw := &genGateway{ids: map[string]int{}, requests: 1} // no 503
	srv := httptest.NewServer(gw)
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(300*time.Millisecond, cancel)
	out, stderr, code := genExec(t, ctx, genArgs("--target", srv.URL, "--rate", "1000", "--batch", "50")...)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	fields := map[string]string{}
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "  "); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	if fields["events sent"] == "" || fields["events sent"] == "0" || fields["events sent"] != fields["accepted"] {
		t.Errorf("summary after Ctrl-C:\n%s", out)
	}
}

func TestGenTargetFailsWhenTheGatewayIsDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	out, stderr, code := genExec(t, t.Context(), genArgs("--target", url, "--max-events", "10")...)
	if code != ExitRuntime || !strings.Contains(stderr, "cannot reach the gateway") || !strings.Contains(out, "failed") {
		t.Errorf("exit %d, stderr %q, stdout %q: want exit 1 with a summary and the reason", code, stderr, out)
	}
}

func TestGenCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1500: "-1,500"} {
		if got := genCount(n); got != want {
			t.Errorf("genCount(%d) = %q, want %q", n, got, want)
		}
	}
}
