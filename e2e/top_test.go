package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pulse-analytics/pulse/ingest"
)

// tmux drives a terminal program on a private tmux server, as a person at
// an 80x24 terminal would.
type tmux struct {
	t      *testing.T
	socket string
}

func newTmux(t *testing.T) *tmux {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("PULSE_TEST_TMUX") == "required" {
			t.Fatal("tmux is not installed (apt-get install tmux); scripts/test.sh installs it")
		}
		t.Skip("tmux is not installed (apt-get install tmux)")
	}
	tm := &tmux{t: t, socket: "pulse-e2e-" + uuid.NewString()[:8]}
	t.Cleanup(func() { exec.Command("tmux", "-L", tm.socket, "kill-server").Run() })
	return tm
}

func (tm *tmux) run(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", tm.socket, "-f", "/dev/null"}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (tm *tmux) screen() string { return tm.run("capture-pane", "-p", "-t", "top") }

// waitFor polls the screen until ok accepts it.
func (tm *tmux) waitFor(what string, timeout time.Duration, ok func(screen string) bool) string {
	tm.t.Helper()
	deadline := time.Now().Add(timeout)
	var screen string
	for time.Now().Before(deadline) {
		if screen = tm.screen(); ok(screen) {
			return screen
		}
		time.Sleep(200 * time.Millisecond)
	}
	tm.t.Fatalf("screen never showed %s within %s; last screen:\n%s", what, timeout, screen)
	return ""
}

// postLive posts fresh events (ts now) to the gateway until the test ends.
func postLive(t *testing.T, url string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		client := &http.Client{Timeout: 5 * time.Second}
		for i := 0; ctx.Err() == nil; i++ {
			events := make([]ingest.Event, 20)
			for j := range events {
				events[j] = ingest.Event{EventID: uuid.NewString(), Event: "page_viewed", UserID: fmt.Sprintf("u%d", (i*20+j)%97),
					TenantID: []string{"acme", "globex"}[j%2], SessionID: "s1", TS: time.Now().UTC(), EventVersion: 1}
			}
			postBatch(client, url, events)
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
}

var liveRate = regexp.MustCompile(`events/s\s+([0-9][0-9,]*(?:\.[0-9])?)\s`)

// TestTopShowsLiveNumbersInATerminal runs `pulse top` in tmux at 80x24
// against a gateway taking events, reads the screen, pauses and quits.
func TestTopShowsLiveNumbersInATerminal(t *testing.T) {
	tm := newTmux(t)
	dir := t.TempDir()
	g := startGateway(t, "--data", filepath.Join(dir, "pulse.db"))
	postLive(t, g.url)

	command := fmt.Sprintf("%s top --gateway %s --refresh 500ms --log-file %s; echo \"pulse top exited $?\"; sleep 600",
		pulseBin, g.url, filepath.Join(dir, "top.log"))
	tm.run("new-session", "-d", "-s", "top", "-x", "80", "-y", "24", command)

	screen := tm.waitFor("a live events/s and 2xx share", 30*time.Second, func(s string) bool {
		m := liveRate.FindStringSubmatch(s)
		if m == nil || !strings.Contains(s, "2xx 100.0%") {
			return false
		}
		rate, err := strconv.ParseFloat(strings.ReplaceAll(m[1], ",", ""), 64)
		return err == nil && rate > 0
	})
	for _, want := range []string{"pulse top", "● live", "── Gateway · " + g.url, "accepted ", "── Store", "── Kafka · not configured", "q quit"} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}
	if lines := strings.Split(strings.TrimRight(screen, "\n"), "\n"); len(lines) > 24 {
		t.Errorf("screen has %d lines, want at most 24", len(lines))
	}
	t.Logf("screen:\n%s", screen)

	tm.run("send-keys", "-t", "top", "p")
	tm.waitFor("the paused state", 10*time.Second, func(s string) bool { return strings.Contains(s, "paused") })
	tm.run("send-keys", "-t", "top", "q")
	tm.waitFor("a clean exit", 10*time.Second, func(s string) bool { return strings.Contains(s, "pulse top exited 0") })

	if log, err := os.ReadFile(filepath.Join(dir, "top.log")); err != nil || !strings.Contains(string(log), "pulse top started") {
		t.Errorf("log file: %v\n%s", err, log)
	}
}
