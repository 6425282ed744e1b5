package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pulse-analytics/pulse/chstore"
	"github.com/pulse-analytics/pulse/output"
	"github.com/pulse-analytics/pulse/query"
	"github.com/pulse-analytics/pulse/store"
)

// queryOptions are the flags every `pulse query` subcommand shares.
type queryOptions struct {
	dataPath    string
	memoryLimit string
	tenant      string
	allTenants  bool
	from, to    string
	format      string
	// now sets "today" for the default range; tests pin it.
	now func() time.Time

	// clickhouseDSN, when set, reads ClickHouse (database) instead of the
	// embedded file.
	clickhouseDSN string
	database      string
}

// queryScope is what the shared flags resolve to.
type queryScope struct {
	query.Scope
	query.Range
}

const queryLong = `Product metrics from the command line, per tenant.

Every subcommand reads the embedded store (--data, opened read-only; it may
not be open for writing by a running pulse ingest) and prints a table on a
terminal, CSV otherwise, or what --format asks for: table, csv (with a header
row), json (an array of objects) or ndjson (one object per line). Data goes
to stdout, messages to stderr.

Scope and range, shared by every metric:
  --tenant T       the tenant to report on; --all-tenants reports every tenant
                   with a tenant_id column. Users are counted per tenant: the
                   same user_id in two tenants is two users.
  --from, --to     a date (2026-03-01: the whole UTC day) or an RFC 3339 time;
                   both ends inclusive (--to 2026-03-31 includes that day,
                   --to 2026-03-31T12:00:00Z includes that millisecond).
                   Default: the last 30 UTC days, today included. Per-day
                   metrics (active, retention, adoption) cover whole UTC days:
                   from the day of --from through the day of --to.

Numbers stay numbers; ratios, percentiles and median seconds are rounded to
4 decimal places. A value that cannot be computed (a ratio over zero, a
period not yet observed) is empty in CSV and tables and null in JSON.

Exit status: 0 success, 1 runtime error (no store, store busy), 2 usage error.`

func newQueryCmd(streams Streams) *cobra.Command {
	opts := &queryOptions{now: time.Now}
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Product metrics: active users, events, funnels, retention, adoption, latency, errors, SQL",
		Long:  queryLong,
		Example: `  pulse query active --tenant acme
  pulse query funnel --tenant acme --steps signup,project_created,activated --window 7d
  pulse query retention --tenant acme --start-event signup --return-event session_started --period week --periods 8
  pulse query events --all-tenants --interval week --by properties.plan --format json`,
		Args: noArgs,
		// Runnable, so that `pulse query qurey` fails in noArgs instead of
		// printing help with exit 0.
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	f := cmd.PersistentFlags()
	f.StringVar(&opts.dataPath, "data", store.DefaultPath, "embedded store file, opened read-only")
	f.StringVar(&opts.memoryLimit, "memory-limit", "256MB", "DuckDB memory limit for the query; beyond it DuckDB spills to disk")
	f.StringVar(&opts.clickhouseDSN, "clickhouse", "", "query ClickHouse at this DSN instead of the embedded store: clickhouse://user:pass@host:9000 or http://host:8123")
	f.StringVar(&opts.database, "database", chstore.DefaultDatabase, "ClickHouse database that holds pulse's tables (with --clickhouse)")
	f.StringVar(&opts.tenant, "tenant", "", "tenant to report on (required unless --all-tenants)")
	f.BoolVar(&opts.allTenants, "all-tenants", false, "report every tenant, with a tenant_id column")
	f.StringVar(&opts.from, "from", "", "first day (2006-01-02) or time (RFC 3339), inclusive (default 29 days before --to)")
	f.StringVar(&opts.to, "to", "", "last day or time, inclusive (default today, UTC)")
	f.StringVar(&opts.format, "format", "", "output format: table, csv, json or ndjson (default table on a terminal, csv otherwise)")
	namesEnv(f)
	for _, sub := range []*cobra.Command{
		newQueryActiveCmd(streams, opts),
		newQueryEventsCmd(streams, opts),
		newQueryFunnelCmd(streams, opts),
		newQueryRetentionCmd(streams, opts),
		newQueryAdoptionCmd(streams, opts),
		newQueryLatencyCmd(streams, opts),
		newQueryErrorsCmd(streams, opts),
		newQuerySQLCmd(streams, opts),
	} {
		namesEnv(sub.Flags())
		cmd.AddCommand(sub)
	}
	return cmd
}

