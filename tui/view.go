package tui

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/pulse-analytics/pulse/ops"
)

// The smallest screen the layout is drawn for; below it the screen says so.
const (
	minWidth  = 40
	minHeight = 8
)

// View draws the screen in the alternate screen buffer.
func (m Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	v.WindowTitle = "pulse top"
	return v
}

// Render draws the screen as text exactly width columns wide and height
// lines tall: the title bar, the sources' sections, and the key hints.
func (m Model) Render() string {
	if m.width < minWidth || m.height < minHeight {
		return ansi.Truncate(fmt.Sprintf("pulse top needs %d×%d; this terminal is %d×%d", minWidth, minHeight, m.width, m.height), max(m.width, 1), "…")
	}
	height := m.height - 2 // under the title bar, over the key hints
	var body []string
	if m.showHelp {
		body = m.helpLines()
		if len(body) > height {
			body = append(body[:height-1], m.cutNote(len(body)-height+1))
		}
	} else {
		sections := []section{m.gatewaySection(), m.storeSection(), m.tenantTable(), m.kafkaSection(), m.clickhouseSection()}
		var hidden int
		if body, hidden = fitSections(height, sections...); hidden > 0 {
			// The last line says the screen is cut, so that a section left
			// out is not taken for one that is not there.
			body, hidden = fitSections(height-1, sections...)
			body = append(body, m.cutNote(hidden))
		}
	}
	lines := make([]string, 0, m.height)
	lines = append(lines, m.titleBar())
	for _, l := range body {
		if len(lines) == m.height-1 {
			break
		}
		lines = append(lines, m.fit(l))
	}
	for len(lines) < m.height-1 {
		lines = append(lines, "")
	}
	lines = append(lines, m.fit(" "+m.help.ShortHelpView(m.keys.ShortHelp())))
	return strings.Join(lines, "\n")
}

// fit cuts a line to the screen width.
func (m Model) fit(line string) string {
	return ansi.Truncate(line, m.width, "…")
}

// cutNote is the line that says n lines did not fit on the screen.
func (m Model) cutNote(n int) string {
	return m.cfg.Styles.Dim.Render(fmt.Sprintf(" … %d more %s — enlarge the terminal", n, plural(n, "line", "lines")))
}

// section is a block of lines: the first essential lines are kept before
// any section gets more, and the rest go to sections by rank (lower
// first), so a long list cannot crowd out another source's figures.
type section struct {
	lines     []string
	essential int
	rank      int
	// window, when set, draws the section in n lines, 0 < n < len(lines),
	// itself saying what it leaves out (the tenant table scrolls to the
	// selected tenant); without it the section's first n lines are shown.
	window func(n int) []string
}

// fitSections keeps what fits in height lines: every section's essential
// lines first (in order, while they fit), then the rest by rank. hidden
// counts the lines left out that no section's window accounts for.
func fitSections(height int, sections ...section) (lines []string, hidden int) {
	keep := make([]int, len(sections))
	left := height
	for i, s := range sections {
		n := min(s.essential, len(s.lines))
		if n > left {
			break
		}
		keep[i], left = n, left-n
	}
	order := make([]int, len(sections))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return sections[order[a]].rank < sections[order[b]].rank })
	for _, i := range order {
		s := sections[i]
		extra := min(len(s.lines)-keep[i], left)
		if (keep[i] == 0 && s.essential > 0) || extra <= 0 {
			continue
		}
		keep[i], left = keep[i]+extra, left-extra
	}
	for i, s := range sections {
		switch {
		case keep[i] == len(s.lines):
			lines = append(lines, s.lines...)
		case keep[i] > 0 && s.window != nil:
			lines = append(lines, s.window(keep[i])...)
		default:
			lines = append(lines, s.lines[:keep[i]]...)
			hidden += len(s.lines) - keep[i]
		}
	}
	return lines, hidden
}

func (m Model) titleBar() string {
	st := m.cfg.Styles
	clock := m.now.UTC().Format("15:04:05") + " UTC"
	state := "● live "
	if m.paused {
		state = "❚❚ paused "
	}
	// The longest title that leaves room for the state.
	left := " pulse top"
	for _, l := range []string{" pulse top · every " + m.cfg.Interval.String() + " · " + clock, " pulse top · " + clock} {
		if ansi.StringWidth(l)+ansi.StringWidth(state)+1 <= m.width {
			left = l
			break
		}
	}
	gap := max(m.width-ansi.StringWidth(left)-ansi.StringWidth(state), 1)
	return st.Title.Render(ansi.Truncate(left+strings.Repeat(" ", gap)+state, m.width, "…"))
}

