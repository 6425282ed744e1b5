package ops_test

import (
	"context"
	dbsql "database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pulse-analytics/pulse/ingest"
	"github.com/pulse-analytics/pulse/ops"
	"github.com/pulse-analytics/pulse/store"
)

func event(tenant, user string, ts time.Time) ingest.Event {
	return ingest.Event{EventID: uuid.NewString(), Event: "page_viewed", UserID: user, TenantID: tenant,
		SessionID: "s-" + user, TS: ts, EventVersion: 1}
}

// newStore creates an embedded store holding events and closes it, so
// that the tests can open it read-only as pulse status does.
func newStore(t *testing.T, events ...ingest.Event) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pulse.db")
	st, err := store.Open(ctx, store.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) > 0 {
		if _, err := st.Insert(ctx, events); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func embeddedSource(path string, now time.Time) *ops.EmbeddedStoreSource {
	return &ops.EmbeddedStoreSource{
		Path: path,
		Now:  func() time.Time { return now },
		Open: func(ctx context.Context) (*dbsql.DB, func() error, error) {
			st, err := store.Open(ctx, store.Options{Path: path, ReadOnly: true})
			if err != nil {
				return nil, nil, err
			}
			return st.DB, st.Close, nil
		},
	}
}

func TestEmbeddedStatsCompareTodayWithYesterdayUpToTheSameTime(t *testing.T) {
	now := time.Date(2026, 10, 1, 15, 0, 0, 0, time.UTC)
	today := func(h, m int) time.Time { return time.Date(2026, 10, 1, h, m, 0, 0, time.UTC) }
	yesterday := func(h, m int) time.Time { return today(h, m).AddDate(0, 0, -1) }
	path := newStore(t,
		event("acme", "u1", today(10, 0)),
		event("acme", "u1", today(11, 0)), // the same user twice is one
		event("acme", "u2", today(14, 59)),
		event("acme", "u1", yesterday(9, 0)),
		event("acme", "u3", yesterday(15, 0)),              // exactly 24h ago: counted
		event("acme", "u4", yesterday(15, 1)),              // later in the day than now: not yet
		event("acme", "u5", today(0, 0).AddDate(0, 0, -2)), // the day before: neither
		event("globex", "u9", yesterday(12, 0)),
		event("acme", "u6", today(16, 0)), // dated ahead of now (clock skew): neither, nor newest
	)
	s, err := embeddedSource(path, now).Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []ops.TenantDAU{
		{Tenant: "acme", Today: 2, YesterdaySameTime: 2},
		{Tenant: "globex", Today: 0, YesterdaySameTime: 1},
	}
	if !reflect.DeepEqual(s.Tenants, want) {
		t.Errorf("tenants = %+v, want %+v", s.Tenants, want)
	}
	if s.Events != 9 {
		t.Errorf("events = %d, want 9", s.Events)
	}
	if age, ok := s.Freshness(); !ok || age != time.Minute {
		t.Errorf("freshness = %v, %v; want 1m (newest event 14:59, now 15:00)", age, ok)
	}
	if total := s.Totals(); total.Today != 2 || total.YesterdaySameTime != 3 {
		t.Errorf("totals = %+v, want today 2, yesterday 3", total)
	}
}

func TestEmbeddedStatsOfAnEmptyStoreHaveNoFreshness(t *testing.T) {
	s, err := embeddedSource(newStore(t), time.Now()).Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Freshness(); ok || s.NewestTS != nil || s.Events != 0 || len(s.Tenants) != 0 {
		t.Errorf("stats of an empty store = %+v, want no newest ts, no events, no tenants", s)
	}
}

func TestEmbeddedSourceLetsGoOfTheFileBetweenReads(t *testing.T) {
	path := newStore(t, event("acme", "u1", time.Now()))
	if _, err := embeddedSource(path, time.Now()).Stats(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A writer (pulse ingest) can open the file right after a read.
	st, err := store.Open(context.Background(), store.Options{Path: path})
	if err != nil {
		t.Fatalf("open for writing after a read: %v", err)
	}
	st.Close()
}

func TestStoreStatsJSONIsTheV1StatsContract(t *testing.T) {
	newest := time.Date(2026, 10, 1, 14, 59, 0, 0, time.UTC)
	s := ops.StoreStats{
		At: time.Date(2026, 10, 1, 15, 0, 0, 0, time.UTC), NewestTS: &newest, Events: 8,
		Tenants: []ops.TenantDAU{{Tenant: "acme", Today: 2, YesterdaySameTime: 3}},
	}
	got, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"at":"2026-10-01T15:00:00Z","newest_ts":"2026-10-01T14:59:00Z","events":8,` +
		`"tenants":[{"tenant_id":"acme","dau_today":2,"dau_yesterday_same_time":3}]}`
	if string(got) != want {
		t.Errorf("JSON =\n%s\nwant\n%s", got, want)
	}
}

func TestGatewayStoreSource(t *testing.T) {
	body := `{"at":"2026-10-01T15:00:00Z","newest_ts":null,"events":0,"tenants":[]}`
	tests := []struct {
		name    string
		handler http.HandlerFunc
		check   func(t *testing.T, s ops.StoreStats, err error)
	}{
		{"reads the stats", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != ops.StatsPath || r.Method != http.MethodGet {
				http.NotFound(w, r)
				return
			}
			fmt.Fprint(w, body)
		}, func(t *testing.T, s ops.StoreStats, err error) {
			if err != nil || s.NewestTS != nil || !s.At.Equal(time.Date(2026, 10, 1, 15, 0, 0, 0, time.UTC)) {
				t.Errorf("stats = %+v, %v", s, err)
			}
		}},
		{"a gateway without the route does not serve them", http.NotFound, func(t *testing.T, _ ops.StoreStats, err error) {
			if !errors.Is(err, ops.ErrNotServed) {
				t.Errorf("err = %v, want ErrNotServed", err)
			}
		}},
		{"a broken answer is an error", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
		}, func(t *testing.T, _ ops.StoreStats, err error) {
			if err == nil || errors.Is(err, ops.ErrNotServed) {
				t.Errorf("err = %v, want a failure", err)
			}
		}},
		{"invalid JSON is an error", func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprint(w, "{")
		}, func(t *testing.T, _ ops.StoreStats, err error) {
			if err == nil {
				t.Error("err = nil, want one")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			s, err := ops.NewGatewayStoreSource(srv.URL).Stats(context.Background())
			tt.check(t, s, err)
		})
	}
}

func TestEmbeddedSourceAsksTheGatewayWhileTheFileIsHeld(t *testing.T) {
	held := func(context.Context) (*dbsql.DB, func() error, error) {
		return nil, nil, fmt.Errorf("%w: pulse.db", ops.ErrStoreBusy)
	}
	fromGateway := ops.StoreStats{Events: 42}
	src := &ops.EmbeddedStoreSource{Path: "pulse.db", Now: time.Now, Open: held, Busy: fixedStore{stats: fromGateway}}
	if s, err := src.Stats(context.Background()); err != nil || s.Events != 42 {
		t.Errorf("stats = %+v, %v; want the gateway's", s, err)
	}
	src.Busy = fixedStore{err: ops.ErrNotServed}
	if _, err := src.Stats(context.Background()); !errors.Is(err, ops.ErrStoreBusy) || !errors.Is(err, ops.ErrNotServed) {
		t.Errorf("err = %v, want both reasons", err)
	}
	src.Busy = nil
	if _, err := src.Stats(context.Background()); !errors.Is(err, ops.ErrStoreBusy) {
		t.Errorf("err = %v, want ErrStoreBusy", err)
	}
}
