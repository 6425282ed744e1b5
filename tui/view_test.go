package tui

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/pulse-analytics/pulse/ops"
)

// The golden frames are the screen as text (escape sequences stripped),
// so that a diff shows layout changes; TestViewInColor keeps the styling.
// Regenerate them after a deliberate change with:
//
//	go test ./tui/ -run 'TestView' -update

func resized(t *testing.T, m Model, w, h int) Model {
	t.Helper()
	return update(t, m, tea.WindowSizeMsg{Width: w, Height: h})
}

var sizes = []struct{ w, h int }{{80, 24}, {120, 30}, {100, 16}, {60, 20}, {40, 10}}

func TestViewAtSizes(t *testing.T) {
	m := loaded(t, testConfig())
	for _, s := range sizes {
		t.Run(fmt.Sprintf("%dx%d", s.w, s.h), func(t *testing.T) {
			golden.RequireEqual(t, ansi.Strip(resized(t, m, s.w, s.h).Render()))
		})
	}
}

func TestViewOfOneTenantPaused(t *testing.T) {
	m := update(t, loaded(t, testConfig()), press("t"), press("p"))
	golden.RequireEqual(t, ansi.Strip(m.Render()))
}

func TestViewOfFailingSources(t *testing.T) {
	cfg := testConfig()
	cfg.Sources.ClickHouse = nil
	m := loaded(t, cfg)
	m = update(t, m,
		gatewayMsg{err: errors.New(`scrape http://127.0.0.1:8080/metrics: Get "http://127.0.0.1:8080/metrics": dial tcp 127.0.0.1:8080: connect: connection refused (is pulse ingest running there? set --gateway)`)},
		storeMsg{err: fmt.Errorf("%w: the gateway at http://127.0.0.1:8080 has no GET /v1/stats", ops.ErrNotServed)},
		kafkaMsg{err: errors.New("kafka lag of group pulse-load: context deadline exceeded")},
	)
	golden.RequireEqual(t, ansi.Strip(resized(t, m, 80, 24).Render()))
}

func TestViewBeforeTheFirstReads(t *testing.T) {
	golden.RequireEqual(t, ansi.Strip(New(testConfig()).Render()))
}

func TestViewOfTheHelp(t *testing.T) {
	m := update(t, loaded(t, testConfig()), press("?"))
	golden.RequireEqual(t, ansi.Strip(m.Render()))
}

func TestViewInColor(t *testing.T) {
	cfg := testConfig()
	cfg.Styles = NewStyles(true)
	golden.RequireEqual(t, loaded(t, cfg).Render())
}

func TestViewWithoutColorHasNoColor(t *testing.T) {
	view := loaded(t, testConfig()).Render()
	// SGR colour parameters: 30-37, 90-97 (foreground), 38 (extended).
	for _, code := range []string{"[31", "[32", "[33", "[36", "[90", "[38", ";31m", ";32m", ";36m"} {
		if strings.Contains(view, code) {
			t.Errorf("NO_COLOR view holds colour code %q", code)
		}
	}
}

// TestViewFillsTheScreenExactly checks every size from tiny to large: as
// many lines as the terminal has, none wider than it.
func TestViewFillsTheScreenExactly(t *testing.T) {
	failing := update(t, loaded(t, testConfig()), kafkaMsg{err: errors.New(strings.Repeat("a long error ", 40))})
	for name, m := range map[string]Model{"a long error": failing, "many tenants": manyTenants(t)} {
		for w := 20; w <= 200; w += 7 {
			for h := 4; h <= 60; h += 5 {
				view := resized(t, m, w, h).Render()
				lines := strings.Split(view, "\n")
				if w >= minWidth && h >= minHeight && len(lines) != h {
					t.Errorf("%s, %dx%d: %d lines", name, w, h, len(lines))
				}
				for i, l := range lines {
					if lw := ansi.StringWidth(l); lw > w {
						t.Errorf("%s, %dx%d: line %d is %d wide: %q", name, w, h, i, lw, ansi.Strip(l))
					}
				}
			}
		}
	}
}

func TestViewOfManyTenants(t *testing.T) {
	m := manyTenants(t)
	tests := []struct {
		name   string
		tenant string
		w, h   int
	}{
		{"longest id selected 80x24", longTenant, 80, 24},
		{"longest id selected 120x30", longTenant, 120, 30},
		{"longest id selected 40x10", longTenant, 40, 10},
		{"t22 selected 80x24", "t22", 80, 24},
		{"all tenants 80x24", "", 80, 24},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := m
			m.tenant = tt.tenant
			golden.RequireEqual(t, ansi.Strip(resized(t, m, tt.w, tt.h).Render()))
		})
	}
}

// storeLines are the two lines under the store's title: the selected
// tenant's figures, then freshness (or the figures, when the name takes a
// line of its own).
func storeLines(t *testing.T, view string) string {
	t.Helper()
	lines := strings.Split(view, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "── Store") && i+2 < len(lines) {
			return lines[i+1] + "\n" + lines[i+2]
		}
	}
	t.Fatalf("no store section:\n%s", view)
	return ""
}

