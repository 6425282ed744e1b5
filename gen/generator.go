// Package gen generates realistic, deterministic SaaS product events —
// tenants of skewed sizes, users who sign up, work through an onboarding
// funnel with drop-off, come back in sessions or churn, adopt features and
// call the API — and drives them into the HTTP gateway as a load test.
//
// The model, in short:
//   - Tenant sizes follow Zipf (1/k): with 20 tenants the largest has ~28%
//     of the users. Each tenant has a sticky plan (free, pro, enterprise)
//     and a home country. User ids (u_000123) are numbered per tenant from
//     overlapping offsets, so the same user_id exists in several tenants.
//   - Signups spread over the range, denser towards its end (growth). The
//     funnel signup → onboarding_started → project_created →
//     teammate_invited → activated has per-step conversion (better on paid
//     plans and with the "tour" onboarding variant) and delays from seconds
//     (same session) to days.
//   - Sessions start with session_started and hold page_viewed,
//     api_request and feature events. Session starts follow the user's
//     local working hours and weekdays. Activated users come back more
//     often, do more per session and churn less (weekly hazard that falls
//     with tenure); users still in the funnel do not churn before their
//     next step.
//   - Feature adoption differs: report_exported is common, alert_created
//     and integration_connected less so, dashboard_shared rare.
//   - app_version rolls out every ten days; each user upgrades after a
//     personal lag (longer on mobile). One release in the middle of the
//     range is bad — api_request latency ×1.7 and ~6× the 5xx rate — and
//     the next release fixes it.
//
// Memory is per user (~400 bytes): events stream out in timestamp order
// from a heap keyed by each user's next event time, so ten million events
// cost no more memory than ten thousand.
//
// Determinism: every user draws from its own PCG stream seeded from the
// Config, so output depends on nothing else. It is reproducible on one
// architecture and Go release; floating-point library differences between
// architectures may shift a rare timestamp by a millisecond.
package gen

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/pulse-analytics/pulse/ingest"
)

// sessionTimeout is the usual analytics session gap: a funnel step due
// sooner than this after the last event continues the current session.
const sessionTimeout = 30 * minute

const releaseEvery = 10 * day

type tenant struct {
	id   string
	plan uint8
	home uint8
}

type user struct {
	rng       *rand.Rand
	id        string
	sessionID string
	// ctx is the cached context JSON for app version ctxVer. It is
	// replaced, never modified, because emitted events share it.
	ctx       json.RawMessage
	stepAt    [funnelLen]int64  // when each funnel step happens; never past steps
	featureAt [featureLen]int64 // when each feature is adopted, or never
	verLag    int64             // how long after a release the user upgrades
	// engagement scales the user's session rate (log-normal around 1).
	engagement float64
	tenant     int32
	seq        uint32 // events emitted, for event ids
	sessions   uint32
	left       int32 // activity events still to come in this session
	ctxVer     int32
	steps      uint8 // funnel steps the user will reach (1..5)
	done       uint8 // funnel steps emitted
	pending    eventKind
	os         uint8
	browser    uint8
	country    uint8
	tour       bool // onboarding A/B variant
}

type slot struct {
	at   int64
	user int32
}

// Generator yields the events of one Config in timestamp order. It is not
// safe for concurrent use.
type Generator struct {
	cfg            Config
	key            uint64
	startMS, endMS int64
	tenants        []tenant
	users          []user
	queue          []slot // min-heap on (at, user)
	versions       []string
	badVersion     int
	versionBase    int64
	emitted        int64
	buf            []byte
	// reuse lets Properties alias a buffer that the next call to Next
	// overwrites; Drive sets it because it encodes each event at once.
	reuse bool
	props []byte
}

// Generate emits every event of cfg, in timestamp order, to emit. It stops
// at the first error from emit (returned as is) or when ctx is done.
// Properties and Context of emitted events must be treated as read-only:
// Context is shared between events of the same user.
func Generate(ctx context.Context, cfg Config, emit func(ingest.Event) error) error {
	g, err := New(cfg)
	if err != nil {
		return err
	}
	for n := 0; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		ev, ok := g.Next()
		if !ok {
			return nil
		}
		if err := emit(ev); err != nil {
			return err
		}
	}
}

