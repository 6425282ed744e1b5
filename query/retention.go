package query

import (
	"context"
	"errors"
	"fmt"

	"github.com/pulse-analytics/pulse/output"
)

// MaxRetentionPeriods bounds the triangle's width.
const MaxRetentionPeriods = 366

// Retention asks, per cohort of users by the period of their first
// StartEvent, which share came back with a ReturnEvent in each of the
// Periods periods that follow.
type Retention struct {
	Scope
	Range
	StartEvent  string
	ReturnEvent string
	Period      Interval // Day or Week
	Periods     int
	// Counts shows how many users returned instead of the share.
	Counts bool
}

// Validate checks the parameters; its errors are usage errors.
func (q Retention) Validate() error {
	if err := q.Scope.Validate(); err != nil {
		return err
	}
	switch {
	case q.StartEvent == "":
		return errors.New("--start-event is required: the event that puts a user in a cohort, e.g. --start-event signup")
	case q.ReturnEvent == "":
		return errors.New("--return-event is required: the event that counts as coming back, e.g. --return-event session_started")
	case q.Period != Day && q.Period != Week:
		return fmt.Errorf("invalid --period %q: use day or week", q.Period)
	case q.Periods < 1 || q.Periods > MaxRetentionPeriods:
		return fmt.Errorf("--periods must be between 1 and %d, got %d", MaxRetentionPeriods, q.Periods)
	}
	return q.checkBuckets(q.Period)
}

// Run computes the triangle: one row per cohort with its size and one
// column per following period, e.g. week_1 .. week_8. Cells of periods
// that have not started by the end of the range are NULL.
func (q Retention) Run(ctx context.Context, b Backend) (*output.Table, error) {
	p := q.dayParams(Params{
		"tenant": q.tenantParam(), "start_event": q.StartEvent, "return_event": q.ReturnEvent,
		"period": string(q.Period), "periods": q.Periods,
	})
	long, err := run(ctx, b, "retention", p)
	if err != nil {
		return nil, err
	}
	t, err := q.triangle(long)
	if err != nil {
		return nil, err
	}
	q.shape(t)
	return t, nil
}

// triangle pivots the statement's rows (tenant_id, cohort, users,
// period_n, returned, share) into one row per cohort.
func (q Retention) triangle(long *output.Table) (*output.Table, error) {
	col := map[string]int{}
	for _, name := range []string{"tenant_id", "cohort", "users", "period_n", "returned", "share"} {
		if col[name] = long.ColumnIndex(name); col[name] < 0 {
			return nil, fmt.Errorf("retention statement returned no %s column", name)
		}
	}
	cellType, cell := output.Float, col["share"]
	if q.Counts {
		cellType, cell = output.Int, col["returned"]
	}
	t := &output.Table{Columns: []output.Column{
		{Name: "tenant_id", Type: output.String},
		{Name: "cohort", Type: output.Date},
		{Name: "users", Type: output.Int},
	}}
	for n := 1; n <= q.Periods; n++ {
		t.Columns = append(t.Columns, output.Column{Name: fmt.Sprintf("%s_%d", q.Period, n), Type: cellType})
	}
	type key struct {
		tenant string
		cohort any
	}
	index := map[key]int{}
	for _, r := range long.Rows {
		k := key{fmt.Sprint(r[col["tenant_id"]]), r[col["cohort"]]}
		i, ok := index[k]
		if !ok {
			i = len(t.Rows)
			index[k] = i
			row := make([]any, len(t.Columns))
			row[0], row[1], row[2] = r[col["tenant_id"]], r[col["cohort"]], r[col["users"]]
			t.Rows = append(t.Rows, row)
		}
		n, ok := r[col["period_n"]].(int64)
		if !ok || n < 1 || int(n) > q.Periods {
			return nil, fmt.Errorf("retention statement returned period_n %v outside 1..%d", r[col["period_n"]], q.Periods)
		}
		v := r[cell]
		if x, ok := v.(float64); ok {
			v = Round(x)
		}
		t.Rows[i][2+n] = v
	}
	return t, nil
}
