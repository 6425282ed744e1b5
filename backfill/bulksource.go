package backfill

import (
	"context"
	"sync/atomic"
)

// parquetSteps walks a Parquet file in steps of whole row-group slices.
type parquetSteps struct {
	pr       *parquetReader
	rows     int64 // per step
	steps    int   // steps taken
	doneRows atomic.Int64
}

func (r *run) openBulkParquet(ctx context.Context, path string, rows int64) (bulkSource, bulkPlan, bool, error) {
	pr, err := newParquetReader(ctx, path, r.cfg.Mapping)
	if err != nil {
		return nil, bulkPlan{}, false, err
	}
	plan, ok := newBulkPlan(&pr.plan, pr.types, false)
	if !ok {
		pr.Close()
		return nil, plan, false, nil
	}
	return &parquetSteps{pr: pr, rows: rows}, plan, true, nil
}

func (ps *parquetSteps) next(_ context.Context, skip int64) (bulkStep, bool, error) {
	pr := ps.pr
	// pr.ranges are contiguous 0-based slices of row groups; a step joins
	// them up to ps.rows.
	from, to, ok := pr.nextRange(skip)
	if !ok {
		return bulkStep{}, false, nil
	}
	rows := stepSize(ps.rows, ps.steps)
	ps.steps++
	if to-from > rows {
		pr.ranges = append([][2]int64{{from + rows, to}}, pr.ranges...)
		to = from + rows
	}
	for len(pr.ranges) > 0 && pr.ranges[0][1]-from <= rows {
		to = pr.ranges[0][1]
		pr.ranges = pr.ranges[1:]
	}
	return bulkStep{path: pr.path, from: from + 1, to: to + 1}, true, nil
}

// stepSize is the size of step n (from 0) of a run: the first three are
// an eighth, a quarter and a half of the others, so that the pipeline (the
// target stores step n while DuckDB checks step n+1) fills quickly. The
// first check is the only one nothing overlaps, and storing a row costs
// the target at least twice what checking it costs DuckDB, so each step
// may be twice the one before and still be checked in time.
func stepSize(rows int64, n int) int64 {
	if n < 3 {
		return max(rows>>(3-n), 1)
	}
	return rows
}

// bulkStepRows is the configured rows per step, or the default for the
// format and target.
func (r *run) bulkStepRows(format Format, clickhouse bool) int64 {
	switch {
	case r.cfg.BulkRows > 0:
		return int64(r.cfg.BulkRows)
	case clickhouse:
		return BulkClickHouseRows
	case format == FormatCSV:
		return BulkCSVRows
	}
	return BulkParquetRows
}

func (ps *parquetSteps) rowPlan() (*plan, bool) { return &ps.pr.plan, ps.pr.tsRendered }

func (ps *parquetSteps) fillGo(c *chunk, _ bulkStep, rows []int64) error {
	return ps.pr.fillListed(c, rows)
}
func (ps *parquetSteps) done(step bulkStep) { ps.doneRows.Store(step.to - 1) }
func (ps *parquetSteps) skipped() int64     { return ps.pr.skips }
func (ps *parquetSteps) Close() error       { return ps.pr.Close() }

func (ps *parquetSteps) fraction() float64 {
	if ps.pr.total == 0 {
		return 1
	}
	return float64(ps.doneRows.Load()) / float64(ps.pr.total)
}