// scope resolves the tenant and range flags. A flag given on the command
// line beats its rival from the environment or config file: --all-tenants
// on the command line ignores a PULSE_TENANT, and the other way round.
func (o *queryOptions) scope(cmd *cobra.Command) (queryScope, error) {
	s := queryScope{Scope: query.Scope{Tenant: o.tenant, AllTenants: o.allTenants}}
	flags := cmd.Flags()
	switch {
	case flags.Changed("all-tenants") && !flags.Changed("tenant") && o.allTenants:
		s.Tenant = ""
	case flags.Changed("tenant") && !flags.Changed("all-tenants"):
		s.AllTenants = false
	}
	if err := s.Scope.Validate(); err != nil {
		return s, &UsageError{Err: err}
	}
	r, err := query.ParseRange(o.from, o.to, o.now())
	if err != nil {
		return s, &UsageError{Err: err}
	}
	s.Range = r
	return s, nil
}

// queryRun validates the metric, runs it against the store and prints the
// result: usage errors before the store is opened, then runtime errors.
func queryRun(ctx context.Context, opts *queryOptions, streams Streams, m query.Metric) error {
	format, err := output.ResolveFormat(opts.format, streams.OutIsTerminal)
	if err != nil {
		return &UsageError{Err: fmt.Errorf("--format: %w", err)}
	}
	if err := m.Validate(); err != nil {
		return &UsageError{Err: err}
	}
	var backend query.Backend
	if opts.clickhouseDSN != "" {
		backend, err = query.OpenClickHouse(ctx, opts.clickhouseDSN, opts.database)
	} else {
		backend, err = query.OpenEmbedded(ctx, query.EmbeddedOptions{Path: opts.dataPath, MemoryLimit: opts.memoryLimit})
	}
	if err != nil {
		return err
	}
	defer backend.Close()
	t, err := m.Run(ctx, backend)
	var refused *query.RefusedError
	if errors.As(err, &refused) {
		return &UsageError{Err: err}
	}
	if err != nil {
		return err
	}
	return output.Write(streams.Out, format, t)
}

// metricRunE builds a command's RunE: resolve the shared flags, build the
// metric from them (flag parsing errors are usage errors), run it.
func metricRunE(streams Streams, opts *queryOptions, build func(queryScope) (query.Metric, error)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		s, err := opts.scope(cmd)
		if err != nil {
			return err
		}
		m, err := build(s)
		if err != nil {
			return &UsageError{Err: err}
		}
		return queryRun(cmd.Context(), opts, streams, m)
	}
}

func newQueryActiveCmd(streams Streams, opts *queryOptions) *cobra.Command {
	var event string
	cmd := &cobra.Command{
		Use:   "active",
		Short: "Daily, weekly and monthly active users and stickiness per day",
		Long: `Active users per UTC day D of the range (whole days):
  dau         users with an event on D
  wau         users with an event in [D-6, D]
  mau         users with an event in [D-29, D]
  stickiness  dau / mau
The 7- and 30-day windows look back before --from. With --event, only that
event makes a user active. Reads the per-day user rollups, not raw events.`,
		Example: `  pulse query active --tenant acme --from 2026-01-01 --to 2026-03-31
  pulse query active --tenant acme --event report_exported --format json`,
		Args: noArgs,
		RunE: metricRunE(streams, opts, func(s queryScope) (query.Metric, error) {
			return query.Active{Scope: s.Scope, Range: s.Range, Event: event}, nil
		}),
	}
	cmd.Flags().StringVar(&event, "event", "", "count only users who did this event")
	return cmd
}

