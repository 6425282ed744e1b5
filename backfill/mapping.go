package backfill

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/pulse-analytics/pulse/ingest"
)

// Fields of the event contract, as they are named in event JSON.
const (
	fieldEventID      = "event_id"
	fieldEvent        = "event"
	fieldUserID       = "user_id"
	fieldTenantID     = "tenant_id"
	fieldSessionID    = "session_id"
	fieldTS           = "ts"
	fieldEventVersion = "event_version"
	fieldProperties   = "properties"
	fieldContext      = "context"
)

// EventFields lists the top-level fields of event JSON. It is read from
// ingest.Event's JSON tags (plus ts, which Event marshals by hand), so that
// a field added to the contract is never mistaken for an extra column.
func EventFields() []string {
	fields := []string{fieldTS}
	t := reflect.TypeFor[ingest.Event]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			fields = append(fields, name)
		}
	}
	return fields
}

// Mapping says which source column feeds each event field. A field that is
// not mapped explicitly is read from the column of the same name; every
// other column becomes a key of properties.
type Mapping struct {
	// columnOf maps an event field to the source column it is read from.
	columnOf map[string]string
	// fieldFor is the reverse: source column to event field, including the
	// fields read from their own name; built by ParseMapping.
	fieldFor map[string]string
}

// ParseMapping parses --map values: field=column pairs, each value possibly
// a comma-separated list (ts=timestamp,user_id=uid).
func ParseMapping(values []string) (Mapping, error) {
	m := Mapping{columnOf: map[string]string{}}
	fields := EventFields()
	usedColumn := map[string]string{}
	for _, value := range values {
		for pair := range strings.SplitSeq(value, ",") {
			pair = strings.TrimSpace(pair)
			if pair == "" {
				continue
			}
			field, column, ok := strings.Cut(pair, "=")
			field, column = strings.TrimSpace(field), strings.TrimSpace(column)
			switch {
			case !ok || field == "" || column == "":
				return m, fmt.Errorf("invalid --map entry %q: want field=column, e.g. ts=timestamp", pair)
			case !slices.Contains(fields, field):
				return m, fmt.Errorf("invalid --map entry %q: %q is not an event field (fields: %s)", pair, field, strings.Join(fields, ", "))
			case m.columnOf[field] != "":
				return m, fmt.Errorf("invalid --map: field %q is mapped twice (%s and %s)", field, m.columnOf[field], column)
			case usedColumn[column] != "":
				return m, fmt.Errorf("invalid --map: column %q feeds both %s and %s", column, usedColumn[column], field)
			}
			m.columnOf[field] = column
			usedColumn[column] = field
		}
	}
	m.fieldFor = map[string]string{}
	for _, f := range fields {
		if _, renamed := m.columnOf[f]; !renamed {
			m.fieldFor[f] = f
		}
	}
	for field, column := range m.columnOf {
		m.fieldFor[column] = field
	}
	return m, nil
}

// IsIdentity reports whether no field is renamed.
func (m Mapping) IsIdentity() bool {
	for field, column := range m.columnOf {
		if field != column {
			return false
		}
	}
	return true
}

// String renders the mapping as --map would take it, fields sorted.
func (m Mapping) String() string {
	var parts []string
	for _, f := range EventFields() {
		if c := m.columnOf[f]; c != "" {
			parts = append(parts, f+"="+c)
		}
	}
	return strings.Join(parts, ",")
}

// fieldOf returns the event field a source column feeds, or "" when the
// column is an extra that goes into properties.
// A column named like a field that is mapped from elsewhere is an extra.
func (m Mapping) fieldOf(column string) string {
	return m.fieldFor[column]
}

// plan is a mapping resolved against one source's columns (CSV header,
// Parquet schema): for each column, the field it feeds or "" for an extra.
type plan struct {
	columns []string
	fields  []string
}

func (m Mapping) resolve(columns []string) (plan, error) {
	p := plan{columns: columns, fields: make([]string, len(columns))}
	seen := map[string]bool{}
	for i, c := range columns {
		if seen[c] {
			return p, fmt.Errorf("column %q appears twice in the header", c)
		}
		seen[c] = true
		p.fields[i] = m.fieldOf(c)
	}
	for field, column := range m.columnOf {
		if !seen[column] {
			return p, fmt.Errorf("--map %s=%s: the source has no column %q (columns: %s)", field, column, column, strings.Join(columns, ", "))
		}
	}
	// Every row would be rejected for the same reason: say it once.
	var lacking []string
	for _, f := range ingest.RequiredFields {
		if !slices.Contains(p.fields, f) {
			lacking = append(lacking, f)
		}
	}
	if len(lacking) > 0 {
		hint := fmt.Sprintf("name the column that holds it with --map %s=COLUMN", lacking[0])
		if i := strings.IndexAny(columns[0], ",;\t|"); len(columns) == 1 && i >= 0 {
			delimiter := columns[0][i : i+1]
			if delimiter == "\t" {
				delimiter = "tab"
			}
			hint = fmt.Sprintf("if its fields are separated by %q, give --delimiter '%s'", columns[0][i:i+1], delimiter)
		}
		return p, fmt.Errorf("the source has no column for %s, which every event needs (columns: %s); %s", strings.Join(lacking, ", "), strings.Join(columns, ", "), hint)
	}
	return p, nil
}
