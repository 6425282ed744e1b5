// Package e2e drives the real pulse binary: the gateway as a process,
// stopped by signals and killed with SIGKILL, its store read afterwards.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pulse-analytics/pulse/gen"
	"github.com/pulse-analytics/pulse/ingest"
	"github.com/pulse-analytics/pulse/store"
)

var pulseBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pulse-e2e")
	if err != nil {
		panic(err)
	}
	pulseBin = filepath.Join(dir, "pulse")
	build := exec.Command("go", "build", "-o", pulseBin, "..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build pulse:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// gateway is a running `pulse ingest` process.
type gateway struct {
	cmd    *exec.Cmd
	url    string
	stderr *bytes.Buffer
	exited chan error
}

var readyLine = regexp.MustCompile(`msg="pulse ingest ready" listen=(\S+)`)

func startGateway(t *testing.T, args ...string) *gateway {
	t.Helper()
	cmd := exec.Command(pulseBin, append([]string{"ingest", "--listen", "127.0.0.1:0", "--ip-rate", "0", "--tenant-rate", "0"}, args...)...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g := &gateway{cmd: cmd, stderr: &bytes.Buffer{}, exited: make(chan error, 1)}
	addr := make(chan string, 1)
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			mu.Lock()
			g.stderr.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if m := readyLine.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		g.exited <- cmd.Wait()
	}()
	select {
	case a := <-addr:
		g.url = "http://" + a
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("gateway did not become ready: %s", g.stderr)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-g.exited
		}
	})
	return g
}

// stop sends sig and waits for the exit; it returns the exit error.
func (g *gateway) stop(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	if err := g.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-g.exited:
		return err
	case <-time.After(60 * time.Second):
		t.Fatal("gateway did not exit")
		return nil
	}
}

func generated(t *testing.T, maxEvents int64) []ingest.Event {
	t.Helper()
	var events []ingest.Event
	cfg := gen.Config{Seed: 7, Tenants: 5, Users: 300, MaxEvents: maxEvents,
		Start: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)}
	err := gen.Generate(context.Background(), cfg, func(ev ingest.Event) error {
		events = append(events, ev)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// postBatch sends events as one /v1/batch request and returns the status.
func postBatch(client *http.Client, url string, events []ingest.Event) (int, ingest.Response, error) {
	body, err := json.Marshal(events)
	if err != nil {
		return 0, ingest.Response{}, err
	}
	resp, err := client.Post(url+"/v1/batch", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, ingest.Response{}, err
	}
	defer resp.Body.Close()
	var out ingest.Response
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out, nil
}

// storedEvents reads every stored event, keyed by event_id, with a count of
// copies.
func storedEvents(t *testing.T, path string) (map[string]ingest.Event, map[string]int) {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Path: path, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.DB.Query(`SELECT event_id::VARCHAR, event, user_id, tenant_id, session_id, ts, event_version, properties::VARCHAR, context::VARCHAR FROM events`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	events, copies := map[string]ingest.Event{}, map[string]int{}
	for rows.Next() {
		var ev ingest.Event
		var props, ctx string
		if err := rows.Scan(&ev.EventID, &ev.Event, &ev.UserID, &ev.TenantID, &ev.SessionID, &ev.TS, &ev.EventVersion, &props, &ctx); err != nil {
			t.Fatal(err)
		}
		ev.TS = ev.TS.UTC()
		ev.Properties, ev.Context = json.RawMessage(props), json.RawMessage(ctx)
		events[ev.EventID] = ev
		copies[ev.EventID]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return events, copies
}

func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	json.Unmarshal(a, &x)
	json.Unmarshal(b, &y)
	return fmt.Sprint(x) == fmt.Sprint(y)
}

func TestIngestStoresExactlyWhatWasAccepted(t *testing.T) {
	data := filepath.Join(t.TempDir(), "pulse.db")
	gw := startGateway(t, "--data", data)
	events := generated(t, 5000)

	// Corrupt a few events so that the stored set must differ from the sent one.
	invalid := map[string]bool{}
	for i := 10; i < len(events); i += 500 {
		events[i].TenantID = "bad tenant"
		invalid[events[i].EventID] = true
	}
	accepted := map[string]ingest.Event{}
	for start := 0; start < len(events); start += 250 {
		batch := events[start:min(start+250, len(events))]
		status, resp, err := postBatch(http.DefaultClient, gw.url, batch)
		if err != nil || status != 200 {
			t.Fatalf("batch at %d: %d %v %+v", start, status, err, resp.Error)
		}
		rejected := map[int]bool{}
		for _, r := range resp.Rejected {
			rejected[r.Index] = true
		}
		for i, ev := range batch {
			if !rejected[i] {
				accepted[ev.EventID] = ev
			}
		}
		if resp.Accepted != len(batch)-len(resp.Rejected) {
			t.Fatalf("accepted %d of %d with %d rejected", resp.Accepted, len(batch), len(resp.Rejected))
		}
	}
	if len(accepted) != len(events)-len(invalid) {
		t.Fatalf("accepted %d, want %d", len(accepted), len(events)-len(invalid))
	}
	if err := gw.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM exit: %v\n%s", err, gw.stderr)
	}

	stored, copies := storedEvents(t, data)
	if len(stored) != len(accepted) {
		t.Fatalf("stored %d events, accepted %d", len(stored), len(accepted))
	}
	for id, want := range accepted {
		got, ok := stored[id]
		if !ok {
			t.Fatalf("accepted event %s not stored", id)
		}
		if copies[id] != 1 {
			t.Fatalf("event %s stored %d times", id, copies[id])
		}
		if got.Event != want.Event || got.UserID != want.UserID || got.TenantID != want.TenantID || got.SessionID != want.SessionID ||
			!got.TS.Equal(want.TS) || got.EventVersion != want.EventVersion || !sameJSON(got.Properties, want.Properties) || !sameJSON(got.Context, want.Context) {
			t.Fatalf("stored event differs:\n got  %+v\n want %+v", got, want)
		}
	}
}

func TestSIGTERMFinishesInFlightRequests(t *testing.T) {
	data := filepath.Join(t.TempDir(), "pulse.db")
	// A long flush interval keeps requests in flight when SIGTERM arrives.
	gw := startGateway(t, "--data", data, "--flush-interval", "300ms")
	events := generated(t, 400)
	var wg sync.WaitGroup
	results := make([]int, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, _, err := postBatch(http.DefaultClient, gw.url, events[i*100:(i+1)*100])
			if err != nil {
				t.Error(err)
			}
			results[i] = status
		}()
	}
	time.Sleep(100 * time.Millisecond)
	if err := gw.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, gw.stderr)
	}
	wg.Wait()
	acked := 0
	for _, status := range results {
		if status == 200 {
			acked += 100
		}
	}
	if acked == 0 {
		t.Fatalf("no in-flight request was completed: %v", results)
	}
	_, copies := storedEvents(t, data)
	if len(copies) != acked {
		t.Fatalf("stored %d events, acknowledged %d", len(copies), acked)
	}
}

