package ingest

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/valyala/fastjson"
)

// Contract v1 limits. Defaults are documented in docs/events.md and in the
// JSON Schema (docs/event.schema.json); change them together.
const (
	DefaultMaxEventBytes = 32 << 10
	DefaultMaxFutureSkew = 24 * time.Hour
	MaxEventNameLen      = 128
	MaxTenantIDLen       = 64
	MaxUserIDLen         = 256
	MaxSessionIDLen      = 256
	MaxPropertyKeyLen    = 128
	MaxProperties        = 256
	MaxEventVersion      = math.MaxInt32
)

// RootField names the whole event in a FieldError, for errors that belong to
// no single field (size, encoding, shape).
const RootField = "$"

// FieldError says which field of an event breaks the contract and why.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Contract validates and normalises raw events. The zero value is not
// usable: build it with NewContract.
type Contract struct {
	MaxEventBytes int
	MaxFutureSkew time.Duration
	// Now and NewID are injectable so that tests are deterministic.
	Now   func() time.Time
	NewID func() string
}

// NewContract returns the v1 contract with its default limits.
func NewContract() *Contract {
	return &Contract{
		MaxEventBytes: DefaultMaxEventBytes,
		MaxFutureSkew: DefaultMaxFutureSkew,
		Now:           time.Now,
		NewID:         func() string { return uuid.Must(uuid.NewV7()).String() },
	}
}

// knownFields are the top-level field names; rejectReason uses them to bound
// metric labels. Decode looks names up with fieldIndex instead.
var knownFields = map[string]bool{
	"event_id": true, "event": true, "user_id": true, "tenant_id": true, "session_id": true,
	"ts": true, "event_version": true, "properties": true, "context": true,
}

// Indexes of the top-level fields in the array collectFields fills.
const (
	fieldEventID = iota
	fieldEvent
	fieldUserID
	fieldTenantID
	fieldSessionID
	fieldTS
	fieldEventVersion
	fieldProperties
	fieldContext
	numFields
)

// fieldIndex returns the index of a top-level field name, or -1. A switch
// on string(key) neither allocates nor hashes.
func fieldIndex(key []byte) int {
	switch string(key) {
	case "event_id":
		return fieldEventID
	case "event":
		return fieldEvent
	case "user_id":
		return fieldUserID
	case "tenant_id":
		return fieldTenantID
	case "session_id":
		return fieldSessionID
	case "ts":
		return fieldTS
	case "event_version":
		return fieldEventVersion
	case "properties":
		return fieldProperties
	case "context":
		return fieldContext
	}
	return -1
}

// earliestTS rejects epoch-zero style mistakes (seconds sent as ms, unset clocks).
var earliestTS = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)

// decoder is the per-call state Decode reuses: decoding events is the
// gateway's hottest path, and one pass of fastjson over an event costs a
// fraction of encoding/json's reflection and repeated validation.
type decoder struct {
	p fastjson.Parser
	// buf collects compacted properties and context, copied out in one
	// allocation of the exact size.
	buf []byte
}

var decoders = sync.Pool{New: func() any { return new(decoder) }}

// Decode validates one raw JSON event and returns it normalised: ts in UTC
// truncated to milliseconds, event_version defaulted to 1, event_id assigned
// (UUIDv7) when absent, properties and context compacted.
//
// On a rejection the Event holds the fields decoded before the one at fault
// (load reads its TenantID).
func (c *Contract) Decode(raw []byte) (Event, *FieldError) {
	if len(raw) > c.MaxEventBytes {
		return Event{}, fieldErr(RootField, "event is %d bytes; the limit is %d bytes (shrink properties or raise --max-event-bytes)", len(raw), c.MaxEventBytes)
	}
	if !utf8.Valid(raw) {
		return Event{}, fieldErr(RootField, "event is not valid UTF-8 (at byte %d)", invalidUTF8Offset(raw))
	}
	// decode's many returns would rule out an open-coded (cheap) defer.
	d := decoders.Get().(*decoder)
	ev, fe := c.decode(d, raw)
	decoders.Put(d)
	return ev, fe
}