// New prepares the tenants and users of cfg; events come from Next.
func New(cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Start, cfg.End = cfg.Start.UTC(), cfg.End.UTC()
	g := &Generator{cfg: cfg, key: dataKey(cfg), startMS: cfg.Start.UnixMilli(), endMS: cfg.End.UnixMilli()}
	setup := rand.New(rand.NewPCG(g.key, mix64(g.key^0x5eed)))
	g.initVersions()

	sizes := tenantSizes(cfg.Tenants, cfg.Users)
	g.tenants = make([]tenant, cfg.Tenants)
	g.users = make([]user, cfg.Users)
	g.queue = make([]slot, 0, cfg.Users)
	idx := 0
	for t, size := range sizes {
		tn := tenant{id: tenantID(t), plan: uint8(pick(setup, planWeights)), home: uint8(pick(setup, countryWeights))}
		if t == 0 {
			tn.plan = planEnterprise // the big customer
		}
		g.tenants[t] = tn
		// Tenants number their users from overlapping offsets, all within
		// the largest tenant's range, so user ids collide across tenants.
		offset := 1
		if t > 0 {
			offset = 1 + setup.IntN(sizes[0])
		}
		for j := range size {
			g.initUser(int32(idx), int32(t), offset+j)
			idx++
		}
	}
	// Floyd's heap construction: O(n).
	for i := len(g.queue)/2 - 1; i >= 0; i-- {
		g.down(i)
	}
	return g, nil
}

// Next returns the next event in timestamp order (ties by user), or false
// when the range or Config.MaxEvents is exhausted.
func (g *Generator) Next() (ingest.Event, bool) {
	if len(g.queue) == 0 || g.cfg.MaxEvents > 0 && g.emitted >= g.cfg.MaxEvents {
		return ingest.Event{}, false
	}
	s := g.queue[0]
	u := &g.users[s.user]
	ev := g.event(u, s.user, s.at)
	if next := g.advance(u, s.user, s.at); next < g.endMS {
		g.queue[0].at = next
		g.down(0)
	} else {
		last := len(g.queue) - 1
		g.queue[0] = g.queue[last]
		g.queue = g.queue[:last]
		g.down(0)
	}
	g.emitted++
	return ev, true
}

// Emitted counts the events Next has returned.
func (g *Generator) Emitted() int64 { return g.emitted }

// tenantSizes splits users over tenants by Zipf weights 1/k, every tenant
// getting at least one user; remainders go to the largest fractions.
func tenantSizes(tenants, users int) []int {
	h := 0.0
	for k := 1; k <= tenants; k++ {
		h += 1 / float64(k)
	}
	sizes := make([]int, tenants)
	fracs := make([]float64, tenants)
	order := make([]int, tenants)
	rest, assigned := users-tenants, 0
	for i := range sizes {
		share := float64(rest) / float64(i+1) / h
		sizes[i] = 1 + int(share)
		assigned += int(share)
		fracs[i] = share - math.Floor(share)
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case fracs[a] > fracs[b]:
			return -1
		case fracs[a] < fracs[b]:
			return 1
		}
		return 0
	})
	for _, i := range order[:rest-assigned] {
		sizes[i]++
	}
	return sizes
}

func (g *Generator) initVersions() {
	g.versionBase = g.startMS - 2*releaseEvery
	n := int((g.endMS-g.versionBase)/releaseEvery) + 1
	g.versions = make([]string, n)
	g.badVersion = -1
	minor := 10
	for k := range n {
		patch := 0
		if k%3 == 2 {
			patch = 1
		} else if k > 0 {
			minor++
		}
		g.versions[k] = "4." + strconv.Itoa(minor) + "." + strconv.Itoa(patch)
		// The first minor release past the middle is the bad one, if a
		// release follows it to fix it.
		if g.badVersion < 0 && patch == 0 && k >= n/2 && k > 0 && k < n-1 {
			g.badVersion = k
		}
	}
}

func (g *Generator) versionAt(u *user, at int64) int {
	k := floorDiv(at-u.verLag-g.versionBase, releaseEvery)
	return int(clamp(k, 0, int64(len(g.versions)-1)))
}

