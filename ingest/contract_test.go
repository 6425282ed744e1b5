package ingest_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulse-analytics/pulse/ingest"
)

func TestParseTSTakesEveryZonedForm(t *testing.T) {
	want := time.Date(2026, 11, 25, 8, 4, 36, 123e6, time.UTC)
	for _, s := range []string{
		"2026-11-25T08:04:36.123Z",
		"2026-11-25T09:04:36.123+01:00",
		"2026-11-25T09:04:36.123+0100",
		"2026-11-25T09:04:36.123+01",
		"2026-11-25T06:34:36.123456789-01:30",
		"2026-11-25 08:04:36.123Z",
		"2026-11-25 08:04:36.123+00:00",
		"2026-11-25 07:04:36.123999-0100",
		"2026-11-25 09:04:36.123+01",
	} {
		got, err := ingest.ParseTS(s)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("ParseTS(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
}

func TestParseTSRefusesWhatIsNotAZonedTimestamp(t *testing.T) {
	for s, reason := range map[string]string{
		"2026-11-25 08:04:36.123":     "has no time zone",
		"2026-11-25T08:04:36":         "has no time zone",
		"2026-11-25":                  "has no time zone",
		"2026-11-25T08:04:36+1":       "is not an ISO-8601 timestamp",
		"2026-11-25 08:04:36 +01:00":  "is not an ISO-8601 timestamp",
		"2026-11-25  08:04:36Z":       "is not an ISO-8601 timestamp",
		"2026-11-25T08:04:36.123+013": "is not an ISO-8601 timestamp",
		"1764057876123":               "is not an ISO-8601 timestamp",
	} {
		if got, err := ingest.ParseTS(s); err == nil || !strings.Contains(err.Error(), reason) {
			t.Errorf("ParseTS(%q) = %v, %v; want an error saying %q", s, got, err, reason)
		}
	}
}

// RequiredFields lists exactly the fields Decode refuses an event without.
func TestRequiredFieldsAreTheOnesDecodeRequires(t *testing.T) {
	full := map[string]any{"event_id": "0193a8f0-0000-7000-8000-000000000001", "event": "signup", "user_id": "u1",
		"tenant_id": "acme", "session_id": "s1", "ts": "2026-11-25T08:04:36Z", "event_version": 2,
		"properties": map[string]any{"plan": "pro"}, "context": map[string]any{"os": "Linux"}}
	c := ingest.NewContract()
	c.Now = func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }
	for field := range full {
		event := maps.Clone(full)
		delete(event, field)
		raw, _ := json.Marshal(event)
		_, fe := c.Decode(raw)
		required := slices.Contains(ingest.RequiredFields, field)
		if required != (fe != nil && fe.Field == field && fe.Reason == "is required") {
			t.Errorf("without %s: %v; listed as required: %v", field, fe, required)
		}
	}
}
