package backfill

import (
	"context"
	"sync/atomic"
)

// parquetSteps walks a Parquet file in steps of rows.
type parquetSteps struct {
	pr       *parquetReader
	sizes    stepSizes
	steps    int // steps taken
	doneRows atomic.Int64
}

func (r *run) openBulkParquet(ctx context.Context, path string, sizes stepSizes) (bulkSource, bulkPlan, bool, error) {
	pr, err := newParquetReader(ctx, path, r.cfg.Mapping)
	if err != nil {
		return nil, bulkPlan{}, false, err
	}
	plan, ok := newBulkPlan(&pr.plan, pr.types, false, r.cfg.TS)
	plan.ParquetFile = pr.sql.file
	if !ok {
		pr.Close()
		return nil, plan, false, nil
	}
	if !plan.DerivedID {
		if plan.AbsentIDs, err = pr.mayLackIDs(); err != nil {
			pr.Close()
			return nil, plan, false, err
		}
	}
	return &parquetSteps{pr: pr, sizes: sizes}, plan, true, nil
}

// next cuts the step at its size whatever the file's row groups: the
// target's row groups, not the file's, decide what a step costs (DuckDB
// decodes a row group that two steps share twice, for a fraction of that).
func (ps *parquetSteps) next(_ context.Context, skip int64) (bulkStep, bool, error) {
	pr := ps.pr
	// pr.ranges tile the rows still to read, 0-based and contiguous.
	from, end, ok := pr.nextRange(skip)
	if !ok {
		return bulkStep{}, false, nil
	}
	to := from + ps.sizes.size(ps.steps, pr.total-from)
	ps.steps++
	pr.ranges = append([][2]int64{{from, end}}, pr.ranges...)
	for len(pr.ranges) > 0 && pr.ranges[0][1] <= to {
		pr.ranges = pr.ranges[1:]
	}
	if len(pr.ranges) > 0 && pr.ranges[0][0] < to {
		pr.ranges[0][0] = to
	}
	return bulkStep{path: pr.path, from: from + 1, to: min(to, pr.total) + 1}, true, nil
}

// stepSizes sizes the steps of a file's bulk load.
type stepSizes struct {
	rows int64 // rows per step once the pipeline is full
	unit int64 // every step is a whole number of these: the target's row group
}

// size is the rows of step n (from 0) of a run with remaining rows left
// to read (-1 when unknown: a CSV file is read as it goes). The first three
// are an eighth, a quarter and a half of the others (rounded to whole
// units, at least one), so that the pipeline (the target stores step n
// while DuckDB checks step n+1) fills quickly: the first check is the only
// one nothing overlaps, and storing a row costs the target at least twice
// what checking it costs DuckDB, so each step may be twice the one before
// and still be checked in time. A remainder of less than one unit joins
// the last step: a step of its own would read its few rows from deep in
// the file's last row group, which DuckDB decodes from its start for each
// of the step's statements (a ClickHouse export's row groups hold about a
// million rows).
func (s stepSizes) size(n int, remaining int64) int64 {
	rows := s.rows
	if n < 3 {
		rows >>= 3 - n
	}
	unit := max(s.unit, 1)
	rows = max(unit, rows/unit*unit)
	if remaining >= 0 && remaining-rows < unit {
		rows = remaining
	}
	return rows
}

// bulkStepSizes is the configured rows per step, or the default for the
// format and target; the embedded store's defaults come in whole row
// groups.
func (r *run) bulkStepSizes(format Format, clickhouse bool) stepSizes {
	switch {
	case r.cfg.BulkRows > 0:
		return stepSizes{rows: int64(r.cfg.BulkRows)}
	case clickhouse:
		return stepSizes{rows: BulkClickHouseRows}
	case format == FormatCSV:
		return stepSizes{rows: BulkCSVRows, unit: storeRowGroupRows}
	}
	return stepSizes{rows: BulkParquetRows, unit: storeRowGroupRows}
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
