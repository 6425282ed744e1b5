package query

import (
	"context"
	"math"
	"strconv"

	"github.com/pulse-analytics/pulse/output"
)

// Metric is one validated metric request: the cobra commands build one
// from flags, check it with Validate (usage errors) and Run it against a
// backend (runtime errors).
type Metric interface {
	Validate() error
	Run(ctx context.Context, b Backend) (*output.Table, error)
}

// RatioDecimals is how many decimal places ratios (and other fractional
// metric values: percentiles, median seconds) keep.
const RatioDecimals = 4

// Round rounds x to RatioDecimals places: to the nearest, exact ties to
// even, on x's exact binary value (as strconv formats it). Rounding in Go
// rather than in SQL keeps every dialect's output identical.
func Round(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', RatioDecimals, 64), 64)
	return r
}

// roundRatios rounds the named float columns in place.
func roundRatios(t *output.Table, names ...string) {
	for _, name := range names {
		i := t.ColumnIndex(name)
		if i < 0 {
			continue
		}
		for _, row := range t.Rows {
			if x, ok := row[i].(float64); ok {
				row[i] = Round(x)
			}
		}
	}
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
