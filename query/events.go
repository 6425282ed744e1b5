package query

import (
	"context"
	"fmt"

	"github.com/pulse-analytics/pulse/output"
)

// DefaultTop is how many breakdown values keep their own rows.
const DefaultTop = 10

// Events asks for event counts and unique users per interval and event
// name, optionally broken down by a property or context key.
type Events struct {
	Scope
	Range
	Interval Interval
	// Event, when set, keeps only that event name.
	Event string
	// By, when set, splits each series by the field's value: the Top
	// values with most events keep their own rows, the rest are "(other)".
	By  *Field
	Top int
}

// Validate checks the parameters; its errors are usage errors.
func (q Events) Validate() error {
	if err := q.Scope.Validate(); err != nil {
		return err
	}
	if q.By != nil && (q.Top < 1 || q.Top > 1000) {
		return fmt.Errorf("--top must be between 1 and 1000, got %d", q.Top)
	}
	return q.checkBuckets(q.Interval)
}

// Run computes the metric: per bucket, event (and value), events and
// users; every bucket of the range appears for every series.
func (q Events) Run(ctx context.Context, b Backend) (*output.Table, error) {
	p := q.timeParams(Params{
		"tenant": q.tenantParam(), "interval": string(q.Interval), "event": nullIfEmpty(q.Event),
		"by_source": nil, "by_key": nil, "top": q.Top,
	})
	if q.By != nil {
		q.By.params(p, "by_")
	}
	t, err := run(ctx, b, "events", p)
	if err != nil {
		return nil, err
	}
	q.shape(t)
	if i := t.ColumnIndex("value"); i >= 0 {
		if q.By == nil {
			t.DropColumn("value")
		} else {
			t.Columns[i].Name = q.By.String()
		}
	}
	return t, nil
}
