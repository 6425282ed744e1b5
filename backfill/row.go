package backfill

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/pulse-analytics/pulse/ingest"
)

// builder turns one source row (CSV cells or a JSON object) into event JSON
// for ingest.Contract.Decode. It only reshapes: renames mapped columns,
// folds extra columns into properties and writes CSV text as JSON values.
// Every rule about what an event may contain stays with the contract, which
// sees the result. A builder belongs to one goroutine.
type builder struct {
	mapping Mapping
	ts      TSRule
	tsBuf   []byte
	parser  fastjson.Parser
	inner   fastjson.Parser // for JSON text inside a CSV cell or a string
	props   []byte
	ctx     []byte
}

func newBuilder(m Mapping, ts TSRule) *builder { return &builder{mapping: m, ts: ts} }

// convertTS converts a ts value by the run's TSRule (text: a CSV cell or a
// string's content; else a JSON number) into b.tsBuf; ok is false when the
// value stays as it is.
func (b *builder) convertTS(v string, text bool) (ok bool, fe *ingest.FieldError) {
	if text {
		b.tsBuf, ok, fe = b.ts.appendText(b.tsBuf[:0], v)
	} else {
		b.tsBuf, ok, fe = b.ts.appendNumber(b.tsBuf[:0], v)
	}
	return ok, fe
}

// appendTSBuf is an appendField value: the ts convertTS made.
func (b *builder) appendTSBuf(out []byte) []byte { return append(out, b.tsBuf...) }

// appendRendered writes a typed Parquet timestamp as DuckDB renders it in
// ISO-8601: one without a zone is taken in --ts-zone, UTC by default.
func (b *builder) appendRendered(dst, s []byte) []byte {
	if !b.ts.zoneUTC() {
		if t, ok := ingest.ParseZoneless(string(s), b.ts.Zone); ok {
			return appendUTC(dst, t)
		}
	}
	return appendISOTimestamp(dst, s)
}