// rule is a section's title line: ── Title note ─────────.
func (m Model) rule(title string, note string) string {
	st := m.cfg.Styles
	text := "── " + title + " "
	out, width := st.Section.Render(text), ansi.StringWidth(text)
	if note != "" {
		out += st.Dim.Render("· "+note) + " "
		width += ansi.StringWidth(note) + 3
	}
	return out + st.Section.Render(strings.Repeat("─", max(m.width-width, 0)))
}

// pair is a label and its value, styled; mark flags a breached figure.
func (m Model) pair(label, value string, breach bool) string {
	st := m.cfg.Styles
	if breach {
		return st.Label.Render(label) + " " + st.Bad.Render(value+" !")
	}
	return st.Label.Render(label) + " " + st.Value.Render(value)
}

// limit notes the threshold a breached figure is past.
func (m Model) limit(breach bool, text string) string {
	if !breach {
		return ""
	}
	return m.cfg.Styles.Dim.Render(" (max " + text + ")")
}

// row joins pairs with a three-column gap, after a one-column margin.
func row(cells ...string) string {
	return " " + strings.Join(cells, "   ")
}

// maxErrorLines is the most lines a source's error takes.
const maxErrorLines = 3

// unreachable is the lines of a source whose last read failed: the error
// word-wrapped, since its end often says why.
func (m Model) unreachable(err error, lastOK time.Time) []string {
	st := m.cfg.Styles
	var head string
	switch {
	case errors.Is(err, ops.ErrNotServed):
		head = st.Warn.Render("n/a")
	case lastOK.IsZero():
		head = st.Bad.Render("✗ unreachable")
	default:
		head = st.Bad.Render("✗ unreachable") + st.Dim.Render(" (last ok "+lastOK.UTC().Format("15:04:05")+")")
	}
	text := head + " " + strings.Join(strings.Fields(err.Error()), " ")
	lines := strings.Split(ansi.Wrap(text, m.width-2, ""), "\n")
	if len(lines) > maxErrorLines {
		lines = lines[:maxErrorLines]
		lines[maxErrorLines-1] = ansi.Truncate(lines[maxErrorLines-1], m.width-3, "") + "…"
	}
	for i := range lines {
		lines[i] = " " + lines[i]
	}
	return lines
}

// failedSection is a source's title and its error.
func (m Model) failedSection(head string, err error, lastOK time.Time) section {
	return section{lines: append([]string{head}, m.unreachable(err, lastOK)...), essential: 2}
}

func (m Model) notConfigured(title, hint string) section {
	return section{lines: []string{m.rule(title, "not configured ("+hint+")")}, essential: 1}
}

func (m Model) gatewaySection() section {
	r := m.snap.Gateway
	title := "Gateway"
	if !r.Enabled {
		return m.notConfigured(title, "--gateway")
	}
	head := m.rule(title, m.cfg.GatewayURL)
	if r.Err != nil {
		return m.failedSection(head, r.Err, r.At)
	}
	if r.At.IsZero() {
		return section{lines: []string{head, " " + m.cfg.Styles.Dim.Render("reading…")}, essential: 2}
	}
	g := r.Value
	st := m.cfg.Styles
	rate := m.pair("events/s", fmt.Sprintf("%8s", fmtRate(g.EventsPerSec)), false)
	spark := sparkline(m.rates, max(m.width-ansi.StringWidth(rate)-3, 0))
	errorRate := g.ErrorRate()
	breach := m.cfg.Thresholds.MaxErrorRate >= 0 && !math.IsNaN(errorRate) && errorRate > m.cfg.Thresholds.MaxErrorRate
	lines := []string{
		head,
		" " + rate + "  " + st.Spark.Render(spark),
		row(
			m.pair("2xx", fmtShare(g.Share2xx), breach)+m.limit(breach, fmtShare(m.cfg.Thresholds.MaxErrorRate)+" errors"),
			m.pair("p95 ack", fmtSeconds(g.P95Ack), false),
			m.pair("429", fmtCount(g.Status429), g.Status429 > 0)+st.Dim.Render(" ("+fmtCount(g.Status429Total)+" total)"),
			m.pair("503", fmtCount(g.Status503), g.Status503 > 0)+st.Dim.Render(" ("+fmtCount(g.Status503Total)+" total)"),
		),
		row(
			m.pair("rejected/s", fmtRate(g.RejectedPerSec), false),
			m.pair("buffered", fmtCount(g.BufferEvents), false),
			m.pair("accepted", fmtCount(g.AcceptedTotal), false)+st.Dim.Render(" total"),
			m.pair("flush errors", fmtCount(g.FlushErrorsTotal), g.FlushErrorsTotal > 0),
		),
	}
	if g.Window == 0 {
		lines[1] = " " + rate + "  " + st.Dim.Render("rates after the next scrape")
	}
	return section{lines: lines, essential: 3}
}

