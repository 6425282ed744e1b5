package ingest

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
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

var knownFields = map[string]bool{
	"event_id": true, "event": true, "user_id": true, "tenant_id": true, "session_id": true,
	"ts": true, "event_version": true, "properties": true, "context": true,
}

// earliestTS rejects epoch-zero style mistakes (seconds sent as ms, unset clocks).
var earliestTS = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)

// parsers reuses fastjson parsers: decoding events is the gateway's
// hottest path, and one pass of fastjson over an event costs a fraction of
// encoding/json's reflection and repeated validation.
var parsers fastjson.ParserPool

// Decode validates one raw JSON event and returns it normalised: ts in UTC
// truncated to milliseconds, event_version defaulted to 1, event_id assigned
// (UUIDv7) when absent, properties and context compacted.
func (c *Contract) Decode(raw []byte) (Event, *FieldError) {
	var ev Event
	if len(raw) > c.MaxEventBytes {
		return ev, fieldErr(RootField, "event is %d bytes; the limit is %d bytes (shrink properties or raise --max-event-bytes)", len(raw), c.MaxEventBytes)
	}
	if !utf8.Valid(raw) {
		return ev, fieldErr(RootField, "event is not valid UTF-8 (at byte %d)", invalidUTF8Offset(raw))
	}
	p := parsers.Get()
	defer parsers.Put(p)
	root, err := p.ParseBytes(raw)
	if err != nil {
		return ev, fieldErr(RootField, "malformed JSON: %v", err)
	}
	if root.Type() != fastjson.TypeObject {
		return ev, fieldErr(RootField, "event must be a JSON object, got %s", jsonKind(root))
	}
	fields, fe := collectFields(root.GetObject())
	if fe != nil {
		return ev, fe
	}

	if ev.Event, fe = requiredString(fields, "event", MaxEventNameLen); fe != nil {
		return ev, fe
	}
	if strings.ContainsFunc(ev.Event, isControl) {
		return ev, fieldErr("event", "must not contain control characters")
	}
	if ev.TenantID, fe = requiredString(fields, "tenant_id", MaxTenantIDLen); fe != nil {
		return ev, fe
	}
	if !validTenantID(ev.TenantID) {
		return ev, fieldErr("tenant_id", "must contain only letters, digits, '.', '_' and '-' (got %q)", ev.TenantID)
	}
	if ev.UserID, fe = requiredString(fields, "user_id", MaxUserIDLen); fe != nil {
		return ev, fe
	}
	if ev.SessionID, fe = requiredString(fields, "session_id", MaxSessionIDLen); fe != nil {
		return ev, fe
	}
	if ev.TS, fe = c.timestamp(fields["ts"]); fe != nil {
		return ev, fe
	}
	if ev.EventVersion, fe = eventVersion(fields["event_version"]); fe != nil {
		return ev, fe
	}
	if ev.Properties, fe = flatObject(fields["properties"], "properties"); fe != nil {
		return ev, fe
	}
	if ev.Context, fe = flatObject(fields["context"], "context"); fe != nil {
		return ev, fe
	}
	if ev.EventID, fe = eventID(fields["event_id"]); fe != nil {
		return ev, fe
	}
	if ev.EventID == "" {
		ev.EventID = c.NewID()
	}
	return ev, nil
}

