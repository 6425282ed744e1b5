package tui

import (
	"errors"
	"fmt"
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
	m := loaded(t, testConfig())
	m = update(t, m, kafkaMsg{err: errors.New(strings.Repeat("a long error ", 40))})
	for w := 20; w <= 200; w += 7 {
		for h := 4; h <= 60; h += 5 {
			view := resized(t, m, w, h).Render()
			lines := strings.Split(view, "\n")
			if w >= minWidth && h >= minHeight && len(lines) != h {
				t.Errorf("%dx%d: %d lines", w, h, len(lines))
			}
			for i, l := range lines {
				if lw := ansi.StringWidth(l); lw > w {
					t.Errorf("%dx%d: line %d is %d wide: %q", w, h, i, lw, ansi.Strip(l))
				}
			}
		}
	}
}