func (m Model) storeSection() section {
	r := m.snap.Store
	title := "Store"
	if !r.Enabled {
		return m.notConfigured(title, "--data, --clickhouse or a gateway with "+ops.StatsPath)
	}
	head := m.rule(title, m.storeName())
	if r.Err != nil {
		return m.failedSection(head, r.Err, r.At)
	}
	if r.At.IsZero() {
		return section{lines: []string{head, " " + m.cfg.Styles.Dim.Render("reading…")}, essential: 2}
	}
	st := m.cfg.Styles
	s := r.Value
	tenants := m.tenants()
	pos := 0
	for i, t := range tenants {
		if t == m.tenant {
			pos = i
		}
	}
	name, dau := "all tenants", s.Totals()
	if m.tenant != "" {
		name, dau = m.tenant, ops.TenantDAU{Tenant: m.tenant}
		for _, d := range s.Tenants {
			if d.Tenant == m.tenant {
				dau = d
			}
		}
	}
	fresh := m.pair("freshness", noValue, m.cfg.Thresholds.MaxFreshness > 0) + st.Dim.Render(" (no events stored)")
	if age, ok := s.Freshness(); ok {
		breach := m.cfg.Thresholds.MaxFreshness > 0 && age > m.cfg.Thresholds.MaxFreshness
		fresh = m.pair("freshness", fmtSeconds(age.Seconds()), breach) + m.limit(breach, fmtSeconds(m.cfg.Thresholds.MaxFreshness.Seconds())) +
			st.Dim.Render(" (newest "+s.NewestTS.UTC().Format("2006-01-02 15:04:05")+")")
	}
	lines := []string{head}
	lines = append(lines, m.tenantFigures(name, fmt.Sprintf(" (%d/%d)", pos+1, len(tenants)), dau)...)
	lines = append(lines, row(fresh, m.pair("events", fmtCount(float64(s.Events)), false)+st.Dim.Render(" stored")))
	return section{lines: lines, essential: len(lines)}
}

// minName is the fewest columns the selected tenant's name is shortened
// to before the labels beside it are.
const minName = 16

// tenantFigures is the selected tenant's name, its position among the
// tenants and its DAU figures, on one line. The figures are never cut:
// the name gives way first (tenant ids run to 64 characters), then the
// labels; when even the shortest labels leave the name too little room,
// the name takes a line of its own.
func (m Model) tenantFigures(name, pos string, dau ops.TenantDAU) []string {
	st := m.cfg.Styles
	today, yesterday := fmtCount(float64(dau.Today)), fmtCount(float64(dau.YesterdaySameTime))
	change := st.Value.Render(fmtChange(dau.Today, dau.YesterdaySameTime))
	// The figures, from the fullest labels to the shortest; the help says
	// what DAU compares.
	figures := []string{
		m.pair("DAU today", today, false) + "   " + m.pair("yesterday same time", yesterday, false) + "   " + change,
		m.pair("DAU today", today, false) + "   " + m.pair("yesterday", yesterday, false) + "   " + change,
		m.pair("DAU", today, false) + st.Dim.Render(" vs ") + st.Value.Render(yesterday) + " " + change,
	}
	tenant := func(label bool, width int) string {
		cell := st.Value.Render(shorten(name, width)) + st.Dim.Render(pos)
		if label {
			cell = st.Label.Render("tenant") + " " + cell
		}
		return cell
	}
	need := min(ansi.StringWidth(name), minName)
	for _, l := range []struct {
		label   bool
		figures string
	}{{true, figures[0]}, {true, figures[1]}, {false, figures[1]}, {false, figures[2]}} {
		if room := m.width - ansi.StringWidth(row(tenant(l.label, 0), l.figures)); room >= need {
			return []string{row(tenant(l.label, room), l.figures)}
		}
	}
	fig := figures[len(figures)-1]
	for _, f := range figures {
		if ansi.StringWidth(row(f)) <= m.width {
			fig = f
			break
		}
	}
	room := m.width - ansi.StringWidth(row(tenant(true, 0)))
	return []string{row(tenant(true, max(room, 0))), row(fig)}
}

