package cmd

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pulse-analytics/pulse/ingest"
	"github.com/pulse-analytics/pulse/ops"
	"github.com/pulse-analytics/pulse/store"
)

func statusExec(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut strings.Builder
	code := Execute(context.Background(), append([]string{"status"}, args...), Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	return out.String(), errOut.String(), code
}

// statusGateway is a stand-in gateway: the real metrics, moving while it
// runs (code answers every request), and, with stats, GET /v1/stats.
func statusGateway(t *testing.T, code string, stats *ops.StoreStats) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := ingest.NewMetrics(reg)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if stats != nil {
		mux.HandleFunc("GET "+ops.StatsPath, func(w http.ResponseWriter, _ *http.Request) {
			json.NewEncoder(w).Encode(stats)
		})
	}
	srv := httptest.NewServer(mux)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); srv.Close() })
	go func() {
		for ctx.Err() == nil {
			if code == "202" {
				m.EventsAccepted.Add(10)
			}
			m.Requests.WithLabelValues("/v1/batch", code).Inc()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return srv.URL
}

type figureRow struct {
	Source string   `json:"source"`
	Figure string   `json:"figure"`
	Scope  string   `json:"scope"`
	Value  *float64 `json:"value"`
	Unit   string   `json:"unit"`
	Limit  *float64 `json:"limit"`
	Status string   `json:"status"`
	Detail string   `json:"detail"`
}

func parseFigures(t *testing.T, out string) map[string]figureRow {
	t.Helper()
	var rows []figureRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("output is not a JSON array: %v\n%s", err, out)
	}
	byKey := map[string]figureRow{}
	for _, r := range rows {
		byKey[r.Source+"/"+r.Figure+"/"+r.Scope] = r
	}
	return byKey
}

func TestStatusPrintsEveryFigureAndPassesWithinLimits(t *testing.T) {
	now := time.Now().UTC()
	newest := now.Add(-10 * time.Second)
	url := statusGateway(t, "202", &ops.StoreStats{At: now, NewestTS: &newest, Events: 50,
		Tenants: []ops.TenantDAU{{Tenant: "acme", Today: 7, YesterdaySameTime: 5}, {Tenant: "globex", Today: 1}}})
	out, errOut, code := statusExec(t, "--gateway", url, "--refresh", "200ms", "--format", "json",
		"--max-error-rate", "0.01", "--max-freshness", "1m")
	if code != ExitOK {
		t.Fatalf("exit %d, want 0; stderr: %s\n%s", code, errOut, out)
	}
	rows := parseFigures(t, out)
	if r := rows["gateway/events_per_second/"]; r.Value == nil || *r.Value <= 0 {
		t.Errorf("events/s = %+v, want a live rate", r)
	}
	if r := rows["gateway/error_rate/"]; r.Status != "ok" || r.Limit == nil || *r.Limit != 0.01 {
		t.Errorf("error rate = %+v, want ok against 0.01", r)
	}
	if r := rows["store/freshness/"]; r.Status != "ok" || r.Value == nil || *r.Value != 10 {
		t.Errorf("freshness = %+v, want 10 s, ok", r)
	}
	if r := rows["store/dau_today/acme"]; r.Value == nil || *r.Value != 7 {
		t.Errorf("acme's DAU = %+v, want 7", r)
	}
	if r := rows["gateway/p95_ack/"]; r.Value != nil {
		t.Errorf("p95 with no observed durations = %v, want null", *r.Value)
	}
}

