// Package tui is `pulse top`: one screen of the pipeline's live figures
// for on-call, built on bubbletea. The sources are read in tea.Cmds (never
// in Update), each on its own, so a slow or unreachable one neither blocks
// nor hides the others.
package tui

import (
	"context"
	"log/slog"
	"math"
	"sort"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/pulse-analytics/pulse/ops"
)

// historyLen is how many events/s readings the sparkline keeps: at the
// default 2 s interval, the last four minutes.
const historyLen = 120

// Config is what the model needs: its sources and settings.
type Config struct {
	// Ctx bounds every read; cancelling it abandons reads in flight.
	Ctx     context.Context
	Sources ops.Sources
	// Interval is the time between two reads of each source.
	Interval time.Duration
	// Timeout bounds one read of one source.
	Timeout time.Duration
	// Tenant is the tenant shown first; "" shows all tenants' sum.
	Tenant     string
	Thresholds ops.Thresholds
	Styles     Styles
	// GatewayURL is shown in the gateway's section title.
	GatewayURL string
	// Now is the clock (tests pin it).
	Now func() time.Time
	// Log receives the sources' errors (a file while the TUI owns the
	// terminal).
	Log *slog.Logger
}

// Model is the one top-level model of `pulse top`.
type Model struct {
	cfg  Config
	keys keyMap
	help help.Model

	width, height int
	now           time.Time
	paused        bool
	showHelp      bool
	// tenant is the selected tenant's id, "" for all tenants; kept by
	// name so that tenants appearing or going keep the selection.
	tenant string

	snap ops.Snapshot
	// lastScrape is the previous gateway scrape: rates are differences
	// between it and the next.
	lastScrape *ops.GatewayScrape
	// rates holds the events/s readings for the sparkline, oldest first.
	rates []float64
	// inFlight marks sources with a read under way, so a slow source
	// gets no second read piled on top of the first.
	inFlight map[source]bool
}

type source int

const (
	srcGateway source = iota
	srcKafka
	srcClickHouse
	srcStore
)

func (s source) String() string {
	return [...]string{"gateway", "kafka", "clickhouse", "store"}[s]
}

// Messages: the clock, and one per source carrying a read's result.
type (
	tickMsg    struct{ at time.Time }
	gatewayMsg struct {
		scrape ops.GatewayScrape
		err    error
	}
	kafkaMsg struct {
		figures ops.KafkaFigures
		at      time.Time
		err     error
	}
	clickhouseMsg struct {
		figures ops.ClickHouseFigures
		at      time.Time
		err     error
	}
	storeMsg struct {
		stats ops.StoreStats
		at    time.Time
		err   error
	}
)

// New returns the model for cfg.
func New(cfg Config) Model {
	if cfg.Ctx == nil {
		cfg.Ctx = context.Background()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 2 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	h := help.New()
	h.Styles = cfg.Styles.Help
	src := cfg.Sources
	return Model{
		cfg: cfg, keys: newKeyMap(), help: h,
		width: 80, height: 24,
		now:    cfg.Now(),
		tenant: cfg.Tenant,
		snap: ops.Snapshot{
			Gateway:    ops.Reading[ops.GatewayFigures]{Enabled: src.Gateway != nil},
			Kafka:      ops.Reading[ops.KafkaFigures]{Enabled: src.Kafka != nil},
			ClickHouse: ops.Reading[ops.ClickHouseFigures]{Enabled: src.ClickHouse != nil},
			Store:      ops.Reading[ops.StoreStats]{Enabled: src.Store != nil},
		},
		inFlight: map[source]bool{},
	}
}

// Init reads every source at once and starts the clock.
func (m Model) Init() tea.Cmd {
	cmds := m.pollAll()
	return tea.Batch(append(cmds, m.tick())...)
}

// Update handles keys, the clock and the sources' results. It does no
// I/O: reads run in the commands it returns.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.SetWidth(msg.Width)
		return m, nil
	case tea.KeyPressMsg:
		return m.handleKey(msg)
	case tickMsg:
		m.now = msg.at
		var cmds []tea.Cmd
		if !m.paused {
			cmds = m.pollAll()
		}
		return m, tea.Batch(append(cmds, m.tick())...)
	case gatewayMsg:
		m.inFlight[srcGateway] = false
		m.gatewayRead(msg)
	case kafkaMsg:
		m.inFlight[srcKafka] = false
		m.snap.Kafka.Set(msg.figures, msg.at, msg.err)
	case clickhouseMsg:
		m.inFlight[srcClickHouse] = false
		m.snap.ClickHouse.Set(msg.figures, msg.at, msg.err)
	case storeMsg:
		m.inFlight[srcStore] = false
		m.snap.Store.Set(msg.stats, msg.at, msg.err)
	}
	return m, nil
}

