package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	tea "charm.land/bubbletea/v2"
	"github.com/spf13/cobra"

	"github.com/pulse-analytics/pulse/tui"
)

type topOptions struct {
	opsOptions
	logFile string
}

const opsSourcesHelp = `Sources, each optional and read on its own (one that is down shows as
unreachable while the others keep updating):
  --gateway URL      the gateway's /metrics: events/s, 2xx share, p95 ack
                     latency, 429 and 503 counts; and, for the embedded
                     store, its GET ` + `/v1/stats` + `: DAU and freshness
  --brokers, --group, --topic
                     the consumer group's lag per partition (franz-go kadm)
  --clickhouse DSN   insert and consume errors, dead letters, active parts,
                     merges, disk; DAU and freshness from <--database>.events
  --data PATH        the embedded store file, opened read-only for each
                     read, for DAU and freshness; while a running gateway
                     holds the file, its GET /v1/stats answers instead

Every flag can also be set by an environment variable PULSE_<FLAG> or a key
in the --config file.`

func newTopCmd(streams Streams) *cobra.Command {
	opts := &topOptions{}
	cmd := &cobra.Command{
		Use:   "top",
		Short: "Live on-call screen: ingest rate, errors, latency, lag, ClickHouse health, DAU, freshness",
		Long: `One screen of the pipeline's live figures for on-call, refreshed every
--refresh. Keys: t/→ next tenant, T/← previous, p pause, r refresh now,
? help (with what every figure means), q quit.

` + opsSourcesHelp + `

The screen honours NO_COLOR. While it runs, logs go to --log-file (default:
nowhere), since the screen owns the terminal. For one reading in a script,
use pulse status.`,
		Example: `  pulse top
  pulse top --gateway http://10.0.0.5:8080 --brokers 10.0.0.6:9092 --clickhouse http://10.0.0.7:8123
  pulse top --tenant acme --refresh 5s --max-lag 100000 --max-freshness 2m`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			return topRun(cmd.Context(), opts, streams)
		},
	}
	opts.addFlags(cmd.Flags(), "time between two reads of each source")
	cmd.Flags().StringVar(&opts.logFile, "log-file", "", "append logs here while the screen runs (default: discard them)")
	namesEnv(cmd.Flags())
	return cmd
}

func topRun(ctx context.Context, opts *topOptions, streams Streams) error {
	// The screen goes where a terminal is: stdout normally, stderr when
	// stdout is redirected.
	var screen io.Writer
	switch {
	case streams.OutIsTerminal:
		screen = streams.Out
	case streams.ErrIsTerminal:
		screen = streams.ErrOut
	default:
		return usageErrorf("pulse top needs a terminal; for one reading in a script use pulse status")
	}
	logger, closeLog, err := topLogger(opts.logFile)
	if err != nil {
		return err
	}
	defer closeLog()
	// Libraries that log through slog's default must not write over the
	// screen either.
	previous := slog.Default()
	slog.SetDefault(logger)
	defer slog.SetDefault(previous)

	src, release, err := opts.sources()
	if err != nil {
		return err
	}
	defer release()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	model := tui.New(tui.Config{
		Ctx: ctx, Sources: src,
		Interval: opts.interval, Timeout: opts.timeout,
		Tenant: opts.tenant, Thresholds: opts.thresholds,
		Styles:     tui.NewStyles(os.Getenv("NO_COLOR") == ""),
		GatewayURL: opts.gateway,
		Log:        logger,
	})
	logger.Info("pulse top started", "gateway", opts.gateway, "brokers", opts.brokers, "clickhouse", redactDSN(opts.clickhouse), "data", opts.dataPath)
	// Input is the terminal: stdin, or the controlling TTY when stdin is
	// redirected (bubbletea's default).
	_, err = tea.NewProgram(model, tea.WithContext(ctx), tea.WithOutput(screen)).Run()
	if err != nil && !errors.Is(err, tea.ErrProgramKilled) {
		return fmt.Errorf("pulse top: %w", err)
	}
	return nil
}

// topLogger writes to path, or nowhere when path is empty.
func topLogger(path string) (*slog.Logger, func(), error) {
	if path == "" {
		return slog.New(slog.DiscardHandler), func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, usageErrorf("cannot open --log-file: %v", err)
	}
	return slog.New(slog.NewTextHandler(f, nil)), func() { f.Close() }, nil
}
