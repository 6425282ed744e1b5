package store

import (
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"
	"time"
)

// BulkInsert inserts events into the events table inside tx, with
// ingested_at set to ingestedAt, and returns how many it inserted. It must
// skip events the store already holds (same tenant_id, event_id and ts).
type BulkInsert func(ctx context.Context, tx *dbsql.Tx, ingestedAt time.Time) (int64, error)

// Bulk runs insert in a transaction of its own, with an ingested_at later
// than any stored before, and returns how many events it inserted. It is
// for loads that SQL computes (backfill reads files with DuckDB): insert is
// an INSERT ... SELECT that DuckDB runs vectorised, where Insert appends
// row by row. Callers refresh the rollups afterwards (RefreshRollups).
func (s *Store) Bulk(ctx context.Context, insert BulkInsert) (int64, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	w, err := s.writerLocked(ctx)
	if err != nil {
		return 0, err
	}
	ingestedAt := w.nextIngestedAt()
	tx, err := w.conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("begin bulk insert: %w", err)
	}
	n, err := insert(ctx, tx, ingestedAt)
	if err != nil {
		return 0, errors.Join(err, tx.Rollback())
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit bulk insert: %w", err)
	}
	w.lastIngestedAt = ingestedAt
	return n, nil
}