func (g *Generator) initUser(idx, t int32, number int) {
	u := &g.users[idx]
	u.rng = rand.New(rand.NewPCG(mix64(g.key^uint64(idx)*0xd1342543de82ef95), mix64(g.key+uint64(idx))))
	r := u.rng
	tn := &g.tenants[t]
	u.tenant = t
	u.id = "u_" + pad(number, 6)
	u.country = tn.home
	if r.Float64() < 0.35 {
		u.country = uint8(pick(r, countryWeights))
	}
	u.os = uint8(pick(r, osWeights))
	u.browser = uint8(pick(r, browserWeights[u.os]))
	lagMean := 2 * day
	if isMobile(u.os) {
		lagMean = 5 * day
	}
	u.verLag = clamp(expMS(r, lagMean), 0, 3*releaseEvery)
	u.ctxVer = -1
	u.engagement = lognormal(r, 1, 0.6)
	u.tour = r.IntN(2) == 1

	// Signups grow over the range: density rises towards its end.
	span := float64(g.endMS - g.startMS)
	signup := g.daytime(u, g.startMS+int64(span*math.Pow(r.Float64(), 0.8)))
	u.stepAt[0] = signup + clamp(lognormalMS(r, 6*second, 0.7), second, minute)
	u.steps = 1
	prev := u.stepAt[0]
	for i, f := range funnel {
		p := f.prob * planLift[tn.plan]
		if i == 1 && u.tour {
			p *= 1.08
		}
		if r.Float64() >= min(p, 0.97) {
			break
		}
		if r.Float64() < f.quick {
			prev += clamp(lognormalMS(r, f.quickMed, 0.8), 5*second, 25*minute)
		} else {
			prev = g.daytime(u, prev+clamp(lognormalMS(r, f.slowMed, 0.9), 45*minute, 45*day))
		}
		u.stepAt[i+1] = prev
		u.steps++
	}
	for i := u.steps; i < funnelLen; i++ {
		u.stepAt[i] = never
	}

	base, adopt := u.stepAt[0], &adoptOther
	if u.steps == funnelLen {
		base, adopt = u.stepAt[funnelLen-1], &adoptActivated
	}
	for i := range featureLen {
		u.featureAt[i] = never
		if r.Float64() < adopt[i] {
			u.featureAt[i] = base + expMS(r, adoptDelay[i])
		}
	}

	u.sessions = 1
	u.sessionID = sessionID(g.key, idx, u.sessions)
	u.left = g.sessionLength(u, false)
	u.pending = kindSessionStarted
	if signup < g.endMS {
		g.queue = append(g.queue, slot{at: signup, user: idx})
	}
}

func (g *Generator) sessionLength(u *user, activated bool) int32 {
	if activated {
		return int32(3 + u.rng.ExpFloat64()*7)
	}
	return int32(1 + u.rng.ExpFloat64()*2.5)
}

// advance plans the user's next event after the one at t and returns its
// time, or never when the user churns.
func (g *Generator) advance(u *user, idx int32, t int64) int64 {
	r := u.rng
	due := never
	if u.done < u.steps {
		due = u.stepAt[u.done]
	}
	if u.left > 0 {
		kind := g.activity(u, t)
		if next := t + g.gap(u, kind); due > next {
			u.left--
			u.pending = kind
			return next
		}
	}
	if due-t <= sessionTimeout {
		u.pending = kindSignup + eventKind(u.done)
		return max(due, t+clamp(lognormalMS(r, 2*second, 0.6), 300, 10*second))
	}

	// The session is over: plan the next one, unless the user churns.
	activated := u.done == funnelLen
	perWeek := 1.5 * u.engagement
	if activated {
		perWeek = 5 * u.engagement
	}
	start := g.daytime(u, t+max(expMS(r, int64(float64(week)/perWeek)), sessionTimeout))
	if due != never {
		// Users with a funnel step ahead come back for it.
		start = min(start, due-clamp(lognormalMS(r, 40*second, 0.8), second, 5*minute))
	} else if g.churns(u, t, start-t) {
		return never
	}
	u.sessions++
	u.sessionID = sessionID(g.key, idx, u.sessions)
	u.left = g.sessionLength(u, activated)
	u.pending = kindSessionStarted
	return max(start, t+minute)
}

// churns applies a weekly hazard over the gap before the next session:
// high for users who never activated, low and falling with tenure for
// those who did.
func (g *Generator) churns(u *user, t, gap int64) bool {
	tenure := float64(t-u.stepAt[0]) / float64(week)
	h := 0.25 + 0.15*math.Exp(-tenure/2)
	if u.done == funnelLen {
		h = 0.025 + 0.10*math.Exp(-tenure/4)
	}
	p := 1 - math.Pow(1-h, float64(gap)/float64(week))
	return u.rng.Float64() < p
}

