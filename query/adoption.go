package query

import (
	"context"
	"errors"

	"github.com/pulse-analytics/pulse/output"
)

// Adoption asks, per period, how many active users used a feature (an
// event name), and how many used it for the first time.
type Adoption struct {
	Scope
	Range
	Feature string
	Period  Interval // Day, Week or Month
}

// Validate checks the parameters; its errors are usage errors.
func (q Adoption) Validate() error {
	if err := q.Scope.Validate(); err != nil {
		return err
	}
	if q.Feature == "" {
		return errors.New("--feature is required: the event that means the feature was used, e.g. --feature report_exported")
	}
	if _, err := ParseInterval("--period", string(q.Period), Day, Week, Month); err != nil {
		return err
	}
	return q.checkBuckets(q.Period)
}

// Run computes one row per period: active_users, feature_users,
// adoption_rate, new_adopters and total_adopters.
func (q Adoption) Run(ctx context.Context, b Backend) (*output.Table, error) {
	p := q.dayParams(Params{"tenant": q.tenantParam(), "feature": q.Feature, "period": string(q.Period)})
	t, err := run(ctx, b, "adoption", p)
	if err != nil {
		return nil, err
	}
	q.shape(t)
	roundRatios(t, "adoption_rate")
	return t, nil
}
