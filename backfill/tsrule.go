package backfill

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/pulse-analytics/pulse/ingest"
)

// TSRule reads the ts values of other systems that the contract does not
// take as they are: numbers since the epoch (--ts-unit) and timestamps
// without a zone (--ts-zone). What it converts becomes the contract's
// form, in UTC; anything else passes as it is, for the contract to judge.
// The zero value converts nothing, and typed Parquet timestamps without a
// zone are then UTC, pulse's convention.
type TSRule struct {
	// Zone is where a timestamp without a zone was taken; nil: zoneless
	// text is refused, as the gateway refuses it.
	Zone *time.Location
	// Unit is what one of an epoch number counts (second, millisecond,
	// microsecond, nanosecond); 0: numbers are refused.
	Unit time.Duration
}

// tsUnits are --ts-unit's values.
var tsUnits = map[string]time.Duration{"s": time.Second, "ms": time.Millisecond, "us": time.Microsecond, "ns": time.Nanosecond}

// ParseTSRule reads --ts-zone (an IANA zone name, or UTC) and --ts-unit
// (s, ms, us or ns); either may be empty.
func ParseTSRule(zone, unit string) (TSRule, error) {
	var r TSRule
	if zone != "" {
		loc, err := time.LoadLocation(zone)
		if err != nil || zone == "Local" {
			return r, fmt.Errorf("invalid --ts-zone %q: want an IANA time zone such as UTC or Europe/Berlin", zone)
		}
		r.Zone = loc
	}
	if unit != "" {
		d, ok := tsUnits[unit]
		if !ok {
			return r, fmt.Errorf("invalid --ts-unit %q: want s, ms, us or ns", unit)
		}
		r.Unit = d
	}
	return r, nil
}

// String renders the rule for checkpoints: a run that reads ts otherwise
// reads its files again.
func (r TSRule) String() string {
	var parts []string
	if r.Zone != nil {
		parts = append(parts, "zone="+r.Zone.String())
	}
	if r.Unit != 0 {
		parts = append(parts, "unit="+unitName(r.Unit))
	}
	return strings.Join(parts, ",")
}

func (r TSRule) converts() bool { return r.Zone != nil || r.Unit != 0 }

// zoneUTC: timestamps without a zone are UTC, by --ts-zone or, for typed
// Parquet timestamps, by default.
func (r TSRule) zoneUTC() bool { return r.Zone == nil || r.Zone.String() == "UTC" }

// maxEpoch is the last instant an epoch number may name, 9999-12-31T23:59:59Z:
// beyond it there is no ISO-8601 form (and the contract's future limit
// refuses far less).
var maxEpoch = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// appendText appends the contract's form of a text ts (a CSV cell or a
// JSON string's content) as a JSON string, when the rule converts it.
func (r TSRule) appendText(dst []byte, s string) ([]byte, bool, *ingest.FieldError) {
	if r.Unit != 0 && looksNumeric(s) {
		return r.appendNumber(dst, s)
	}
	if r.Zone != nil {
		if t, ok := ingest.ParseZoneless(s, r.Zone); ok {
			return appendUTC(dst, t), true, nil
		}
	}
	return dst, false, nil
}

// appendNumber appends the contract's form of an epoch number (decimal,
// as JSON or a CSV cell writes it: fraction and exponent allowed).
func (r TSRule) appendNumber(dst []byte, s string) ([]byte, bool, *ingest.FieldError) {
	if r.Unit == 0 {
		return dst, false, nil
	}
	if e := strings.IndexAny(s, "eE"); e >= 0 && len(strings.TrimLeft(s[e+1:], "+-")) > 2 {
		// big.Rat would build 10^exponent, however large.
		return dst, false, rowError(fieldTS, "%s is out of range for --ts-unit %s", s, unitName(r.Unit))
	}
	var t time.Time
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		sec, rest := n/int64(time.Second/r.Unit), n%int64(time.Second/r.Unit)
		if rest < 0 {
			sec, rest = sec-1, rest+int64(time.Second/r.Unit)
		}
		t = time.Unix(sec, rest*int64(r.Unit))
	} else {
		// Exactly, not as a float: 1790669993.645 seconds is 645 ms, not 644.
		v, ok := new(big.Rat).SetString(s)
		if !ok {
			return dst, false, nil
		}
		ns := new(big.Int).Div(new(big.Int).Mul(v.Num(), big.NewInt(int64(r.Unit))), v.Denom()) // floor
		if !ns.IsInt64() {
			return dst, false, rowError(fieldTS, "%s is out of range for --ts-unit %s", s, unitName(r.Unit))
		}
		t = time.Unix(0, ns.Int64())
	}
	if t.After(maxEpoch) || t.Year() < 1 {
		return dst, false, rowError(fieldTS, "%s is out of range for --ts-unit %s", s, unitName(r.Unit))
	}
	return appendUTC(dst, t), true, nil
}

func unitName(d time.Duration) string {
	for name, u := range tsUnits {
		if u == d {
			return name
		}
	}
	return d.String()
}

func appendUTC(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

// looksNumeric reports a decimal number: an optional minus, digits, an
// optional fraction and exponent. An ISO date ("2026-09-01") has a minus
// after its first digits, so it is not one.
func looksNumeric(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		digits++
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := i
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		}
		if i == exp {
			return false
		}
	}
	return i == len(s)
}

// tsHint adds to a reason the contract gave for ts the backfill flag that
// would read the value, when the run lacks it.
func (r TSRule) tsHint(reason string) string {
	switch {
	case r.Zone == nil && strings.Contains(reason, "has no time zone"):
		return reason + "; or give backfill the zone these timestamps were taken in, e.g. --ts-zone UTC"
	case r.Unit == 0 && (strings.HasSuffix(reason, "got a number") || numericReason(reason)):
		return reason + "; for numbers since the epoch give backfill --ts-unit s, ms, us or ns"
	}
	return reason
}

// numericReason reports a reason that quotes a number as its value
// ("\"1790669993645\" is not an ISO-8601 timestamp ...").
func numericReason(reason string) bool {
	value, _, ok := strings.Cut(strings.TrimPrefix(reason, `"`), `"`)
	return ok && strings.HasPrefix(reason, `"`) && looksNumeric(value)
}
