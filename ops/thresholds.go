package ops

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Thresholds are the limits `pulse status` checks (and `pulse top`
// highlights). A negative MaxLag or MaxErrorRate, or a zero MaxFreshness,
// means no check.
type Thresholds struct {
	// MaxLag is the most messages the consumer group may be behind, summed
	// over the topic's partitions.
	MaxLag int64
	// MaxFreshness is the longest the newest stored event may be old.
	MaxFreshness time.Duration
	// MaxErrorRate is the highest share (0..1) of the gateway's event
	// requests not answered 2xx over the sampling window.
	MaxErrorRate float64
}

// NoThresholds checks nothing.
var NoThresholds = Thresholds{MaxLag: -1, MaxErrorRate: -1}

// State is a check's outcome.
type State string

const (
	// StateOK: the figure is within its limit.
	StateOK State = "ok"
	// StateBreach: the figure is past its limit.
	StateBreach State = "breach"
	// StateUnknown: the figure could not be read, so the check could not run.
	StateUnknown State = "unknown"
)

// Check is one threshold applied to a snapshot.
type Check struct {
	// Name is lag, freshness or error_rate.
	Name string
	// Value is the figure checked (NaN when unknown), in Unit.
	Value, Limit float64
	Unit         string
	State        State
	// Reason explains an unknown figure, or a breach without a value.
	Reason string
}

// Check names.
const (
	CheckLag       = "lag"
	CheckFreshness = "freshness"
	CheckErrorRate = "error_rate"
)

// Evaluate applies the thresholds that are set to s.
func (t Thresholds) Evaluate(s Snapshot) []Check {
	var checks []Check
	if t.MaxLag >= 0 {
		c := Check{Name: CheckLag, Limit: float64(t.MaxLag), Unit: "messages", Value: math.NaN()}
		if err := readErr(s.Kafka.Enabled, s.Kafka.OK(), s.Kafka.Err, "--brokers"); err != nil {
			c.State, c.Reason = StateUnknown, err.Error()
		} else {
			c.Value = float64(s.Kafka.Value.TotalLag)
			c.State = okOrBreach(c.Value <= c.Limit)
		}
		checks = append(checks, c)
	}
	if t.MaxFreshness > 0 {
		c := Check{Name: CheckFreshness, Limit: t.MaxFreshness.Seconds(), Unit: "seconds", Value: math.NaN()}
		if err := readErr(s.Store.Enabled, s.Store.OK(), s.Store.Err, "--data, --clickhouse or a gateway serving "+StatsPath); err != nil {
			c.State, c.Reason = StateUnknown, err.Error()
		} else if age, ok := s.Store.Value.Freshness(); !ok {
			c.State, c.Reason = StateBreach, "the store holds no events"
		} else {
			c.Value = age.Seconds()
			c.State = okOrBreach(age <= t.MaxFreshness)
		}
		checks = append(checks, c)
	}
	if t.MaxErrorRate >= 0 {
		c := Check{Name: CheckErrorRate, Limit: t.MaxErrorRate, Unit: "ratio", Value: math.NaN()}
		if err := readErr(s.Gateway.Enabled, s.Gateway.OK(), s.Gateway.Err, "--gateway"); err != nil {
			c.State, c.Reason = StateUnknown, err.Error()
		} else if rate := s.Gateway.Value.ErrorRate(); math.IsNaN(rate) {
			c.State, c.Reason = StateOK, "no requests in the window"
		} else {
			c.Value = rate
			c.State = okOrBreach(rate <= t.MaxErrorRate)
		}
		checks = append(checks, c)
	}
	return checks
}

func okOrBreach(ok bool) State {
	if ok {
		return StateOK
	}
	return StateBreach
}

func readErr(enabled, ok bool, err error, flag string) error {
	switch {
	case !enabled:
		return fmt.Errorf("source not configured (%s)", flag)
	case err != nil:
		return err
	case !ok:
		return errors.New("not read yet")
	}
	return nil
}

// Breached says whether any check breached its limit.
func Breached(checks []Check) bool {
	for _, c := range checks {
		if c.State == StateBreach {
			return true
		}
	}
	return false
}
