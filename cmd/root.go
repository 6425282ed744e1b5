// Package cmd holds pulse's cobra commands: flags, wiring and output only.
// The work itself lives in packages that tests call directly.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
)

// Execute runs pulse with args and returns the process exit code.
func Execute(ctx context.Context, args []string, streams Streams) int {
	root := newRootCmd(streams)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil {
		var coded *ExitCodeError
		if !errors.As(err, &coded) || coded.Err != nil && coded.Err.Error() != "" {
			fmt.Fprintln(streams.ErrOut, "Error:", err)
		}
	}
	return exitCode(err)
}

func newRootCmd(streams Streams) *cobra.Command {
	var logLevel, configPath string
	root := &cobra.Command{
		Use:           "pulse",
		Short:         "Self-hosted, real-time product analytics",
		Long:          "pulse ingests product events over HTTP, stores them durably (embedded DuckDB store or Kafka + ClickHouse) and answers product questions: active users, funnels, retention, adoption.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          noArgs,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := applySettings(cmd, configPath); err != nil {
				return err
			}
			logger, err := newLogger(streams, logLevel)
			if err != nil {
				return err
			}
			slog.SetDefault(logger)
			return nil
		},
	}
	root.PersistentFlags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error (env PULSE_LOG_LEVEL)")
	root.PersistentFlags().StringVar(&configPath, "config", "", "optional YAML config file; flags win over env PULSE_* vars, which win over the file (env PULSE_CONFIG)")
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &UsageError{Err: fmt.Errorf("%w (see --help)", err)}
	})
	root.AddCommand(
		newIngestCmd(streams),
		newQueryCmd(streams),
		newSchemaCmd(streams),
		newGenCmd(streams),
		newBackfillCmd(streams),
		newLoadCmd(streams),
		newTopCmd(streams),
		newStatusCmd(streams),
	)
	return root
}

// noArgs rejects stray arguments on commands that take none, so typos such
// as `pulse qurey` fail loudly instead of printing help.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		return usageErrorf("unknown command %q for %q; run '%s --help' for the list", args[0], cmd.CommandPath(), cmd.CommandPath())
	}
	return usageErrorf("%s takes no arguments, got %q", cmd.CommandPath(), strings.Join(args, " "))
}

func newLogger(streams Streams, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageErrorf("invalid --log-level %q: use debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(streams.ErrOut, &slog.HandlerOptions{Level: lv})), nil
}