func (c *Contract) decode(d *decoder, raw []byte) (Event, *FieldError) {
	var ev Event
	root, err := d.p.ParseBytes(raw)
	if err == nil {
		// The parser lets raw control characters through inside strings;
		// properties and context are stored as the JSON text they were,
		// which must stay valid JSON.
		err = fastjson.ValidateBytes(raw)
	}
	if err != nil {
		return ev, fieldErr(RootField, "malformed JSON: %v", err)
	}
	if root.Type() != fastjson.TypeObject {
		return ev, fieldErr(RootField, "event must be a JSON object, got %s", jsonKind(root))
	}
	var fields [numFields]*fastjson.Value
	fe := collectFields(root.GetObject(), &fields)
	if fe != nil {
		return ev, fe
	}

	if ev.Event, fe = requiredString(fields[fieldEvent], "event", MaxEventNameLen); fe != nil {
		return ev, fe
	}
	if hasControl(ev.Event) {
		return ev, fieldErr("event", "must not contain control characters")
	}
	if ev.TenantID, fe = requiredString(fields[fieldTenantID], "tenant_id", MaxTenantIDLen); fe != nil {
		return ev, fe
	}
	if !validTenantID(ev.TenantID) {
		return ev, fieldErr("tenant_id", "must contain only letters, digits, '.', '_' and '-' (got %q)", ev.TenantID)
	}
	if ev.UserID, fe = requiredString(fields[fieldUserID], "user_id", MaxUserIDLen); fe != nil {
		return ev, fe
	}
	if ev.SessionID, fe = requiredString(fields[fieldSessionID], "session_id", MaxSessionIDLen); fe != nil {
		return ev, fe
	}
	if ev.TS, fe = c.timestamp(fields[fieldTS]); fe != nil {
		return ev, fe
	}
	if ev.EventVersion, fe = eventVersion(fields[fieldEventVersion]); fe != nil {
		return ev, fe
	}
	props, ctx := fields[fieldProperties], fields[fieldContext]
	if fe = checkFlat(props, "properties"); fe != nil {
		return ev, fe
	}
	d.buf = appendFlat(d.buf[:0], props)
	if fe = checkFlat(ctx, "context"); fe != nil {
		ev.Properties = bytes.Clone(d.buf)
		return ev, fe
	}
	n := len(d.buf)
	d.buf = appendFlat(d.buf, ctx)
	// One allocation for both; the capped slice keeps an append to
	// Properties from overwriting Context.
	both := bytes.Clone(d.buf)
	ev.Properties, ev.Context = both[:n:n], both[n:]
	if ev.EventID, fe = eventID(fields[fieldEventID]); fe != nil {
		return ev, fe
	}
	if ev.EventID == "" {
		ev.EventID = c.NewID()
	}
	return ev, nil
}

// collectFields sets the event's top-level fields by index, refusing
// unknown names (all of them, sorted, in one message) and repeated ones.
func collectFields(obj *fastjson.Object, fields *[numFields]*fastjson.Value) *FieldError {
	var unknown []string
	repeated := -1
	obj.Visit(func(key []byte, v *fastjson.Value) {
		i := fieldIndex(key)
		if i < 0 {
			unknown = append(unknown, string(key))
			return
		}
		if fields[i] != nil && repeated < 0 {
			repeated = i
		}
		fields[i] = v
	})
	if len(unknown) > 0 {
		sort.Strings(unknown)
		field := unknown[0]
		if field == "" {
			field = RootField
		}
		return fieldErr(field, "unknown field %s (allowed: event, user_id, tenant_id, session_id, ts, event_version, properties, context, event_id)", strings.Join(quoteAll(unknown), ", "))
	}
	if repeated >= 0 {
		return fieldErr(fieldNames[repeated], "appears more than once")
	}
	return nil
}

// fieldNames are the top-level names by index.
var fieldNames = [numFields]string{
	fieldEventID: "event_id", fieldEvent: "event", fieldUserID: "user_id", fieldTenantID: "tenant_id",
	fieldSessionID: "session_id", fieldTS: "ts", fieldEventVersion: "event_version",
	fieldProperties: "properties", fieldContext: "context",
}

func quoteAll(names []string) []string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	return quoted
}

func isNull(v *fastjson.Value) bool { return v == nil || v.Type() == fastjson.TypeNull }

// jsonKind names the JSON type of a value for error messages.
func jsonKind(v *fastjson.Value) string {
	switch v.Type() {
	case fastjson.TypeObject:
		return "an object"
	case fastjson.TypeArray:
		return "an array"
	case fastjson.TypeString:
		return "a string"
	case fastjson.TypeTrue, fastjson.TypeFalse:
		return "a boolean"
	case fastjson.TypeNull:
		return "null"
	default:
		return "a number"
	}
}

// RequiredFields are the fields Decode refuses an event without, for
// readers that can tell up front that a source lacks one.
var RequiredFields = []string{"event", "tenant_id", "user_id", "session_id", "ts"}