// rowError is a row refused before the contract could see it: its shape,
// not its content, is wrong (a properties column that is not JSON).
func rowError(field, format string, args ...any) *ingest.FieldError {
	return &ingest.FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// fromCells appends the event JSON of one CSV record to dst. Empty cells
// are absent values: CSV cannot tell "" from null.
func (b *builder) fromCells(dst []byte, p *plan, cells []string) ([]byte, *ingest.FieldError) {
	if len(cells) != len(p.fields) {
		return dst, rowError(ingest.RootField, "row has %d columns; the header has %d", len(cells), len(p.fields))
	}
	b.props, b.ctx = b.props[:0], b.ctx[:0]
	dst = append(dst, '{')
	first := true
	for i, cell := range cells {
		field := p.fields[i]
		if cell == "" {
			continue
		}
		switch field {
		case "":
			b.props = appendMember(b.props, p.columns[i], func(out []byte) []byte { return ingest.AppendJSONString(out, cell) })
			continue
		case fieldProperties, fieldContext:
			v, err := b.inner.Parse(cell)
			if err != nil {
				return dst, rowError(field, "column %q is not valid JSON: %v", p.columns[i], err)
			}
			if v.Type() == fastjson.TypeNull {
				continue // absent, as an empty cell is
			}
			if v.Type() != fastjson.TypeObject {
				dst, first = appendField(dst, first, field, v.MarshalTo)
				continue
			}
			if field == fieldProperties {
				b.props = appendMembers(b.props, v)
			} else {
				b.ctx = appendMembers(b.ctx, v)
			}
			continue
		case fieldTS:
			if b.ts.converts() {
				ok, fe := b.convertTS(cell, true)
				if fe != nil {
					return dst, fe
				}
				if ok {
					dst, first = appendField(dst, first, field, b.appendTSBuf)
					continue
				}
			}
		case fieldEventVersion:
			if isDigits(cell) {
				dst, first = appendField(dst, first, field, func(out []byte) []byte { return append(out, cell...) })
				continue
			}
		}
		dst, first = appendField(dst, first, field, func(out []byte) []byte { return ingest.AppendJSONString(out, cell) })
	}
	dst = b.appendObjects(dst, first)
	return append(dst, '}'), nil
}

// fromJSONCells appends the event JSON of one row whose cells are JSON
// values (Parquet columns as DuckDB renders them): cell j of the row is
// data[from:ends[0]], then data[ends[j-1]:ends[j]]. Nothing is parsed but
// the strings that hold properties or context as JSON text.
func (b *builder) fromJSONCells(dst []byte, p *plan, data []byte, from int, ends []int, tsRendered bool) ([]byte, *ingest.FieldError) {
	b.props, b.ctx = b.props[:0], b.ctx[:0]
	dst = append(dst, '{')
	first := true
	for i, end := range ends {
		v := data[from:end]
		from = end
		if len(v) == 0 || string(v) == "null" {
			continue
		}
		field := p.fields[i]
		switch field {
		case "":
			if notJSONNumber(v) {
				return dst, rowError(fieldProperties+"."+p.columns[i], "column %q holds %s, which JSON cannot hold", p.columns[i], v)
			}
			b.props = appendMember(b.props, p.columns[i], func(out []byte) []byte { return append(out, v...) })
			continue
		case fieldProperties, fieldContext:
			var fe *ingest.FieldError
			if dst, first, fe = b.nestedCell(dst, first, field, p.columns[i], v); fe != nil {
				return dst, fe
			}
			continue
		case fieldTS:
			if tsRendered && len(v) >= 2 && v[0] == '"' {
				dst, first = appendField(dst, first, field, func(out []byte) []byte { return b.appendRendered(out, v[1:len(v)-1]) })
				continue
			}
			if b.ts.converts() {
				// DuckDB renders text as a JSON string; a ts without
				// escapes is its content between the quotes.
				value, text := string(v), v[0] == '"'
				if text {
					if len(v) < 2 || bytes.IndexByte(v, '\\') >= 0 {
						break
					}
					value = value[1 : len(value)-1]
				}
				ok, fe := b.convertTS(value, text)
				if fe != nil {
					return dst, fe
				}
				if ok {
					dst, first = appendField(dst, first, field, b.appendTSBuf)
					continue
				}
			}
		}
		dst, first = appendField(dst, first, field, func(out []byte) []byte { return append(out, v...) })
	}
	dst = b.appendObjects(dst, first)
	return append(dst, '}'), nil
}

// notJSONNumber reports whether a rendered cell is a float JSON has no
// number for: DuckDB's to_json writes NaN, Infinity and -Infinity bare.
func notJSONNumber(v []byte) bool {
	return v[0] == 'N' || v[0] == 'I' || (len(v) > 1 && v[0] == '-' && v[1] == 'I')
}

// nestedCell collects a properties or context cell: an object's members
// are spliced in as they are (DuckDB wrote them); a string is JSON text
// from the file, checked before it is spliced; anything else is written as
// it is, for the contract to refuse.
func (b *builder) nestedCell(dst []byte, first bool, field, column string, v []byte) ([]byte, bool, *ingest.FieldError) {
	target := &b.props
	if field == fieldContext {
		target = &b.ctx
	}
	if v[0] == '"' {
		s, err := b.inner.ParseBytes(v)
		if err != nil {
			return dst, first, rowError(field, "column %q is not a JSON string: %v", column, err)
		}
		text := trimSpace(s.GetStringBytes())
		if len(text) == 0 || string(text) == "null" {
			return dst, first, nil
		}
		if err := fastjson.ValidateBytes(text); err != nil {
			return dst, first, rowError(field, "column %q holds a string that is not valid JSON: %v", column, err)
		}
		v = text
	}
	if v[0] != '{' {
		dst, first = appendField(dst, first, field, func(out []byte) []byte { return append(out, v...) })
		return dst, first, nil
	}
	if members := trimSpace(v[1 : len(v)-1]); len(members) > 0 {
		*target = append(*target, ',')
		*target = append(*target, members...)
	}
	return dst, first, nil
}

// fromObject returns the event JSON of one JSON object row (an NDJSON line,
// a Parquet row as DuckDB renders it). tsRendered says that ts comes from a
// typed timestamp column rendered as "2006-01-02 15:04:05.000[+00]" (UTC by
// pulse's convention when it has no zone), to be written in ISO-8601. When
// nothing needs reshaping, raw itself is returned, so that the contract
// judges exactly the line the file holds.
func (b *builder) fromObject(dst, raw []byte, tsRendered bool) ([]byte, *ingest.FieldError) {
	root, err := b.parser.ParseBytes(raw)
	if err != nil || root.Type() != fastjson.TypeObject {
		return raw, nil // the contract says what is wrong with it
	}
	obj := root.GetObject()
	if !tsRendered && !b.ts.converts() && b.asIs(obj) {
		return raw, nil
	}
	b.props, b.ctx = b.props[:0], b.ctx[:0]
	dst = append(dst, '{')
	first := true
	var fe *ingest.FieldError
	obj.Visit(func(key []byte, v *fastjson.Value) {
		if fe != nil {
			return
		}
		column := string(key)
		field := b.mapping.fieldOf(column)
		switch field {
		case "":
			b.props = appendMember(b.props, column, v.MarshalTo)
		case fieldProperties, fieldContext:
			fe = b.nested(field, column, v, &dst, &first)
		case fieldTS:
			if tsRendered && v.Type() == fastjson.TypeString {
				s := v.GetStringBytes()
				dst, first = appendField(dst, first, field, func(out []byte) []byte { return b.appendRendered(out, s) })
				return
			}
			if b.ts.converts() && (v.Type() == fastjson.TypeString || v.Type() == fastjson.TypeNumber) {
				var ok bool
				if v.Type() == fastjson.TypeString {
					ok, fe = b.convertTS(string(v.GetStringBytes()), true)
				} else {
					ok, fe = b.convertTS(string(v.MarshalTo(b.tsBuf[:0])), false)
				}
				if fe != nil {
					return
				}
				if ok {
					dst, first = appendField(dst, first, field, b.appendTSBuf)
					return
				}
			}
			dst, first = appendField(dst, first, field, v.MarshalTo)
		default:
			dst, first = appendField(dst, first, field, v.MarshalTo)
		}
	})
	if fe != nil {
		return dst, fe
	}
	dst = b.appendObjects(dst, first)
	return append(dst, '}'), nil
}

// asIs reports whether an object row already is event JSON: every key an
// event field read from its own name, and properties and context not
// JSON text in a string (which nested unpacks, with or without extra
// columns).
func (b *builder) asIs(obj *fastjson.Object) bool {
	ok := true
	obj.Visit(func(key []byte, v *fastjson.Value) {
		field := b.mapping.fieldFor[string(key)]
		if ok && (field != string(key) || ((field == fieldProperties || field == fieldContext) && v.Type() == fastjson.TypeString)) {
			ok = false
		}
	})
	return ok
}

// nested collects a properties or context value: an object's members, or
// a string holding a JSON object (Parquet and CSV exports often store them
// as text). Anything else is written as it is, for the contract to refuse.
func (b *builder) nested(field, column string, v *fastjson.Value, dst *[]byte, first *bool) *ingest.FieldError {
	target := &b.props
	if field == fieldContext {
		target = &b.ctx
	}
	switch v.Type() {
	case fastjson.TypeNull:
		return nil
	case fastjson.TypeObject:
		*target = appendMembers(*target, v)
		return nil
	case fastjson.TypeString:
		inner, err := b.inner.ParseBytes(v.GetStringBytes())
		if err != nil {
			return rowError(field, "column %q holds a string that is not valid JSON: %v", column, err)
		}
		if inner.Type() == fastjson.TypeNull {
			return nil
		}
		if inner.Type() == fastjson.TypeObject {
			*target = appendMembers(*target, inner)
			return nil
		}
		*dst, *first = appendField(*dst, *first, field, inner.MarshalTo)
		return nil
	}
	*dst, *first = appendField(*dst, *first, field, v.MarshalTo)
	return nil
}

// appendObjects closes the row with properties (the JSON column's members,
// then the extra columns) and context, when there are any.
func (b *builder) appendObjects(dst []byte, first bool) []byte {
	if len(b.props) > 0 {
		dst, first = appendField(dst, first, fieldProperties, func(out []byte) []byte {
			out = append(out, '{')
			out = append(out, b.props[1:]...) // members start with a comma
			return append(out, '}')
		})
	}
	if len(b.ctx) > 0 {
		dst, _ = appendField(dst, first, fieldContext, func(out []byte) []byte {
			out = append(out, '{')
			out = append(out, b.ctx[1:]...)
			return append(out, '}')
		})
	}
	return dst
}

func appendField(dst []byte, first bool, name string, value func([]byte) []byte) ([]byte, bool) {
	if !first {
		dst = append(dst, ',')
	}
	dst = ingest.AppendJSONString(dst, name)
	dst = append(dst, ':')
	return value(dst), false
}

// appendMember appends ,"key":value to an object body under construction.
func appendMember(dst []byte, key string, value func([]byte) []byte) []byte {
	dst = append(dst, ',')
	dst = ingest.AppendJSONString(dst, key)
	dst = append(dst, ':')
	return value(dst)
}

// appendMembers appends every member of obj, in order, repeated keys
// included: the contract refuses those.
func appendMembers(dst []byte, obj *fastjson.Value) []byte {
	obj.GetObject().Visit(func(key []byte, v *fastjson.Value) {
		dst = appendMember(dst, string(key), v.MarshalTo)
	})
	return dst
}

// isDigits reports whether s is an integer as JSON writes it: digits, no
// leading zero. Others go to the contract as strings, which it refuses
// as event_version with its own message.
func isDigits(s string) bool {
	if len(s) == 0 || len(s) > 10 || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// appendISOTimestamp writes a timestamp as DuckDB renders it ("2026-09-01
// 10:00:00.123", "...+00" or "...+05:30" for TIMESTAMPTZ) as an ISO-8601
// JSON string: T between date and time, a missing zone taken as UTC (Z),
// an hour-only offset completed with ":00". Anything else is passed on
// unchanged for the contract to judge.
func appendISOTimestamp(dst, s []byte) []byte {
	if len(s) < 19 || s[10] != ' ' || !utf8.Valid(s) {
		return ingest.AppendJSONString(dst, string(s))
	}
	dst = append(dst, '"')
	dst = append(dst, s[:10]...)
	dst = append(dst, 'T')
	rest := s[11:]
	zone := -1
	for i := 8; i < len(rest); i++ { // after HH:MM:SS
		if rest[i] == '+' || rest[i] == '-' || rest[i] == 'Z' {
			zone = i
			break
		}
	}
	switch {
	case zone < 0:
		dst = append(dst, rest...)
		dst = append(dst, 'Z')
	case len(rest)-zone == 3: // +HH
		dst = append(dst, rest...)
		dst = append(dst, ":00"...)
	default:
		dst = append(dst, rest...)
	}
	return append(dst, '"')
}