// tenantTable lists every tenant's DAU under the store's figures, the
// selected one marked; it gets only the lines no other source needs, and
// when they are too few for every tenant it scrolls to the selected one.
func (m Model) tenantTable() section {
	r := m.snap.Store
	if !r.OK() || len(r.Value.Tenants) == 0 {
		return section{}
	}
	st := m.cfg.Styles
	const format = "%s %-20s %10s %10s %8s"
	header := st.Dim.Render(fmt.Sprintf(format, " ", "tenant", "today", "yesterday", "change"))
	rows := make([]string, 0, len(r.Value.Tenants))
	selected := -1
	for i, d := range r.Value.Tenants {
		marker := " "
		if d.Tenant == m.tenant {
			marker, selected = "▸", i
		}
		rows = append(rows, fmt.Sprintf(format, marker, shorten(d.Tenant, 20), fmtCount(float64(d.Today)),
			fmtCount(float64(d.YesterdaySameTime)), fmtChange(d.Today, d.YesterdaySameTime)))
	}
	window := func(n int) []string {
		if n == 1 {
			return []string{st.Dim.Render(fmt.Sprintf("  … %d %s", len(rows), plural(len(rows), "tenant", "tenants")))}
		}
		lo, hi := tenantWindow(len(rows), selected, n-1)
		lines := []string{header}
		if lo > 0 {
			lines = append(lines, st.Dim.Render(fmt.Sprintf("  … %d more above", lo)))
		}
		lines = append(lines, rows[lo:hi]...)
		if hi < len(rows) {
			lines = append(lines, st.Dim.Render(fmt.Sprintf("  … %d more below", len(rows)-hi)))
		}
		return lines
	}
	return section{lines: append([]string{header}, rows...), rank: 1, window: window}
}

// tenantWindow is the rows [lo, hi) of total shown in lines lines, each
// row left out above or below counted on a line of its own: the top when
// no row is selected (sel < 0) or the selected one is near it, the bottom
// when it is near that, otherwise the selected row near the middle. It
// holds the selected row whenever lines leave room for a row besides the
// counts.
func tenantWindow(total, sel, lines int) (lo, hi int) {
	if total <= lines {
		return 0, total
	}
	if lines <= 1 {
		return 0, 0
	}
	if n := lines - 1; sel < n {
		return 0, n
	} else if sel >= total-n {
		return total - n, total
	}
	n := lines - 2
	lo = min(max(sel-(n-1)/2, 1), total-1-n)
	return lo, lo + n
}

func (m Model) storeName() string {
	if m.cfg.Sources.Store == nil {
		return ""
	}
	return m.cfg.Sources.Store.Describe()
}

