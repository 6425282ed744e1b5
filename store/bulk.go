package store

import (
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"
	"sync"
	"time"
)

// BulkPart inserts events into the events table inside tx, with ingested_at
// set to ingestedAt, and returns how many it inserted. It must skip events
// the store already holds (same tenant_id, event_id and ts).
type BulkPart func(ctx context.Context, tx *dbsql.Tx, ingestedAt time.Time) (int64, error)

// Bulk runs parts concurrently, each on its own connection and in its own
// transaction, all with one ingested_at later than any stored before, and
// returns how many events they inserted. It is for loads that SQL computes
// (backfill reads files with DuckDB): a part is an INSERT ... SELECT that
// DuckDB runs vectorised, where Insert appends row by row.
//
// Parts commit independently: when one fails, the others may have
// committed. Their rows are whole, valid events, and a retry skips them as
// already stored. Callers refresh the rollups afterwards (RefreshRollups).
func (s *Store) Bulk(ctx context.Context, parts []BulkPart) (int64, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	w, err := s.writerLocked(ctx)
	if err != nil {
		return 0, err
	}
	ingestedAt := time.Now().UTC().Truncate(time.Microsecond)
	if !ingestedAt.After(w.lastIngestedAt) {
		ingestedAt = w.lastIngestedAt.Add(time.Microsecond)
	}
	// Advance first: a part may commit even if another fails.
	w.lastIngestedAt = ingestedAt

	counts := make([]int64, len(parts))
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, part := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[i], errs[i] = s.bulkPart(ctx, part, ingestedAt)
		}()
	}
	wg.Wait()
	var total int64
	for _, n := range counts {
		total += n
	}
	return total, errors.Join(errs...)
}

func (s *Store) bulkPart(ctx context.Context, part BulkPart, ingestedAt time.Time) (int64, error) {
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("bulk insert connection: %w", err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("begin bulk insert: %w", err)
	}
	n, err := part(ctx, tx, ingestedAt)
	if err != nil {
		return 0, errors.Join(err, tx.Rollback())
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit bulk insert: %w", err)
	}
	return n, nil
}
