package query

import (
	"context"

	"github.com/pulse-analytics/pulse/output"
)

// Active asks for DAU, WAU, MAU and stickiness per UTC day.
type Active struct {
	Scope
	Range
	// Event, when set, counts only users who did that event.
	Event string
}

// Validate checks the parameters; its errors are usage errors.
func (q Active) Validate() error {
	if err := q.Scope.Validate(); err != nil {
		return err
	}
	return q.checkBuckets(Day)
}

// Run computes the metric: one row per day of the range (whole UTC days)
// with dau, wau, mau and stickiness = dau/mau.
func (q Active) Run(ctx context.Context, b Backend) (*output.Table, error) {
	p := q.dayParams(Params{"tenant": q.tenantParam(), "event": nullIfEmpty(q.Event)})
	t, err := run(ctx, b, "active", p)
	if err != nil {
		return nil, err
	}
	q.shape(t)
	roundRatios(t, "stickiness")
	return t, nil
}
