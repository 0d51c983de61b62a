package identity

import (
	"encoding/json"
	"testing"
)

var clientBenchBody = []byte(`{"task_id":"task-0123456789abcdef","created_at":"2026-01-02T03:04:05Z","meta":{"region":"us"}}`)

// BenchmarkClientParseTaskResponse is the strict response parser;
// BenchmarkClientParseTaskResponseBaseline is a plain json.Unmarshal into a
// struct (no duplicate check, no spelling order, no null handling).
func BenchmarkClientParseTaskResponse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if p, _, err := parseTaskRegistrationResponse(clientBenchBody); err != nil || p == "" {
			b.Fatal(err)
		}
	}
}

func BenchmarkClientParseTaskResponseBaseline(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		var v struct {
			TaskID string `json:"task_id"`
		}
		if err := json.Unmarshal(clientBenchBody, &v); err != nil || v.TaskID == "" {
			b.Fatal(err)
		}
	}
}
