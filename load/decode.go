package load

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pulse-analytics/pulse/ingest"
)

// DeadLetter is a record whose value is not a valid event, kept with where
// it came from and why it was refused. (topic, partition, offset) names it:
// after a crash between writing a batch's dead letters and committing its
// offsets, the same dead letter is written again, so readers that count
// them de-duplicate on those three.
type DeadLetter struct {
	// ReceivedAt is when the loader read the record.
	ReceivedAt time.Time
	Topic      string
	Partition  int32
	Offset     int64
	// Timestamp is the record's own timestamp (produce time).
	Timestamp time.Time
	// Reason is short and from a small set, for grouping: "empty message",
	// "malformed message" (not UTF-8, not JSON, not an object, too large),
	// "unknown field", or "invalid <field>" for the top-level field the
	// contract refused.
	Reason string
	// Error is the contract's full explanation.
	Error string
	// TenantID is the value's tenant_id when it got that far, else "".
	TenantID string
	// Raw is the record value, cut to the configured bound; RawBytes is the
	// size of the whole value.
	Raw      []byte
	RawBytes int
}

// Truncated reports whether Raw is shorter than the record value.
func (d DeadLetter) Truncated() bool { return len(d.Raw) < d.RawBytes }

// wireDeadLetter is one line of a dead-letter file. A value that is not
// UTF-8 cannot travel as a JSON string without damage, so it goes as
// base64 instead.
type wireDeadLetter struct {
	ReceivedAt       string `json:"received_at"`
	Topic            string `json:"topic"`
	Partition        int32  `json:"partition"`
	Offset           int64  `json:"offset"`
	Timestamp        string `json:"timestamp"`
	Reason           string `json:"reason"`
	Error            string `json:"error"`
	TenantID         string `json:"tenant_id,omitempty"`
	RawMessage       string `json:"raw_message,omitempty"`
	RawMessageBase64 string `json:"raw_message_base64,omitempty"`
	RawBytes         int    `json:"raw_bytes"`
	Truncated        bool   `json:"truncated"`
}

