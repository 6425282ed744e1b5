// Package output prints tables of results in the formats every pulse
// command offers: a human table on a terminal, CSV, JSON or NDJSON for
// programs. Commands shape their results into a Table and call Write; they
// never print rows themselves, so all formats stay in step.
package output

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"
)

// Format names an output format.
type Format string

const (
	// FormatTable is an aligned table for people; the default on a terminal.
	FormatTable Format = "table"
	// FormatCSV is RFC 4180 CSV with a header row; the default otherwise.
	FormatCSV Format = "csv"
	// FormatJSON is one JSON array of objects, keys in column order.
	FormatJSON Format = "json"
	// FormatNDJSON is one JSON object per line.
	FormatNDJSON Format = "ndjson"
)

// Formats lists the valid format names.
func Formats() []string {
	return []string{string(FormatTable), string(FormatCSV), string(FormatJSON), string(FormatNDJSON)}
}

// ResolveFormat turns a --format value into a Format. An empty name picks
// a table on a terminal and CSV otherwise, so pipes get a machine format.
func ResolveFormat(name string, isTerminal bool) (Format, error) {
	switch Format(strings.ToLower(strings.TrimSpace(name))) {
	case "":
		if isTerminal {
			return FormatTable, nil
		}
		return FormatCSV, nil
	case FormatTable:
		return FormatTable, nil
	case FormatCSV:
		return FormatCSV, nil
	case FormatJSON:
		return FormatJSON, nil
	case FormatNDJSON:
		return FormatNDJSON, nil
	}
	return "", fmt.Errorf("unknown format %q: use one of %s", name, strings.Join(Formats(), ", "))
}

// Type says how a column's values are written.
type Type int

const (
	// String values are Go strings.
	String Type = iota
	// Int values are int64 (or *big.Int beyond 64 bits).
	Int
	// Float values are float64; NaN and infinities are written as null.
	Float
	// Bool values are bool.
	Bool
	// Date values are time.Time at midnight UTC, written 2006-01-02.
	Date
	// Timestamp values are time.Time, written in RFC 3339 UTC with the
	// fractional seconds only when there are any.
	Timestamp
	// Other values (lists, structs, maps) are written as JSON.
	Other
)

// Column is one named, typed column.
type Column struct {
	Name string
	Type Type
}

// Table is a result: columns and rows of values. A nil value is SQL NULL:
// an empty CSV field, JSON null, an empty table cell.
type Table struct {
	Columns []Column
	Rows    [][]any
}

// ColumnIndex returns the position of the named column, or -1.
func (t *Table) ColumnIndex(name string) int {
	for i, c := range t.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// DropColumn removes the named column, if present, from the table.
func (t *Table) DropColumn(name string) {
	i := t.ColumnIndex(name)
	if i < 0 {
		return
	}
	t.Columns = append(t.Columns[:i:i], t.Columns[i+1:]...)
	for r, row := range t.Rows {
		t.Rows[r] = append(row[:i:i], row[i+1:]...)
	}
}

// Write prints t to w in format f.
func Write(w io.Writer, f Format, t *Table) error {
	switch f {
	case FormatTable:
		return writeTable(w, t)
	case FormatCSV:
		return writeCSV(w, t)
	case FormatJSON:
		return writeJSON(w, t, false)
	case FormatNDJSON:
		return writeJSON(w, t, true)
	}
	return fmt.Errorf("unknown format %q: use one of %s", f, strings.Join(Formats(), ", "))
}

// text renders one value as a table cell or CSV field.
func textValue(typ Type, v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return ""
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return formatTime(typ, x)
	case *big.Int:
		return x.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func formatTime(typ Type, t time.Time) string {
	t = t.UTC()
	if typ == Date {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339Nano)
}

// jsonValue converts a value to what encoding/json writes for it: numbers
// stay numbers, times become strings, non-finite floats null.
func jsonValue(typ Type, v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return x
	case time.Time:
		return formatTime(typ, x)
	}
	return v
}

func writeCSV(w io.Writer, t *Table) error {
	cw := csv.NewWriter(w)
	header := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		header[i] = c.Name
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	record := make([]string, len(t.Columns))
	for _, row := range t.Rows {
		for i, c := range t.Columns {
			record[i] = textValue(c.Type, row[i])
		}
		if err := cw.Write(record); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// writeJSON writes objects whose keys keep the column order, which a Go
// map would lose.
func writeJSON(w io.Writer, t *Table, lines bool) error {
	keys := make([][]byte, len(t.Columns))
	for i, c := range t.Columns {
		k, err := json.Marshal(c.Name)
		if err != nil {
			return err
		}
		keys[i] = k
	}
	var buf bytes.Buffer
	if !lines {
		buf.WriteByte('[')
	}
	for r, row := range t.Rows {
		if !lines && r > 0 {
			buf.WriteByte(',')
		}
		if !lines {
			buf.WriteString("\n  ")
		}
		buf.WriteByte('{')
		for i, c := range t.Columns {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.Write(keys[i])
			buf.WriteByte(':')
			v, err := json.Marshal(jsonValue(c.Type, row[i]))
			if err != nil {
				return fmt.Errorf("column %s: %w", c.Name, err)
			}
			buf.Write(v)
		}
		buf.WriteByte('}')
		if lines {
			buf.WriteByte('\n')
		}
		// Keep memory flat for long results.
		if buf.Len() > 64<<10 {
			if _, err := w.Write(buf.Bytes()); err != nil {
				return err
			}
			buf.Reset()
		}
	}
	if !lines {
		if len(t.Rows) > 0 {
			buf.WriteByte('\n')
		}
		buf.WriteString("]\n")
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func writeTable(w io.Writer, t *Table) error {
	tw := table.NewWriter()
	style := table.StyleLight
	// Headers as written, so they match the CSV and JSON keys.
	style.Format.Header = text.FormatDefault
	tw.SetStyle(style)
	header := make(table.Row, len(t.Columns))
	configs := make([]table.ColumnConfig, len(t.Columns))
	for i, c := range t.Columns {
		header[i] = c.Name
		configs[i] = table.ColumnConfig{Number: i + 1}
		if c.Type == Int || c.Type == Float {
			configs[i].Align = text.AlignRight
			configs[i].AlignHeader = text.AlignRight
		}
	}
	tw.AppendHeader(header)
	tw.SetColumnConfigs(configs)
	for _, row := range t.Rows {
		cells := make(table.Row, len(row))
		for i, c := range t.Columns {
			cells[i] = textValue(c.Type, row[i])
		}
		tw.AppendRow(cells)
	}
	_, err := io.WriteString(w, tw.Render()+"\n")
	return err
}