func TestSelectedTenantsFiguresAreNeverCut(t *testing.T) {
	tests := []struct {
		name   string
		tenant string
		w, h   int
		want   []string
	}{
		{"64-character id at 80 columns", longTenant, 80, 24, []string{"tenant-3", "…", ".west-1 (45/46)", "1,234,567", "1,198,765", "+3.0%"}},
		{"64-character id at 60 columns", longTenant, 60, 20, []string{"tenant-3", "…", ".west-1 (45/46)", "1,234,567", "1,198,765", "+3.0%"}},
		{"64-character id at 40 columns", longTenant, 40, 10, []string{"tenant-3", "…", ".west-1 (45/46)", "1,234,567", "1,198,765", "+3.0%"}},
		{"all tenants at 80 columns", "", 80, 24, []string{"all tenants (1/46)", "1,329,174", "1,283,914", "+3.5%"}},
		{"all tenants at 40 columns", "", 40, 10, []string{"all tenants (1/46)", "1,329,174", "1,283,914", "+3.5%"}},
		{"short id at 80 columns", "t22", 80, 24, []string{"tenant t22 (23/46)", "DAU today 2,200", "1,980", "+11.1%"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := manyTenants(t)
			m.tenant = tt.tenant
			view := ansi.Strip(resized(t, m, tt.w, tt.h).Render())
			got := storeLines(t, view)
			for _, want := range tt.want {
				if !strings.Contains(got, want) {
					t.Errorf("the store's lines lack %q:\n%s\n\nscreen:\n%s", want, got, view)
				}
			}
		})
	}
}

var (
	hiddenAbove = regexp.MustCompile(`^  … (\d+) more above$`)
	hiddenBelow = regexp.MustCompile(`^  … (\d+) more below$`)
)

// TestTenantTableFollowsTheSelection steps through every tenant: the
// selected one always has a row, and the rows left out are counted above
// and below.
func TestTenantTableFollowsTheSelection(t *testing.T) {
	for _, s := range []struct{ w, h int }{{80, 24}, {100, 30}, {120, 60}} {
		t.Run(fmt.Sprintf("%dx%d", s.w, s.h), func(t *testing.T) {
			m := resized(t, manyTenants(t), s.w, s.h)
			total := len(m.snap.Store.Value.Tenants)
			for range total + 1 {
				m = update(t, m, press("t"))
				view := ansi.Strip(m.Render())
				lines := strings.Split(view, "\n")
				start := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "  tenant ") })
				if start < 0 {
					t.Fatalf("tenant %q: no tenant table:\n%s", m.tenant, view)
				}
				above, below, rows, selected := 0, 0, 0, false
				for _, l := range lines[start+1:] {
					if strings.HasPrefix(l, "──") {
						break
					}
					if g := hiddenAbove.FindStringSubmatch(l); g != nil {
						above, _ = strconv.Atoi(g[1])
						continue
					}
					if g := hiddenBelow.FindStringSubmatch(l); g != nil {
						below, _ = strconv.Atoi(g[1])
						continue
					}
					rows++
					if strings.HasPrefix(l, "▸ "+m.tenant[:min(len(m.tenant), 10)]) {
						selected = true
					}
				}
				if m.tenant != "" && !selected {
					t.Errorf("tenant %q has no row:\n%s", m.tenant, view)
				}
				if above+rows+below != total {
					t.Errorf("tenant %q: %d hidden above + %d rows + %d hidden below, want %d tenants:\n%s", m.tenant, above, rows, below, total, view)
				}
				if s.h == 24 && rows == total {
					t.Errorf("tenant %q: every tenant listed in %d lines", m.tenant, s.h)
				}
			}
		})
	}
}

func TestTenantWindow(t *testing.T) {
	tests := []struct {
		name             string
		total, sel, rows int
		wantLo, wantHi   int
	}{
		{"everything fits", 5, 3, 5, 0, 5},
		{"nothing selected shows the top", 45, -1, 8, 0, 7},
		{"near the top: one mark, below", 45, 6, 8, 0, 7},
		{"near the bottom: one mark, above", 45, 38, 8, 38, 45},
		{"the last", 45, 44, 8, 38, 45},
		{"the middle: centred between two marks", 45, 22, 8, 20, 26},
		{"just past the top window", 45, 7, 8, 5, 11},
		{"just before the bottom window", 45, 37, 8, 35, 41},
		{"one line: the mark alone", 45, 22, 1, 0, 0},
		{"two lines in the middle: both marks", 45, 22, 2, 22, 22},
		{"three lines in the middle: the selected one between marks", 45, 22, 3, 22, 23},
	}
	for _, tt := range tests {
		lo, hi := tenantWindow(tt.total, tt.sel, tt.rows)
		if lo != tt.wantLo || hi != tt.wantHi {
			t.Errorf("%s: window = [%d, %d), want [%d, %d)", tt.name, lo, hi, tt.wantLo, tt.wantHi)
		}
		marks := 0
		if lo > 0 {
			marks++
		}
		if hi < tt.total {
			marks++
		}
		if hi-lo+marks > tt.rows {
			t.Errorf("%s: %d rows and %d marks in %d lines", tt.name, hi-lo, marks, tt.rows)
		}
		if tt.sel >= 0 && hi-lo > 0 && (tt.sel < lo || tt.sel >= hi) {
			t.Errorf("%s: selected row %d outside [%d, %d)", tt.name, tt.sel, lo, hi)
		}
	}
}

func TestViewSaysWhenLinesAreHidden(t *testing.T) {
	const cut = "more lines — enlarge the terminal"
	tests := []struct {
		name string
		m    Model
		w, h int
		want bool
	}{
		{"everything fits", loaded(t, testConfig()), 80, 24, false},
		{"the tenant table counts its own hidden rows", manyTenants(t), 80, 24, false},
		{"sections cut off at 40x10", loaded(t, testConfig()), 40, 10, true},
		{"the tenant table left out at 100x16", loaded(t, testConfig()), 100, 16, true},
		{"the help cut off", update(t, loaded(t, testConfig()), press("?")), 80, 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			view := ansi.Strip(resized(t, tt.m, tt.w, tt.h).Render())
			lines := strings.Split(view, "\n")
			if got := strings.Contains(lines[len(lines)-2], cut); got != tt.want {
				t.Errorf("the line above the keys says the screen is cut: %v, want %v:\n%s", got, tt.want, view)
			}
		})
	}
}
