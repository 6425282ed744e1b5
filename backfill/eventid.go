package backfill

import (
	"crypto/md5"
	"strconv"

	"github.com/google/uuid"

	"github.com/pulse-analytics/pulse/ingest"
)

// contentID derives the event_id of an event that has none from what the
// event says, so that loading the same rows again yields the same ids and
// the stores' (tenant_id, event_id, ts) de-duplication applies:
//
//	MD5(tenant_id NUL user_id NUL event NUL ts NUL session_id NUL properties)
//
// as the 16 bytes of a UUID, with ts in epoch milliseconds (decimal) and
// properties as the contract stores them ("{}" when absent): what the
// contract normalised (string encoding) is the same content, a different
// key order is not. event_version and context are left out on purpose: a
// re-export that only enriches context or bumps the version describes the
// same occurrence.
//
// The bulk lane computes the same id in DuckDB (bulk.sql's "content_id"),
// which is why it is MD5 of plain bytes: DuckDB hashes them at a third of
// the cost of a UUIDv5 (SHA-1 over a namespace, version bits set by string
// surgery), and sorting keys there would cost more than the whole load.
// Changing the definition makes a re-run store derived rows again: never
// change it.
func contentID(ev *ingest.Event, scratch []byte) (string, []byte) {
	b := scratch[:0]
	b = append(b, ev.TenantID...)
	b = append(b, 0)
	b = append(b, ev.UserID...)
	b = append(b, 0)
	b = append(b, ev.Event...)
	b = append(b, 0)
	b = strconv.AppendInt(b, ev.TS.UnixMilli(), 10)
	b = append(b, 0)
	b = append(b, ev.SessionID...)
	b = append(b, 0)
	if len(ev.Properties) == 0 {
		b = append(b, "{}"...)
	} else {
		b = append(b, ev.Properties...)
	}
	return uuid.UUID(md5.Sum(b)).String(), b
}
