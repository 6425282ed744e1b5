package query

import (
	"context"
	"errors"

	"github.com/pulse-analytics/pulse/output"
)

// DefaultLatencyField is the field `pulse query latency` reads unless told.
const DefaultLatencyField = "properties.latency_ms"

// Latency asks for p50, p95 and p99 of a numeric field of one event, per
// interval.
type Latency struct {
	Scope
	Range
	Interval Interval
	Event    string
	Field    Field
	// Where, when set, keeps only the events that match it.
	Where *Condition
}

// Validate checks the parameters; its errors are usage errors.
func (q Latency) Validate() error {
	if err := q.Scope.Validate(); err != nil {
		return err
	}
	if q.Event == "" {
		return errors.New("--event is required: the event whose field to measure, e.g. --event api_request")
	}
	if q.Field.Source == "" || q.Field.Key == "" {
		return errors.New("--field is required, e.g. --field properties.latency_ms")
	}
	return q.checkBuckets(q.Interval)
}

// Run computes one row per bucket: events, values (events whose field is
// a number), p50, p95, p99.
func (q Latency) Run(ctx context.Context, b Backend) (*output.Table, error) {
	p := q.timeParams(Params{"tenant": q.tenantParam(), "interval": string(q.Interval), "event": q.Event})
	q.Field.params(p, "field_")
	q.Where.params(p)
	t, err := run(ctx, b, "latency", p)
	if err != nil {
		return nil, err
	}
	q.shape(t)
	roundRatios(t, "p50", "p95", "p99")
	return t, nil
}

// ErrorRate asks for the share of one event's occurrences that match a
// condition, per interval, e.g. api_request with properties.status>=500.
type ErrorRate struct {
	Scope
	Range
	Interval Interval
	Event    string
	Where    Condition
}

// Validate checks the parameters; its errors are usage errors.
func (q ErrorRate) Validate() error {
	if err := q.Scope.Validate(); err != nil {
		return err
	}
	if q.Event == "" {
		return errors.New("--event is required: the event whose failures to count, e.g. --event api_request")
	}
	if q.Where.Op == "" {
		return errors.New("--where is required: the condition that makes an occurrence an error, e.g. --where 'properties.status>=500'")
	}
	return q.checkBuckets(q.Interval)
}

// Run computes one row per bucket: events, errors and error_rate.
func (q ErrorRate) Run(ctx context.Context, b Backend) (*output.Table, error) {
	p := q.timeParams(Params{"tenant": q.tenantParam(), "interval": string(q.Interval), "event": q.Event})
	q.Where.params(p)
	t, err := run(ctx, b, "errors", p)
	if err != nil {
		return nil, err
	}
	q.shape(t)
	roundRatios(t, "error_rate")
	return t, nil
}
