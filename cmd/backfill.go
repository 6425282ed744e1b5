package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pulse-analytics/pulse/backfill"
	"github.com/pulse-analytics/pulse/chstore"
	"github.com/pulse-analytics/pulse/ingest"
	"github.com/pulse-analytics/pulse/store"
)

// backfillOptions holds `pulse backfill`'s flags; backfillRun does the work
// so that tests can call it without cobra.
type backfillOptions struct {
	Streams Streams

	Args        []string
	Format      string
	Map         []string
	TSZone      string
	Delimiter   string
	TSUnit      string
	Rejects     string
	MaxRejects  string
	DataPath    string
	MemoryLimit string
	ClickHouse  string
	Database    string
	Brokers     []string
	Topic       string
	State       string
	NoResume    bool
	DryRun      bool
	Batch       int
	// MaxEventBytes is the contract's size limit, as pulse ingest takes it.
	MaxEventBytes int

	// Resolved by backfillValidate.
	sources []backfill.Source
	mapping backfill.Mapping
	ts      backfill.TSRule
	comma   byte
	limit   backfill.Limit
}

// Default --batch per target: ClickHouse likes big native blocks.
const (
	backfillBatchEmbedded   = backfill.DefaultBatchRows
	backfillBatchClickHouse = 100_000
	backfillBatchKafka      = 50_000
)

