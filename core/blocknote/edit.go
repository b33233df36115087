package blocknote

import (
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/apperr"
)

// ErrNoTaskBlock is returned when an edit names a block that is not a task
// block of the document.
var ErrNoTaskBlock = apperr.New(apperr.NotFound, "task not found")

// SetTask rewrites the task block with the given id so that it says f,
// changing only what differs: the title replaces the block's inline content
// with one plain text run only when it changed, and props are set in place.
// A checkListItem that must hold more than a checklist can (in_progress,
// deferred, a priority, a due date, ...) becomes a task block with the same
// id, content and children. f must be valid (TaskFields.Validate).
func (d *Document) SetTask(id string, f TaskFields) error {
	b := d.byID[id]
	if b == nil || b.task == nil {
		return ErrNoTaskBlock
	}
	if f.Source == SourceNote {
		f.Source = ""
	}
	if b.task.Equal(&f) {
		return nil
	}
	if f.Title != b.task.Title {
		b.content = textItems(f.Title)
		b.text = f.Title
		b.links = nil
	}
	if b.typ == TypeCheckListItem && f.NeedsTaskBlock() {
		b.typ = TypeTask
		b.deleteProp(PropChecked)
	}
	b.hasProps = true
	if b.typ == TypeCheckListItem {
		b.setProp(PropChecked, []byte(strconv.FormatBool(f.Status == StatusCompleted)))
	} else {
		writeTaskProps(b, &f, false)
	}
	b.task = &f
	b.markDirty()
	d.changed = true
	if d.touched == nil {
		d.touched = map[string]bool{}
	}
	d.touched[id] = true
	return nil
}

// writeTaskProps sets the task block props from f. Empty optional fields
// are written only when the prop is already there (or all is set), so a
// block keeps the shape the editor gave it.
func writeTaskProps(b *Block, f *TaskFields, all bool) {
	b.setProp(PropStatus, appendString(nil, string(f.Status)))
	str := func(name, v string) {
		if v != "" || all || b.Prop(name) != nil {
			b.setProp(name, appendString(nil, v))
		}
	}
	str(PropPriority, string(f.Priority))
	str(PropDueDate, f.DueDate)
	str(PropDueTime, f.DueTime)
	str(PropDescription, f.Description)
	switch {
	case f.Source != "":
		b.setProp(PropSource, appendString(nil, f.Source))
	case all:
		b.setProp(PropSource, appendString(nil, SourceNote))
	case b.Prop(PropSource) != nil:
		b.setProp(PropSource, appendString(nil, SourceNote))
	}
	str(PropSourceReference, f.SourceReference)
	str(PropGoalID, f.GoalID)
	switch {
	case f.Size != nil:
		b.setProp(PropSize, appendFloat(nil, *f.Size))
	case b.Prop(PropSize) != nil:
		b.setProp(PropSize, []byte("0"))
	}
	switch {
	case f.Metadata != nil:
		b.setProp(PropMetadata, appendString(nil, string(f.Metadata)))
	case b.Prop(PropMetadata) != nil:
		b.setProp(PropMetadata, []byte(`""`))
	}
}

// AppendTask adds a new task block saying f, as the last child of the block
// parentID or, when parentID is "", at the end of the document. It returns
// the new block.
func (d *Document) AppendTask(parentID string, f TaskFields) (*Block, error) {
	var parent *Block
	if parentID != "" {
		parent = d.byID[parentID]
		if parent == nil {
			return nil, apperr.New(apperr.NotFound, "parent block not found")
		}
	}
	if f.Source == SourceNote {
		f.Source = ""
	}
	if d.byID == nil {
		d.byID = map[string]*Block{}
	}
	b := &Block{id: newID(d.byID), typ: TypeTask, hasProps: true, children: []*Block{}, dirty: true, parent: parent}
	b.props = []member{
		{"backgroundColor", []byte(`"default"`)},
		{"textColor", []byte(`"default"`)},
		{"textAlignment", []byte(`"left"`)},
	}
	writeTaskProps(b, &f, true)
	b.content = textItems(f.Title)
	b.text = f.Title
	b.task = &f
	if parent == nil {
		d.blocks = append(d.blocks, b)
	} else {
		parent.children = append(parent.children, b)
		parent.markDirty()
	}
	d.byID[b.id] = b
	d.count++
	d.changed, d.structural = true, true
	return b, nil
}

