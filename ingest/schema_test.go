package ingest_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/pulse-analytics/pulse/ingest"
)

// The JSON Schema in docs/ and the Go contract must agree on every example
// in docs/examples: valid ones pass both, invalid ones fail both.
func TestDocumentedExamplesMatchSchemaAndContract(t *testing.T) {
	compiler := jsonschema.NewCompiler()
	schema, err := compiler.Compile("../docs/event.schema.json")
	if err != nil {
		t.Fatalf("schema does not compile: %v", err)
	}
	contract := ingest.NewContract()
	contract.Now = func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }
	for _, kind := range []string{"valid", "invalid"} {
		files, _ := filepath.Glob(filepath.Join("../docs/examples", kind, "*.json"))
		if len(files) < 3 {
			t.Fatalf("want at least 3 %s examples, found %d", kind, len(files))
		}
		for _, file := range files {
			t.Run(kind+"/"+filepath.Base(file), func(t *testing.T) {
				raw, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
				if err != nil {
					t.Fatal(err)
				}
				schemaErr := schema.Validate(doc)
				var compact bytes.Buffer
				json.Compact(&compact, raw)
				_, contractErr := contract.Decode(compact.Bytes())
				if kind == "valid" && (schemaErr != nil || contractErr != nil) {
					t.Fatalf("valid example refused: schema=%v contract=%v", schemaErr, contractErr)
				}
				if kind == "invalid" && (schemaErr == nil || contractErr == nil) {
					t.Fatalf("invalid example accepted: schema=%v contract=%v", schemaErr, contractErr)
				}
			})
		}
	}
}
