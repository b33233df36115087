package api

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/chat"
)

// FuzzClientEvent feeds arbitrary frames to the chat socket's client-event
// decoder (everything the socket checks before it touches the database).
// It must never panic, and:
//   - a frame it accepts is a JSON object naming a known event type, with
//     every field that event requires present and well-formed;
//   - a frame it refuses gets an error event (valid JSON, type "error")
//     with a code, a message and, for code invalid, the fields at fault;
//     an unknown type (with a valid ref) is refused naming "type";
//   - the ref of the answer is the frame's own ref, or none.
//
// Run: go test -run '^$' -fuzz '^FuzzClientEvent$' -fuzztime 60s ./api/
func FuzzClientEvent(f *testing.F) {
	for _, s := range []string{
		`{"type":"subscribe","ref":"r1"}`,
		`{"type":"subscribe","after_seq":12}`,
		`{"type":"subscribe","after_seq":-1}`,
		`{"type":"message.send","ref":"r2","content":"hello","client_msg_id":"c-1","agent_id":"assistant"}`,
		`{"type":"message.send","content":"hello"}`,
		`{"type":"run.cancel","run_id":"6f1c1a39-5f4e-4b8e-9d0e-3c1e6a0b7f10"}`,
		`{"type":"run.cancel","run_id":"nope"}`,
		`{"type":"approval.respond","approval_id":"6f1c1a39-5f4e-4b8e-9d0e-3c1e6a0b7f10","allow":true}`,
		`{"type":"approval.respond","approval_id":"x","allow":"yes"}`,
		`{"type":"nope","ref":"r"}`,
		`{"type":1}`,
		`{"ref":{"a":1},"type":"subscribe"}`,
		`{"type":"subscribe","extra":true}`,
		`[1,2]`,
		`null`,
		`{"type":"message.send","content":"\ud800","client_msg_id":"\u0000"}`,
		"{\"type\":\"subscribe\",\"ref\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	convID := uuid.MustParse("6f1c1a39-5f4e-4b8e-9d0e-3c1e6a0b7f10")
	f.Fuzz(func(t *testing.T, data []byte) {
		req, bad := decodeClientEvent(data)
		if (req == nil) == (bad == nil) {
			t.Fatalf("want exactly one of a request and a refusal, got %+v and %+v", req, bad)
		}
		var head map[string]json.RawMessage
		isObject := json.Unmarshal(data, &head) == nil && head != nil
		frameRef := func() *string {
			var r string
			if raw, ok := head["ref"]; ok && json.Unmarshal(raw, &r) == nil {
				return &r
			}
			return nil
		}
		if bad != nil {
			if bad.Code != "bad_request" && bad.Code != "invalid" || bad.Message == "" {
				t.Fatalf("refusal without a code and message: %+v", bad)
			}
			if bad.Code == "invalid" && len(bad.Fields) == 0 {
				t.Fatalf("invalid without the fields at fault: %+v", bad)
			}
			if bad.Code == "bad_request" && isObject {
				t.Fatalf("a JSON object refused as not one: %+v", bad)
			}
			if bad.Ref != nil && (frameRef() == nil || *frameRef() != *bad.Ref) {
				t.Fatalf("refusal ref %q is not the frame's", *bad.Ref)
			}
			var typ string
			refOK := true
			if raw, ok := head["ref"]; ok {
				var r string
				refOK = json.Unmarshal(raw, &r) == nil && len(r) <= maxRefLength
			}
			if isObject && refOK && json.Unmarshal(head["type"], &typ) == nil && !slices.Contains(clientEventTypes, typ) {
				if len(bad.Fields) != 1 || bad.Fields[0].Location != "type" {
					t.Fatalf("unknown type %q refused without naming type: %+v", typ, bad)
				}
			}
			ev := errorEvent(convID, bad.Ref, bad.For, bad.Code, bad.Message, bad.Fields)
			var m map[string]any
			if err := json.Unmarshal(ev, &m); err != nil || m["type"] != chat.EventError {
				t.Fatalf("error event %q is not a JSON error event: %v", ev, err)
			}
			return
		}
		if !isObject {
			t.Fatalf("accepted a frame that is not a JSON object: %q", data)
		}
		if !slices.Contains(clientEventTypes, req.Type) {
			t.Fatalf("accepted unknown type %q", req.Type)
		}
		if r := frameRef(); (r == nil) != (req.Ref == nil) || r != nil && *r != *req.Ref {
			t.Fatalf("request ref differs from the frame's")
		}
		switch req.Type {
		case "subscribe":
			if req.AfterSeq != nil && *req.AfterSeq < 0 {
				t.Fatalf("accepted after_seq %d", *req.AfterSeq)
			}
		case "message.send":
			if req.Send == nil {
				t.Fatalf("message.send without its params")
			}
			for _, k := range []string{"content", "client_msg_id"} {
				if v, ok := head[k]; !ok || string(v) == "null" {
					t.Fatalf("message.send accepted without %s", k)
				}
			}
		case "run.cancel":
			if req.RunID == uuid.Nil && !json.Valid(head["run_id"]) {
				t.Fatalf("run.cancel accepted without a run id")
			}
		case "approval.respond":
			if _, ok := head["allow"]; !ok {
				t.Fatalf("approval.respond accepted without allow")
			}
		}
	})
}