// Remove deletes the block with the given id together with its children.
// It reports whether there was such a block.
func (d *Document) Remove(id string) bool {
	b := d.byID[id]
	if b == nil {
		return false
	}
	siblings := &d.blocks
	if b.parent != nil {
		siblings = &b.parent.children
	}
	for i, s := range *siblings {
		if s == b {
			*siblings = append((*siblings)[:i:i], (*siblings)[i+1:]...)
			break
		}
	}
	var drop func(x *Block)
	drop = func(x *Block) {
		delete(d.byID, x.id)
		d.count--
		for _, c := range x.children {
			drop(c)
		}
	}
	drop(b)
	if b.parent != nil {
		b.parent.markDirty()
	}
	b.parent = nil
	d.changed, d.structural = true, true
	return true
}

// PlainText is the text of every block in document order, one block a line.
func (d *Document) PlainText() string {
	var s strings.Builder
	d.Walk(func(b *Block, _ int) bool {
		if b.text != "" {
			if s.Len() > 0 {
				s.WriteByte('\n')
			}
			s.WriteString(b.text)
		}
		return true
	})
	return s.String()
}

// LinkedNotes are the ids of the notes the document links to (links whose
// href is note://<uuid>), each once, in document order.
func (d *Document) LinkedNotes() []uuid.UUID {
	out := []uuid.UUID{}
	seen := map[uuid.UUID]bool{}
	d.Walk(func(b *Block, _ int) bool {
		for _, l := range b.links {
			if !seen[l] {
				seen[l] = true
				out = append(out, l)
			}
		}
		return true
	})
	return out
}

// Cut removes the block with the given id together with its children and
// returns it, to be put back with Paste (in this document or another one);
// nil when there is no such block.
func (d *Document) Cut(id string) *Block {
	b := d.byID[id]
	if b == nil || !d.Remove(id) {
		return nil
	}
	return b
}

// Paste adds a block taken with Cut, with its children, as the last child of
// the block parentID or, when parentID is "", at the end of the document.
// Block ids stay as they were (a task keeps its identity across notes); an
// id the document already holds is an error, and so is a parent inside the
// pasted block.
func (d *Document) Paste(parentID string, b *Block) error {
	var parent *Block
	if parentID != "" {
		parent = d.byID[parentID]
		if parent == nil {
			return apperr.New(apperr.NotFound, "parent block not found")
		}
	}
	if d.byID == nil {
		d.byID = map[string]*Block{}
	}
	n := 0
	var clash string
	var walk func(x *Block)
	walk = func(x *Block) {
		n++
		if _, ok := d.byID[x.id]; ok && clash == "" {
			clash = x.id
		}
		for _, c := range x.children {
			walk(c)
		}
	}
	walk(b)
	if clash != "" {
		return apperr.New(apperr.Conflict, "block id %q is already in the document", clash)
	}
	var add func(x *Block)
	add = func(x *Block) {
		d.byID[x.id] = x
		for _, c := range x.children {
			add(c)
		}
	}
	add(b)
	b.parent = parent
	if parent == nil {
		d.blocks = append(d.blocks, b)
	} else {
		parent.children = append(parent.children, b)
		parent.markDirty()
	}
	d.count += n
	d.changed, d.structural = true, true
	return nil
}

// Size is the number of blocks in b, its children included.
func (b *Block) Size() int {
	n := 1
	for _, c := range b.children {
		n += c.Size()
	}
	return n
}
