package backfill

import (
	"slices"

	"github.com/google/uuid"
	"github.com/valyala/fastjson"

	"github.com/pulse-analytics/pulse/ingest"
)

// idNamespace is the UUIDv5 namespace of backfill's content-derived event
// ids. Changing it changes every derived id, so that re-running an old
// backfill would store its rows again: never change it.
var idNamespace = uuid.MustParse("6f1b3c52-5d0e-4a8e-9c39-3a4c1e0b7d21")

// contentID derives the event_id of an event that has none from what the
// event says, so that loading the same rows again yields the same ids and
// the stores' (tenant_id, event_id, ts) de-duplication applies:
//
//	UUIDv5(idNamespace, tenant_id NUL user_id NUL event NUL ts NUL session_id NUL properties)
//
// with ts in the normalised form (UTC, milliseconds, as stored) and
// properties in canonical JSON: keys sorted, values as the contract
// normalised them. event_version and context are left out on purpose: a
// re-export that only enriches context or bumps the version describes the
// same occurrence. Two rows equal in all these fields are one event.
func contentID(ev *ingest.Event, p *fastjson.Parser, scratch []byte) (string, []byte) {
	b := scratch[:0]
	b = append(b, ev.TenantID...)
	b = append(b, 0)
	b = append(b, ev.UserID...)
	b = append(b, 0)
	b = append(b, ev.Event...)
	b = append(b, 0)
	b = ev.TS.UTC().AppendFormat(b, ingest.TSLayout)
	b = append(b, 0)
	b = append(b, ev.SessionID...)
	b = append(b, 0)
	b = appendCanonical(b, ev.Properties, p)
	return uuid.NewSHA1(idNamespace, b).String(), b
}

// appendCanonical appends a flat JSON object with its keys sorted. The
// contract has already checked the object, so a parse error cannot happen;
// the raw bytes are used if it does.
func appendCanonical(dst, raw []byte, p *fastjson.Parser) []byte {
	if len(raw) == 0 {
		return append(dst, "{}"...)
	}
	v, err := p.ParseBytes(raw)
	if err != nil || v.Type() != fastjson.TypeObject {
		return append(dst, raw...)
	}
	type member struct {
		key   string
		value *fastjson.Value
	}
	var members []member
	v.GetObject().Visit(func(key []byte, value *fastjson.Value) {
		members = append(members, member{string(key), value})
	})
	slices.SortFunc(members, func(a, b member) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	dst = append(dst, '{')
	for i, m := range members {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = ingest.AppendJSONString(dst, m.key)
		dst = append(dst, ':')
		dst = m.value.MarshalTo(dst)
	}
	return append(dst, '}')
}
