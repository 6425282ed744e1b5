package backfill

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pulse-analytics/pulse/chstore"
	"github.com/pulse-analytics/pulse/store"
)

var (
	pulseOnce sync.Once
	pulseBin  string
	pulseErr  error
	pulseDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pulseDir != "" {
		os.RemoveAll(pulseDir)
	}
	os.Exit(code)
}

// pulse builds the pulse binary once per test run.
func pulse(t *testing.T) string {
	t.Helper()
	pulseOnce.Do(func() {
		pulseDir, pulseErr = os.MkdirTemp("", "pulse-backfill-test")
		if pulseErr != nil {
			return
		}
		pulseBin = filepath.Join(pulseDir, "pulse")
		out, err := exec.Command("go", "build", "-o", pulseBin, "..").CombinedOutput()
		if err != nil {
			pulseErr = fmt.Errorf("build pulse: %v\n%s", err, out)
		}
	})
	if pulseErr != nil {
		t.Fatal(pulseErr)
	}
	return pulseBin
}

var relistedLine = regexp.MustCompile(`rejected\s+([\d,]+) \(listed in [^\n]*, with the ([\d,]+) of the interrupted run before\)`)

func parseCount(b []byte) int64 {
	n, _ := strconv.ParseInt(strings.ReplaceAll(string(b), ",", ""), 10, 64)
	return n
}

var resumedLine = regexp.MustCompile(`skipped as duplicates\s+(?:[\d,]+ already in the target, )?([\d,]+) already loaded by an earlier run`)

// TestKilledRunResumesWithoutDuplicatesOrGaps kills the real binary in
// the middle of a load and runs it again, through both lanes (NDJSON row
// by row; CSV and Parquet, with and without event_id, in bulk): the store
// must end up with exactly the file's valid rows, once each, the last run
// must start from the checkpoint rather than from the first row, and its
// rejects file must list every invalid row once, the killed run's
// included.
func TestKilledRunResumesWithoutDuplicatesOrGaps(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := pulse(t)
	dir := t.TempDir()
	const rows int64 = 150_000
	src := filepath.Join(dir, "events.ndjson")
	out, err := exec.Command(bin, "gen", "--seed", "5", "--users", "20000", "--days", "30", "--end", "2026-10-01",
		"--max-events", strconv.FormatInt(rows, 10), "--out", src).CombinedOutput()
	if err != nil {
		t.Fatalf("gen: %v\n%s", err, out)
	}
	// Every third row loses its event_id, so that content-derived ids must
	// also come out the same after the restart; every 997th has no event
	// name, so that it is rejected.
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	idField := regexp.MustCompile(`"event_id":"[^"]*",`)
	eventField := regexp.MustCompile(`"event":"[^"]*"`)
	invalid := map[int64]bool{}
	for i := range lines {
		if i%3 == 0 {
			lines[i] = idField.ReplaceAll(lines[i], nil)
		}
		if (i+1)%997 == 0 {
			lines[i] = eventField.ReplaceAll(lines[i], []byte(`"event":""`))
			invalid[int64(i+1)] = true
		}
	}
	if err := os.WriteFile(src, append(bytes.Join(lines, []byte("\n")), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	csvPath, parquetPath := filepath.Join(dir, "events.csv"), filepath.Join(dir, "events.parquet")
	// And as Parquet without the event_id column: every id derived, in
	// bulk by DuckDB.
	noIDPath := filepath.Join(dir, "no-id.parquet")
	columns := `columns = {event_id: 'VARCHAR', event: 'VARCHAR', user_id: 'VARCHAR', tenant_id: 'VARCHAR', session_id: 'VARCHAR', ts: 'VARCHAR', event_version: 'INTEGER', properties: 'JSON', context: 'JSON'}`
	duckdbExec(t,
		`COPY (SELECT * FROM read_ndjson('`+src+`', `+columns+`)) TO '`+csvPath+`' (FORMAT csv, HEADER)`,
		`COPY (SELECT * FROM read_ndjson('`+src+`', `+columns+`)) TO '`+parquetPath+`' (FORMAT parquet, ROW_GROUP_SIZE 50000)`,
		`COPY (SELECT * EXCLUDE (event_id) FROM read_ndjson('`+src+`', `+columns+`)) TO '`+noIDPath+`' (FORMAT parquet, ROW_GROUP_SIZE 50000)`)
	valid := rows - int64(len(invalid))

	for _, file := range []string{src, csvPath, parquetPath, noIDPath} {
		name := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file)) + "_" + filepath.Ext(file)[1:]
		t.Run(name, func(t *testing.T) {
			db := newStore(t)
			killAndResume(t, bin, file, []string{"--data", db}, rows, valid, invalid, func() (int64, int64) {
				st, err := store.Open(context.Background(), store.Options{Path: db, ReadOnly: true})
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()
				var total, distinct int64
				if err := st.DB.QueryRow(`SELECT count(*), count(DISTINCT (tenant_id, event_id, ts)) FROM events`).Scan(&total, &distinct); err != nil {
					t.Fatal(err)
				}
				if slices, _ := filepath.Glob(filepath.Join(filepath.Dir(db), slicePattern)); len(slices) != 0 {
					t.Errorf("CSV slices left after a successful run: %v", slices)
				}
				return total, distinct
			})
		})
		// ClickHouse: the events table drops copies when it merges, so
		// FINAL reads what it holds once merged.
		t.Run("clickhouse_"+name, func(t *testing.T) {
			dsn, conn, p := clickhouseDatabase(t)
			if _, err := chstore.Apply(context.Background(), conn, p); err != nil {
				t.Fatal(err)
			}
			killAndResume(t, bin, file, []string{"--clickhouse", dsn, "--database", p.Database}, rows, valid, invalid, func() (int64, int64) {
				var total, distinct uint64
				if err := conn.QueryRow(context.Background(), "SELECT count(), uniqExact(tenant_id, event_id, ts) FROM "+p.Database+".events FINAL").Scan(&total, &distinct); err != nil {
					t.Fatal(err)
				}
				return int64(total), int64(distinct)
			})
		})
	}
}

