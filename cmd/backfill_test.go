package cmd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulse-analytics/pulse/backfill"
	"github.com/pulse-analytics/pulse/store"
)

// backfillExec runs `pulse backfill args...` with stdin and returns
// stdout, stderr and the exit code.
func backfillExec(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Execute(context.Background(), append([]string{"backfill"}, args...), Streams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut})
	return out.String(), errOut.String(), code
}

// backfillStore returns a fresh embedded store, schema applied.
func backfillStore(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pulse.db")
	st, err := store.Open(context.Background(), store.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

const backfillCSV = "event,user_id,tenant_id,session_id,ts\n" +
	"signup,u1,acme,s1,2026-09-01T10:00:00Z\n" +
	"login,,acme,s1,2026-09-01T10:01:00Z\n" +
	"login,u1,acme,s1,2026-09-01T10:02:00Z\n"

func TestBackfillLoadsAndPrintsASummary(t *testing.T) {
	db := backfillStore(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "events.csv")
	os.WriteFile(src, []byte(backfillCSV), 0o644)
	rejects := filepath.Join(dir, "rejects.csv")
	out, stderr, code := backfillExec(t, "", src, "--data", db, "--rejects", rejects)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"rows read              3", "loaded                 2", "rejected               1 (listed in " + rejects + ")", "0 already in the target, 0 already loaded by an earlier run", "rows/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	data, err := os.ReadFile(rejects)
	if err != nil || !strings.Contains(string(data), src+",2,3,user_id,is required") {
		t.Fatalf("rejects CSV %q (%v); want row 2 (line 3), user_id, is required", data, err)
	}

	out, _, code = backfillExec(t, "", src, "--data", db, "--rejects", rejects)
	if code != ExitOK || !strings.Contains(out, "loaded                 0") || !strings.Contains(out, "3 already loaded by an earlier run") {
		t.Fatalf("second run: exit %d:\n%s", code, out)
	}
}

func TestBackfillReadsStandardInput(t *testing.T) {
	db := backfillStore(t)
	out, stderr, code := backfillExec(t, backfillCSV, "-", "--data", db, "--rejects", filepath.Join(t.TempDir(), "r.ndjson"))
	if code != ExitOK || !strings.Contains(out, "loaded                 2") {
		t.Fatalf("exit %d: %s\n%s", code, out, stderr)
	}
}

func TestBackfillExitCodes(t *testing.T) {
	db := backfillStore(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "events.csv")
	os.WriteFile(src, []byte(backfillCSV), 0o644)
	rejects := filepath.Join(dir, "rejects.ndjson")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no input", []string{"--data", db}, ExitUsage, "at least one FILE"},
		{"unknown format", []string{src, "--format", "xml"}, ExitUsage, "valid: csv, ndjson, parquet"},
		{"bad map", []string{src, "--map", "when=ts"}, ExitUsage, "not an event field"},
		{"map to a missing column", []string{src, "--data", db, "--map", "ts=timestamp"}, ExitUsage, `no column "timestamp"`},
		{"bad max-rejects", []string{src, "--max-rejects", "lots"}, ExitUsage, "--max-rejects"},
		{"tiny max-event-bytes", []string{src, "--max-event-bytes", "100"}, ExitUsage, "--max-event-bytes must be at least 256"},
		{"two targets", []string{src, "--clickhouse", "http://x:8123", "--brokers", "x:9092"}, ExitUsage, "either --clickhouse or --brokers"},
		{"missing file", []string{filepath.Join(dir, "nope.csv")}, ExitUsage, "no such file"},
		{"bad ts zone", []string{src, "--ts-zone", "Mars/Olympus"}, ExitUsage, "invalid --ts-zone"},
		{"bad ts unit", []string{src, "--ts-unit", "hours"}, ExitUsage, "invalid --ts-unit"},
		{"bad delimiter", []string{src, "--delimiter", ";;"}, ExitUsage, "invalid --delimiter"},
		{"other delimiter", []string{src, "--data", db, "--no-resume", "--delimiter", ";"}, ExitUsage, `separated by ",", give --delimiter ','`},
		{"no store", []string{src, "--data", filepath.Join(dir, "none.db")}, ExitRuntime, "pulse schema apply --data"},
		{"too many rejects", []string{src, "--data", db, "--no-resume", "--rejects", rejects, "--max-rejects", "0"}, ExitRuntime, "too many rejected rows"},
		{"too many rejects in percent", []string{src, "--data", db, "--no-resume", "--rejects", rejects, "--max-rejects", "30%"}, ExitRuntime, "33.33% of 3 rows rejected"},
		{"rejects within the limit", []string{src, "--data", db, "--no-resume", "--rejects", rejects, "--max-rejects", "34%"}, ExitOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := backfillExec(t, "", tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, stderr, tt.code, tt.want)
			}
			if strings.Count(stderr, src+":") > 1 {
				t.Errorf("stderr names the file more than once: %q", stderr)
			}
		})
	}
}

func TestBackfillProgressLine(t *testing.T) {
	p := backfill.Progress{FileIndex: 2, Files: 3, Rows: 1_500_000, Rejected: 12, Elapsed: 5 * time.Second, Fraction: 0.5}
	got := backfillProgressLine(p, 10)
	want := "[#####.....]  50%  1,500,000 rows  300,000 rows/s  12 rejected  ETA 5s  file 2/3"
	if got != want {
		t.Fatalf("progress line\n got %q\nwant %q", got, want)
	}
	p.Fraction = -1
	if got := backfillProgressLine(p, 10); strings.Contains(got, "ETA") || strings.Contains(got, "[") {
		t.Fatalf("unknown size: %q; want no bar and no ETA", got)
	}
}
