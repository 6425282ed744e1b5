package ingest

import (
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzDecode checks the decoder's promises on any input: it never panics,
// an accepted event is normalised and survives a round trip through its
// JSON form, and a rejection always names a field and a reason.
// Seed corpus: testdata/fuzz/FuzzDecode. Run: go test -fuzz FuzzDecode ./ingest/
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"event":"signup","user_id":"u1","tenant_id":"acme","session_id":"s1","ts":"2026-11-25T09:00:00.123+01:00","properties":{"plan":"pro","seats":3},"context":{"os":"Linux"}}`))
	f.Add([]byte(`{"event":"x","user_id":"u","tenant_id":"t","session_id":"s","ts":"2026-11-25T09:00:00Z","event_id":"0190a5b2-c3d4-7e8f-9a0b-1c2d3e4f5a6b","event_version":2}`))
	// A raw control character inside a string: the parser lets it through,
	// and the stored properties would not be JSON.
	f.Add([]byte("{\"event\":\"0\",\"user_id\":\"0\",\"tenant_id\":\"0\",\"session_id\":\"0\",\"ts\":\"2000-01-01T00:00:00Z\",\"context\":{\"0\":\"\x00\"}}"))
	// Escaped control characters: re-escaped the Go way (\x00, \a), the
	// stored properties were not JSON.
	f.Add([]byte(`{"event":"0","user_id":"0","tenant_id":"0","session_id":"0","ts":"2000-01-01T00:00:00Z","properties":{"s":"nul\u0000 bell\u0007 vt\u000b del\u007f","k\u0001":1.50}}`))
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw []byte) {
		c := NewContract()
		c.Now = func() time.Time { return now }
		ev, fe := c.Decode(raw)
		if fe != nil {
			if fe.Field == "" || fe.Reason == "" {
				t.Fatalf("rejection without field or reason: %+v", fe)
			}
			return
		}
		if !utf8.Valid(raw) {
			t.Fatal("accepted invalid UTF-8")
		}
		if ev.TS.Location() != time.UTC || ev.TS.Nanosecond()%int(time.Millisecond) != 0 {
			t.Fatalf("ts %v not normalised to UTC milliseconds", ev.TS)
		}
		if ev.EventVersion < 1 || ev.EventID == "" {
			t.Fatalf("defaults not applied: %+v", ev)
		}
		normalised, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		again, fe := c.Decode(normalised)
		if fe != nil {
			t.Fatalf("normalised event %s rejected: %v", normalised, fe)
		}
		if again.EventID != ev.EventID || !again.TS.Equal(ev.TS) || again.Event != ev.Event || again.TenantID != ev.TenantID ||
			again.UserID != ev.UserID || string(again.Properties) != string(ev.Properties) {
			t.Fatalf("round trip changed the event:\n%+v\n%+v", ev, again)
		}
	})
}
