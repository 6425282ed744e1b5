package query

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pulse-analytics/pulse/output"
)

// Scope says whose data a metric reads: one tenant, or every tenant with
// a tenant_id column in the result. Users are always counted per tenant.
type Scope struct {
	Tenant     string
	AllTenants bool
}

// Validate requires exactly one of Tenant and AllTenants.
func (s Scope) Validate() error {
	switch {
	case s.AllTenants && s.Tenant != "":
		return errors.New("--tenant and --all-tenants exclude each other: give one")
	case !s.AllTenants && strings.TrimSpace(s.Tenant) == "":
		return errors.New("--tenant is required: name the tenant (e.g. --tenant acme), or pass --all-tenants for every tenant")
	}
	return nil
}

// tenantParam is the statements' $tenant: NULL selects every tenant.
func (s Scope) tenantParam() any {
	if s.AllTenants {
		return nil
	}
	return s.Tenant
}

// shape drops the tenant_id column that every statement returns unless
// the caller asked for all tenants.
func (s Scope) shape(t *output.Table) {
	if !s.AllTenants {
		t.DropColumn("tenant_id")
	}
}

// Range is the half-open time range [Start, End) that a metric reads.
type Range struct {
	Start, End time.Time
}

// DefaultDays is the length of the default range: the last 30 UTC days,
// today included.
const DefaultDays = 30

// ParseRange reads --from and --to. Each is a date (2006-01-02, a whole
// UTC day) or an RFC 3339 time. Both ends are inclusive: --to as a date
// includes that whole day, --to as a time includes events at that very
// millisecond. Missing ends default to a 30-day range ending today (UTC).
func ParseRange(from, to string, now time.Time) (Range, error) {
	today := now.UTC().Truncate(24 * time.Hour)
	var r Range
	if to == "" {
		r.End = today.AddDate(0, 0, 1)
	} else {
		t, isDate, err := parseTime(to)
		if err != nil {
			return r, fmt.Errorf("invalid --to: %w", err)
		}
		if isDate {
			r.End = t.AddDate(0, 0, 1)
		} else {
			r.End = t.Add(time.Millisecond)
		}
	}
	if from == "" {
		r.Start = r.End.Add(-time.Millisecond).Truncate(24*time.Hour).AddDate(0, 0, 1-DefaultDays)
	} else {
		t, _, err := parseTime(from)
		if err != nil {
			return r, fmt.Errorf("invalid --from: %w", err)
		}
		r.Start = t
	}
	if !r.Start.Before(r.End) {
		return r, fmt.Errorf("--from (%s) is after --to (%s): swap them", r.Start.Format(time.RFC3339Nano), r.End.Add(-time.Millisecond).Format(time.RFC3339Nano))
	}
	return r, nil
}

// parseTime reads a date or an RFC 3339 time, truncated to milliseconds
// like stored timestamps.
func parseTime(s string) (t time.Time, isDate bool, err error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC().Truncate(time.Millisecond), false, nil
	}
	return time.Time{}, false, fmt.Errorf("%q is neither a date (2006-01-02) nor an RFC 3339 time (2006-01-02T15:04:05Z)", s)
}

// Days returns the UTC days that the range touches, first and last
// included: day-based metrics (active, retention, adoption) cover whole
// days, from the day of Start through the day of the last millisecond.
func (r Range) Days() (first, last time.Time) {
	return r.Start.UTC().Truncate(24 * time.Hour), r.End.Add(-time.Millisecond).UTC().Truncate(24 * time.Hour)
}

func (r Range) dayParams(p Params) Params {
	first, last := r.Days()
	p["first_day"] = first.Format(time.DateOnly)
	p["last_day"] = last.Format(time.DateOnly)
	return p
}

func (r Range) timeParams(p Params) Params {
	p["start_ms"] = r.Start.UnixMilli()
	p["end_ms"] = r.End.UnixMilli()
	return p
}

// Interval is the bucket size of time series: UTC hours, days, ISO weeks
// (starting Monday) or calendar months.
type Interval string

const (
	Hour  Interval = "hour"
	Day   Interval = "day"
	Week  Interval = "week"
	Month Interval = "month"
)

// maxBuckets bounds the rows a time series may have per series, so a
// year of hours does not flood a terminal by accident.
const maxBuckets = 10_000

// ParseInterval reads --interval (or --period) among the allowed values.
func ParseInterval(flag, s string, allowed ...Interval) (Interval, error) {
	names := make([]string, len(allowed))
	for i, a := range allowed {
		if strings.EqualFold(strings.TrimSpace(s), string(a)) {
			return a, nil
		}
		names[i] = string(a)
	}
	return "", fmt.Errorf("invalid %s %q: use one of %s", flag, s, strings.Join(names, ", "))
}

// buckets counts the interval buckets that overlap r.
func (r Range) buckets(iv Interval) int {
	first, last := r.Days()
	switch iv {
	case Hour:
		return int(r.End.Add(-time.Millisecond).Truncate(time.Hour).Sub(r.Start.Truncate(time.Hour))/time.Hour) + 1
	case Week:
		return int(last.Sub(first)/(7*24*time.Hour)) + 2
	case Month:
		return (last.Year()-first.Year())*12 + int(last.Month()) - int(first.Month()) + 1
	}
	return int(last.Sub(first)/(24*time.Hour)) + 1
}

func (r Range) checkBuckets(iv Interval) error {
	if n := r.buckets(iv); n > maxBuckets {
		return fmt.Errorf("the range holds %d %ss, more than %d: use a coarser --interval or a shorter range", n, iv, maxBuckets)
	}
	return nil
}

// windowDays matches whole days or weeks, which time.ParseDuration lacks.
var windowDays = regexp.MustCompile(`^([0-9]{1,4})([dw])$`)

// ParseWindow reads a funnel window: a Go duration (90m, 1h30m, 2.5h) or
// whole days or weeks (7d, 2w).
func ParseWindow(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if m := windowDays.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		d = time.Duration(n) * 24 * time.Hour
		if m[2] == "w" {
			d *= 7
		}
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("invalid --window %q: use a duration such as 30m, 12h, 7d or 2w", s)
		}
	}
	switch {
	case d <= 0:
		return 0, fmt.Errorf("--window must be positive, got %q", s)
	case d%time.Millisecond != 0:
		return 0, fmt.Errorf("--window %q must be a whole number of milliseconds", s)
	case d > 366*24*time.Hour:
		return 0, fmt.Errorf("--window %q is longer than 366d", s)
	}
	return d, nil
}