func TestStatusExitCodes(t *testing.T) {
	ok := statusGateway(t, "202", nil)
	failing := statusGateway(t, "503", nil)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"error rate past its limit", []string{"--gateway", failing, "--max-error-rate", "0.5"}, ExitBreach, "threshold breached: error_rate 1 > 0.5 ratio"},
		{"a gateway that is down", []string{"--gateway", "http://127.0.0.1:1"}, ExitRuntime, "could not read gateway"},
		{"a check that cannot run", []string{"--gateway", ok, "--max-freshness", "1m"}, ExitRuntime, "freshness (for --max-freshness)"},
		{"a gateway without /v1/stats is no failure", []string{"--gateway", ok}, ExitOK, ""},
		{"--max-lag without --brokers", []string{"--max-lag", "10"}, ExitUsage, "--max-lag needs --brokers"},
		{"an error rate that is not a share", []string{"--max-error-rate", "5"}, ExitUsage, "between 0 and 1"},
		{"a gateway that is not a URL", []string{"--gateway", "127.0.0.1:8080"}, ExitUsage, "must be a URL"},
		{"an unknown format", []string{"--gateway", ok, "--format", "xml"}, ExitUsage, "table, csv, json, ndjson"},
		{"two stores", []string{"--clickhouse", "http://x:8123/", "--data", "x.db"}, ExitUsage, "give one"},
		{"stray arguments", []string{"now"}, ExitUsage, "takes no arguments"},
		{"a negative lag limit", []string{"--brokers", "127.0.0.1:1", "--max-lag", "-5"}, ExitUsage, "--max-lag is a number of messages"},
		{"a negative freshness limit", []string{"--gateway", ok, "--max-freshness", "-1m"}, ExitUsage, "--max-freshness is a positive duration"},
		{"a negative error rate", []string{"--gateway", ok, "--max-error-rate", "-0.5"}, ExitUsage, "between 0 and 1"},
		{"an error rate that is no number", []string{"--gateway", ok, "--max-error-rate", "NaN"}, ExitUsage, "between 0 and 1"},
		{"no source at all", []string{"--gateway", ""}, ExitUsage, "nothing to read"},
		{"a tenant that cannot exist", []string{"--gateway", ok, "--tenant", "bad tenant!"}, ExitUsage, "not a tenant_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := statusExec(t, append(tt.args, "--refresh", "100ms", "--timeout", "2s")...)
			if code != tt.code || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, tt.code, tt.stderr)
			}
		})
	}
}

func TestStatusReadsAnEmbeddedStoreFileForOneTenant(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pulse.db")
	st, err := store.Open(ctx, store.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	events := []ingest.Event{
		{EventID: uuid.NewString(), Event: "signup", UserID: "u1", TenantID: "acme", SessionID: "s", TS: now, EventVersion: 1},
		{EventID: uuid.NewString(), Event: "signup", UserID: "u2", TenantID: "globex", SessionID: "s", TS: now, EventVersion: 1},
	}
	if _, err := st.Insert(ctx, events); err != nil {
		t.Fatal(err)
	}
	st.Close()
	out, errOut, code := statusExec(t, "--gateway", "", "--data", path, "--tenant", "acme", "--format", "csv", "--max-freshness", "1h")
	if code != ExitOK {
		t.Fatalf("exit %d; stderr %s\n%s", code, errOut, out)
	}
	for _, want := range []string{"store,freshness,,", ",seconds,3600,ok,newest ts ", "store,dau_today,acme,1,users", "store,events_total,,2,events"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "globex") {
		t.Errorf("--tenant acme shows globex:\n%s", out)
	}
	// A tenant without events shows zeros, as pulse top does.
	out, errOut, code = statusExec(t, "--gateway", "", "--data", path, "--tenant", "initech", "--format", "csv")
	if code != ExitOK || !strings.Contains(out, "store,dau_today,initech,0,users") || !strings.Contains(out, "store,dau_yesterday_same_time,initech,0,users") {
		t.Errorf("--tenant initech: exit %d, stderr %s; want zero DAU rows for it:\n%s", code, errOut, out)
	}
}

func TestStatusTakesThresholdsFromTheEnvironment(t *testing.T) {
	t.Setenv("PULSE_MAX_ERROR_RATE", "0.5")
	url := statusGateway(t, "429", nil)
	_, errOut, code := statusExec(t, "--gateway", url, "--refresh", "100ms")
	if code != ExitBreach || !strings.Contains(errOut, "error_rate") {
		t.Errorf("exit %d, stderr %q; want a breach from PULSE_MAX_ERROR_RATE", code, errOut)
	}
}

func TestTopNeedsATerminal(t *testing.T) {
	var out, errOut strings.Builder
	code := Execute(context.Background(), []string{"top"}, Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	if code != ExitUsage || !strings.Contains(errOut.String(), "pulse status") {
		t.Errorf("exit %d, stderr %q; want 2 pointing at pulse status", code, errOut.String())
	}
}
