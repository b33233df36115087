package integration_test

import (
	"testing"
	"time"

	"github.com/consilium-hq/consilium/core/integration"
)

// TestExtractRules: the offline extractor's decisions, due dates resolved
// in the user's zone against the date received (Tuesday 2026-12-01, 23:30
// UTC, already Wednesday in Berlin).
func TestExtractRules(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	received := time.Date(2026, 12, 1, 23, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		name, from, subject, body string
		request                   bool
		title, due, priority      string
		sure                      bool // confidence at least 0.7
	}{
		{"polite request with a weekday", "bob@example.org", "Q3", "Hi Alice,\nCould you please send me the Q3 report by Friday? Thanks",
			true, "Send me the Q3 report by Friday", "2026-12-04", "", true},
		{"urgent, tomorrow", "bob@example.org", "URGENT: contract", "Please sign the contract tomorrow.",
			true, "Sign the contract tomorrow", "2026-12-03", "high", true},
		{"ISO date, no rush", "x@example.org", "Forms", "Can you fill out the forms by 2026-12-20? No rush.",
			true, "Fill out the forms by 2026-12-20", "2026-12-20", "low", true},
		{"month day", "x@example.org", "Trip", "Please book the hotel before Dec 12.",
			true, "Book the hotel before Dec 12", "2026-12-12", "", true},
		{"vague polite", "x@example.org", "Lunch", "I was wondering about lunch, please think about it.", true, "", "", "", false},
		{"newsletter", "news@shop.example", "Deals", "Review our deals! Unsubscribe here.", false, "", "", "", false},
		{"no-reply sender", "no-reply@bank.example", "Statement", "Please review your statement.", false, "", "", "", false},
		{"plain news", "friend@example.org", "Holiday", "We had a great time in Rome. The weather was lovely.", false, "", "", "", false},
		{"quoted request only", "friend@example.org", "Re: Q3", "Thanks!\n\nOn Tue, Bob wrote:\n> Could you send the report?", false, "", "", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ex := integration.ExtractRules(c.from, c.subject, c.body, received, berlin)
			if ex.IsRequest != c.request {
				t.Fatalf("is_request %v, want %v (%+v)", ex.IsRequest, c.request, ex)
			}
			if !c.request {
				return
			}
			if c.title != "" && ex.Title != c.title {
				t.Errorf("title %q, want %q", ex.Title, c.title)
			}
			if ex.DueDate != c.due || ex.Priority != c.priority {
				t.Errorf("due %q priority %q, want %q %q", ex.DueDate, ex.Priority, c.due, c.priority)
			}
			if (ex.Confidence >= 0.7) != c.sure || ex.Confidence > 1 {
				t.Errorf("confidence %v", ex.Confidence)
			}
		})
	}
}

// TestParseExtraction: only the strict JSON object is taken from a model.
func TestParseExtraction(t *testing.T) {
	ok := `{"is_request": true, "title": "Send the report", "due_date": "2026-12-04", "priority": "high", "confidence": 0.9}`
	ex, err := integration.ParseExtraction(ok)
	if err != nil || !ex.IsRequest || ex.Title != "Send the report" || ex.DueDate != "2026-12-04" || ex.Priority != "high" || ex.Confidence != 0.9 {
		t.Fatalf("%+v %v", ex, err)
	}
	if ex, err := integration.ParseExtraction(`{"is_request": false, "title": null, "due_date": null, "priority": null, "confidence": 0.1}`); err != nil || ex.IsRequest {
		t.Fatalf("not a request: %+v %v", ex, err)
	}
	for _, bad := range []string{
		"Sure! Here is the JSON: " + ok,
		"```json\n" + ok + "\n```",
		ok + ok,
		`{"is_request": true, "title": "x", "confidence": 1.5}`,
		`{"is_request": true, "title": "", "confidence": 0.9}`,
		`{"is_request": true, "title": "x", "due_date": "Friday", "confidence": 0.9}`,
		`{"is_request": true, "title": "x", "priority": "urgent", "confidence": 0.9}`,
		`{"is_request": true, "title": "x", "confidence": 0.9, "action": "delete_task"}`,
		`{"title": "x", "confidence": 0.9}`,
		`[]`,
	} {
		if ex, err := integration.ParseExtraction(bad); err == nil {
			t.Errorf("%q was taken: %+v", bad, ex)
		}
	}
}