// collectFields maps the event's top-level fields by name, refusing
// unknown names (all of them, sorted, in one message) and repeated ones.
func collectFields(obj *fastjson.Object) (map[string]*fastjson.Value, *FieldError) {
	fields := make(map[string]*fastjson.Value, len(knownFields))
	var unknown []string
	repeated := ""
	obj.Visit(func(key []byte, v *fastjson.Value) {
		name := string(key)
		if !knownFields[name] {
			unknown = append(unknown, name)
			return
		}
		if _, seen := fields[name]; seen && repeated == "" {
			repeated = name
		}
		fields[name] = v
	})
	if len(unknown) > 0 {
		sort.Strings(unknown)
		field := unknown[0]
		if field == "" {
			field = RootField
		}
		return nil, fieldErr(field, "unknown field %s (allowed: event, user_id, tenant_id, session_id, ts, event_version, properties, context, event_id)", strings.Join(quoteAll(unknown), ", "))
	}
	if repeated != "" {
		return nil, fieldErr(repeated, "appears more than once")
	}
	return fields, nil
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

func requiredString(fields map[string]*fastjson.Value, name string, maxLen int) (string, *FieldError) {
	v := fields[name]
	if isNull(v) {
		return "", fieldErr(name, "is required")
	}
	if v.Type() != fastjson.TypeString {
		return "", fieldErr(name, "must be a string, got %s", jsonKind(v))
	}
	s := string(v.GetStringBytes())
	if strings.TrimSpace(s) == "" {
		return "", fieldErr(name, "must not be empty")
	}
	if n := utf8.RuneCountInString(s); n > maxLen {
		return "", fieldErr(name, "is %d characters; the limit is %d", n, maxLen)
	}
	return s, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

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
// (fraction optional) and the basic-offset variant some clients send.
var tsLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700"}

// zonelessLayouts recognise a timestamp that lacks only its zone, so the
// error can say exactly that.
var zonelessLayouts = []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02"}

// ParseTS parses an ISO-8601 timestamp with a zone and normalises it to UTC
// milliseconds (truncating, as ClickHouse's DateTime64(3) does).
func ParseTS(s string) (time.Time, error) {
	for _, layout := range tsLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Truncate(time.Millisecond), nil
		}
	}
	for _, layout := range zonelessLayouts {
		if _, err := time.Parse(layout, s); err == nil {
			return time.Time{}, fmt.Errorf("%q has no time zone; add Z or an offset such as +02:00", s)
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO-8601 timestamp with a zone (example: 2026-11-25T09:04:36.123Z)", s)
}

func (c *Contract) timestamp(v *fastjson.Value) (time.Time, *FieldError) {
	if isNull(v) {
		return time.Time{}, fieldErr("ts", "is required")
	}
	if v.Type() != fastjson.TypeString {
		return time.Time{}, fieldErr("ts", "must be an ISO-8601 string such as \"2026-11-25T09:04:36.123Z\", got %s", jsonKind(v))
	}
	s := string(v.GetStringBytes())
	if strings.TrimSpace(s) == "" {
		return time.Time{}, fieldErr("ts", "must not be empty")
	}
	ts, err := ParseTS(s)
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

// flatObject checks that a properties-like field is an object whose values
// are scalars, and returns it as compact JSON.
func flatObject(v *fastjson.Value, name string) (json.RawMessage, *FieldError) {
	if isNull(v) {
		return json.RawMessage("{}"), nil
	}
	if v.Type() != fastjson.TypeObject {
		return nil, fieldErr(name, "must be an object, got %s", jsonKind(v))
	}
	obj := v.GetObject()
	if obj.Len() > MaxProperties {
		return nil, fieldErr(name, "has %d keys; the limit is %d", obj.Len(), MaxProperties)
	}
	var fe *FieldError
	seen := make(map[string]bool, obj.Len())
	obj.Visit(func(key []byte, value *fastjson.Value) {
		if fe != nil {
			return
		}
		k := string(key)
		path := name + "." + k
		switch {
		case strings.TrimSpace(k) == "":
			fe = fieldErr(name, "keys must not be empty")
		case seen[k]:
			fe = fieldErr(path, "key appears more than once")
		case utf8.RuneCountInString(k) > MaxPropertyKeyLen:
			fe = fieldErr(path, "key is %d characters; the limit is %d", utf8.RuneCountInString(k), MaxPropertyKeyLen)
		case value.Type() == fastjson.TypeObject:
			fe = fieldErr(path, "must be a string, number, boolean or null; nested objects are not allowed (flatten it, e.g. %s_field)", k)
		case value.Type() == fastjson.TypeArray:
			fe = fieldErr(path, "must be a string, number, boolean or null; nested arrays are not allowed (flatten it, e.g. %s_field)", k)
		}
		seen[k] = true
	})
	if fe != nil {
		return nil, fe
	}
	return v.MarshalTo(nil), nil
}

func eventID(v *fastjson.Value) (string, *FieldError) {
	if isNull(v) {
		return "", nil
	}
	if v.Type() != fastjson.TypeString {
		return "", fieldErr("event_id", "must be a UUID string, got %s", jsonKind(v))
	}
	s := string(v.GetStringBytes())
	id, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return "", fieldErr("event_id", "%q is not a UUID in the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", s)
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
