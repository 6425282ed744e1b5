package tui

import (
	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"
)

// Styles holds every style the screen uses, so colour is decided in one
// place: NewStyles(false) gives the same layout with no colour at all, for
// NO_COLOR and for golden files.
type Styles struct {
	Title   lipgloss.Style // the top bar
	Section lipgloss.Style // section rules
	Label   lipgloss.Style // figure names
	Value   lipgloss.Style // figures
	Dim     lipgloss.Style // units, hints, "not configured"
	Good    lipgloss.Style // a check within its limit, live state
	Bad     lipgloss.Style // a breach, an unreachable source
	Warn    lipgloss.Style // paused, not served
	Spark   lipgloss.Style // the events/s sparkline
	Help    help.Styles
}

// NewStyles returns the styles, coloured or not.
func NewStyles(color bool) Styles {
	plain := lipgloss.NewStyle()
	if !color {
		bold := plain.Bold(true)
		return Styles{
			Title: bold, Section: plain, Label: plain, Value: bold, Dim: plain,
			Good: plain, Bad: bold, Warn: bold, Spark: plain,
			Help: help.Styles{
				Ellipsis: plain, ShortKey: bold, ShortDesc: plain, ShortSeparator: plain,
				FullKey: bold, FullDesc: plain, FullSeparator: plain,
			},
		}
	}
	// ANSI 16 colours follow the terminal's own theme, light or dark.
	var (
		grey   = lipgloss.BrightBlack
		cyan   = lipgloss.Cyan
		green  = lipgloss.Green
		red    = lipgloss.Red
		yellow = lipgloss.Yellow
	)
	return Styles{
		Title:   plain.Bold(true).Reverse(true),
		Section: plain.Foreground(cyan),
		Label:   plain,
		Value:   plain.Bold(true),
		Dim:     plain.Foreground(grey),
		Good:    plain.Foreground(green),
		Bad:     plain.Foreground(red).Bold(true),
		Warn:    plain.Foreground(yellow).Bold(true),
		Spark:   plain.Foreground(green),
		Help: help.Styles{
			Ellipsis: plain.Foreground(grey), ShortKey: plain.Bold(true), ShortDesc: plain.Foreground(grey),
			ShortSeparator: plain.Foreground(grey), FullKey: plain.Bold(true), FullDesc: plain,
			FullSeparator: plain.Foreground(grey),
		},
	}
}