func (m Model) kafkaSection() section {
	r := m.snap.Kafka
	title := "Kafka"
	if !r.Enabled {
		return m.notConfigured(title, "--brokers")
	}
	src := m.cfg.Sources.Kafka
	note := "group " + src.Group
	if src.Topic != "" {
		note += " · topic " + src.Topic
	}
	head := m.rule(title, note)
	if r.Err != nil {
		return m.failedSection(head, r.Err, r.At)
	}
	if r.At.IsZero() {
		return section{lines: []string{head, " " + m.cfg.Styles.Dim.Render("reading…")}, essential: 2}
	}
	st := m.cfg.Styles
	k := r.Value
	breach := m.cfg.Thresholds.MaxLag >= 0 && k.TotalLag > m.cfg.Thresholds.MaxLag
	state := fmt.Sprintf(" %s · %d %s", k.State, k.Members, plural(k.Members, "member", "members"))
	if k.NoCommits {
		state += " · no commits: counted from the log start"
	}
	lines := []string{head, " " + m.pair("lag", fmtCount(float64(k.TotalLag)), breach) + m.limit(breach, fmtCount(float64(m.cfg.Thresholds.MaxLag))) + st.Dim.Render(state)}
	var cells []string
	for _, p := range k.Partitions {
		name := fmt.Sprintf("p%d", p.Partition)
		if src.Topic == "" {
			name = fmt.Sprintf("%s/%d", p.Topic, p.Partition)
		}
		value := fmtCount(float64(p.Lag))
		if p.Err != nil {
			value = "?"
		}
		cells = append(cells, st.Label.Render(name)+" "+st.Value.Render(value))
	}
	lines = append(lines, m.wrapCells(cells, 2)...)
	return section{lines: lines, essential: 2}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// wrapCells lays cells out in lines of the screen's width, at most
// maxLines; what does not fit is counted in a last "+N more".
func (m Model) wrapCells(cells []string, maxLines int) []string {
	var lines []string
	cur := ""
	for i, c := range cells {
		next := cur + "  " + c
		if cur == "" {
			next = " " + c
		}
		if ansi.StringWidth(next) <= m.width-10 || cur == "" {
			cur = next
			continue
		}
		lines = append(lines, cur)
		if len(lines) == maxLines {
			lines[maxLines-1] += m.cfg.Styles.Dim.Render(fmt.Sprintf("  +%d more", len(cells)-i))
			return lines
		}
		cur = " " + c
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

func (m Model) clickhouseSection() section {
	r := m.snap.ClickHouse
	title := "ClickHouse"
	if !r.Enabled {
		return m.notConfigured(title, "--clickhouse")
	}
	head := m.rule(title, m.cfg.Sources.ClickHouse.Label)
	if r.Err != nil {
		return m.failedSection(head, r.Err, r.At)
	}
	if r.At.IsZero() {
		return section{lines: []string{head, " " + m.cfg.Styles.Dim.Render("reading…")}, essential: 2}
	}
	st := m.cfg.Styles
	c := r.Value
	disk := st.Label.Render("disk") + " " + st.Value.Render(fmtBytes(c.PulseBytes))
	if c.DiskTotal > 0 {
		disk += st.Dim.Render(fmt.Sprintf(" (disks %s of %s)", fmtShare(float64(c.DiskUsed)/float64(c.DiskTotal)), fmtBytes(c.DiskTotal)))
	}
	lines := []string{
		head,
		row(
			m.pair("insert errors", fmtCount(float64(c.InsertErrors)), c.InsertErrors > 0),
			m.pair("consume errors", fmtCount(float64(c.ConsumeErrors)), c.ConsumeErrors > 0),
			m.pair("dead letters 1h", fmtCount(float64(c.DeadLetters)), c.DeadLetters > 0),
		),
		row(
			m.pair("parts", fmtCount(float64(c.ActiveParts)), false)+st.Dim.Render(fmt.Sprintf(" (max %d/partition)", c.MaxPartsInPartition)),
			m.pair("merges", fmtCount(float64(c.Merges)), false),
			disk,
		),
	}
	if e := c.LastError; e != nil {
		msg := strings.Join(strings.Fields(e.Message), " ")
		lines = append(lines, " "+st.Label.Render("last error")+" "+st.Value.Render(e.Name)+st.Dim.Render(" "+e.At.UTC().Format("2006-01-02 15:04:05")+" "+msg))
	}
	return section{lines: lines, essential: 2}
}

// helpLines are the help screen: the keys, then what each figure means.
func (m Model) helpLines() []string {
	st := m.cfg.Styles
	lines := []string{m.rule("Keys", "")}
	for _, l := range strings.Split(m.help.FullHelpView(m.keys.FullHelp()), "\n") {
		lines = append(lines, " "+l)
	}
	lines = append(lines, m.rule("Figures", ""))
	for _, g := range [][2]string{
		{"events/s", "events acknowledged per second, from two scrapes of /metrics"},
		{"2xx", "share of event requests answered 2xx; error rate is the rest"},
		{"p95 ack", "95th percentile time to answer an event request, ack included"},
		{"429 / 503", "rate limited / shed requests since the last scrape (total)"},
		{"DAU", "distinct users today (UTC) vs yesterday up to the same time"},
		{"freshness", "the store's clock minus the newest stored event's ts"},
		{"lag", "messages the consumer group has yet to read, per partition"},
		{"ClickHouse", "errors since the server started; parts, merges, disk now"},
	} {
		lines = append(lines, " "+st.Value.Render(fmt.Sprintf("%-10s", g[0]))+" "+g[1])
	}
	return lines
}