func newBackfillCmd(streams Streams) *cobra.Command {
	opts := &backfillOptions{Streams: streams}
	cmd := &cobra.Command{
		Use:   "backfill FILE|DIR|GLOB|- ...",
		Short: "Load historical events from CSV, NDJSON or Parquet files",
		Long: `Load historical events from files into the embedded store (default),
ClickHouse (--clickhouse) or Kafka (--brokers, replayed through the topic).

Formats: CSV (with a header row; --delimiter when fields are not separated
by commas), NDJSON (one event per line) and Parquet, told by extension
(.csv, .ndjson/.jsonl/.json, .parquet) or --format; CSV and NDJSON may be
gzip- or zstd-compressed (.gz, .zst; recognised by content). A directory
loads every such file below it, in name order, leaving out
pulse's own output (checkpoints, rejects files); "-" reads standard input.

Columns named like event fields (event_id, event, user_id, tenant_id,
session_id, ts, event_version, properties, context) fill them; --map reads
a field from another column (--map ts=timestamp,user_id=uid). Every other
column becomes a key of properties; a properties column holding a JSON
object is merged with them. A Parquet event_id of 16-byte binaries reads
as a UUID.

ts is ISO-8601 with a zone, as the gateway takes it. Other forms need a
flag: --ts-zone ZONE reads timestamps without a zone as times in ZONE (UTC,
Europe/Berlin, ...); --ts-unit s|ms|us|ns reads numbers (and digit strings)
as that many units since 1970. Typed Parquet timestamps without a zone are
UTC unless --ts-zone says otherwise.

Every row passes the same event contract as the gateway (docs/events.md);
rows that do not are listed in the rejects file (source, row, field,
reason) and counted. --max-rejects fails the run (exit 1) when more rows
than that (a count, or a percentage of the rows read) are rejected.

Loads are idempotent: a row without event_id gets one derived from its
content (the MD5 of tenant_id, user_id, event, ts, session_id and
properties as stored), and the target skips events it holds already. After each
durable batch a checkpoint per file (under --state; by default next to
the embedded store) records the last row done, so an interrupted run
(Ctrl-C, kill -9) resumes there when run again with the same arguments,
and its rejects file lists the interrupted run's rejects too. A run with
another --map, --format, --delimiter, --ts-zone, --ts-unit or
--max-event-bytes reads the file again.

Parquet and CSV files load in bulk into the
embedded store and into ClickHouse over HTTP (an http:// DSN), and are
checked in bulk by --dry-run: DuckDB checks the rows, the target stores the
certainly valid ones straight from DuckDB's output, and the others go
through the contract (docs/backfill.md).

The target's schema must exist: run 'pulse schema apply' first. The
embedded store must not be open in a running 'pulse ingest'.

Every flag can also be set by an environment variable PULSE_<FLAG> or a key
in the --config YAML file (top level or under "backfill:").`,
		Example: `  pulse backfill events.parquet
  pulse backfill exports/ --map ts=timestamp,user_id=uid,tenant_id=account --max-rejects 1%
  pulse backfill 'dumps/2026-*.ndjson.zst' --clickhouse clickhouse://localhost:9000
  zcat old.csv.gz | pulse backfill - --format csv --brokers 127.0.0.1:9092`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Args = args
			if err := backfillValidate(opts, cmd); err != nil {
				return err
			}
			return backfillRun(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Format, "format", "", "input format for every file: "+strings.Join(backfill.Formats(), ", ")+" (default: by extension)")
	f.StringSliceVar(&opts.Map, "map", nil, "field=column pairs: read an event field from another column, e.g. ts=timestamp,user_id=uid")
	f.StringVar(&opts.Delimiter, "delimiter", ",", "CSV field delimiter: one character such as ; or |, or tab")
	f.StringVar(&opts.TSZone, "ts-zone", "", "time zone of ts values without one (UTC, Europe/Berlin, ...); default: such rows are rejected, as the gateway rejects them")
	f.StringVar(&opts.TSUnit, "ts-unit", "", "ts given as a number since 1970 in this unit: s, ms, us or ns; default: numbers are rejected")
	f.StringVar(&opts.Rejects, "rejects", "", "file listing rejected rows, NDJSON (or CSV if it ends in .csv); default backfill-rejects-<time>.ndjson, written only if a row is rejected")
	f.StringVar(&opts.MaxRejects, "max-rejects", "", "fail (exit 1) when more rows than this are rejected: a count (100) or a percentage of the rows read (0.5%); default no limit")
	f.StringVar(&opts.DataPath, "data", store.DefaultPath, "embedded store file (the target unless --clickhouse or --brokers is given)")
	f.StringVar(&opts.MemoryLimit, "memory-limit", "256MB", "DuckDB memory limit for the embedded store")
	f.StringVar(&opts.ClickHouse, "clickhouse", "", "load into ClickHouse at this DSN: clickhouse://user:pass@host:9000 or http://host:8123")
	f.StringVar(&opts.Database, "database", chstore.DefaultDatabase, "ClickHouse database holding pulse's tables (with --clickhouse)")
	f.StringSliceVar(&opts.Brokers, "brokers", nil, "replay into Kafka/Redpanda at these seed brokers host:port,... (the topic must exist)")
	f.StringVar(&opts.Topic, "topic", ingest.DefaultKafkaTopic, "Kafka topic (with --brokers)")
	f.StringVar(&opts.State, "state", "", "directory for checkpoints (default: <data>.backfill next to the embedded store; $XDG_STATE_HOME/pulse/backfill for ClickHouse and Kafka)")
	f.BoolVar(&opts.NoResume, "no-resume", false, "ignore checkpoints and read every row again (the target still skips events it holds)")
	f.BoolVar(&opts.DryRun, "dry-run", false, "check every row against the contract and write the rejects file, storing nothing")
	f.IntVar(&opts.MaxEventBytes, "max-event-bytes", ingest.DefaultMaxEventBytes, "largest accepted event, in bytes of JSON (as pulse ingest's flag: give both the same value)")
	f.IntVar(&opts.Batch, "batch", 0, fmt.Sprintf("events per store batch, checkpointed each (default %d embedded, %d ClickHouse, %d Kafka; Parquet and CSV in bulk: %d and %d into the embedded store, %d into ClickHouse)", backfillBatchEmbedded, backfillBatchClickHouse, backfillBatchKafka, backfill.BulkParquetRows, backfill.BulkCSVRows, backfill.BulkClickHouseRows))
	annotateEnv(cmd, "data", "clickhouse", "brokers", "topic", "state", "max-rejects")
	return cmd
}

// backfillValidate checks arguments and flags and resolves them.
func backfillValidate(opts *backfillOptions, cmd *cobra.Command) error {
	if len(opts.Args) == 0 {
		return usageErrorf("%s needs at least one FILE, DIR, GLOB or - (standard input)", cmd.CommandPath())
	}
	changed := func(name string) bool { return cmd.Flags().Changed(name) }
	switch {
	case opts.ClickHouse != "" && len(opts.Brokers) > 0:
		return usageErrorf("give either --clickhouse or --brokers, not both (check %s and %s in the environment and the config file)", EnvName("clickhouse"), EnvName("brokers"))
	case (opts.ClickHouse != "" || len(opts.Brokers) > 0) && changed("data"):
		return usageErrorf("--data names the embedded store target; drop it when loading into ClickHouse or Kafka")
	case opts.DryRun && (opts.ClickHouse != "" || len(opts.Brokers) > 0):
		return usageErrorf("--dry-run stores nothing; drop --clickhouse and --brokers")
	case opts.Batch < 0:
		return usageErrorf("--batch must be positive, got %d", opts.Batch)
	}
	format, err := backfill.ParseFormat(opts.Format)
	if err != nil {
		return &UsageError{Err: err}
	}
	if opts.mapping, err = backfill.ParseMapping(opts.Map); err != nil {
		return &UsageError{Err: err}
	}
	if opts.comma, err = backfill.ParseDelimiter(opts.Delimiter); err != nil {
		return &UsageError{Err: err}
	}
	if opts.ts, err = backfill.ParseTSRule(opts.TSZone, opts.TSUnit); err != nil {
		return &UsageError{Err: err}
	}
	if opts.limit, err = backfill.ParseLimit(opts.MaxRejects); err != nil {
		return &UsageError{Err: err}
	}
	if opts.MaxEventBytes < 256 {
		return usageErrorf("--max-event-bytes must be at least 256, got %d", opts.MaxEventBytes)
	}
	stdin := 0
	for _, a := range opts.Args {
		if a == backfill.Stdin {
			stdin++
		}
	}
	if stdin > 1 {
		return usageErrorf("standard input (-) can be read once")
	}
	if opts.sources, err = backfill.Expand(opts.Args, format, opts.State, opts.Rejects); err != nil {
		return &UsageError{Err: err}
	}
	if opts.ClickHouse != "" {
		p := chstore.DefaultParams()
		p.Database = opts.Database
		if err := p.Validate(); err != nil {
			return usageErrorf("invalid --database: %v", err)
		}
	}
	return nil
}

// backfillGoMemoryLimit is the Go heap's soft limit during a backfill
// (unless GOMEMLIMIT says otherwise): batches of events and their encoded
// blocks are short-lived, and without it the heap doubles between
// collections (868 MB peak RSS instead of 598 MB on a ClickHouse load, at
// the same speed). DuckDB's memory is bounded by --memory-limit.
const backfillGoMemoryLimit = 384 << 20

// backfillRun opens the target, loads the sources and prints the summary.
func backfillRun(ctx context.Context, opts *backfillOptions) error {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(backfillGoMemoryLimit)
	}
	target, batch, err := backfillTarget(ctx, opts)
	if err != nil {
		return err
	}
	if target != nil {
		defer func() {
			if err := target.Close(); err != nil {
				slog.Error("close the target", "err", err)
			}
		}()
	}
	if opts.Batch > 0 {
		batch = opts.Batch
	}
	cfg := backfill.Config{
		Sources: opts.sources, Mapping: opts.mapping, TS: opts.ts, Delimiter: opts.comma, Target: target,
		RejectsPath: opts.Rejects, MaxRejects: opts.limit, BatchRows: batch, BulkRows: opts.Batch,
		Stdin: opts.Streams.In, Logger: slog.Default(), Contract: ingest.NewContract(),
	}
	cfg.Contract.MaxEventBytes = opts.MaxEventBytes
	if target != nil && !opts.NoResume {
		dir := opts.State
		if dir == "" {
			if dir, err = target.DefaultStateDir(); err != nil {
				return err
			}
		}
		cfg.State = &backfill.StateDir{Dir: dir, Target: target.ID()}
	}
	progress := newBackfillProgress(opts.Streams)
	cfg.Progress, cfg.ProgressEvery = progress.report, progress.every

	summary, err := backfill.Run(ctx, cfg)
	if printErr := backfillPrintSummary(opts.Streams.Out, summary); printErr != nil && err == nil {
		err = printErr
	}
	switch {
	case err == nil:
		return nil
	case errors.As(err, new(*backfill.InputError)):
		return &UsageError{Err: err}
	case errors.Is(err, backfill.ErrTooManyRejects):
		return &ExitCodeError{Code: ExitRuntime, Err: err}
	}
	return err
}