// requiredString checks the bytes before converting them, so the only
// allocation is the returned string.
func requiredString(v *fastjson.Value, name string, maxLen int) (string, *FieldError) {
	if isNull(v) {
		return "", fieldErr(name, "is required")
	}
	if v.Type() != fastjson.TypeString {
		return "", fieldErr(name, "must be a string, got %s", jsonKind(v))
	}
	b := v.GetStringBytes()
	if len(bytes.TrimSpace(b)) == 0 {
		return "", fieldErr(name, "must not be empty")
	}
	// A string has at least one byte per rune: count only when it may matter.
	if len(b) > maxLen {
		if n := utf8.RuneCount(b); n > maxLen {
			return "", fieldErr(name, "is %d characters; the limit is %d", n, maxLen)
		}
	}
	return string(b), nil
}

// hasControl reports C0 controls and DEL. They are ASCII, and in UTF-8 an
// ASCII byte is always a rune of its own, so bytes can be tested directly.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// ValidTenantID reports whether s is a tenant_id the contract accepts, for
// commands that take one as a flag.
func ValidTenantID(s string) bool {
	return len(s) >= 1 && len(s) <= MaxTenantIDLen && validTenantID(s)
}

func validTenantID(s string) bool {
	for _, r := range s {
		ok := r == '.' || r == '_' || r == '-' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !ok {
			return false
		}
	}
	return true
}

// tsLayouts are the ISO-8601 forms accepted, all with a zone: RFC 3339
// (fraction optional) and the ±hhmm and ±hh offsets ISO-8601 also allows.
// ParseTS also takes the space RFC 3339 allows in place of the T (what
// pandas, Python's str(datetime) and Postgres write).
var tsLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05.999999999Z07"}

// zonelessLayouts are the forms of a timestamp that lacks only its zone.
var zonelessLayouts = []string{"2006-01-02T15:04:05.999999999", "2006-01-02"}

// withT swaps the space RFC 3339 allows between date and time for the T,
// rather than giving the space layouts of its own: time.Parse would take
// any run of spaces for the one.
func withT(s string) string {
	if len(s) > 10 && s[10] == ' ' {
		return s[:10] + "T" + s[11:]
	}
	return s
}

