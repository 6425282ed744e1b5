package ops

import (
	"context"
	dbsql "database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	sqlfiles "github.com/pulse-analytics/pulse/sql"
)

// StatsPath is the gateway route that serves StoreStats as JSON for the
// embedded store, which only the gateway's process can open while it runs.
const StatsPath = "/v1/stats"

// StoreStats are the store's figures: what on-call asks of the data
// itself, as opposed to the machinery. It is the JSON body of GET
// /v1/stats, shared by the gateway and its clients.
type StoreStats struct {
	// At is when the figures were read, by the store's clock; freshness
	// is measured against it so that clock skew between machines does
	// not enter.
	At time.Time `json:"at"`
	// NewestTS is the ts of the newest stored event; null when the store
	// holds none.
	NewestTS *time.Time `json:"newest_ts"`
	// Events is how many events the store holds (for ClickHouse, rows of
	// pulse.events before ReplacingMergeTree merges drop duplicates).
	Events int64 `json:"events"`
	// Tenants lists every tenant with an event since the start of
	// yesterday (UTC), by tenant_id.
	Tenants []TenantDAU `json:"tenants"`
}

// TenantDAU is one tenant's daily active users: today so far, and
// yesterday up to the same time of day, so the two compare like for like.
type TenantDAU struct {
	Tenant string `json:"tenant_id"`
	// Today is distinct users with an event dated today (UTC).
	Today int64 `json:"dau_today"`
	// YesterdaySameTime is distinct users with an event dated yesterday
	// (UTC) at or before At minus 24 hours.
	YesterdaySameTime int64 `json:"dau_yesterday_same_time"`
}

// Freshness is At minus the newest event's ts; false when there is none.
// It can be negative when clients send ts slightly in the future.
func (s StoreStats) Freshness() (time.Duration, bool) {
	if s.NewestTS == nil {
		return 0, false
	}
	return s.At.Sub(*s.NewestTS), true
}

// Totals sums the tenants' DAU. Users are counted per tenant, so the sum
// is the number of distinct (tenant, user) pairs.
func (s StoreStats) Totals() TenantDAU {
	t := TenantDAU{}
	for _, d := range s.Tenants {
		t.Today += d.Today
		t.YesterdaySameTime += d.YesterdaySameTime
	}
	return t
}

// StoreSource reads the store's figures.
type StoreSource interface {
	Stats(ctx context.Context) (StoreStats, error)
	// Describe names the store for people, e.g. "embedded store via gateway".
	Describe() string
}

// ReadEmbeddedStats reads StoreStats from an embedded store's database at
// now. It only reads, so the gateway can run it on its open store and
// tools on a read-only copy.
func ReadEmbeddedStats(ctx context.Context, db *dbsql.DB, now time.Time) (StoreStats, error) {
	now = now.UTC().Truncate(time.Microsecond)
	s := StoreStats{At: now, Tenants: []TenantDAU{}}
	var newest dbsql.NullInt64
	err := db.QueryRowContext(ctx, sqlfiles.Statement(sqlfiles.DuckDB, "ops/store_totals"), dbsql.Named("now_us", now.UnixMicro())).Scan(&s.Events, &newest)
	if err != nil {
		return StoreStats{}, fmt.Errorf("read store totals: %w", err)
	}
	if newest.Valid {
		ts := time.UnixMilli(newest.Int64).UTC()
		s.NewestTS = &ts
	}
	rows, err := db.QueryContext(ctx, sqlfiles.Statement(sqlfiles.DuckDB, "ops/tenant_dau"), dbsql.Named("now_us", now.UnixMicro()))
	if err != nil {
		return StoreStats{}, fmt.Errorf("read store DAU: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d TenantDAU
		if err := rows.Scan(&d.Tenant, &d.Today, &d.YesterdaySameTime); err != nil {
			return StoreStats{}, fmt.Errorf("read store DAU: %w", err)
		}
		s.Tenants = append(s.Tenants, d)
	}
	if err := rows.Err(); err != nil {
		return StoreStats{}, fmt.Errorf("read store DAU: %w", err)
	}
	return s, nil
}

// ErrStoreBusy means another process (pulse ingest, pulse load) holds
// the embedded store file: DuckDB lets no other process open it then.
var ErrStoreBusy = errors.New("embedded store is held by another process")

// EmbeddedStoreSource reads an embedded store file directly. It opens the
// file for each read and closes it at once, because an open handle, even
// read-only, keeps `pulse ingest` from opening the file.
type EmbeddedStoreSource struct {
	Path string
	// Open opens the file read-only (cmd wires store.Open, which ops
	// cannot import: store imports ingest, which may import ops). It
	// returns an error wrapping ErrStoreBusy when the file is held.
	Open func(ctx context.Context) (db *dbsql.DB, closeFn func() error, err error)
	Now  func() time.Time
	// Busy, if set, answers while another process holds the file: the
	// gateway that writes it, through GET /v1/stats.
	Busy StoreSource
}

// Stats opens the file, reads its figures and closes it.
func (e *EmbeddedStoreSource) Stats(ctx context.Context) (StoreStats, error) {
	db, closeFn, err := e.Open(ctx)
	if errors.Is(err, ErrStoreBusy) && e.Busy != nil {
		s, busyErr := e.Busy.Stats(ctx)
		if busyErr != nil {
			return StoreStats{}, fmt.Errorf("%w; and from the gateway: %w", err, busyErr)
		}
		return s, nil
	}
	if err != nil {
		return StoreStats{}, err
	}
	s, err := ReadEmbeddedStats(ctx, db, e.Now())
	return s, errors.Join(err, closeFn())
}

// Describe names the store.
func (e *EmbeddedStoreSource) Describe() string { return "embedded store " + e.Path }

// GatewayStoreSource reads the embedded store's figures from the running
// gateway's GET /v1/stats, the only way while the gateway holds the file.
type GatewayStoreSource struct {
	URL    string
	Client *http.Client
}

// NewGatewayStoreSource returns a source for the gateway at baseURL.
func NewGatewayStoreSource(baseURL string) *GatewayStoreSource {
	return &GatewayStoreSource{URL: strings.TrimRight(baseURL, "/"), Client: &http.Client{}}
}

// Stats fetches GET /v1/stats. A gateway without the route (404, 405)
// gives ErrNotServed.
func (g *GatewayStoreSource) Stats(ctx context.Context) (StoreStats, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.URL+StatsPath, nil)
	if err != nil {
		return StoreStats{}, fmt.Errorf("gateway URL %q: %w", g.URL, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := g.Client.Do(req)
	if err != nil {
		return StoreStats{}, fmt.Errorf("store figures from %s%s: %w", g.URL, StatsPath, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed:
		return StoreStats{}, fmt.Errorf("%w: the gateway at %s has no GET %s (a Kafka-sink gateway, or an older pulse; use --clickhouse or --data)", ErrNotServed, g.URL, StatsPath)
	case resp.StatusCode != http.StatusOK:
		return StoreStats{}, fmt.Errorf("store figures from %s%s: HTTP %s", g.URL, StatsPath, resp.Status)
	}
	var s StoreStats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return StoreStats{}, fmt.Errorf("store figures from %s%s: invalid JSON: %w", g.URL, StatsPath, err)
	}
	return s, nil
}

// Describe names the store.
func (g *GatewayStoreSource) Describe() string { return "embedded store via gateway" }