func (m Model) handleKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	switch {
	case m.showHelp && (msg.String() == "esc" || key.Matches(msg, m.keys.Help)):
		m.showHelp = false
	case key.Matches(msg, m.keys.Quit):
		return m, tea.Quit
	case key.Matches(msg, m.keys.Help):
		m.showHelp = true
	case key.Matches(msg, m.keys.Pause):
		m.paused = !m.paused
	case key.Matches(msg, m.keys.Refresh):
		return m, tea.Batch(m.pollAll()...)
	case key.Matches(msg, m.keys.NextTenant):
		m.tenant = m.stepTenant(1)
	case key.Matches(msg, m.keys.PrevTenant):
		m.tenant = m.stepTenant(-1)
	}
	return m, nil
}

// gatewayRead turns a scrape into figures against the previous one and
// records events/s for the sparkline.
func (m *Model) gatewayRead(msg gatewayMsg) {
	if msg.err != nil {
		m.snap.Gateway.Set(ops.GatewayFigures{}, time.Time{}, msg.err)
		m.pushRate(math.NaN())
		return
	}
	figures := ops.GatewayRates(m.lastScrape, msg.scrape)
	scrape := msg.scrape
	m.lastScrape = &scrape
	m.snap.Gateway.Set(figures, scrape.At, nil)
	if figures.Window > 0 {
		m.pushRate(figures.EventsPerSec)
	}
}

func (m *Model) pushRate(v float64) {
	m.rates = append(m.rates, v)
	if len(m.rates) > historyLen {
		m.rates = append(m.rates[:0:0], m.rates[len(m.rates)-historyLen:]...)
	}
}

// tenants lists the tenant ids to switch between: "" (all tenants) first,
// then those the store reports, and the --tenant one even when the store
// does not know it (yet).
func (m Model) tenants() []string {
	seen := map[string]bool{"": true}
	list := []string{""}
	for _, d := range m.snap.Store.Value.Tenants {
		if !seen[d.Tenant] {
			seen[d.Tenant] = true
			list = append(list, d.Tenant)
		}
	}
	if !seen[m.tenant] {
		list = append(list, m.tenant)
	}
	sort.Strings(list[1:])
	return list
}

func (m Model) stepTenant(step int) string {
	list := m.tenants()
	i := 0
	for j, t := range list {
		if t == m.tenant {
			i = j
		}
	}
	return list[(i+step+len(list))%len(list)]
}

func (m Model) tick() tea.Cmd {
	now := m.cfg.Now
	return tea.Tick(m.cfg.Interval, func(time.Time) tea.Msg { return tickMsg{at: now()} })
}

// pollAll returns a read command for every configured source that has no
// read in flight, and marks them in flight. (inFlight is a map, shared by
// the copies of the model, which is what marks them for the next Update.)
func (m Model) pollAll() []tea.Cmd {
	var cmds []tea.Cmd
	start := func(s source, read func(ctx context.Context) tea.Msg) {
		if m.inFlight[s] {
			return
		}
		m.inFlight[s] = true
		cmds = append(cmds, m.readCmd(s, read))
	}
	src, now := m.cfg.Sources, m.cfg.Now
	if g := src.Gateway; g != nil {
		start(srcGateway, func(ctx context.Context) tea.Msg {
			s, err := g.Scrape(ctx)
			return gatewayMsg{scrape: s, err: err}
		})
	}
	if k := src.Kafka; k != nil {
		start(srcKafka, func(ctx context.Context) tea.Msg {
			f, err := k.Lag(ctx)
			return kafkaMsg{figures: f, at: now(), err: err}
		})
	}
	if c := src.ClickHouse; c != nil {
		start(srcClickHouse, func(ctx context.Context) tea.Msg {
			f, err := c.Health(ctx)
			return clickhouseMsg{figures: f, at: now(), err: err}
		})
	}
	if s := src.Store; s != nil {
		start(srcStore, func(ctx context.Context) tea.Msg {
			st, err := s.Stats(ctx)
			return storeMsg{stats: st, at: now(), err: err}
		})
	}
	return cmds
}

// readCmd runs one read within the timeout and logs its failure (here,
// in the command, since Update does no I/O).
func (m Model) readCmd(s source, read func(ctx context.Context) tea.Msg) tea.Cmd {
	base, timeout, log := m.cfg.Ctx, m.cfg.Timeout, m.cfg.Log
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(base, timeout)
		defer cancel()
		msg := read(ctx)
		if err := readErr(msg); err != nil {
			log.Warn("source read failed", "source", s.String(), "err", err)
		}
		return msg
	}
}

func readErr(msg tea.Msg) error {
	switch msg := msg.(type) {
	case gatewayMsg:
		return msg.err
	case kafkaMsg:
		return msg.err
	case clickhouseMsg:
		return msg.err
	case storeMsg:
		return msg.err
	}
	return nil
}
