package ingest_test

import (
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
