package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pulse-analytics/pulse/gen"
	"github.com/pulse-analytics/pulse/ingest"
)

// genOptions holds `pulse gen`'s flags and dependencies; genRun does the
// work so that tests can call it without cobra.
type genOptions struct {
	Streams Streams
	// Now fixes "today" for the default time range.
	Now func() time.Time

	Seed      uint64
	Tenants   int
	Users     int
	Start     string
	End       string
	Days      int
	MaxEvents int64

	Format string
	Out    string

	Target      string
	Rate        float64
	Batch       int
	Concurrency int
	Duration    time.Duration
	Live        bool
	Timeout     time.Duration

	// Resolved by genValidate.
	data  gen.Config
	drive gen.DriverConfig
}

func newGenCmd(streams Streams) *cobra.Command {
	opts := &genOptions{Streams: streams, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "gen",
		Short: "Generate realistic product events, to a file or as load on the gateway",
		Long: `Generate deterministic, realistic SaaS product events: tenants of skewed
sizes, users who sign up and go through an onboarding funnel with drop-off,
sessions, page views, feature use and api_request events with latency and
status. The same --seed and range always give the same events, with the same
event ids, so re-runs and retries de-duplicate.

Without --target the events are written in timestamp order as NDJSON (the
normalised event JSON, one per line) or CSV, to stdout or atomically to --out.

With --target they are posted to a running gateway (pulse ingest), and a
summary of sent/accepted/rejected events, throughput and acknowledgement
latency is printed at the end, also after Ctrl-C. With --duration, when the
data runs out before the time is up the next seed's data (new event ids)
follows.`,
		Example: `  pulse gen --days 30 --out events.ndjson
  pulse gen --format csv --users 1000 --max-events 5000 > events.csv
  pulse gen --target http://127.0.0.1:8080 --users 100000 --batch 500 --concurrency 8 --duration 60s
  pulse gen --target http://127.0.0.1:8080 --live --rate 50`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := genValidate(opts, cmd); err != nil {
				return err
			}
			return genRun(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.Uint64Var(&opts.Seed, "seed", gen.DefaultSeed, "data set seed; the same seed and range give the same events (env PULSE_SEED)")
	f.IntVar(&opts.Tenants, "tenants", gen.DefaultTenants, "number of tenants, Zipf-sized (env PULSE_TENANTS)")
	f.IntVar(&opts.Users, "users", gen.DefaultUsers, "total users across tenants (env PULSE_USERS)")
	f.StringVar(&opts.Start, "start", "", "first day (UTC date 2006-01-02 or RFC 3339 time); default --end minus --days (env PULSE_START)")
	f.StringVar(&opts.End, "end", "", "end of the range, exclusive (UTC date or RFC 3339); default today 00:00 UTC (env PULSE_END)")
	f.IntVar(&opts.Days, "days", gen.DefaultDays, "length of the range in days, ending at --end (env PULSE_DAYS)")
	f.Int64Var(&opts.MaxEvents, "max-events", 0, "stop after this many events; 0 = no cap (env PULSE_MAX_EVENTS)")
	f.StringVar(&opts.Format, "format", gen.FormatNDJSON, "output format: ndjson or csv (env PULSE_FORMAT)")
	f.StringVarP(&opts.Out, "out", "o", "", "write to this file (atomically) instead of stdout (env PULSE_OUT)")
	f.StringVar(&opts.Target, "target", "", "post to the gateway at this URL, e.g. http://127.0.0.1:8080, instead of writing (env PULSE_TARGET)")
	f.Float64Var(&opts.Rate, "rate", 0, "with --target: events per second; 0 = as fast as the gateway answers (env PULSE_RATE)")
	f.IntVar(&opts.Batch, "batch", gen.DefaultBatch, "with --target: events per request; 1 posts to /v1/events, more to /v1/batch (env PULSE_BATCH)")
	f.IntVar(&opts.Concurrency, "concurrency", gen.DefaultConcurrency, "with --target: requests in flight (env PULSE_CONCURRENCY)")
	f.DurationVar(&opts.Duration, "duration", 0, "with --target: stop after this long; 0 = when the data runs out (env PULSE_DURATION)")
	f.BoolVar(&opts.Live, "live", false, "with --target: set each event's ts to the time it is sent (env PULSE_LIVE)")
	f.DurationVar(&opts.Timeout, "timeout", gen.DefaultTimeout, "with --target: timeout of one request (env PULSE_TIMEOUT)")
	return cmd
}

// genValidate checks flag combinations and resolves the time range.
func genValidate(opts *genOptions, cmd *cobra.Command) error {
	changed := func(name string) bool { return cmd.Flags().Changed(name) }
	if opts.Target != "" {
		for _, name := range []string{"format", "out"} {
			if changed(name) {
				return usageErrorf("--%s writes events out; --target posts them to a gateway: use one or the other", name)
			}
		}
	} else {
		for _, name := range []string{"rate", "batch", "concurrency", "duration", "live", "timeout"} {
			if changed(name) {
				return usageErrorf("--%s only applies with --target URL", name)
			}
		}
	}
	if opts.Format != gen.FormatNDJSON && opts.Format != gen.FormatCSV {
		return usageErrorf("invalid --format %q: use %s", opts.Format, strings.Join(gen.Formats(), " or "))
	}
	start, end, err := genRange(opts, changed("days"))
	if err != nil {
		return err
	}
	opts.data = gen.Config{
		Seed: opts.Seed, Tenants: opts.Tenants, Users: opts.Users,
		Start: start, End: end, MaxEvents: opts.MaxEvents,
	}
	if err := opts.data.Validate(); err != nil {
		return usageErrorf("invalid data set: %v", err)
	}
	if opts.Target == "" {
		return nil
	}
	// The driver treats zero as "default"; here zero is a mistake.
	switch {
	case opts.Batch < 1:
		return usageErrorf("--batch must be at least 1, got %d", opts.Batch)
	case opts.Concurrency < 1:
		return usageErrorf("--concurrency must be at least 1, got %d", opts.Concurrency)
	case opts.Timeout <= 0:
		return usageErrorf("--timeout must be positive, got %s", opts.Timeout)
	}
	opts.drive = gen.DriverConfig{
		Target: opts.Target, Rate: opts.Rate, Batch: opts.Batch, Concurrency: opts.Concurrency,
		Duration: opts.Duration, Live: opts.Live, Timeout: opts.Timeout,
	}
	if err := opts.drive.Validate(); err != nil {
		return usageErrorf("invalid --target settings: %v", err)
	}
	if opts.Rate > 0 && opts.Rate < float64(opts.Batch) {
		slog.Warn("--rate is below --batch: one request every few seconds", "rate", opts.Rate, "batch", opts.Batch)
	}
	if !opts.Live && end.After(opts.Now().Add(ingest.DefaultMaxFutureSkew)) {
		slog.Warn("the range ends in the future; the gateway rejects events more than 24h ahead", "end", end.Format(time.RFC3339))
	}
	return nil
}

// genRange resolves --start, --end and --days into [start, end).
func genRange(opts *genOptions, daysSet bool) (start, end time.Time, err error) {
	if opts.Days < 1 {
		return start, end, usageErrorf("--days must be at least 1, got %d", opts.Days)
	}
	if opts.Start != "" && opts.End != "" && daysSet {
		return start, end, usageErrorf("--start, --end and --days over-determine the range: drop one")
	}
	if opts.End != "" {
		if end, err = genParseTime("end", opts.End); err != nil {
			return start, end, err
		}
	} else {
		_, end = gen.DefaultRange(opts.Now())
	}
	if opts.Start == "" {
		return end.AddDate(0, 0, -opts.Days), end, nil
	}
	if start, err = genParseTime("start", opts.Start); err != nil {
		return start, end, err
	}
	if daysSet {
		end = start.AddDate(0, 0, opts.Days)
	}
	if !end.After(start) {
		return start, end, usageErrorf("--start %s must be before --end %s", start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	return start, end, nil
}

func genParseTime(flag, value string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, value); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, value); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, usageErrorf("invalid --%s %q: use a date such as 2026-09-01 or an RFC 3339 time such as 2026-09-01T12:00:00Z", flag, value)
}

// genRun generates the events of validated opts and writes or posts them.
func genRun(ctx context.Context, opts *genOptions) error {
	if opts.Target != "" {
		return genDrive(ctx, opts)
	}
	if opts.Out == "" || opts.Out == "-" {
		n, err := genWrite(ctx, opts, opts.Streams.Out)
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted after %d events", n)
		}
		return err
	}
	return genWriteFile(ctx, opts)
}

// genWrite writes every event to w and returns how many it wrote.
func genWrite(ctx context.Context, opts *genOptions, w io.Writer) (int64, error) {
	ew, err := gen.NewWriter(w, opts.Format)
	if err != nil {
		return 0, err
	}
	var n int64
	err = gen.Generate(ctx, opts.data, func(ev ingest.Event) error {
		n++
		return ew.Write(ev)
	})
	if err != nil {
		return n, err
	}
	return n, ew.Flush()
}

// genWriteFile writes to a temporary file beside --out and renames it into
// place, so an error or Ctrl-C never leaves a half-written file.
func genWriteFile(ctx context.Context, opts *genOptions) (err error) {
	started := time.Now()
	dir, base := filepath.Split(opts.Out)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return fmt.Errorf("cannot create the output file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := genWrite(ctx, opts, tmp)
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted after %d events; %s was not written", n, opts.Out)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", opts.Out, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", opts.Out, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", opts.Out, err)
	}
	if err = os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), opts.Out); err != nil {
		return fmt.Errorf("cannot move the output into place: %w", err)
	}
	elapsed := time.Since(started)
	fmt.Fprintf(opts.Streams.Out, "wrote %s events to %s in %s (%s events/s)\n",
		genCount(n), opts.Out, elapsed.Round(time.Millisecond), genCount(int64(float64(n)/max(elapsed.Seconds(), 1e-9))))
	return nil
}

