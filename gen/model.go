package gen

import (
	"math"
	"math/rand/v2"
	"strconv"
)

// Event names. The funnel steps, in order, are FunnelSteps().
const (
	EventSessionStarted       = "session_started"
	EventSignup               = "signup"
	EventOnboardingStarted    = "onboarding_started"
	EventProjectCreated       = "project_created"
	EventTeammateInvited      = "teammate_invited"
	EventActivated            = "activated"
	EventPageViewed           = "page_viewed"
	EventAPIRequest           = "api_request"
	EventReportExported       = "report_exported"
	EventAlertCreated         = "alert_created"
	EventIntegrationConnected = "integration_connected"
	EventDashboardShared      = "dashboard_shared"
)

// FunnelSteps returns the onboarding funnel in order; every user does a
// prefix of it, each step at or after the previous one.
func FunnelSteps() []string {
	return []string{EventSignup, EventOnboardingStarted, EventProjectCreated, EventTeammateInvited, EventActivated}
}

// Features returns the feature events, most adopted first.
func Features() []string {
	return []string{EventReportExported, EventAlertCreated, EventIntegrationConnected, EventDashboardShared}
}

type eventKind uint8

const (
	kindSessionStarted eventKind = iota
	kindSignup                   // first funnel step; the others follow in order
	kindOnboardingStarted
	kindProjectCreated
	kindTeammateInvited
	kindActivated
	kindPageViewed
	kindAPIRequest
	kindReportExported // first feature; the others follow in Features() order
	kindAlertCreated
	kindIntegrationConnected
	kindDashboardShared
)

const (
	funnelLen  = 5
	featureLen = 4
)

var kindNames = [...]string{
	EventSessionStarted, EventSignup, EventOnboardingStarted, EventProjectCreated, EventTeammateInvited,
	EventActivated, EventPageViewed, EventAPIRequest, EventReportExported, EventAlertCreated,
	EventIntegrationConnected, EventDashboardShared,
}

// Milliseconds, the generator's unit of time.
const (
	second int64 = 1000
	minute       = 60 * second
	hour         = 60 * minute
	day          = 24 * hour
	week         = 7 * day
	never  int64 = math.MaxInt64
)

// The tables below are read-only catalogues; weights need not sum to 1.

var tenantNames = []string{
	"acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka", "tyrell", "cyberdyne",
	"soylent", "aperture", "vandelay", "piedpiper", "oscorp", "gringotts", "dunder-mifflin", "massive-dynamic", "prestige", "monarch",
}

// tenantID names tenant i: a company slug for the first twenty, then t021...
func tenantID(i int) string {
	if i < len(tenantNames) {
		return tenantNames[i]
	}
	return "t" + pad(i+1, 3)
}

func pad(n, width int) string {
	s := strconv.Itoa(n)
	for len(s) < width {
		s = "0" + s
	}
	return s
}

var plans = []string{"free", "pro", "enterprise"}

const (
	planFree = iota
	planPro
	planEnterprise
)

var planWeights = cumulative([]float64{0.45, 0.38, 0.17})

// planLift scales funnel conversion: paying tenants onboard better.
var planLift = []float64{0.93, 1.04, 1.12}

type country struct {
	code string
	tz   int64 // UTC offset in hours, good enough for daily rhythm
}

var countries = []country{
	{"US", -6}, {"GB", 0}, {"DE", 1}, {"FR", 1}, {"IN", 5}, {"BR", -3}, {"JP", 9}, {"CA", -5},
	{"AU", 10}, {"NL", 1}, {"ES", 1}, {"SG", 8}, {"MX", -6}, {"SE", 1}, {"PL", 1}, {"KR", 9},
}
var countryWeights = cumulative([]float64{30, 10, 9, 5, 9, 5, 4, 5, 3, 3, 3, 2, 2, 2, 2, 2})

var osNames = []string{"macOS", "Windows", "Linux", "iOS", "Android"}
var osWeights = cumulative([]float64{34, 36, 8, 13, 9})

func isMobile(os uint8) bool { return os >= 3 }

var browsers = []string{"Chrome", "Safari", "Firefox", "Edge"}

// browserWeights is per OS (same order as osNames).
var browserWeights = [][]float64{
	cumulative([]float64{55, 35, 10, 0}),
	cumulative([]float64{62, 0, 10, 28}),
	cumulative([]float64{70, 0, 30, 0}),
	cumulative([]float64{15, 85, 0, 0}),
	cumulative([]float64{90, 0, 5, 5}),
}

var sources = []string{"direct", "google", "email", "slack", "docs", "linkedin"}
var sourceWeights = cumulative([]float64{45, 20, 15, 10, 6, 4})

