package tui

import "charm.land/bubbles/v2/key"

// keyMap is every key `pulse top` answers to; it also feeds the help.
type keyMap struct {
	NextTenant key.Binding
	PrevTenant key.Binding
	Pause      key.Binding
	Refresh    key.Binding
	Help       key.Binding
	Quit       key.Binding
}

func newKeyMap() keyMap {
	return keyMap{
		NextTenant: key.NewBinding(key.WithKeys("t", "tab", "right"), key.WithHelp("t/→", "next tenant")),
		PrevTenant: key.NewBinding(key.WithKeys("T", "shift+tab", "left"), key.WithHelp("T/←", "previous tenant")),
		Pause:      key.NewBinding(key.WithKeys("p", "space"), key.WithHelp("p", "pause")),
		Refresh:    key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "refresh now")),
		Help:       key.NewBinding(key.WithKeys("?", "h"), key.WithHelp("?", "help")),
		Quit:       key.NewBinding(key.WithKeys("q", "ctrl+c", "esc"), key.WithHelp("q", "quit")),
	}
}

// ShortHelp is the footer line.
func (k keyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.NextTenant, k.Pause, k.Refresh, k.Help, k.Quit}
}

// FullHelp is the help screen's key list.
func (k keyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.NextTenant, k.PrevTenant, k.Pause}, {k.Refresh, k.Help, k.Quit}}
}