// backfillTarget opens the target the flags name (nil for --dry-run) and
// returns its default batch size.
func backfillTarget(ctx context.Context, opts *backfillOptions) (backfill.Target, int, error) {
	switch {
	case opts.DryRun:
		return nil, backfillBatchEmbedded, nil
	case opts.ClickHouse != "":
		p := chstore.DefaultParams()
		p.Database = opts.Database
		t, err := backfill.OpenClickHouse(ctx, opts.ClickHouse, p)
		return t, backfillBatchClickHouse, err
	case len(opts.Brokers) > 0:
		t, err := backfill.OpenKafka(ctx, ingest.KafkaConfig{Brokers: opts.Brokers, Topic: opts.Topic})
		return t, backfillBatchKafka, err
	}
	t, err := backfill.OpenEmbedded(ctx, opts.DataPath, opts.MemoryLimit)
	return t, backfillBatchEmbedded, err
}

func backfillPrintSummary(w io.Writer, s backfill.Summary) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	loaded := "loaded"
	if s.DryRun {
		loaded = "valid (dry run)"
	}
	fmt.Fprintf(tw, "files\t%d\n", s.Files)
	fmt.Fprintf(tw, "rows read\t%s\n", genCount(s.Rows))
	fmt.Fprintf(tw, "%s\t%s\n", loaded, genCount(s.Loaded))
	rejected := genCount(s.Rejected)
	switch {
	case s.RejectsPath != "" && s.Relisted > 0:
		rejected += fmt.Sprintf(" (listed in %s, with the %s of the interrupted run before)", s.RejectsPath, genCount(s.Relisted))
	case s.RejectsPath != "":
		rejected += " (listed in " + s.RejectsPath + ")"
	}
	fmt.Fprintf(tw, "rejected\t%s\n", rejected)
	switch {
	case s.DryRun:
	case s.DuplicatesKnown:
		fmt.Fprintf(tw, "skipped as duplicates\t%s already in the target, %s already loaded by an earlier run\n", genCount(s.Duplicates), genCount(s.Resumed))
	default:
		fmt.Fprintf(tw, "skipped as duplicates\t%s already loaded by an earlier run (duplicates in the target merge away there and are not counted)\n", genCount(s.Resumed))
	}
	if s.Bulk > 0 {
		fmt.Fprintf(tw, "checked in bulk\t%s of the rows read (DuckDB; the rest one by one)\n", genCount(s.Bulk))
	}
	fmt.Fprintf(tw, "elapsed\t%s\n", s.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(tw, "throughput\t%s rows/s\n", genCount(int64(s.RowsPerSecond())))
	return tw.Flush()
}

