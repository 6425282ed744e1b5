package load

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pulse-analytics/pulse/ingest"
)

// produceTime is when the test records were produced (their timestamp).
var produceTime = time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)

func record(offset int64, value string) *kgo.Record {
	return &kgo.Record{Topic: "product_events", Partition: 2, Offset: offset, Timestamp: produceTime, Value: []byte(value)}
}

// event returns an event's JSON with fields overridden (a nil value drops
// the field).
func event(overrides map[string]any) string {
	fields := map[string]any{
		"event_id": "0192f5d6-8a4b-7c3d-9e2f-1a2b3c4d5e6f", "event": "signup", "user_id": "u1", "tenant_id": "acme",
		"session_id": "s1", "ts": "2026-09-01T11:59:00.000Z", "event_version": 1,
		"properties": map[string]any{"plan": "pro"}, "context": map[string]any{},
	}
	for k, v := range overrides {
		if v == nil {
			delete(fields, k)
		} else {
			fields[k] = v
		}
	}
	b, err := json.Marshal(fields)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestDecoderRefusesInvalidRecordsWithAShortReason(t *testing.T) {
	tests := []struct {
		name, value, reason, errorHas, tenant string
	}{
		{"empty value", "", "empty message", "no value", ""},
		{"not JSON", "{not json", "malformed message", "malformed JSON", ""},
		{"not an object", "[1,2]", "malformed message", "must be a JSON object", ""},
		{"not UTF-8", "{\"event\":\"\xff\"}", "malformed message", "not valid UTF-8", ""},
		{"bad tenant", event(map[string]any{"tenant_id": "no spaces"}), "invalid tenant_id", "tenant_id: must contain only", "no spaces"},
		{"missing user", event(map[string]any{"user_id": nil}), "invalid user_id", "user_id: is required", "acme"},
		{"nested property", event(map[string]any{"properties": map[string]any{"a": map[string]any{"b": 1}}}), "invalid properties", "properties.a:", "acme"},
		{"zone-less ts", event(map[string]any{"ts": "2026-09-01T11:59:00"}), "invalid ts", "no time zone", "acme"},
		{"unknown field", event(map[string]any{"extra": 1}), "unknown field", `unknown field "extra"`, ""},
	}
	d := NewDecoder(Config{})
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := record(int64(i), tt.value)
			_, dl := d.Decode(r)
			if dl == nil {
				t.Fatalf("decoded %q as an event", tt.value)
			}
			if dl.Reason != tt.reason || !strings.Contains(dl.Error, tt.errorHas) || dl.TenantID != tt.tenant {
				t.Fatalf("got reason %q, error %q, tenant %q; want %q, containing %q, %q", dl.Reason, dl.Error, dl.TenantID, tt.reason, tt.errorHas, tt.tenant)
			}
			if dl.Topic != r.Topic || dl.Partition != r.Partition || dl.Offset != r.Offset || !dl.Timestamp.Equal(produceTime) {
				t.Fatalf("dead letter does not say where the record was: %+v", dl)
			}
			if !bytes.Equal(dl.Raw, r.Value) || dl.RawBytes != len(r.Value) || dl.Truncated() {
				t.Fatalf("raw value not kept whole: %q (%d bytes)", dl.Raw, dl.RawBytes)
			}
		})
	}
}

func TestDecoderCutsTheRawValueOfALargeRecord(t *testing.T) {
	d := NewDecoder(Config{MaxRecordBytes: 1000, MaxDeadLetterBytes: 100})
	// 'é' is two bytes: the cut must not split it.
	value := `{"event":"` + strings.Repeat("é", 1000) + `"}`
	_, dl := d.Decode(record(1, value))
	if dl == nil || dl.Reason != "malformed message" || !strings.Contains(dl.Error, "limit is 1000 bytes") {
		t.Fatalf("oversized record: %+v", dl)
	}
	if len(dl.Raw) > 100 || len(dl.Raw) < 99 || dl.RawBytes != len(value) || !dl.Truncated() || !strings.HasPrefix(value, string(dl.Raw)) {
		t.Fatalf("raw cut to %d bytes of %d (truncated %v)", len(dl.Raw), dl.RawBytes, dl.Truncated())
	}
}

