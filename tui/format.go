package tui

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
)

// noValue stands for a figure that cannot be computed, such as a share
// over no requests.
const noValue = "—"

// fmtCount writes a whole number with thousands separators: 1,234,567.
func fmtCount(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return noValue
	}
	n := int64(math.Round(v))
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// fmtRate writes a per-second rate: one decimal below 100, whole above.
func fmtRate(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return noValue
	}
	if math.Abs(v) < 100 {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return fmtCount(v)
}

// fmtShare writes a ratio as a percentage with one decimal.
func fmtShare(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return noValue
	}
	return strconv.FormatFloat(v*100, 'f', 1, 64) + "%"
}

// fmtSeconds writes a duration in seconds at a precision fit for its size.
func fmtSeconds(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return noValue
	}
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	d := time.Duration(v * float64(time.Second))
	switch {
	case v < 0.01:
		return sign + strconv.FormatFloat(v*1000, 'f', 1, 64) + "ms"
	case v < 1:
		return sign + strconv.FormatFloat(v*1000, 'f', 0, 64) + "ms"
	case v < 60:
		return sign + strconv.FormatFloat(v, 'f', 1, 64) + "s"
	case v < 3600:
		return sign + fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case v < 48*3600:
		return sign + fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return sign + fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// fmtBytes writes a size in binary units, with a decimal below 10:
// 1.2 GiB, 48 GiB.
func fmtBytes(v uint64) string {
	const unit = 1024
	if v < unit {
		return fmt.Sprintf("%d B", v)
	}
	div, exp := uint64(unit), 0
	for n := v / unit; n >= unit && exp < 5; n /= unit {
		div *= unit
		exp++
	}
	size := float64(v) / float64(div)
	if size < 10 {
		return fmt.Sprintf("%.1f %ciB", size, "KMGTPE"[exp])
	}
	return fmt.Sprintf("%.0f %ciB", size, "KMGTPE"[exp])
}

// fmtChange writes today's DAU against yesterday's as a signed percentage.
func fmtChange(today, yesterday int64) string {
	if yesterday == 0 {
		if today == 0 {
			return "±0%"
		}
		return "new"
	}
	pct := (float64(today) - float64(yesterday)) / float64(yesterday) * 100
	switch {
	case math.Abs(pct) < 0.05:
		return "±0%"
	case pct > 0:
		return "+" + strconv.FormatFloat(pct, 'f', 1, 64) + "%"
	}
	return strconv.FormatFloat(pct, 'f', 1, 64) + "%"
}

// shorten fits s in width columns by cutting out its middle, since tenant
// ids often share a beginning and differ at the end (acme-prod-eu-1,
// acme-prod-eu-2).
func shorten(s string, width int) string {
	w := ansi.StringWidth(s)
	if w <= width {
		return s
	}
	if width <= 1 {
		return ansi.Truncate("…", width, "")
	}
	tail := (width - 1) / 2
	head := width - 1 - tail
	return ansi.Truncate(s, head, "") + "…" + ansi.TruncateLeft(s, w-tail, "")
}

// sparkLevels are the eight block heights a sparkline cell can take.
var sparkLevels = []rune("▁▂▃▄▅▆▇█")

// sparkline draws the last width values, scaled to their maximum; NaN
// (no reading) is a blank, zero the lowest block. Older values scroll off
// the left.
func sparkline(values []float64, width int) string {
	if width <= 0 {
		return ""
	}
	if len(values) > width {
		values = values[len(values)-width:]
	}
	peak := 0.0
	for _, v := range values {
		if !math.IsNaN(v) && v > peak {
			peak = v
		}
	}
	var b strings.Builder
	b.WriteString(strings.Repeat(" ", width-len(values)))
	for _, v := range values {
		switch {
		case math.IsNaN(v):
			b.WriteByte(' ')
		case peak <= 0 || v <= 0:
			b.WriteRune(sparkLevels[0])
		default:
			i := int(math.Round(v / peak * float64(len(sparkLevels)-1)))
			b.WriteRune(sparkLevels[min(max(i, 0), len(sparkLevels)-1)])
		}
	}
	return b.String()
}