// TestKill9LosesNoAcknowledgedEvent kills the gateway with SIGKILL while
// clients are posting, restarts it, lets the clients retry whatever was not
// acknowledged, and checks that every acknowledged event is stored exactly
// once.
func TestKill9LosesNoAcknowledgedEvent(t *testing.T) {
	data := filepath.Join(t.TempDir(), "pulse.db")
	events := generated(t, 40_000)
	const batchSize, clients = 100, 4
	var batches [][]ingest.Event
	for start := 0; start < len(events); start += batchSize {
		batches = append(batches, events[start:min(start+batchSize, len(events))])
	}

	var mu sync.Mutex
	gwURL := ""
	acked := map[string]bool{}
	next := 0
	killed := make(chan struct{})
	client := &http.Client{Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	worker := func() {
		defer wg.Done()
		for {
			mu.Lock()
			if next >= len(batches) {
				mu.Unlock()
				return
			}
			batch := batches[next]
			next++
			mu.Unlock()
			// Retry until acknowledged: across the crash, with the same ids.
			for {
				mu.Lock()
				url := gwURL
				mu.Unlock()
				status, _, err := postBatch(client, url, batch)
				if err == nil && status == 200 {
					mu.Lock()
					for _, ev := range batch {
						acked[ev.EventID] = true
					}
					mu.Unlock()
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}

	gw := startGateway(t, "--data", data)
	gwURL = gw.url
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go worker()
	}
	// Kill once a good part of the load is acknowledged.
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= len(events)/4 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	ackedBeforeKill := map[string]bool{}
	for id := range acked {
		ackedBeforeKill[id] = true
	}
	mu.Unlock()
	if err := gw.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-gw.exited
	close(killed)

	restarted := startGateway(t, "--data", data)
	mu.Lock()
	gwURL = restarted.url
	mu.Unlock()
	wg.Wait()
	if err := restarted.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("restarted gateway exit: %v\n%s", err, restarted.stderr)
	}

	_, copies := storedEvents(t, data)
	for id := range ackedBeforeKill {
		if copies[id] != 1 {
			t.Fatalf("event %s acknowledged before the kill is stored %d times", id, copies[id])
		}
	}
	for id := range acked {
		if copies[id] != 1 {
			t.Fatalf("acknowledged event %s stored %d times", id, copies[id])
		}
	}
	if len(copies) != len(events) {
		t.Fatalf("stored %d distinct events, sent %d (all eventually acknowledged)", len(copies), len(events))
	}
	if !strings.Contains(restarted.stderr.String(), "pulse ingest ready") {
		t.Fatal("restart did not log readiness")
	}
}

// pulseProcess is any running pulse command (startGateway predates it).
type pulseProcess struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
	exited chan error
}

// startPulse runs `pulse args...`, waits for a stderr line matching ready
// and returns the process and the line's submatches. The process is
// killed when the test ends, if it still runs.
func startPulse(t *testing.T, ready *regexp.Regexp, args ...string) (*pulseProcess, []string) {
	t.Helper()
	cmd := exec.Command(pulseBin, args...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &pulseProcess{cmd: cmd, exited: make(chan error, 1)}
	matched := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := ready.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case matched <- m:
				default:
				}
			}
		}
		p.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.exited
		}
	})
	select {
	case m := <-matched:
		return p, m
	case err := <-p.exited:
		p.exited <- err
		t.Fatalf("pulse %s exited before it was ready (%v):\n%s", strings.Join(args, " "), err, p.log())
	case <-time.After(60 * time.Second):
		t.Fatalf("pulse %s not ready within 60s:\n%s", strings.Join(args, " "), p.log())
	}
	return nil, nil
}

// log is what the process wrote to stderr so far.
func (p *pulseProcess) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// wait waits up to timeout for the process to exit and returns its exit
// error.
func (p *pulseProcess) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-p.exited:
		return err
	case <-time.After(timeout):
		t.Fatalf("pulse did not exit within %s:\n%s", timeout, p.log())
		return nil
	}
}

// signal sends sig and waits for the exit.
func (p *pulseProcess) signal(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	return p.wait(t, 60*time.Second)
}