func TestDecoderJudgesFutureSkewAgainstTheRecordTimestamp(t *testing.T) {
	tests := []struct {
		name     string
		ts       string
		recordTS time.Time
		now      time.Time
		valid    bool
	}{
		{"accepted by the gateway, loaded ten days later", "2026-09-02T11:00:00Z", produceTime, produceTime.AddDate(0, 0, 10), true},
		{"loader clock behind the gateway's", "2026-09-02T11:00:00Z", produceTime, produceTime.AddDate(0, 0, -3), true},
		{"too far ahead of the record, however late it is loaded", "2026-09-02T13:00:00Z", produceTime, produceTime.AddDate(1, 0, 0), false},
		{"years-old event replayed", "2020-01-01T00:00:00Z", produceTime, produceTime, true},
		{"record without a timestamp falls back to the clock", "2026-09-02T11:00:00Z", time.Time{}, produceTime, true},
		{"record without a timestamp, too far ahead of the clock", "2026-09-02T13:00:00Z", time.Time{}, produceTime, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(Config{})
			d.now = func() time.Time { return tt.now }
			r := record(7, event(map[string]any{"ts": tt.ts}))
			r.Timestamp = tt.recordTS
			_, dl := d.Decode(r)
			if valid := dl == nil; valid != tt.valid {
				t.Fatalf("valid = %v, want %v (%+v)", valid, tt.valid, dl)
			}
			if dl != nil && dl.Reason != "invalid ts" {
				t.Fatalf("reason %q, want invalid ts", dl.Reason)
			}
		})
	}
}

func TestDecoderGivesARecordWithoutEventIDAnIDOfItsOffset(t *testing.T) {
	d := NewDecoder(Config{})
	value := event(map[string]any{"event_id": nil})
	first, dl := d.Decode(record(41, value))
	if dl != nil {
		t.Fatal(dl.Error)
	}
	again, _ := d.Decode(record(41, value))
	other, _ := d.Decode(record(42, value))
	id, err := uuid.Parse(first.EventID)
	if err != nil || id.Version() != 5 {
		t.Fatalf("event_id %q is not a UUIDv5", first.EventID)
	}
	if again.EventID != first.EventID {
		t.Fatalf("re-reading the record changed its id: %s then %s", first.EventID, again.EventID)
	}
	if other.EventID == first.EventID {
		t.Fatal("two records got the same id")
	}
	given, _ := d.Decode(record(43, event(nil)))
	if given.EventID != "0192f5d6-8a4b-7c3d-9e2f-1a2b3c4d5e6f" {
		t.Fatalf("the event's own id was replaced by %s", given.EventID)
	}
}

func TestDecoderReturnsTheNormalisedEvent(t *testing.T) {
	d := NewDecoder(Config{})
	ev, dl := d.Decode(record(1, event(map[string]any{"ts": "2026-09-01T13:59:00.123456+02:00", "event_version": nil})))
	if dl != nil {
		t.Fatal(dl.Error)
	}
	want := ingest.Event{EventID: "0192f5d6-8a4b-7c3d-9e2f-1a2b3c4d5e6f", Event: "signup", UserID: "u1", TenantID: "acme", SessionID: "s1",
		TS: time.Date(2026, 9, 1, 11, 59, 0, 123_000_000, time.UTC), EventVersion: 1}
	if ev.EventID != want.EventID || ev.Event != want.Event || ev.UserID != want.UserID || ev.TenantID != want.TenantID ||
		ev.SessionID != want.SessionID || !ev.TS.Equal(want.TS) || ev.EventVersion != want.EventVersion || string(ev.Properties) != `{"plan":"pro"}` {
		t.Fatalf("got %+v\nwant %+v", ev, want)
	}
}
