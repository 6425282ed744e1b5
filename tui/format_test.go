package tui

import (
	"math"
	"testing"
)

func TestFormats(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"count with separators", fmtCount(1234567), "1,234,567"},
		{"negative count", fmtCount(-1234), "-1,234"},
		{"small count", fmtCount(999), "999"},
		{"no count", fmtCount(nan), noValue},
		{"slow rate keeps a decimal", fmtRate(12.34), "12.3"},
		{"fast rate is whole", fmtRate(12345.6), "12,346"},
		{"share", fmtShare(0.99512), "99.5%"},
		{"no share", fmtShare(nan), noValue},
		{"sub-10ms", fmtSeconds(0.0042), "4.2ms"},
		{"milliseconds", fmtSeconds(0.2456), "246ms"},
		{"seconds", fmtSeconds(1.25), "1.2s"},
		{"minutes", fmtSeconds(245), "4m05s"},
		{"hours", fmtSeconds(3*3600 + 120), "3h02m"},
		{"days", fmtSeconds(50 * 3600), "2d02h"},
		{"ahead of the clock", fmtSeconds(-2), "-2.0s"},
		{"bytes", fmtBytes(512), "512 B"},
		{"small GiB keeps a decimal", fmtBytes(1_288_490_189), "1.2 GiB"},
		{"large GiB is whole", fmtBytes(100 << 30), "100 GiB"},
		{"growth", fmtChange(1204, 1150), "+4.7%"},
		{"drop", fmtChange(75, 80), "-6.2%"},
		{"from nothing", fmtChange(3, 0), "new"},
		{"nothing either day", fmtChange(0, 0), "±0%"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestSparkline(t *testing.T) {
	tests := []struct {
		name   string
		values []float64
		width  int
		want   string
	}{
		{"scaled to the peak", []float64{0, 1, 2, 4, 8}, 5, "▁▂▃▅█"},
		{"right-aligned while short", []float64{1, 1}, 4, "  ██"},
		{"the newest values when long", []float64{8, 8, 8, 0, 4}, 2, "▁█"},
		{"a gap where a read failed", []float64{1, math.NaN(), 1}, 3, "█ █"},
		{"all zero is the floor", []float64{0, 0}, 2, "▁▁"},
		{"no room", []float64{1}, 0, ""},
	}
	for _, tt := range tests {
		if got := sparkline(tt.values, tt.width); got != tt.want {
			t.Errorf("%s: sparkline = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestShorten(t *testing.T) {
	tests := []struct {
		name  string
		s     string
		width int
		want  string
	}{
		{"fits", "acme", 4, "acme"},
		{"cut in the middle, keeping both ends", "acme-prod-eu-west-1", 11, "acme-…est-1"},
		{"even width keeps one more at the start", "abcdefghij", 6, "abc…ij"},
		{"room for the ellipsis only", "abcdef", 1, "…"},
		{"no room", "abcdef", 0, ""},
	}
	for _, tt := range tests {
		if got := shorten(tt.s, tt.width); got != tt.want {
			t.Errorf("%s: shorten(%q, %d) = %q, want %q", tt.name, tt.s, tt.width, got, tt.want)
		}
	}
}
