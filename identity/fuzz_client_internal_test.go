package identity

import (
	"fmt"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzRegisterTaskResponse checks that the task registration response
// parser never panics, returns exactly one spelling on success, and agrees
// with the full client path for the plaintext spellings.
func FuzzRegisterTaskResponse(f *testing.F) {
	for _, seed := range []string{
		`{"task_id":"task-1"}`,
		`{"taskId":"task-2"}`,
		`{"encrypted_task_id":"AAAA"}`,
		`{"encryptedTaskId":"AAAA"}`,
		`{"task_id":null,"taskId":"t"}`,
		`{"task_id":"a","encrypted_task_id":"b"}`,
		`{"task_id":""}`,
		`{"task_id":7}`,
		`{"task_id":"a","task_id":"b"}`,
		`{"task\u005fid":"a"}`,
		`{"x":[[[[{}]]]],"task_id":"a:b"}`,
		`[]`, `null`, ``, `{`, "{\"task_id\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	signer := clientFuzzSigner(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		plain, encrypted, err := parseTaskRegistrationResponse(body)
		if p, e, werr := twoPassTaskRegistrationResponse(body); p != plain || e != encrypted || fmt.Sprint(err) != fmt.Sprint(werr) {
			t.Fatalf("got %q %q %v, the two-pass parser %q %q %v", plain, encrypted, err, p, e, werr)
		}
		if err != nil {
			if plain != "" || encrypted != "" {
				t.Fatalf("values returned with an error: %v", err)
			}
			return
		}
		if (plain == "") == (encrypted == "") {
			t.Fatalf("want exactly one of plain %q and encrypted %q", plain, encrypted)
		}
		if !utf8.ValidString(plain) || !utf8.ValidString(encrypted) {
			t.Fatal("invalid UTF-8 accepted")
		}
		id, err := taskIDFromResponse(signer, body)
		if plain != "" {
			if (ValidateTaskID(plain) == nil) != (err == nil) {
				t.Fatalf("validation disagrees: %v", err)
			}
			if err == nil && id != plain {
				t.Fatalf("got %q, want %q", id, plain)
			}
		}
		if err == nil && ValidateTaskID(id) != nil {
			t.Fatalf("invalid task id %q returned", id)
		}
	})
}

// FuzzParseRetryAfter checks that any header gives a delay in [0, 10 s] or
// is ignored.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "5", "10", "9999999999999999999999", "-1", "1.5",
		"Fri, 02 Jan 2026 03:04:09 GMT", "Friday, 02-Jan-26 03:04:09 GMT", "Fri Jan  2 03:04:09 2026"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		c := &Client{now: func() time.Time { return now }}
		d := c.backoff(1, v)
		if d < 0 || d > maxRetryDelay {
			t.Fatalf("delay %v out of range", d)
		}
		if ra, ok := parseRetryAfter(v, now); ok && ra < 0 {
			t.Fatalf("negative Retry-After %v", ra)
		}
	})
}

func clientFuzzSigner(tb testing.TB) *Signer {
	tb.Helper()
	km, err := GenerateKeyMaterial()
	if err != nil {
		tb.Fatal(err)
	}
	s, err := NewSigner("agent-fuzz", km.PrivateKeyPKCS8Base64)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
