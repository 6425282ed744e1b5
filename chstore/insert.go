package chstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	"github.com/valyala/fastjson"

	"github.com/pulse-analytics/pulse/ingest"
	sqlfiles "github.com/pulse-analytics/pulse/sql"
)

// InsertEvents writes normalised events straight into <database>.events in
// one batch, bypassing Kafka: for backfills, and for loading the same events
// into ClickHouse and the embedded store when comparing them. The rollup
// views see the batch like any insert. Events already stored are inserted
// again and merge away later (events is a ReplacingMergeTree), exactly as a
// Kafka redelivery does.
func InsertEvents(ctx context.Context, conn driver.Conn, p Params, events []ingest.Event) error {
	if len(events) == 0 {
		return nil
	}
	query, err := Render(sqlfiles.Statement(sqlfiles.ClickHouse, "ingest/insert_events"), p)
	if err != nil {
		return err
	}
	batch, err := conn.PrepareBatch(ctx, sqlfiles.SplitStatements(query)[0])
	if err != nil {
		return explain(fmt.Errorf("prepare insert into %s.events: %w (is the schema applied?)", p.Database, err))
	}
	defer batch.Close()
	// Column by column: one Append per column and batch instead of one
	// reflective call per value.
	n := len(events)
	tenants, names, users, sessions := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	tss, ids, versions := make([]time.Time, n), make([]uuid.UUID, n), make([]uint32, n)
	props, ctxs := make([]*pairs, n), make([]*pairs, n)
	for i := range events {
		ev := &events[i]
		if ids[i], err = uuid.Parse(ev.EventID); err != nil {
			return fmt.Errorf("event %d: event_id %q is not a UUID: %w", i, ev.EventID, err)
		}
		if props[i], err = flatMap(ev.Properties); err != nil {
			return fmt.Errorf("event %d: properties: %w", i, err)
		}
		if ctxs[i], err = flatMap(ev.Context); err != nil {
			return fmt.Errorf("event %d: context: %w", i, err)
		}
		tenants[i], tss[i], names[i], users[i], sessions[i], versions[i] = ev.TenantID, ev.TS.UTC(), ev.Event, ev.UserID, ev.SessionID, uint32(ev.EventVersion)
	}
	for i, col := range []any{tenants, tss, names, users, sessions, ids, versions, props, ctxs} {
		if err := batch.Column(i).Append(col); err != nil {
			return fmt.Errorf("column %d: %w", i, err)
		}
	}
	if err := batch.Send(); err != nil {
		return explain(fmt.Errorf("insert %d events into %s.events: %w", len(events), p.Database, err))
	}
	return nil
}

// flatMap turns a flat JSON object into the events table's map the way the
// Kafka path's JSONEachRow reads it (input_format_json_read_numbers_as_strings
// and _bools_as_strings): keys in the object's order, strings unquoted,
// numbers and booleans as written, null as "".
func flatMap(raw json.RawMessage) (*pairs, error) {
	out := &pairs{}
	if len(bytes.TrimSpace(raw)) == 0 {
		return out, nil
	}
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(raw)
	if err != nil {
		return nil, err
	}
	obj, err := v.Object()
	if err != nil {
		return nil, err
	}
	out.kv = make([]string, 0, 2*obj.Len())
	obj.Visit(func(key []byte, v *fastjson.Value) {
		if err != nil {
			return
		}
		var value string
		switch v.Type() {
		case fastjson.TypeString:
			value = string(v.GetStringBytes())
		case fastjson.TypeNull:
		case fastjson.TypeObject, fastjson.TypeArray:
			err = fmt.Errorf("%s: nested values are not allowed (the contract keeps properties flat)", key)
		default: // numbers and booleans as written
			value = string(v.MarshalTo(nil))
		}
		out.kv = append(out.kv, string(key), value)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// pairs is a map column value that keeps its keys in order (a Go map
// would hand them to ClickHouse in random order, and maps that differ
// only in order compare unequal there). It is clickhouse-go's
// column.IterableOrderedMap.
type pairs struct {
	kv   []string // key, value, key, value, ...
	next int
}

func (p *pairs) Put(key, value any) { p.kv = append(p.kv, key.(string), value.(string)) }

func (p *pairs) Iterator() column.MapIterator { return &pairs{kv: p.kv, next: -2} }

func (p *pairs) Next() bool { p.next += 2; return p.next < len(p.kv) }
func (p *pairs) Key() any   { return p.kv[p.next] }
func (p *pairs) Value() any { return p.kv[p.next+1] }

// parsers reuses fastjson parsers: every inserted event has two objects.
var parsers fastjson.ParserPool
