package backfill

import (
	"context"
	"slices"
	"testing"
)

func TestStepSizes(t *testing.T) {
	embedded := stepSizes{rows: BulkParquetRows, unit: storeRowGroupRows}
	var got []int64
	for n := range 5 {
		got = append(got, embedded.size(n, -1))
	}
	// The ramp's eighth rounds up to one whole row group.
	want := []int64{122_880, 122_880, 245_760, 491_520, 491_520}
	if !slices.Equal(got, want) {
		t.Errorf("embedded Parquet steps = %v, want %v", got, want)
	}
	// 2M rows: up the ramp, the last step taking the remainder of less
	// than a row group.
	got = got[:0]
	for left := int64(2_000_000); left > 0; {
		got = append(got, embedded.size(len(got), left))
		left -= got[len(got)-1]
	}
	want = []int64{122_880, 122_880, 245_760, 491_520, 491_520, 525_440}
	if !slices.Equal(got, want) {
		t.Errorf("steps of 2M Parquet rows = %v, want %v", got, want)
	}
	for n := range 5 {
		if s := (stepSizes{rows: BulkCSVRows, unit: storeRowGroupRows}).size(n, -1); s%storeRowGroupRows != 0 {
			t.Errorf("embedded CSV step %d = %d rows, not whole row groups", n, s)
		}
	}
	given := stepSizes{rows: 10}
	got = got[:0]
	for n := range 4 {
		got = append(got, given.size(n, -1))
	}
	if want := []int64{1, 2, 5, 10}; !slices.Equal(got, want) {
		t.Errorf("--batch 10 steps = %v, want %v", got, want)
	}
	// A file smaller than the first step is one step.
	if s := embedded.size(0, 1000); s != 1000 {
		t.Errorf("a 1,000-row file's step = %d rows, want 1000", s)
	}
}

// Parquet steps are cut at their size wherever the file's row groups end,
// tile the rows after the resume point without gap or overlap, and stop at
// the file's end.
func TestParquetStepsCutAcrossRowGroups(t *testing.T) {
	for _, skip := range []int64{0, 7, 250, 999} {
		pr := &parquetReader{path: "f.parquet", total: 1000}
		for lo := int64(0); lo < 1000; lo += 300 { // row groups of 300 rows
			pr.ranges = append(pr.ranges, [2]int64{lo, min(lo+300, 1000)})
		}
		ps := &parquetSteps{pr: pr, sizes: stepSizes{rows: 128, unit: 32}}
		next := skip + 1 // 1-based
		for n := 0; ; n++ {
			step, more, err := ps.next(context.Background(), skip)
			if err != nil {
				t.Fatal(err)
			}
			if !more {
				break
			}
			if step.from != next {
				t.Fatalf("skip %d: step %d starts at row %d, want %d", skip, n, step.from, next)
			}
			if size, want := step.to-step.from, ps.sizes.size(n, 1001-step.from); size != want {
				t.Errorf("skip %d: step %d has %d rows, want %d", skip, n, size, want)
			}
			next = step.to
		}
		if next != 1001 {
			t.Errorf("skip %d: steps end before row %d, want 1001", skip, next)
		}
		if pr.skips != skip {
			t.Errorf("skip %d: %d rows counted as skipped", skip, pr.skips)
		}
	}
}
