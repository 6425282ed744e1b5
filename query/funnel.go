package query

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pulse-analytics/pulse/output"
)

// MaxFunnelSteps matches ClickHouse windowFunnel's limit of 32 conditions.
const MaxFunnelSteps = 32

// Funnel asks how many users who did Steps[0] in the range went on to do
// the later steps, in order, within Window of their first step.
type Funnel struct {
	Scope
	Range
	Steps  []string
	Window time.Duration
}

// Validate checks the parameters; its errors are usage errors.
func (q Funnel) Validate() error {
	if err := q.Scope.Validate(); err != nil {
		return err
	}
	switch {
	case len(q.Steps) < 2:
		return errors.New("--steps needs at least two event names, e.g. --steps signup,project_created")
	case len(q.Steps) > MaxFunnelSteps:
		return fmt.Errorf("--steps takes at most %d events, got %d", MaxFunnelSteps, len(q.Steps))
	case q.Window <= 0 || q.Window%time.Millisecond != 0:
		return errors.New("--window must be a positive whole number of milliseconds, e.g. 7d")
	}
	seen := map[string]bool{}
	for _, s := range q.Steps {
		if strings.TrimSpace(s) == "" {
			return errors.New("--steps has an empty event name: separate names by single commas")
		}
		// One event could otherwise fill two steps at once, as it does in
		// ClickHouse's windowFunnel.
		if seen[s] {
			return fmt.Errorf("--steps names %q twice: each event may be one step only", s)
		}
		seen[s] = true
	}
	return nil
}

// Run computes the funnel: one row per step.
func (q Funnel) Run(ctx context.Context, b Backend) (*output.Table, error) {
	p := q.timeParams(Params{"tenant": q.tenantParam(), "steps": q.Steps, "window_ms": q.Window.Milliseconds()})
	t, err := run(ctx, b, "funnel", p)
	if err != nil {
		return nil, err
	}
	q.shape(t)
	roundRatios(t, "conversion_from_previous", "conversion_from_first", "median_seconds_from_first")
	return t, nil
}
