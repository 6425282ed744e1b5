package ingest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/valyala/fastjson"
)

// requestError is a request-level failure with the status and code the
// gateway answers with.
type requestError struct {
	status  int
	code    string
	message string
}

func (e *requestError) Error() string { return e.message }

func reqErr(status int, code, format string, args ...any) *requestError {
	return &requestError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// bodyFormat is how the events in a body are framed.
type bodyFormat int

const (
	formatJSON   bodyFormat = iota // one object, or an array of objects
	formatNDJSON                   // one object per line
)

// contentFormat maps the Content-Type header to a body format.
func contentFormat(header string) (bodyFormat, *requestError) {
	const hint = "send Content-Type: application/json (one event or an array) or application/x-ndjson (one event per line)"
	if header == "" {
		return 0, reqErr(http.StatusUnsupportedMediaType, "unsupported_media_type", "missing Content-Type; %s", hint)
	}
	mediaType, params, err := mime.ParseMediaType(header)
	if err != nil {
		return 0, reqErr(http.StatusUnsupportedMediaType, "unsupported_media_type", "malformed Content-Type %q; %s", header, hint)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return 0, reqErr(http.StatusUnsupportedMediaType, "unsupported_media_type", "charset %q is not supported; events must be UTF-8", cs)
	}
	switch mediaType {
	case "application/json":
		return formatJSON, nil
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines":
		return formatNDJSON, nil
	}
	return 0, reqErr(http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type %q is not supported; %s", mediaType, hint)
}

// readBody reads the (optionally gzip-encoded) body, refusing more than
// limit bytes after decompression.
func readBody(r *http.Request, limit int64, buf *bytes.Buffer) *requestError {
	if r.ContentLength > limit {
		return reqErr(http.StatusRequestEntityTooLarge, "body_too_large", "body is %d bytes; the limit is %d bytes (split it into smaller batches)", r.ContentLength, limit)
	}
	var src io.Reader = r.Body
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return reqErr(http.StatusBadRequest, "malformed_gzip", "body is not valid gzip: %v", err)
		}
		defer zr.Close()
		src = zr
	default:
		return reqErr(http.StatusUnsupportedMediaType, "unsupported_encoding", "Content-Encoding %q is not supported; use gzip or none", enc)
	}
	n, err := buf.ReadFrom(io.LimitReader(src, limit+1))
	switch {
	case n > limit:
		return reqErr(http.StatusRequestEntityTooLarge, "body_too_large", "body is over the limit of %d bytes (after decompression); split it into smaller batches", limit)
	case errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) && r.Header.Get("Content-Encoding") != "":
		return reqErr(http.StatusBadRequest, "malformed_gzip", "body is not valid gzip: %v", err)
	case err != nil:
		return reqErr(http.StatusBadRequest, "unreadable_body", "cannot read body: %v", err)
	}
	return nil
}

// splitEvents frames a body into raw events. A JSON array or object that
// does not parse is malformed as a whole; NDJSON lines are independent, so
// a bad line is only that event's problem (Decode reports it).
func splitEvents(body []byte, format bodyFormat, allowSingle, allowMany bool) ([]json.RawMessage, *requestError) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, reqErr(http.StatusBadRequest, "empty_body", "body is empty; send one event or a batch of events")
	}
	if format == formatNDJSON {
		if !allowMany {
			return nil, reqErr(http.StatusUnsupportedMediaType, "unsupported_media_type", "this endpoint takes one event as application/json; send NDJSON to /v1/batch")
		}
		var events []json.RawMessage
		for line := range bytes.SplitSeq(trimmed, []byte("\n")) {
			if line = bytes.TrimSpace(line); len(line) > 0 {
				events = append(events, line)
			}
		}
		return events, nil
	}
	switch trimmed[0] {
	case '[':
		if !allowMany {
			return nil, reqErr(http.StatusBadRequest, "batch_not_allowed", "this endpoint takes one event; send arrays to /v1/batch")
		}
		events, rerr := splitArray(trimmed)
		if rerr == nil && len(events) == 0 {
			return nil, reqErr(http.StatusBadRequest, "empty_batch", "the batch holds no events")
		}
		return events, rerr
	case '{':
		if !allowSingle {
			// /v1/batch also takes a lone object as a one-line NDJSON body.
			return splitEvents(body, formatNDJSON, allowSingle, allowMany)
		}
		if err := fastjson.ValidateBytes(trimmed); err != nil {
			return nil, reqErr(http.StatusBadRequest, "malformed_json", "body is not valid JSON: %v", err)
		}
		return []json.RawMessage{trimmed}, nil
	default:
		return nil, reqErr(http.StatusBadRequest, "malformed_json", "body must be a JSON object or array, got %s", leadingKind(trimmed))
	}
}

// splitArray returns the raw elements of a JSON array body. The whole body
// is validated first (a malformed array is refused whole); the elements are
// then cut out by a scan that only tracks strings and nesting, leaving each
// element's full decoding to the contract.
func splitArray(body []byte) ([]json.RawMessage, *requestError) {
	if err := fastjson.ValidateBytes(body); err != nil {
		return nil, reqErr(http.StatusBadRequest, "malformed_json", "body is not a valid JSON array: %v", err)
	}
	var events []json.RawMessage
	depth, start, inString, escaped := 0, 0, false, false
	for i, c := range body {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			if depth == 0 {
				start = i + 1
			}
			depth++
		case c == ']' || c == '}':
			depth--
			if depth == 0 {
				if elem := bytes.TrimSpace(body[start:i]); len(elem) > 0 {
					events = append(events, elem)
				}
			}
		case c == ',' && depth == 1:
			events = append(events, bytes.TrimSpace(body[start:i]))
			start = i + 1
		}
	}
	return events, nil
}

// leadingKind names the JSON type a body starts with, for error messages.
func leadingKind(b []byte) string {
	switch b[0] {
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number or invalid JSON"
	}
}
