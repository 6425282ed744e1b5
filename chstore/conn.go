package chstore

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Open connects to ClickHouse with a clickhouse-go DSN and checks that the
// server answers. Both transports work:
//
//	clickhouse://user:password@host:9000/?dial_timeout=5s   native protocol
//	http://user:password@host:8123/                          HTTP
//	https://user:password@host:8443/                         HTTP over TLS
//
// The schema names every object with its database, so the DSN need not
// name one (and must not name one that does not exist yet). The caller
// closes the connection.
func Open(ctx context.Context, dsn string) (driver.Conn, error) {
	opts, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %s: %w", redact(dsn), err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := conn.Ping(pingCtx); err != nil {
		conn.Close()
		return nil, explain(fmt.Errorf("clickhouse %s does not answer: %w (is the server up, and is the port the one for the DSN's scheme: 9000 native, 8123 http?)", redact(dsn), err))
	}
	return conn, nil
}

func parseDSN(dsn string) (*clickhouse.Options, error) {
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("invalid ClickHouse DSN %q: want clickhouse://host:9000 or http://host:8123", redact(dsn))
	}
	switch u.Scheme {
	case "clickhouse", "tcp", "http":
	case "https":
		// clickhouse-go wants secure=true with https; the scheme says it.
		q := u.Query()
		if q.Get("secure") == "" {
			q.Set("secure", "true")
			u.RawQuery = q.Encode()
		}
	default:
		return nil, fmt.Errorf("invalid ClickHouse DSN scheme %q: use clickhouse:// (native) or http(s)://", u.Scheme)
	}
	opts, err := clickhouse.ParseDSN(u.String())
	if err != nil {
		return nil, fmt.Errorf("invalid ClickHouse DSN %s: %w", redact(dsn), err)
	}
	return opts, nil
}

// redact hides the password of a DSN for messages.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
