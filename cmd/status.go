package cmd

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pulse-analytics/pulse/ops"
	"github.com/pulse-analytics/pulse/output"
)

// ExitBreach is `pulse status`'s exit code when a threshold is breached,
// distinct from 1 (a source could not be read) so that scripts can tell a
// bad pipeline from a broken check.
const ExitBreach = 3

type statusOptions struct {
	opsOptions
	format string
}

func newStatusCmd(streams Streams) *cobra.Command {
	opts := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "The pipeline's figures once, checked against thresholds (for cron and CI)",
		Long: `Read every configured source once and print its figures, one row each:
source, figure, scope (tenant or topic/partition), value, unit, limit,
status and detail. The gateway is scraped twice, --refresh apart, since its
rates and shares are differences between two scrapes.

` + opsSourcesHelp + `

Thresholds (each off unless given):
  --max-lag N          the group's lag summed over the topic's partitions
  --max-freshness D    store clock minus the newest stored event's ts
  --max-error-rate R   share (0..1) of the gateway's event requests (POST
                       /v1/events, /v1/batch, /events) not answered 2xx
                       over the window; a window with none passes

Output: a table on a terminal, CSV otherwise, or --format table, csv, json
or ndjson. A value that cannot be computed (a share over no requests) is
empty in CSV and tables and null in JSON; values are rounded to 4 decimals.

Exit status: 0 every source read and every threshold met; 1 a configured
source could not be read, or a threshold could not be checked (and none was
breached); 2 usage error; 3 a threshold breached.`,
		Example: `  pulse status --max-error-rate 0.01 --max-freshness 5m
  pulse status --brokers 10.0.0.6:9092 --group pulse_clickhouse --clickhouse http://10.0.0.7:8123 --max-lag 100000
  pulse status --format json | jq '.[] | select(.status == "breach")'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			return statusRun(cmd.Context(), opts, streams)
		},
	}
	opts.addFlags(cmd.Flags(), "time between the two gateway scrapes that rates are computed over")
	cmd.Flags().StringVar(&opts.format, "format", "", "output format: table, csv, json or ndjson (default table on a terminal, csv otherwise)")
	namesEnv(cmd.Flags())
	return cmd
}

func statusRun(ctx context.Context, opts *statusOptions, streams Streams) error {
	format, err := output.ResolveFormat(opts.format, streams.OutIsTerminal)
	if err != nil {
		return &UsageError{Err: fmt.Errorf("--format: %w", err)}
	}
	src, release, err := opts.sources()
	if err != nil {
		return err
	}
	defer release()
	snap := ops.Collect(ctx, src, opts.interval, opts.timeout)
	checks := opts.thresholds.Evaluate(snap)
	figures := ops.Figures(snap, checks)
	if opts.tenant != "" {
		figures = onlyTenant(figures, opts.tenant)
	}
	if err := output.Write(streams.Out, format, figuresTable(figures)); err != nil {
		return err
	}
	var breaches []string
	for _, c := range checks {
		if c.State == ops.StateBreach {
			breaches = append(breaches, describeBreach(c))
		}
	}
	if len(breaches) > 0 {
		return &ExitCodeError{Code: ExitBreach, Err: fmt.Errorf("threshold breached: %s", joinLines(breaches))}
	}
	failed := sourceFailures(snap)
	for _, c := range checks {
		if c.State == ops.StateUnknown {
			failed = append(failed, fmt.Sprintf("%s (for --max-%s): %s", c.Name, strings.ReplaceAll(c.Name, "_", "-"), c.Reason))
		}
	}
	if len(failed) > 0 {
		return &ExitCodeError{Code: ExitRuntime, Err: fmt.Errorf("could not read %s", joinLines(failed))}
	}
	return nil
}

func describeBreach(c ops.Check) string {
	if math.IsNaN(c.Value) {
		return fmt.Sprintf("%s: %s", c.Name, c.Reason)
	}
	return fmt.Sprintf("%s %s > %s %s", c.Name, roundFigure(c.Value), roundFigure(c.Limit), c.Unit)
}

func roundFigure(v float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.4f", v), "0"), ".")
}

// onlyTenant keeps the per-tenant rows of tenant and every other row. A
// tenant without events has no rows of its own: it gets zeros, as in
// pulse top, once the store was read.
func onlyTenant(figures []ops.Figure, tenant string) []ops.Figure {
	out := figures[:0:0]
	storeRead, found := false, false
	for _, f := range figures {
		if f.Source == "store" && f.Scope != "" && f.Scope != tenant {
			continue
		}
		storeRead = storeRead || (f.Source == "store" && f.Name == "dau_today")
		found = found || (f.Source == "store" && f.Scope == tenant)
		out = append(out, f)
	}
	if storeRead && !found {
		for _, name := range []string{"dau_today", "dau_yesterday_same_time"} {
			out = append(out, ops.Figure{Source: "store", Name: name, Scope: tenant, Unit: "users"})
		}
	}
	return out
}

// figuresTable shapes the rows for the output package.
func figuresTable(figures []ops.Figure) *output.Table {
	t := &output.Table{Columns: []output.Column{
		{Name: "source", Type: output.String},
		{Name: "figure", Type: output.String},
		{Name: "scope", Type: output.String},
		{Name: "value", Type: output.Float},
		{Name: "unit", Type: output.String},
		{Name: "limit", Type: output.Float},
		{Name: "status", Type: output.String},
		{Name: "detail", Type: output.String},
	}}
	for _, f := range figures {
		t.Rows = append(t.Rows, []any{f.Source, f.Name, f.Scope, round4(f.Value), f.Unit, round4(f.Limit), f.Status, f.Detail})
	}
	return t
}

// round4 rounds to 4 decimals; NaN stays NaN, which the output writes as
// empty or null.
func round4(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return math.Round(v*1e4) / 1e4
}
