package chstore

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	sqlfiles "github.com/pulse-analytics/pulse/sql"
)

// BulkInserter sends ready-made Parquet bodies to <database>.events_bulk
// over ClickHouse's HTTP interface (migrations/0005_backfill_bulk.sql):
// the engine parses the body itself, so the rows never pass through Go.
// clickhouse-go sends only its own Native blocks, hence plain HTTP here.
type BulkInserter struct {
	client *http.Client
	// endpoint inserts into events_bulk, rawEndpoint into events_bulk_raw
	// (migrations/0006_backfill_bulk_raw.sql).
	endpoint, rawEndpoint string
	headers               map[string]string
}

// NewBulkInserter returns an inserter for an http(s):// DSN, or ok false
// for a native-protocol DSN (the HTTP interface is another port, which
// the DSN does not name).
func NewBulkInserter(dsn string, p Params) (b *BulkInserter, ok bool, err error) {
	opts, err := parseDSN(dsn)
	if err != nil {
		return nil, false, err
	}
	if opts.Protocol != clickhouse.HTTP || len(opts.Addr) == 0 {
		return nil, false, nil
	}
	query, err := Render(sqlfiles.Statement(sqlfiles.ClickHouse, "ingest/insert_bulk"), p)
	if err != nil {
		return nil, false, err
	}
	rawQuery, err := Render(sqlfiles.Statement(sqlfiles.ClickHouse, "ingest/insert_bulk_raw"), p)
	if err != nil {
		return nil, false, err
	}
	scheme := "http"
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if opts.TLS != nil {
		scheme = "https"
		transport.TLSClientConfig = opts.TLS
	}
	path := "/" + strings.TrimPrefix(opts.HttpUrlPath, "/")
	endpoint := scheme + "://" + opts.Addr[0] + path + "?query="
	headers := map[string]string{"Content-Type": "application/octet-stream"}
	for k, v := range opts.HttpHeaders {
		headers[k] = v
	}
	if opts.Auth.Username != "" {
		headers["X-ClickHouse-User"] = opts.Auth.Username
		headers["X-ClickHouse-Key"] = opts.Auth.Password
	}
	// The DSN's read_timeout (clickhouse-go's default: 5 minutes) bounds an
	// insert, as it bounds the row-by-row lane's: a step is stored whole
	// even after Ctrl-C, so a server that stops answering must not hold the
	// run forever.
	timeout := opts.ReadTimeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	return &BulkInserter{
		client:      &http.Client{Transport: transport, Timeout: timeout},
		endpoint:    endpoint + url.QueryEscape(sqlfiles.SplitStatements(query)[0]),
		rawEndpoint: endpoint + url.QueryEscape(sqlfiles.SplitStatements(rawQuery)[0]),
		headers:     headers,
	}, true, nil
}

// InsertParquet sends one Parquet file of size bytes as one insert, and
// returns once the server has stored it (or refused it whole). raw sends
// it to events_bulk_raw, whose view keeps numbers as written.
func (b *BulkInserter) InsertParquet(ctx context.Context, body io.Reader, size int64, raw bool) error {
	endpoint := b.endpoint
	if raw {
		endpoint = b.rawEndpoint
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, body)
	if err != nil {
		return err
	}
	req.ContentLength = size
	for k, v := range b.headers {
		req.Header.Set(k, v)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return fmt.Errorf("bulk insert into ClickHouse: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("bulk insert into ClickHouse: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// Close releases idle connections.
func (b *BulkInserter) Close() { b.client.CloseIdleConnections() }