var signupMethods = []string{"email", "google", "github", "sso"}
var signupMethodWeights = cumulative([]float64{40, 38, 14, 8})

var templates = []string{"blank", "marketing", "engineering", "sales", "support"}
var templateWeights = cumulative([]float64{35, 20, 25, 12, 8})

var roles = []string{"member", "admin", "viewer"}
var roleWeights = cumulative([]float64{70, 12, 18})

var pages = []string{"/dashboard", "/reports", "/projects", "/settings", "/integrations", "/alerts", "/billing", "/team", "/docs", "/home"}
var pageWeights = cumulative([]float64{30, 18, 15, 6, 5, 6, 2, 5, 8, 5})

type endpoint struct {
	path     string
	method   string
	medianMS float64
}

var endpoints = []endpoint{
	{"/api/v1/projects", "GET", 45}, {"/api/v1/reports", "GET", 120}, {"/api/v1/reports/export", "POST", 650},
	{"/api/v1/dashboards", "GET", 80}, {"/api/v1/query", "POST", 260}, {"/api/v1/alerts", "GET", 60},
	{"/api/v1/users/me", "GET", 25}, {"/api/v1/events", "POST", 35},
}
var endpointWeights = cumulative([]float64{16, 14, 3, 18, 20, 8, 14, 7})

var clientErrors = []int{400, 401, 403, 404, 409, 422, 429}
var clientErrorWeights = cumulative([]float64{25, 12, 8, 35, 5, 10, 5})
var serverErrors = []int{500, 502, 503, 504}
var serverErrorWeights = cumulative([]float64{60, 18, 15, 7})

var exportFormats = []string{"csv", "pdf", "xlsx"}
var exportFormatWeights = cumulative([]float64{55, 30, 15})
var alertChannels = []string{"email", "slack", "pagerduty", "webhook"}
var alertChannelWeights = cumulative([]float64{40, 40, 10, 10})
var integrations = []string{"slack", "github", "salesforce", "hubspot", "jira", "segment"}
var integrationWeights = cumulative([]float64{30, 25, 12, 12, 13, 8})
var shareTypes = []string{"link", "email", "embed"}
var shareTypeWeights = cumulative([]float64{60, 30, 10})

// Feature adoption (same order as Features()): the chance that a user who
// activates / never activates adopts it, how long after activation (or
// signup) on average, and how often an adopter uses it (weight among a
// session's events; page_viewed weighs 0.55).
var (
	adoptActivated = [featureLen]float64{0.70, 0.35, 0.25, 0.07}
	adoptOther     = [featureLen]float64{0.18, 0.05, 0.03, 0.01}
	adoptDelay     = [featureLen]int64{2 * day, 5 * day, 4 * day, 10 * day}
	featureUse     = [featureLen]float64{0.10, 0.035, 0.008, 0.03}
)

// funnelStep describes reaching one funnel step after the previous one:
// with probability prob; then after a quick delay (same session) with
// probability quick, otherwise after a slow delay of hours to days.
type funnelStep struct {
	prob              float64
	quick             float64
	quickMed, slowMed int64
}

var funnel = [funnelLen - 1]funnelStep{
	{prob: 0.82, quick: 0.75, quickMed: 90 * second, slowMed: 20 * hour},
	{prob: 0.68, quick: 0.60, quickMed: 4 * minute, slowMed: 36 * hour},
	{prob: 0.55, quick: 0.35, quickMed: 8 * minute, slowMed: 60 * hour},
	{prob: 0.72, quick: 0.25, quickMed: 20 * minute, slowMed: 80 * hour},
}

// cumulative turns weights into a running sum for pick.
func cumulative(w []float64) []float64 {
	c := make([]float64, len(w))
	sum := 0.0
	for i, x := range w {
		sum += x
		c[i] = sum
	}
	return c
}

// pick draws an index with probability proportional to its weight.
func pick(r *rand.Rand, cum []float64) int {
	x := r.Float64() * cum[len(cum)-1]
	for i, c := range cum {
		if x < c {
			return i
		}
	}
	return len(cum) - 1
}

// lognormal draws around median with spread sigma (log scale).
func lognormal(r *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(sigma*r.NormFloat64())
}

func lognormalMS(r *rand.Rand, median int64, sigma float64) int64 {
	return int64(lognormal(r, float64(median), sigma))
}

func expMS(r *rand.Rand, mean int64) int64 {
	return int64(r.ExpFloat64() * float64(mean))
}

func clamp(v, lo, hi int64) int64 {
	return max(lo, min(v, hi))
}

// mix64 is the SplitMix64 finaliser: a bijection on uint64 that spreads
// every input bit over the output, used to derive ids and seeds.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