// MarshalJSON writes the dead-letter file form.
func (d DeadLetter) MarshalJSON() ([]byte, error) {
	w := wireDeadLetter{
		ReceivedAt: d.ReceivedAt.UTC().Format(ingest.TSLayout),
		Topic:      d.Topic, Partition: d.Partition, Offset: d.Offset,
		Timestamp: d.Timestamp.UTC().Format(ingest.TSLayout),
		Reason:    d.Reason, Error: d.Error, TenantID: d.TenantID,
		RawBytes: d.RawBytes, Truncated: d.Truncated(),
	}
	if utf8.Valid(d.Raw) {
		w.RawMessage = string(d.Raw)
	} else {
		w.RawMessageBase64 = base64.StdEncoding.EncodeToString(d.Raw)
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads the dead-letter file form.
func (d *DeadLetter) UnmarshalJSON(data []byte) error {
	var w wireDeadLetter
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	received, err := time.Parse(time.RFC3339Nano, w.ReceivedAt)
	if err != nil {
		return fmt.Errorf("received_at: %w", err)
	}
	ts, err := time.Parse(time.RFC3339Nano, w.Timestamp)
	if err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	raw := []byte(w.RawMessage)
	if w.RawMessageBase64 != "" {
		if raw, err = base64.StdEncoding.DecodeString(w.RawMessageBase64); err != nil {
			return fmt.Errorf("raw_message_base64: %w", err)
		}
	}
	*d = DeadLetter{
		ReceivedAt: received, Topic: w.Topic, Partition: w.Partition, Offset: w.Offset, Timestamp: ts,
		Reason: w.Reason, Error: w.Error, TenantID: w.TenantID, Raw: raw, RawBytes: w.RawBytes,
	}
	if d.Truncated() != w.Truncated {
		return errors.New("raw_bytes and truncated disagree")
	}
	return nil
}

// eventIDSpace names the UUIDv5 event ids given to records that carry none.
var eventIDSpace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/pulse-analytics/pulse/load#event_id"))

// earliestRecordTime is before any real record: older timestamps are
// unset (-1) or nonsense, and the decoder falls back to its clock.
var earliestRecordTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Decoder turns records into events or dead letters with the event
// contract. Its decision depends on the record alone, never on when it
// runs, so a record read again after a crash decodes the same way:
//
//   - ts may be at most MaxFutureSkew ahead of the record's timestamp (when
//     Kafka took the event), not of the loader's clock. That is the gateway's
//     check replayed with the gateway's clock: an event it accepted is
//     accepted, however late it is loaded, and a backfill of old events is
//     not judged against today.
//   - a value without event_id (from a producer other than the gateway,
//     which always sets one) gets a UUIDv5 of topic, partition and offset,
//     so a redelivered record gets the same id and is de-duplicated.
//
// A Decoder is not safe for concurrent use.
type Decoder struct {
	contract    *ingest.Contract
	maxRawBytes int
	recordTime  time.Time
	now         func() time.Time
}

// NewDecoder returns a decoder with the contract's rules and these bounds.
func NewDecoder(cfg Config) *Decoder {
	cfg = cfg.withDefaults()
	d := &Decoder{maxRawBytes: cfg.MaxDeadLetterBytes, now: time.Now}
	c := ingest.NewContract()
	c.MaxEventBytes = cfg.MaxRecordBytes
	c.MaxFutureSkew = cfg.MaxFutureSkew
	c.Now = func() time.Time { return d.recordTime }
	// An empty id leaves event_id unset; Decode fills it from the record.
	c.NewID = func() string { return "" }
	d.contract = c
	return d
}

// Decode returns the record's event, or its dead letter when the value is
// not a valid event.
func (d *Decoder) Decode(r *kgo.Record) (ingest.Event, *DeadLetter) {
	d.recordTime = r.Timestamp
	if d.recordTime.Before(earliestRecordTime) {
		d.recordTime = d.now()
	}
	if len(r.Value) == 0 {
		return ingest.Event{}, d.deadLetter(r, "empty message", "the record has no value (a tombstone or an empty message)", "")
	}
	ev, fe := d.contract.Decode(r.Value)
	if fe != nil {
		return ingest.Event{}, d.deadLetter(r, reasonFor(fe), fe.Error(), ev.TenantID)
	}
	if ev.EventID == "" {
		ev.EventID = uuid.NewSHA1(eventIDSpace, fmt.Appendf(nil, "%s/%d/%d", r.Topic, r.Partition, r.Offset)).String()
	}
	return ev, nil
}

// contractFields are the event's top-level fields (docs/events.md); a
// FieldError on any other names a field the contract does not know.
var contractFields = map[string]bool{
	"event_id": true, "event": true, "user_id": true, "tenant_id": true, "session_id": true,
	"ts": true, "event_version": true, "properties": true, "context": true,
}

// reasonFor is the short reason for a contract error, from a fixed set so
// that it groups well: the top-level field at fault.
func reasonFor(fe *ingest.FieldError) string {
	field, _, _ := strings.Cut(fe.Field, ".")
	switch {
	case fe.Field == ingest.RootField:
		return "malformed message"
	case !contractFields[field]:
		return "unknown field"
	}
	return "invalid " + field
}

func (d *Decoder) deadLetter(r *kgo.Record, reason, detail, tenant string) *DeadLetter {
	return &DeadLetter{
		ReceivedAt: d.now().UTC(),
		Topic:      r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UTC(),
		Reason: reason, Error: detail, TenantID: cut(tenant, ingest.MaxTenantIDLen),
		Raw: truncate(r.Value, d.maxRawBytes), RawBytes: len(r.Value),
	}
}

// truncate copies at most n bytes of b (the record's buffer is not ours to
// keep), not splitting a UTF-8 character of a valid UTF-8 value.
func truncate(b []byte, n int) []byte {
	if len(b) > n {
		cutAt := n
		if utf8.Valid(b) {
			for cutAt > 0 && !utf8.RuneStart(b[cutAt]) {
				cutAt--
			}
		}
		b = b[:cutAt]
	}
	return append([]byte(nil), b...)
}

// cut shortens s to at most n bytes on a character boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