// activity picks the next in-session event.
func (g *Generator) activity(u *user, t int64) eventKind {
	var w [2 + featureLen]float64
	w[0] = 0.55
	w[1] = 0.18
	if u.done == funnelLen {
		w[1] = 0.32
	}
	if u.featureAt[2] <= t {
		w[1] += 0.15 // connected integrations call the API
	}
	total := w[0] + w[1]
	for i := range featureLen {
		if u.featureAt[i] <= t {
			w[2+i] = featureUse[i]
			total += w[2+i]
		}
	}
	x := u.rng.Float64() * total
	for i, wi := range w {
		if x < wi {
			if i == 0 {
				return kindPageViewed
			}
			if i == 1 {
				return kindAPIRequest
			}
			return kindReportExported + eventKind(i-2)
		}
		x -= wi
	}
	return kindPageViewed
}

// gap is the think time before an in-session event of that kind.
func (g *Generator) gap(u *user, kind eventKind) int64 {
	if kind == kindAPIRequest {
		return clamp(lognormalMS(u.rng, 3*second, 1.0), 50, 2*minute)
	}
	return clamp(lognormalMS(u.rng, 25*second, 0.9), 500, 10*minute)
}

// daytime moves a session start out of the user's local night (mostly)
// and off weekends (often), which gives daily and weekly seasonality.
func (g *Generator) daytime(u *user, t int64) int64 {
	r := u.rng
	tz := countries[u.country].tz * hour
	local := t + tz
	dayStart := local - floorMod(local, day)
	if h := (local - dayStart) / hour; (h < 7 || h >= 23) && r.Float64() < 0.9 {
		if h >= 23 {
			dayStart += day
		}
		local = dayStart + 8*hour + clamp(expMS(r, 2*hour), 0, 9*hour)
	}
	// 1970-01-01 was a Thursday; weekday 0 is Sunday.
	if wd := floorMod(floorDiv(local, day)+4, 7); (wd == 6 || wd == 0) && r.Float64() < 0.6 {
		// Spread over Monday to Wednesday rather than piling onto Monday.
		toMonday := int64(1)
		if wd == 6 {
			toMonday = 2
		}
		toMonday += r.Int64N(3)
		local = local - floorMod(local, day) + toMonday*day + 8*hour + clamp(expMS(r, 3*hour), 0, 12*hour)
	}
	return local - tz
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

func (g *Generator) event(u *user, idx int32, at int64) ingest.Event {
	kind := u.pending
	ver := g.versionAt(u, at)
	ev := ingest.Event{
		EventID:      eventID(g.key, idx, u.seq),
		Event:        kindNames[kind],
		UserID:       u.id,
		TenantID:     g.tenants[u.tenant].id,
		SessionID:    u.sessionID,
		TS:           time.UnixMilli(at).UTC(),
		EventVersion: 1,
		Properties:   g.properties(u, kind, at, ver),
		Context:      g.context(u, ver),
	}
	u.seq++
	if kind >= kindSignup && kind <= kindActivated {
		u.done++
	}
	return ev
}

func (g *Generator) context(u *user, ver int) json.RawMessage {
	if int32(ver) == u.ctxVer {
		return u.ctx
	}
	b := append(g.buf[:0], `{"app_version":"`...)
	b = append(b, g.versions[ver]...)
	b = append(b, '"')
	b = appendStr(b, "os", osNames[u.os])
	b = appendStr(b, "browser", browsers[u.browser])
	b = appendStr(b, "country", countries[u.country].code)
	b = append(b, '}')
	g.buf = b
	u.ctx, u.ctxVer = append(json.RawMessage(nil), b...), int32(ver)
	return u.ctx
}

func (g *Generator) properties(u *user, kind eventKind, at int64, ver int) json.RawMessage {
	r := u.rng
	plan := g.tenants[u.tenant].plan
	b := append(g.buf[:0], `{"plan":"`...)
	b = append(b, plans[plan]...)
	b = append(b, '"')
	switch kind {
	case kindSessionStarted:
		b = appendStr(b, "source", sources[pick(r, sourceWeights)])
		b = appendBool(b, "returning", u.sessions > 1)
	case kindSignup:
		b = appendStr(b, "method", signupMethods[pick(r, signupMethodWeights)])
		b = appendBool(b, "trial", plan == planFree && r.Float64() < 0.3)
	case kindOnboardingStarted:
		variant := "checklist"
		if u.tour {
			variant = "tour"
		}
		b = appendStr(b, "variant", variant)
	case kindProjectCreated:
		b = appendStr(b, "template", templates[pick(r, templateWeights)])
	case kindTeammateInvited:
		b = appendInt(b, "invitees", int64(min(1+r.ExpFloat64()*1.5, 25)))
		b = appendStr(b, "role", roles[pick(r, roleWeights)])
	case kindActivated:
		b = append(b, `,"days_since_signup":`...)
		b = strconv.AppendFloat(b, float64(at-u.stepAt[0])/float64(day), 'f', 1, 64)
	case kindPageViewed:
		b = appendStr(b, "page", pages[pick(r, pageWeights)])
		b = appendInt(b, "load_ms", max(20, int64(lognormal(r, 350, 0.5))))
	case kindAPIRequest:
		b = g.apiRequest(b, u, ver)
	case kindReportExported:
		b = appendStr(b, "feature", EventReportExported)
		b = appendStr(b, "format", exportFormats[pick(r, exportFormatWeights)])
		b = appendInt(b, "rows", int64(lognormal(r, 800, 1.2)))
	case kindAlertCreated:
		b = appendStr(b, "feature", EventAlertCreated)
		b = appendStr(b, "channel", alertChannels[pick(r, alertChannelWeights)])
	case kindIntegrationConnected:
		b = appendStr(b, "feature", EventIntegrationConnected)
		b = appendStr(b, "integration", integrations[pick(r, integrationWeights)])
	case kindDashboardShared:
		b = appendStr(b, "feature", EventDashboardShared)
		b = appendStr(b, "share_type", shareTypes[pick(r, shareTypeWeights)])
	}
	b = append(b, '}')
	g.buf = b
	if g.reuse {
		g.props = append(g.props[:0], b...)
		return g.props
	}
	return append(json.RawMessage(nil), b...)
}

// apiRequest appends endpoint, method, latency_ms, status and cache_hit:
// log-normal latency per endpoint with a slow tail, mostly 2xx, some 4xx
// and a few 5xx (more, and slower, on the bad release).
func (g *Generator) apiRequest(b []byte, u *user, ver int) []byte {
	r := u.rng
	ep := endpoints[pick(r, endpointWeights)]
	bad := ver == g.badVersion
	cached := ep.method == "GET" && r.Float64() < 0.3
	median := ep.medianMS
	if cached {
		median /= 5
	}
	if bad {
		median *= 1.7
	}
	if isMobile(u.os) {
		median *= 1.3
	}
	latency := lognormal(r, median, 0.55)
	if r.Float64() < 0.01 {
		latency *= 4 + 12*r.Float64()
	}
	status := 200
	if ep.method == "POST" {
		status = 201
	}
	serverErr := 0.006
	if bad {
		serverErr = 0.035
	}
	switch x := r.Float64(); {
	case x < serverErr:
		status = serverErrors[pick(r, serverErrorWeights)]
		latency *= 1.5
		if status == 504 {
			latency = max(latency, 30_000)
		}
	case x < serverErr+0.03:
		status = clientErrors[pick(r, clientErrorWeights)]
		latency *= 0.4
	}
	b = appendStr(b, "endpoint", ep.path)
	b = appendStr(b, "method", ep.method)
	b = appendInt(b, "latency_ms", max(1, int64(latency)))
	b = appendInt(b, "status", int64(status))
	return appendBool(b, "cache_hit", cached)
}

// The appenders write `,"key":value`; keys and values come from the
// catalogues above, which need no JSON escaping.

func appendStr(b []byte, key, value string) []byte {
	b = append(b, `,"`...)
	b = append(b, key...)
	b = append(b, `":"`...)
	b = append(b, value...)
	return append(b, '"')
}

func appendInt(b []byte, key string, value int64) []byte {
	b = append(b, `,"`...)
	b = append(b, key...)
	b = append(b, `":`...)
	return strconv.AppendInt(b, value, 10)
}

func appendBool(b []byte, key string, value bool) []byte {
	b = append(b, `,"`...)
	b = append(b, key...)
	b = append(b, `":`...)
	return strconv.AppendBool(b, value)
}

func (g *Generator) down(i int) {
	q := g.queue
	n := len(q)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && less(q[r], q[l]) {
			m = r
		}
		if !less(q[m], q[i]) {
			return
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
}

func less(a, b slot) bool {
	return a.at < b.at || a.at == b.at && a.user < b.user
}
