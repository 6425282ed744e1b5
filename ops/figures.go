package ops

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Figure is one figure of a snapshot as a flat row, the shape `pulse
// status` prints in every format.
type Figure struct {
	// Source is gateway, store, kafka or clickhouse.
	Source string
	// Name names the figure, e.g. events_per_second.
	Name string
	// Scope narrows it: a tenant_id, topic/partition, or "" for the whole.
	Scope string
	// Value is the figure in Unit; NaN when it cannot be computed (no
	// requests in the window, a source that did not answer).
	Value float64
	Unit  string
	// Limit is the threshold applied, NaN when none.
	Limit float64
	// Status is ok or breach for a checked figure, unknown for a checked
	// figure that could not be read, error for a source that failed, n/a
	// for a source that does not serve the figures, "" otherwise.
	Status string
	// Detail says more: the error, the group's state, a timestamp.
	Detail string
}

// Status values of a Figure beyond the check states.
const (
	StatusError = "error"
	StatusNA    = "n/a"
)

// Figures flattens s and the outcome of checks into rows, source by
// source, in a fixed order.
func Figures(s Snapshot, checks []Check) []Figure {
	byName := map[string]Check{}
	for _, c := range checks {
		byName[c.Name] = c
	}
	var out []Figure
	add := func(f Figure) {
		// Only checked figures carry a limit; their status is a State.
		switch State(f.Status) {
		case StateOK, StateBreach, StateUnknown:
		default:
			f.Limit = math.NaN()
		}
		out = append(out, f)
	}
	checked := func(f Figure, name string) Figure {
		if c, ok := byName[name]; ok {
			f.Limit, f.Status = c.Limit, string(c.State)
			if c.Reason != "" {
				f.Detail = c.Reason
			}
			delete(byName, name)
		}
		return f
	}
	failed := func(source string, enabled bool, err error) bool {
		if !enabled {
			return true
		}
		if err == nil {
			return false
		}
		status := StatusError
		if errors.Is(err, ErrNotServed) {
			status = StatusNA
		}
		add(Figure{Source: source, Name: "source", Value: math.NaN(), Status: status, Detail: err.Error()})
		return true
	}

	if g := s.Gateway; !failed("gateway", g.Enabled, g.Err) {
		v := g.Value
		window := fmt.Sprintf("over %s", v.Window.Round(time.Millisecond))
		add(Figure{Source: "gateway", Name: "events_per_second", Value: v.EventsPerSec, Unit: "events/s", Detail: window})
		add(Figure{Source: "gateway", Name: "rejected_per_second", Value: v.RejectedPerSec, Unit: "events/s", Detail: window})
		add(Figure{Source: "gateway", Name: "requests", Value: v.Requests, Unit: "requests", Detail: window + ", event requests"})
		add(Figure{Source: "gateway", Name: "share_2xx", Value: v.Share2xx, Unit: "ratio", Detail: window + ", event requests"})
		add(checked(Figure{Source: "gateway", Name: "error_rate", Value: v.ErrorRate(), Unit: "ratio", Detail: window}, CheckErrorRate))
		add(Figure{Source: "gateway", Name: "p95_ack", Value: v.P95Ack, Unit: "seconds", Detail: window + ", ingest routes"})
		add(Figure{Source: "gateway", Name: "http_429", Value: v.Status429, Unit: "requests", Detail: window})
		add(Figure{Source: "gateway", Name: "http_503", Value: v.Status503, Unit: "requests", Detail: window})
		add(Figure{Source: "gateway", Name: "http_429_total", Value: v.Status429Total, Unit: "requests", Detail: "since the gateway started"})
		add(Figure{Source: "gateway", Name: "http_503_total", Value: v.Status503Total, Unit: "requests", Detail: "since the gateway started"})
		add(Figure{Source: "gateway", Name: "accepted_total", Value: v.AcceptedTotal, Unit: "events", Detail: "since the gateway started"})
		add(Figure{Source: "gateway", Name: "sink_buffer", Value: v.BufferEvents, Unit: "events"})
		add(Figure{Source: "gateway", Name: "sink_flush_errors_total", Value: v.FlushErrorsTotal, Unit: "flushes", Detail: "since the gateway started"})
	}

	if st := s.Store; !failed("store", st.Enabled, st.Err) {
		v := st.Value
		fresh := Figure{Source: "store", Name: "freshness", Value: math.NaN(), Unit: "seconds", Detail: "no events stored"}
		if age, ok := v.Freshness(); ok {
			fresh.Value = age.Seconds()
			fresh.Detail = "newest ts " + v.NewestTS.UTC().Format(time.RFC3339Nano)
		}
		add(checked(fresh, CheckFreshness))
		add(Figure{Source: "store", Name: "events_total", Value: float64(v.Events), Unit: "events"})
		total := v.Totals()
		add(Figure{Source: "store", Name: "dau_today", Value: float64(total.Today), Unit: "users", Detail: "all tenants"})
		add(Figure{Source: "store", Name: "dau_yesterday_same_time", Value: float64(total.YesterdaySameTime), Unit: "users", Detail: "all tenants"})
		for _, d := range v.Tenants {
			add(Figure{Source: "store", Name: "dau_today", Scope: d.Tenant, Value: float64(d.Today), Unit: "users"})
			add(Figure{Source: "store", Name: "dau_yesterday_same_time", Scope: d.Tenant, Value: float64(d.YesterdaySameTime), Unit: "users"})
		}
	}

	if k := s.Kafka; !failed("kafka", k.Enabled, k.Err) {
		v := k.Value
		detail := fmt.Sprintf("group %s, %s, members: %d", v.Group, v.State, v.Members)
		if v.NoCommits {
			detail += ", no commits: lag counted from the log start"
		}
		add(checked(Figure{Source: "kafka", Name: "lag", Value: float64(v.TotalLag), Unit: "messages", Detail: detail}, CheckLag))
		for _, p := range v.Partitions {
			f := Figure{Source: "kafka", Name: "lag", Scope: fmt.Sprintf("%s/%d", p.Topic, p.Partition), Value: float64(p.Lag), Unit: "messages",
				Detail: fmt.Sprintf("committed %d, end %d", p.Committed, p.End)}
			if p.Err != nil {
				f.Value, f.Status, f.Detail = math.NaN(), StatusError, p.Err.Error()
			}
			add(f)
		}
	}

	if c := s.ClickHouse; !failed("clickhouse", c.Enabled, c.Err) {
		v := c.Value
		add(Figure{Source: "clickhouse", Name: "insert_errors", Value: float64(v.InsertErrors), Unit: "queries", Detail: "failed INSERTs since the server started"})
		add(Figure{Source: "clickhouse", Name: "consume_errors", Value: float64(v.ConsumeErrors), Unit: "errors", Detail: "Kafka engine errors since the server started"})
		add(Figure{Source: "clickhouse", Name: "dead_letters_1h", Value: float64(v.DeadLetters), Unit: "messages", Detail: "refused into events_dead_letters in the last hour"})
		add(Figure{Source: "clickhouse", Name: "active_parts", Value: float64(v.ActiveParts), Unit: "parts"})
		add(Figure{Source: "clickhouse", Name: "max_parts_in_partition", Value: float64(v.MaxPartsInPartition), Unit: "parts"})
		add(Figure{Source: "clickhouse", Name: "merges", Value: float64(v.Merges), Unit: "merges", Detail: "running now"})
		add(Figure{Source: "clickhouse", Name: "pulse_bytes", Value: float64(v.PulseBytes), Unit: "bytes", Detail: "active parts on disk"})
		add(Figure{Source: "clickhouse", Name: "disk_used", Value: float64(v.DiskUsed), Unit: "bytes", Detail: fmt.Sprintf("of %d, every disk", v.DiskTotal)})
		if v.LastError != nil {
			add(Figure{Source: "clickhouse", Name: "last_error", Value: math.NaN(), Detail: fmt.Sprintf("%s at %s: %s", v.LastError.Name, v.LastError.At.UTC().Format(time.RFC3339), v.LastError.Message)})
		}
	}

	// Checks whose figure was not printed above: their source failed or
	// is not configured.
	for _, c := range checks {
		if _, left := byName[c.Name]; left {
			add(Figure{Source: "check", Name: c.Name, Value: c.Value, Unit: c.Unit, Limit: c.Limit, Status: string(c.State), Detail: c.Reason})
		}
	}
	return out
}
