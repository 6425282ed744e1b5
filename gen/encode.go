package gen

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/pulse-analytics/pulse/ingest"
)

// Output formats of Writer.
const (
	FormatNDJSON = "ndjson"
	FormatCSV    = "csv"
)

// Formats lists the output formats Writer supports.
func Formats() []string { return []string{FormatNDJSON, FormatCSV} }

// CSVHeader is the header row of the CSV format; properties and context
// hold JSON text.
func CSVHeader() []string {
	return []string{"event_id", "event", "user_id", "tenant_id", "session_id", "ts", "event_version", "properties", "context"}
}

// Writer writes events as NDJSON (one json.Marshal(ingest.Event) per line)
// or CSV, buffered: call Flush at the end.
type Writer struct {
	out    *bufio.Writer
	csv    *csv.Writer
	buf    []byte
	record []string
}

// NewWriter returns a Writer for format ("ndjson" or "csv"). The CSV header
// is written, into the buffer, right away so that even no events make a
// valid file.
func NewWriter(w io.Writer, format string) (*Writer, error) {
	ew := &Writer{out: bufio.NewWriterSize(w, 256<<10)}
	switch format {
	case FormatNDJSON:
	case FormatCSV:
		ew.csv = csv.NewWriter(ew.out)
		ew.record = make([]string, len(CSVHeader()))
		if err := ew.csv.Write(CSVHeader()); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown format %q: use ndjson or csv", format)
	}
	return ew, nil
}

// Write writes one event.
func (w *Writer) Write(ev ingest.Event) error {
	if w.csv == nil {
		w.buf = append(appendEventJSON(w.buf[:0], ev), '\n')
		_, err := w.out.Write(w.buf)
		return err
	}
	w.buf = appendTS(w.buf[:0], ev.TS)
	r := w.record
	r[0], r[1], r[2], r[3], r[4] = ev.EventID, ev.Event, ev.UserID, ev.TenantID, ev.SessionID
	r[5] = string(w.buf)
	r[6] = strconv.Itoa(ev.EventVersion)
	r[7], r[8] = string(orEmpty(ev.Properties)), string(orEmpty(ev.Context))
	return w.csv.Write(r)
}

// Flush writes out everything buffered.
func (w *Writer) Flush() error {
	if w.csv != nil {
		w.csv.Flush()
		if err := w.csv.Error(); err != nil {
			return err
		}
	}
	return w.out.Flush()
}

func orEmpty(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("{}")
	}
	return raw
}

// appendEventJSON appends exactly what json.Marshal(ev) returns, several
// times faster: the load driver shares its machine with the gateway. It
// copies Properties and Context verbatim when they are plain ASCII without
// spaces or HTML-sensitive bytes, trusting them to be valid JSON (as the
// Generator and ingest.Contract make them); anything else goes through
// encoding/json, which then also reports invalid JSON.
func appendEventJSON(b []byte, ev ingest.Event) []byte {
	b = append(b, `{"event_id":`...)
	b = appendJSONString(b, ev.EventID)
	b = append(b, `,"event":`...)
	b = appendJSONString(b, ev.Event)
	b = append(b, `,"user_id":`...)
	b = appendJSONString(b, ev.UserID)
	b = append(b, `,"tenant_id":`...)
	b = appendJSONString(b, ev.TenantID)
	b = append(b, `,"session_id":`...)
	b = appendJSONString(b, ev.SessionID)
	b = append(b, `,"ts":"`...)
	b = appendTS(b, ev.TS)
	b = append(b, `","event_version":`...)
	b = strconv.AppendInt(b, int64(ev.EventVersion), 10)
	b = append(b, `,"properties":`...)
	b = appendRawJSON(b, orEmpty(ev.Properties))
	b = append(b, `,"context":`...)
	b = appendRawJSON(b, orEmpty(ev.Context))
	return append(b, '}')
}

// Byte classes for the fast paths, as lookup tables (read-only): plain
// bytes are copied unchanged by encoding/json inside a string (it escapes
// <, > and & for HTML safety); compact bytes may appear in compact,
// HTML-safe, ASCII JSON.
var plainBytes, compactBytes = byteClasses()

func byteClasses() (plain, compact [256]bool) {
	for c := 0x21; c < 0x7f; c++ {
		compact[c] = c != '<' && c != '>' && c != '&'
		plain[c] = compact[c] && c != '"' && c != '\\'
	}
	plain[' '] = true
	return plain, compact
}

func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !plainBytes[s[i]] {
			quoted, _ := json.Marshal(s) // strings always marshal
			return append(b, quoted...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendRawJSON(b []byte, raw json.RawMessage) []byte {
	plain := raw[0] == '{' && raw[len(raw)-1] == '}'
	if plain {
		for _, c := range raw {
			if !compactBytes[c] {
				plain = false
				break
			}
		}
	}
	if plain {
		return append(b, raw...)
	}
	compact, err := json.Marshal(raw)
	if err != nil {
		// Keep the output parseable; the value was not JSON to begin with.
		compact, _ = json.Marshal(string(raw))
	}
	return append(b, compact...)
}

// appendTS formats t like t.UTC().Format(ingest.TSLayout), without
// parsing the layout on every call.
func appendTS(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, d := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, ingest.TSLayout)
	}
	hh, mm, ss := t.Clock()
	ms := t.Nanosecond() / 1e6
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, d, 2)
	b = append(b, 'T')
	b = appendDigits(b, hh, 2)
	b = append(b, ':')
	b = appendDigits(b, mm, 2)
	b = append(b, ':')
	b = appendDigits(b, ss, 2)
	b = append(b, '.')
	b = appendDigits(b, ms, 3)
	return append(b, 'Z')
}

func appendDigits(b []byte, v, width int) []byte {
	var d [4]byte
	for i := width - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[:width]...)
}