func newQueryEventsCmd(streams Streams, opts *queryOptions) *cobra.Command {
	var (
		interval, event, by string
		top                 int
	)
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Event counts and unique users per interval and event name",
		Long: `Per bucket of --interval (UTC hour, day, ISO week from Monday, or month) and
event name: events (occurrences in the range) and users (distinct users).
Every bucket that overlaps the range is listed, empty ones with 0; a bucket
at either end counts only the events inside the range.

--by properties.KEY or context.KEY splits each event's series by that key's
value: per event name, the --top values with most events over the range keep
their own rows (ties: the smaller value first) and the rest are summed as
"(other)"; events without the key (or with null) have the value "(none)".`,
		Example: `  pulse query events --tenant acme --interval hour --event api_request
  pulse query events --tenant acme --interval week --by properties.plan --top 5`,
		Args: noArgs,
		RunE: metricRunE(streams, opts, func(s queryScope) (query.Metric, error) {
			iv, err := query.ParseInterval("--interval", interval, query.Hour, query.Day, query.Week, query.Month)
			if err != nil {
				return nil, err
			}
			q := query.Events{Scope: s.Scope, Range: s.Range, Interval: iv, Event: event, Top: top}
			if by != "" {
				field, err := query.ParseField("--by", by)
				if err != nil {
					return nil, err
				}
				q.By = &field
			}
			return q, nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&interval, "interval", "day", "bucket size: hour, day, week or month")
	f.StringVar(&event, "event", "", "only this event name")
	f.StringVar(&by, "by", "", "break down by properties.KEY or context.KEY")
	f.IntVar(&top, "top", query.DefaultTop, "with --by: values that keep their own rows; the rest are \"(other)\"")
	return cmd
}

func newQueryFunnelCmd(streams Streams, opts *queryOptions) *cobra.Command {
	var (
		steps  []string
		window string
	)
	cmd := &cobra.Command{
		Use:   "funnel",
		Short: "Ordered conversion funnel within a time window",
		Long: `Users who did the first step in the range, and how many of them went on to
each later step in order within --window of their first step. Other events may
come between steps; a step may happen in the same millisecond as the one
before it; a step exactly one window after the first still counts, and later
steps may fall after --to. A user's level is the longest chain they complete,
the same as ClickHouse windowFunnel(window) in its default mode.

Per step: users (whose level reaches the step), conversion_from_previous,
conversion_from_first, and median_seconds_from_first: the median over those
users of each one's shortest time from a step-1 event to the step.`,
		Example: `  pulse query funnel --tenant acme --steps signup,onboarding_started,project_created,activated --window 14d`,
		Args:    noArgs,
		RunE: metricRunE(streams, opts, func(s queryScope) (query.Metric, error) {
			w, err := query.ParseWindow(window)
			if err != nil {
				return nil, err
			}
			trimmed := make([]string, len(steps))
			for i, step := range steps {
				trimmed[i] = strings.TrimSpace(step)
			}
			return query.Funnel{Scope: s.Scope, Range: s.Range, Steps: trimmed, Window: w}, nil
		}),
	}
	f := cmd.Flags()
	f.StringSliceVar(&steps, "steps", nil, "event names of the steps, in order, comma-separated (2 to 32)")
	f.StringVar(&window, "window", "7d", "longest time from the first step to the last: 30m, 12h, 7d, 2w")
	return cmd
}

func newQueryRetentionCmd(streams Streams, opts *queryOptions) *cobra.Command {
	var (
		start, ret, period string
		periods            int
		counts             bool
	)
	cmd := &cobra.Command{
		Use:   "retention",
		Short: "Cohort retention triangle",
		Long: `Users are grouped into cohorts by the --period (UTC day, or ISO week from
Monday) of their first --start-event ever; only users whose first one falls
in the range are counted. For each following period 1..--periods, the cell is
the share of the cohort with a --return-event in that period (--counts: the
number of users). Cells of periods that start after the end of the range are
empty, which makes the triangle; return events after --to do not count.`,
		Example: `  pulse query retention --tenant acme --start-event signup --return-event session_started --period week --periods 8 --from 2026-01-05`,
		Args:    noArgs,
		RunE: metricRunE(streams, opts, func(s queryScope) (query.Metric, error) {
			p, err := query.ParseInterval("--period", period, query.Day, query.Week)
			if err != nil {
				return nil, err
			}
			return query.Retention{Scope: s.Scope, Range: s.Range, StartEvent: start, ReturnEvent: ret, Period: p, Periods: periods, Counts: counts}, nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&start, "start-event", "", "event that puts a user in a cohort (first occurrence ever)")
	f.StringVar(&ret, "return-event", "", "event that counts as coming back")
	f.StringVar(&period, "period", "week", "cohort and return period: day or week")
	f.IntVar(&periods, "periods", 4, "following periods to show")
	f.BoolVar(&counts, "counts", false, "show returning users instead of shares")
	return cmd
}

func newQueryAdoptionCmd(streams Streams, opts *queryOptions) *cobra.Command {
	var feature, period string
	cmd := &cobra.Command{
		Use:   "adoption",
		Short: "Feature adoption: users of a feature over active users, new adopters",
		Long: `Per --period (UTC day, ISO week from Monday, or month) of the range:
  active_users    users with any event in the period
  feature_users   users with a --feature event in the period
  adoption_rate   feature_users / active_users
  new_adopters    users whose first --feature event ever falls in the period
  total_adopters  users whose first --feature event ever is before the
                  period's end (adopters to date)
A period at either end of the range counts only its days inside the range.`,
		Example: `  pulse query adoption --tenant acme --feature dashboard_shared --period month --from 2026-01-01`,
		Args:    noArgs,
		RunE: metricRunE(streams, opts, func(s queryScope) (query.Metric, error) {
			p, err := query.ParseInterval("--period", period, query.Day, query.Week, query.Month)
			if err != nil {
				return nil, err
			}
			return query.Adoption{Scope: s.Scope, Range: s.Range, Feature: feature, Period: p}, nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&feature, "feature", "", "event that means the feature was used")
	f.StringVar(&period, "period", "week", "period: day, week or month")
	return cmd
}

const conditionHelp = `--where takes one condition FIELD OP VALUE: FIELD is properties.KEY or
context.KEY, OP one of = != < <= > >=, VALUE a number (compared as a number;
values that are not numbers never match), a quoted string or a plain word
(compared as text). Events without the key never match.`

func newQueryLatencyCmd(streams Streams, opts *queryOptions) *cobra.Command {
	var interval, event, field, where string
	cmd := &cobra.Command{
		Use:   "latency",
		Short: "p50, p95 and p99 of a numeric field per interval",
		Long: `Per bucket of --interval (as in pulse query events): events of --event,
values (those whose --field holds a number) and their p50, p95 and p99,
interpolated between the closest ranks (R-7: position (values-1) x p, the
same as ClickHouse quantileExactInclusive).

` + conditionHelp + ` With --where, only matching events count.`,
		Example: `  pulse query latency --tenant acme --event api_request --field properties.latency_ms --interval hour`,
		Args:    noArgs,
		RunE: metricRunE(streams, opts, func(s queryScope) (query.Metric, error) {
			iv, err := query.ParseInterval("--interval", interval, query.Hour, query.Day, query.Week, query.Month)
			if err != nil {
				return nil, err
			}
			fld, err := query.ParseField("--field", field)
			if err != nil {
				return nil, err
			}
			q := query.Latency{Scope: s.Scope, Range: s.Range, Interval: iv, Event: event, Field: fld}
			if where != "" {
				c, err := query.ParseCondition(where)
				if err != nil {
					return nil, err
				}
				q.Where = &c
			}
			return q, nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&interval, "interval", "day", "bucket size: hour, day, week or month")
	f.StringVar(&event, "event", "", "event to measure (required)")
	f.StringVar(&field, "field", query.DefaultLatencyField, "numeric field: properties.KEY or context.KEY")
	f.StringVar(&where, "where", "", "only events matching this condition, e.g. 'properties.endpoint=/api/v1/reports'")
	return cmd
}

func newQueryErrorsCmd(streams Streams, opts *queryOptions) *cobra.Command {
	var interval, event, where string
	cmd := &cobra.Command{
		Use:   "errors",
		Short: "Error rate: the share of an event's occurrences matching a condition",
		Long: `Per bucket of --interval (as in pulse query events): events of --event,
errors (those matching --where) and error_rate = errors / events.

` + conditionHelp,
		Example: `  pulse query errors --tenant acme --event api_request --where 'properties.status>=500' --interval hour`,
		Args:    noArgs,
		RunE: metricRunE(streams, opts, func(s queryScope) (query.Metric, error) {
			iv, err := query.ParseInterval("--interval", interval, query.Hour, query.Day, query.Week, query.Month)
			if err != nil {
				return nil, err
			}
			q := query.ErrorRate{Scope: s.Scope, Range: s.Range, Interval: iv, Event: event}
			if where != "" {
				if q.Where, err = query.ParseCondition(where); err != nil {
					return nil, err
				}
			}
			return q, nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&interval, "interval", "day", "bucket size: hour, day, week or month")
	f.StringVar(&event, "event", "", "event whose occurrences to check (required)")
	f.StringVar(&where, "where", "", "condition that makes an occurrence an error (required), e.g. 'properties.status>=500'")
	return cmd
}

func newQuerySQLCmd(streams Streams, opts *queryOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "sql STATEMENT",
		Short: "Run one read-only SQL statement against the store",
		Long: `Runs one read-only statement (SELECT, WITH ... SELECT, FROM, VALUES,
DESCRIBE, SHOW or SUMMARIZE) against the embedded store and prints the result
like the metrics do. Anything else (writes, DDL, COPY, ATTACH, SET, several
statements) is refused with exit status 2; SQL cannot read files or the
network. Pass - to read the statement from stdin.

Tables: events (tenant_id, ts, event, user_id, session_id, event_id,
event_version, properties, context, ingested_at), user_days (tenant_id, day,
user_id) and user_event_days (tenant_id, day, event, user_id). The statement
sees every tenant: filter on tenant_id yourself (--tenant, --all-tenants,
--from and --to do not apply).`,
		Example: `  pulse query sql "SELECT event, count(*) AS n FROM events WHERE tenant_id = 'acme' GROUP BY ALL ORDER BY n DESC"
  pulse query sql - --format json < report.sql`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("%s takes exactly one argument, the statement in quotes (or - for stdin); got %d", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, name := range []string{"tenant", "all-tenants", "from", "to"} {
				if cmd.Flags().Changed(name) {
					return usageErrorf("--%s does not apply to pulse query sql: filter in the statement itself (e.g. WHERE tenant_id = 'acme')", name)
				}
			}
			text := args[0]
			if text == "-" {
				b, err := io.ReadAll(streams.In)
				if err != nil {
					return fmt.Errorf("read the statement from stdin: %w", err)
				}
				text = string(b)
			}
			return queryRun(cmd.Context(), opts, streams, query.SQL{Text: text})
		},
	}
}
