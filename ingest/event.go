// Package ingest holds the event contract, its validation, the HTTP gateway
// and the sinks that make accepted events durable.
package ingest

import (
	"encoding/json"
	"time"
)

// Event is one product event after validation and normalisation: the form
// every sink stores and every Kafka message carries.
type Event struct {
	EventID      string          `json:"event_id"`
	Event        string          `json:"event"`
	UserID       string          `json:"user_id"`
	TenantID     string          `json:"tenant_id"`
	SessionID    string          `json:"session_id"`
	TS           time.Time       `json:"-"`
	EventVersion int             `json:"event_version"`
	Properties   json.RawMessage `json:"properties"`
	Context      json.RawMessage `json:"context"`
}

// TSLayout is the normalised timestamp form: UTC, millisecond precision.
const TSLayout = "2006-01-02T15:04:05.000Z"

// wireEvent is Event as it travels in JSON, with ts as the normalised string.
type wireEvent struct {
	EventID      string          `json:"event_id"`
	Event        string          `json:"event"`
	UserID       string          `json:"user_id"`
	TenantID     string          `json:"tenant_id"`
	SessionID    string          `json:"session_id"`
	TS           string          `json:"ts"`
	EventVersion int             `json:"event_version"`
	Properties   json.RawMessage `json:"properties"`
	Context      json.RawMessage `json:"context"`
}

// MarshalJSON writes the normalised event JSON (ts as UTC with milliseconds).
func (e Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(wireEvent{
		EventID: e.EventID, Event: e.Event, UserID: e.UserID, TenantID: e.TenantID,
		SessionID: e.SessionID, TS: e.TS.UTC().Format(TSLayout), EventVersion: e.EventVersion,
		Properties: orEmptyObject(e.Properties), Context: orEmptyObject(e.Context),
	})
}

func orEmptyObject(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("{}")
	}
	return raw
}