// ParseTS parses an ISO-8601 timestamp with a zone and normalises it to UTC
// milliseconds (truncating, as ClickHouse's DateTime64(3) does).
func ParseTS(s string) (time.Time, error) {
	t := withT(s)
	for _, layout := range tsLayouts {
		if ts, err := time.Parse(layout, t); err == nil {
			return ts.UTC().Truncate(time.Millisecond), nil
		}
	}
	if _, ok := ParseZoneless(s, time.UTC); ok {
		return time.Time{}, fmt.Errorf("%q has no time zone; add Z or an offset such as +02:00", s)
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO-8601 timestamp with a zone (example: 2026-11-25T09:04:36.123Z)", s)
}

// ParseZoneless parses a timestamp that has no zone (ParseTS refuses it)
// as a time in loc, for backfill's --ts-zone. A date alone is its
// midnight.
func ParseZoneless(s string, loc *time.Location) (time.Time, bool) {
	t := withT(s)
	for _, layout := range zonelessLayouts {
		if ts, err := time.ParseInLocation(layout, t, loc); err == nil {
			return ts, true
		}
	}
	return time.Time{}, false
}

func (c *Contract) timestamp(v *fastjson.Value) (time.Time, *FieldError) {
	if isNull(v) {
		return time.Time{}, fieldErr("ts", "is required")
	}
	if v.Type() != fastjson.TypeString {
		return time.Time{}, fieldErr("ts", "must be an ISO-8601 string such as \"2026-11-25T09:04:36.123Z\", got %s", jsonKind(v))
	}
	b := v.GetStringBytes()
	if len(bytes.TrimSpace(b)) == 0 {
		return time.Time{}, fieldErr("ts", "must not be empty")
	}
	ts, err := ParseTS(string(b))
	if err != nil {
		return time.Time{}, fieldErr("ts", "%v", err)
	}
	if ts.Before(earliestTS) {
		return time.Time{}, fieldErr("ts", "%s is before 1970-01-01T00:00:00Z", ts.Format(TSLayout))
	}
	if ahead := ts.Sub(c.Now()); ahead > c.MaxFutureSkew {
		return time.Time{}, fieldErr("ts", "%s is %s in the future; the limit is %s (check the client clock)", ts.Format(TSLayout), ahead.Round(time.Second), c.MaxFutureSkew)
	}
	return ts, nil
}

func eventVersion(v *fastjson.Value) (int, *FieldError) {
	if isNull(v) {
		return 1, nil
	}
	if v.Type() != fastjson.TypeNumber {
		return 0, fieldErr("event_version", "must be an integer, got %s", jsonKind(v))
	}
	n, err := v.Int64()
	if err != nil {
		return 0, fieldErr("event_version", "must be an integer, got %s", v.MarshalTo(nil))
	}
	if n < 1 || n > MaxEventVersion {
		return 0, fieldErr("event_version", "must be between 1 and %d, got %d", MaxEventVersion, n)
	}
	return int(n), nil
}

// maxLinearKeys is the object size up to which checkFlat finds repeated keys
// by scanning the keys before each one; larger objects use a map.
const maxLinearKeys = 16

// checkFlat checks that a properties-like field, when present, is an object
// whose keys are non-empty, unique and short, and whose values are scalars.
func checkFlat(v *fastjson.Value, name string) *FieldError {
	if isNull(v) {
		return nil
	}
	if v.Type() != fastjson.TypeObject {
		return fieldErr(name, "must be an object, got %s", jsonKind(v))
	}
	obj := v.GetObject()
	if obj.Len() > MaxProperties {
		return fieldErr(name, "has %d keys; the limit is %d", obj.Len(), MaxProperties)
	}
	var (
		fe   *FieldError
		few  [maxLinearKeys][]byte
		nFew int
		seen map[string]struct{}
	)
	if obj.Len() > maxLinearKeys {
		seen = make(map[string]struct{}, obj.Len())
	}
	repeated := func(key []byte) bool {
		if seen != nil {
			_, ok := seen[string(key)]
			seen[string(key)] = struct{}{}
			return ok
		}
		for _, k := range few[:nFew] {
			if bytes.Equal(k, key) {
				return true
			}
		}
		few[nFew] = key
		nFew++
		return false
	}
	// Visit unescapes the keys and Type each string value; appendFlat relies
	// on both to write them re-escaped in one canonical form.
	obj.Visit(func(key []byte, value *fastjson.Value) {
		if fe != nil {
			return
		}
		if len(bytes.TrimSpace(key)) == 0 {
			fe = fieldErr(name, "keys must not be empty")
			return
		}
		if repeated(key) {
			fe = fieldErr(name+"."+string(key), "key appears more than once")
			return
		}
		if len(key) > MaxPropertyKeyLen {
			if n := utf8.RuneCount(key); n > MaxPropertyKeyLen {
				fe = fieldErr(name+"."+string(key), "key is %d characters; the limit is %d", n, MaxPropertyKeyLen)
				return
			}
		}
		switch value.Type() {
		case fastjson.TypeObject:
			fe = fieldErr(name+"."+string(key), "must be a string, number, boolean or null; nested objects are not allowed (flatten it, e.g. %s_field)", key)
		case fastjson.TypeArray:
			fe = fieldErr(name+"."+string(key), "must be a string, number, boolean or null; nested arrays are not allowed (flatten it, e.g. %s_field)", key)
		}
	})
	return fe
}

// appendFlat appends the compact JSON of a field checkFlat accepted: {} when
// it is absent or null. Strings are escaped here, not by fastjson's
// MarshalTo, which quotes control characters the Go way (\x00, \a): not
// JSON.
func appendFlat(dst []byte, v *fastjson.Value) []byte {
	if isNull(v) {
		return append(dst, "{}"...)
	}
	obj, _ := v.Object() // checkFlat accepted an object
	dst = append(dst, '{')
	first := true
	obj.Visit(func(key []byte, value *fastjson.Value) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = AppendJSONString(dst, key)
		dst = append(dst, ':')
		if value.Type() == fastjson.TypeString {
			dst = AppendJSONString(dst, value.GetStringBytes())
		} else {
			dst = value.MarshalTo(dst) // numbers as written, true, false, null
		}
	})
	return append(dst, '}')
}

func eventID(v *fastjson.Value) (string, *FieldError) {
	if isNull(v) {
		return "", nil
	}
	if v.Type() != fastjson.TypeString {
		return "", fieldErr("event_id", "must be a UUID string, got %s", jsonKind(v))
	}
	b := v.GetStringBytes()
	// Only the 36-character form is accepted; uuid.ParseBytes reads it as
	// uuid.Parse does, without a string copy.
	id, err := uuid.ParseBytes(b)
	if err != nil || len(b) != 36 {
		return "", fieldErr("event_id", "%q is not a UUID in the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", b)
	}
	if id == uuid.Nil {
		return "", fieldErr("event_id", "must not be the nil UUID")
	}
	return id.String(), nil
}

func invalidUTF8Offset(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return -1
}
