package ingest

// Response is the JSON body of every /v1/events, /v1/batch and /events
// answer. Its shape is stable: accepted and rejected are always present.
type Response struct {
	// Accepted counts events that are durable (2xx only; duplicates of
	// already stored events count as accepted: a retry must succeed).
	Accepted int `json:"accepted"`
	// Rejected lists invalid events by their index in the request.
	Rejected []Rejection `json:"rejected"`
	// Error explains a request-level failure (4xx/5xx other than per-event
	// rejections); absent on success.
	Error *APIError `json:"error,omitempty"`
}

// Rejection names one invalid event, the field at fault and why.
type Rejection struct {
	Index  int    `json:"index"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// APIError is a request-level error: a machine-readable code and a message
// that says how to fix the request.
type APIError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
