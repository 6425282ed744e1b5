package ingest

import (
	"encoding/json"
	"testing"
)

func TestSplitArrayCutsTopLevelElementsOnly(t *testing.T) {
	body := `[ {"a":"x,]}\"[{"}, {"b":[1,{"c":2}],"d":"\\"} , 7 ,"s"]`
	got, rerr := splitArray([]byte(body))
	if rerr != nil {
		t.Fatal(rerr)
	}
	want := []string{`{"a":"x,]}\"[{"}`, `{"b":[1,{"c":2}],"d":"\\"}`, `7`, `"s"`}
	if len(got) != len(want) {
		t.Fatalf("got %d elements %q, want %q", len(got), got, want)
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Errorf("element %d = %s, want %s", i, got[i], want[i])
		}
		if !json.Valid(got[i]) {
			t.Errorf("element %d is not valid JSON: %s", i, got[i])
		}
	}
}

func TestSplitArrayRefusesMalformedBodiesWhole(t *testing.T) {
	for _, body := range []string{`[{"a":1},]`, `[{"a":1}`, `[{"a":}]`, `[1] [2]`, `[,1]`} {
		if _, rerr := splitArray([]byte(body)); rerr == nil || rerr.code != "malformed_json" {
			t.Errorf("%s: got %v, want malformed_json", body, rerr)
		}
	}
}