// genDrive posts to the gateway and prints the summary, also when ctx is
// cancelled (Ctrl-C) or the gateway cannot be reached.
func genDrive(ctx context.Context, opts *genOptions) error {
	dc := opts.drive
	if opts.Streams.ErrIsTerminal {
		dc.Progress = func(s gen.DriverSummary) {
			fmt.Fprintf(opts.Streams.ErrOut, "\r%s sent, %s accepted, %s/s ", genCount(s.Sent), genCount(s.Accepted), genCount(int64(s.AcceptedPerSecond())))
		}
	}
	summary, err := gen.Drive(ctx, opts.data, dc)
	if dc.Progress != nil {
		fmt.Fprintln(opts.Streams.ErrOut)
	}
	if printErr := genPrintSummary(opts.Streams.Out, summary); printErr != nil {
		return printErr
	}
	if err != nil {
		return err
	}
	if summary.Failed > 0 {
		return fmt.Errorf("%s events were not acknowledged (gateway errors or stopped in flight)", genCount(summary.Failed))
	}
	return nil
}

func genPrintSummary(w io.Writer, s gen.DriverSummary) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }
	fmt.Fprintf(tw, "events sent\t%s\n", genCount(s.Sent))
	fmt.Fprintf(tw, "accepted\t%s\n", genCount(s.Accepted))
	fmt.Fprintf(tw, "rejected\t%s%s\n", genCount(s.Rejected), genRejections(s.Rejections))
	fmt.Fprintf(tw, "failed\t%s\n", genCount(s.Failed))
	fmt.Fprintf(tw, "requests\t%s (%s retries)\n", genCount(s.Requests), genCount(s.Retries))
	fmt.Fprintf(tw, "elapsed\t%s\n", s.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(tw, "throughput\t%s events/s sent, %s events/s accepted\n", genCount(int64(s.SentPerSecond())), genCount(int64(s.AcceptedPerSecond())))
	fmt.Fprintf(tw, "ack latency\tp50 %s  p95 %s  p99 %s  max %s  (%s requests)\n",
		ms(s.Latency.P50), ms(s.Latency.P95), ms(s.Latency.P99), ms(s.Latency.Max), genCount(s.Latency.Count))
	if s.Wraps > 0 {
		fmt.Fprintf(tw, "data wraps\t%d (continued with the next seeds)\n", s.Wraps)
	}
	return tw.Flush()
}

// genRejections lists rejection kinds, most frequent first.
func genRejections(r map[string]int64) string {
	if len(r) == 0 {
		return ""
	}
	kinds := make([]string, 0, len(r))
	for k := range r {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		if r[kinds[i]] != r[kinds[j]] {
			return r[kinds[i]] > r[kinds[j]]
		}
		return kinds[i] < kinds[j]
	})
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s: %s", k, genCount(r[k]))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// genCount formats n with thousands separators.
func genCount(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + genCount(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
