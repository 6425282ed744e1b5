package cmd

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/pulse-analytics/pulse/ingest"
	"github.com/pulse-analytics/pulse/load"
)

// loadExec runs `pulse load args...` and returns stderr and the exit code.
func loadExec(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Execute(t.Context(), append([]string{"load"}, args...), Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	return errOut.String(), code
}

func TestLoadUsageMistakesExit2(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"no brokers", nil, nil, "needs --brokers"},
		{"two targets", []string{"--brokers", "k:9092", "--data", "x.db", "--clickhouse", "http://localhost:8123"}, nil, "not both"},
		{"two targets, one from the environment", []string{"--brokers", "k:9092", "--clickhouse", "http://localhost:8123"}, map[string]string{"PULSE_DATA": "x.db"}, "PULSE_DATA"},
		{"dead-letter file with clickhouse", []string{"--brokers", "k:9092", "--clickhouse", "http://localhost:8123", "--dead-letters", "dl.ndjson"}, nil, "events_dead_letters"},
		{"once and until-idle", []string{"--brokers", "k:9092", "--once", "--until-idle", "5s"}, nil, "not both"},
		{"negative until-idle", []string{"--brokers", "k:9092", "--until-idle", "-1s"}, nil, "--until-idle"},
		{"unsafe database", []string{"--brokers", "k:9092", "--clickhouse", "http://localhost:8123", "--database", "x;DROP"}, nil, "--database"},
		{"empty batches", []string{"--brokers", "k:9092", "--batch-events", "0"}, nil, "--batch-events"},
		{"zero batch interval", []string{"--brokers", "k:9092", "--batch-interval", "0s"}, nil, "--batch-interval"},
		{"bad duration from the environment", []string{"--brokers", "k:9092"}, map[string]string{"PULSE_UNTIL_IDLE": "soon"}, "PULSE_UNTIL_IDLE"},
		{"stray argument", []string{"--brokers", "k:9092", "now"}, nil, "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			stderr, code := loadExec(t, tt.args...)
			if code != ExitUsage || !strings.Contains(stderr, tt.wantErr) {
				t.Fatalf("exit %d, stderr %q; want exit 2 mentioning %q", code, stderr, tt.wantErr)
			}
		})
	}
}

func TestLoadValidateFillsTheTargetDefaults(t *testing.T) {
	tests := []struct {
		name               string
		args               []string
		wantData, wantDead string
		wantDrained        bool
		wantIdleFor        time.Duration
	}{
		{"embedded store by default", nil, "pulse.db", "pulse-dead-letters.ndjson", false, 0},
		{"dead letters next to the store", []string{"--data", "/var/lib/pulse/events.db"}, "/var/lib/pulse/events.db", "/var/lib/pulse/events-dead-letters.ndjson", false, 0},
		{"dead letters where told", []string{"--dead-letters", "/tmp/dl.ndjson"}, "pulse.db", "/tmp/dl.ndjson", false, 0},
		{"clickhouse has no files", []string{"--clickhouse", "http://localhost:8123"}, "", "", false, 0},
		{"once", []string{"--once"}, "pulse.db", "pulse-dead-letters.ndjson", true, 0},
		{"until idle", []string{"--until-idle", "5s"}, "pulse.db", "pulse-dead-letters.ndjson", true, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := &loadOptions{}
			cmd := &cobra.Command{}
			addLoadFlags(cmd, opts)
			if err := cmd.ParseFlags(append([]string{"--brokers", "k:9092"}, tt.args...)); err != nil {
				t.Fatal(err)
			}
			if err := opts.validate(); err != nil {
				t.Fatal(err)
			}
			if opts.dataPath != tt.wantData || opts.deadLetters != tt.wantDead || opts.cfg.ExitWhenDrained != tt.wantDrained || opts.cfg.IdleFor != tt.wantIdleFor {
				t.Fatalf("data %q, dead letters %q, exit when drained %v after %s", opts.dataPath, opts.deadLetters, opts.cfg.ExitWhenDrained, opts.cfg.IdleFor)
			}
			if opts.cfg.BatchEvents != load.DefaultBatchEvents || opts.cfg.Group != load.DefaultGroup || opts.cfg.Topic != ingest.DefaultKafkaTopic {
				t.Fatalf("flag defaults not applied: %+v", opts.cfg)
			}
		})
	}
}
