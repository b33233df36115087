package blocknote_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/consilium-hq/consilium/core/blocknote"
)

// FuzzRewrite drives the rewriter with fuzzed task fields: for a document
// the parser accepts and fields that pass Validate, it sets the fields on
// one task (picked by the input), appends a task with them (at the end,
// or under a block), then removes a block, and checks after every edit
// that the written document parses without normalising and says exactly
// what was written (the edited task has the fields, every other task is
// as it was, the appended one reads back with its fields), that a remove
// takes the block and its subtree only, and that plain text and links
// derive without failing. Fields
// Validate refuses are not written (the service refuses them first).
//
// Run: go test -run '^$' -fuzz '^FuzzRewrite$' -fuzztime 60s ./core/blocknote/
func FuzzRewrite(f *testing.F) {
	names, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(names) == 0 {
		f.Fatalf("no seed documents in testdata: %v", err)
	}
	for i, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(i), "Buy milk", "in_progress", "high", "2026-03-14", "09:30", 2.5, "a description", "chat", `{"k":"v"}`)
		f.Add(b, uint8(i*7), "", "completed", "", "", "", 0.0, "", "", "")
	}
	f.Add([]byte(`[]`), uint8(0), "t", "not_started", "", "", "", 0.0, "", "", "")
	f.Add([]byte(`[{"id":"c","type":"checkListItem","props":{"checked":false},"content":"x","children":[]}]`),
		uint8(1), "x", "deferred", "low", "9999-12-31", "23:59", 1e9, "\u2028", "clickup", `{}`)

	f.Fuzz(func(t *testing.T, doc []byte, pick uint8, title, status, priority, dueDate, dueTime string,
		size float64, description, source, metadata string) {
		d, err := blocknote.Parse(doc, nil)
		if err != nil {
			return
		}
		fields := blocknote.TaskFields{Title: title, Status: blocknote.Status(status), Priority: blocknote.Priority(priority),
			DueDate: dueDate, DueTime: dueTime, Description: description, Source: source}
		if size != 0 {
			fields.Size = &size
		}
		if metadata != "" {
			fields.Metadata = json.RawMessage(metadata)
		}
		if fields.Validate("") != nil {
			return
		}
		want := d.Tasks()
		// reread writes d out, parses it back and checks it says want.
		reread := func(step string) *blocknote.Document {
			t.Helper()
			out, err := d.MarshalJSON()
			if err != nil || !json.Valid(out) {
				t.Fatalf("%s: invalid output %q: %v", step, out, err)
			}
			d2, err := blocknote.Parse(out, nil)
			if err != nil {
				t.Fatalf("%s: output does not parse: %v\n%q", step, err, out)
			}
			if d2.Normalized() {
				t.Fatalf("%s: output needed normalising: %q", step, out)
			}
			got := d2.Tasks()
			if len(got) != len(want) {
				t.Fatalf("%s: %d tasks, want %d\n%q", step, len(got), len(want), out)
			}
			for i := range got {
				if !sameTask(want[i], got[i]) {
					t.Fatalf("%s: task %d is %+v, want %+v\n%q", step, i, got[i], want[i], out)
				}
			}
			_ = d2.PlainText()
			_ = d2.LinkedNotes()
			return d2
		}
		// Set the fields on one task.
		if len(want) > 0 {
			i := int(pick) % len(want)
			if err := d.SetTask(want[i].BlockID, fields); err != nil {
				t.Fatalf("set task: %v", err)
			}
			want[i].TaskFields = normalSource(fields)
			if want[i].BlockType == blocknote.TypeCheckListItem && fields.NeedsTaskBlock() {
				want[i].BlockType = blocknote.TypeTask
			}
			if want[i].BlockType == blocknote.TypeCheckListItem {
				// A checklist holds a title and done or not only.
				want[i].TaskFields = blocknote.TaskFields{Title: fields.Title, Status: blocknote.StatusNotStarted}
				if fields.Status == blocknote.StatusCompleted {
					want[i].Status = blocknote.StatusCompleted
				}
			}
			d = reread("set")
		}
		// Append a task, under a block the input picks or at the end.
		parent := ""
		if blocks := d.Blocks(); len(blocks) > 0 && pick%2 == 1 {
			parent = blocks[int(pick)%len(blocks)].ID()
		}
		b, err := d.AppendTask(parent, fields)
		if err != nil {
			t.Fatalf("append task under %q: %v", parent, err)
		}
		// The document in memory is what is written: count and fields
		// (the new task's place among the others is the parser's to say).
		if mem := d.Tasks(); len(mem) != len(want)+1 {
			t.Fatalf("append: %d tasks in memory, want %d", len(mem), len(want)+1)
		}
		want = d.Tasks()
		d = reread("append")
		// The appended task reads back with the fields it was given.
		got := d.Block(b.ID())
		if got == nil || !got.IsTask() {
			t.Fatalf("appended task %s is not in the document", b.ID())
		}
		if tf := got.TaskFields(); !tf.Equal(ptr(normalSource(fields))) {
			t.Fatalf("appended task says %+v, want %+v", *tf, fields)
		}
		// Remove a top-level block and its subtree.
		if blocks := d.Blocks(); len(blocks) > 0 {
			id := blocks[int(pick)%len(blocks)].ID()
			n := d.Len()
			if !d.Remove(id) {
				t.Fatalf("remove %s: not found", id)
			}
			out, _ := d.MarshalJSON()
			d2, err := blocknote.Parse(out, nil)
			if err != nil {
				t.Fatalf("after remove: does not parse: %v\n%q", err, out)
			}
			if d2.Len() != d.Len() || d.Len() >= n || d2.Block(id) != nil {
				t.Fatalf("after remove: %d blocks (was %d, written %d), %s still there: %v", d.Len(), n, d2.Len(), id, d2.Block(id) != nil)
			}
		}
	})
}

// normalSource is f as it reads back: the editor's own source is no source.
func normalSource(f blocknote.TaskFields) blocknote.TaskFields {
	if f.Source == blocknote.SourceNote {
		f.Source = ""
	}
	return f
}

func ptr[T any](v T) *T { return &v }