// killAndResume loads src into the target that targetArgs name, stopping
// it twice on the way; stored returns how many events the target holds,
// and how many distinct ones.
func killAndResume(t *testing.T, bin, src string, targetArgs []string, rows, valid int64, invalid map[int64]bool, stored func() (int64, int64)) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	rejects := filepath.Join(dir, "rejects.ndjson")
	args := append([]string{"backfill", src, "--state", state, "--batch", "10000", "--rejects", rejects}, targetArgs...)
	// Spool directories (ClickHouse's bulk lane) go here: a killed run's
	// must be gone after the last run.
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp)

	// First Ctrl-C (SIGINT): the run finishes the batch in hand, says
	// where it stopped and exits 1; then SIGKILL, which gives no warning.
	interrupted := stopMidway(t, bin, args, state, 20_000, syscall.SIGINT, rows)
	if !strings.Contains(interrupted, "interrupted after row") || !strings.Contains(interrupted, "run the same command again to resume") {
		t.Fatalf("Ctrl-C output lacks where it stopped:\n%s", interrupted)
	}
	atInterrupt, _ := readCheckpoint(t, state)
	stopMidway(t, bin, args, state, atInterrupt.Rows+20_000, syscall.SIGKILL, rows)
	killedAt, _ := readCheckpoint(t, state)

	second, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, second)
	}
	m := resumedLine.FindSubmatch(second)
	if m == nil {
		t.Fatalf("no summary in:\n%s", second)
	}
	resumed := parseCount(m[1])
	t.Logf("interrupted with %d rows durable, killed with %d; the last run passed over %d", atInterrupt.Rows, killedAt.Rows, resumed)
	if resumed < killedAt.Rows {
		t.Fatalf("second run passed over %d rows; the checkpoint at the kill said %d were durable:\n%s", resumed, killedAt.Rows, second)
	}

	// The summary counts this run's rejects and the earlier ones it lists
	// again: together, every invalid row.
	if m := relistedLine.FindSubmatch(second); m == nil {
		t.Errorf("summary does not tell the rejects listed again:\n%s", second)
	} else if now, before := parseCount(m[1]), parseCount(m[2]); now+before != int64(len(invalid)) || before == 0 {
		t.Errorf("summary: %d rejected now, %d listed again; want %d together, some of them again", now, before, len(invalid))
	}

	if total, distinct := stored(); total != valid || distinct != valid {
		t.Fatalf("target holds %d events (%d distinct); want exactly the file's %d valid rows once each", total, distinct, valid)
	}

	listed := map[int64]int{}
	for _, line := range rejectLines(t, rejects) {
		var rej Reject
		if err := json.Unmarshal([]byte(line), &rej); err != nil {
			t.Fatalf("rejects line %q: %v", line, err)
		}
		listed[rej.Row]++
	}
	for row := range invalid {
		if listed[row] != 1 {
			t.Errorf("invalid row %d is listed %d times in the rejects file", row, listed[row])
		}
	}
	if len(listed) != len(invalid) {
		t.Errorf("rejects file lists %d rows; the file has %d invalid ones", len(listed), len(invalid))
	}
	if journals, _ := filepath.Glob(filepath.Join(state, "*.rejects.ndjson")); len(journals) != 0 {
		t.Errorf("rejects journals left after a successful run: %v", journals)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary files left after a successful run: %v", left)
	}
}

// stopMidway runs backfill until its checkpoint passes atLeast rows, sends
// it sig and returns its output once it has exited.
func stopMidway(t *testing.T, bin string, args []string, state string, atLeast int64, sig syscall.Signal, rows int64) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(60 * time.Second)
	for {
		if cp, ok := readCheckpoint(t, state); ok && cp.Rows >= atLeast {
			if cp.Complete || cp.Rows >= rows {
				t.Fatalf("the load finished before it could be stopped: %+v", cp)
			}
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("backfill exited before it was stopped (%v):\n%s", err, out.String())
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("no checkpoint past row %d after 60s:\n%s", atLeast, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if code := cmd.ProcessState.ExitCode(); sig == syscall.SIGINT && code != 1 {
			t.Fatalf("after Ctrl-C: exit %d (%v); want 1:\n%s", code, err, out.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("backfill did not exit after %v", sig)
	}
	return out.String()
}

// readCheckpoint reads the only checkpoint in dir.
func readCheckpoint(t *testing.T, dir string) (Checkpoint, bool) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) != 1 {
		return Checkpoint{}, false
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		return Checkpoint{}, false
	}
	var cp Checkpoint
	if err := json.Unmarshal(data, &cp); err != nil {
		t.Fatalf("checkpoint %s is not whole: %v", files[0], err)
	}
	return cp, true
}