// backfillProgress draws a progress line on a terminal (stderr) and logs
// plain progress lines otherwise.
type backfillProgress struct {
	out   io.Writer
	tty   bool
	every time.Duration
}

func newBackfillProgress(streams Streams) *backfillProgress {
	if streams.ErrIsTerminal {
		return &backfillProgress{out: streams.ErrOut, tty: true, every: 250 * time.Millisecond}
	}
	return &backfillProgress{out: streams.ErrOut, every: backfill.DefaultProgressEvery}
}

func (p *backfillProgress) report(pr backfill.Progress) {
	if !p.tty {
		if pr.Done {
			return // the summary follows
		}
		args := []any{"file", fmt.Sprintf("%d/%d %s", pr.FileIndex, pr.Files, pr.File), "rows", pr.Rows, "loaded", pr.Loaded, "rejected", pr.Rejected, "rows_per_s", int64(pr.RowsPerSecond())}
		if eta, ok := pr.ETA(); ok {
			args = append(args, "done", fmt.Sprintf("%.0f%%", 100*pr.Fraction), "eta", eta.Round(time.Second).String())
		}
		slog.Info("backfill progress", args...)
		return
	}
	fmt.Fprint(p.out, "\r\x1b[K"+backfillProgressLine(pr, 30))
	if pr.Done {
		fmt.Fprintln(p.out)
	}
}

// backfillProgressLine renders one progress line with a bar width cells wide.
func backfillProgressLine(pr backfill.Progress, width int) string {
	var b strings.Builder
	if pr.Fraction >= 0 {
		filled := int(pr.Fraction * float64(width))
		b.WriteString("[" + strings.Repeat("#", filled) + strings.Repeat(".", width-filled) + "] ")
		fmt.Fprintf(&b, "%3.0f%%  ", 100*pr.Fraction)
	}
	fmt.Fprintf(&b, "%s rows  %s rows/s", genCount(pr.Rows), genCount(int64(pr.RowsPerSecond())))
	if pr.Rejected > 0 {
		fmt.Fprintf(&b, "  %s rejected", genCount(pr.Rejected))
	}
	if eta, ok := pr.ETA(); ok && !pr.Done {
		fmt.Fprintf(&b, "  ETA %s", eta.Round(time.Second))
	}
	if pr.Files > 1 {
		fmt.Fprintf(&b, "  file %d/%d", pr.FileIndex, pr.Files)
	}
	return b.String()
}
