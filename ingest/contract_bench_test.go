package ingest

import (
	"testing"
	"time"
)

var benchEvent = []byte(`{"event_id":"5d9580e8-9c06-8260-8427-f0b4e77a7444","event":"session_started","user_id":"u_003325","tenant_id":"vandelay","session_id":"s_18b0136e17a1a187","ts":"2026-08-02T00:31:41.193Z","event_version":1,"properties":{"plan":"free","source":"email","returning":false},"context":{"app_version":"4.11.0","os":"macOS","browser":"Chrome","country":"BR"}}`)

// Run: go test -run '^$' -bench BenchmarkDecode -benchmem ./ingest/
func BenchmarkDecode(b *testing.B) {
	c := NewContract()
	c.Now = func() time.Time { return time.Date(2026, 8, 2, 12, 0, 0, 0, time.UTC) }
	if _, fe := c.Decode(benchEvent); fe != nil {
		b.Fatal(fe)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchEvent)))
	for b.Loop() {
		c.Decode(benchEvent)
	}
}
