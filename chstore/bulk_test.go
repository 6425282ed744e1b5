package chstore

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestBulkInserterNeedsHTTP(t *testing.T) {
	if _, ok, err := NewBulkInserter("clickhouse://127.0.0.1:9000", DefaultParams()); ok || err != nil {
		t.Fatalf("native DSN: ok %v, err %v; want no inserter and no error", ok, err)
	}
	b, ok, err := NewBulkInserter("https://127.0.0.1:8443/", DefaultParams())
	if !ok || err != nil || !strings.HasPrefix(b.endpoint, "https://127.0.0.1:8443/?query=") {
		t.Fatalf("https DSN: ok %v, err %v, endpoint %q", ok, err, b.endpoint)
	}
}

// The body reaches the server as one POST of the insert statement, with
// the DSN's user; a refusal comes back with the server's message.
func TestBulkInserterPostsTheBody(t *testing.T) {
	var gotQuery, gotUser, gotKey string
	var gotBody []byte
	refuse := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotQuery, gotUser, gotKey = r.URL.Query().Get("query"), r.Header.Get("X-ClickHouse-User"), r.Header.Get("X-ClickHouse-Key")
		gotBody, _ = io.ReadAll(r.Body)
		if refuse {
			http.Error(w, "Code: 60. DB::Exception: Table analytics.events_bulk does not exist. (UNKNOWN_TABLE)", http.StatusNotFound)
		}
	}))
	defer srv.Close()
	p := DefaultParams()
	p.Database = "analytics"
	dsn := strings.Replace(srv.URL, "http://", "http://loader:secret@", 1) + "/"
	b, ok, err := NewBulkInserter(dsn, p)
	if !ok || err != nil {
		t.Fatalf("ok %v, err %v", ok, err)
	}
	defer b.Close()
	body := []byte("PAR1...PAR1")
	if err := b.InsertParquet(context.Background(), bytes.NewReader(body), int64(len(body)), false); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(gotQuery, "INSERT INTO analytics.events_bulk ") || !strings.HasSuffix(gotQuery, "FORMAT Parquet") {
		t.Errorf("query %q", gotQuery)
	}
	if err := b.InsertParquet(context.Background(), bytes.NewReader(body), int64(len(body)), true); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(gotQuery, "INSERT INTO analytics.events_bulk_raw ") || !strings.HasSuffix(gotQuery, "FORMAT Parquet") {
		t.Errorf("raw query %q", gotQuery)
	}
	if gotUser != "loader" || gotKey != "secret" || !bytes.Equal(gotBody, body) {
		t.Errorf("user %q key %q body %q", gotUser, gotKey, gotBody)
	}
	refuse = true
	err = b.InsertParquet(context.Background(), bytes.NewReader(body), int64(len(body)), false)
	if err == nil || !strings.Contains(err.Error(), "HTTP 404") || !strings.Contains(err.Error(), "UNKNOWN_TABLE") {
		t.Fatalf("refused insert: %v; want the status and the server's message", err)
	}
}
