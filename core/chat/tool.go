package chat

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/google/uuid"
)

// Effect says what a tool does to the user's data; the orchestrator decides
// from it whether a call runs at once or waits for the user's approval.
type Effect string

const (
	// EffectRead reads the user's data and changes nothing.
	EffectRead Effect = "read"
	// EffectWrite is a reversible write to the user's own data (undoable
	// through note versions); it runs at once unless the turn holds
	// untrusted text or the call is bulk.
	EffectWrite Effect = "write"
	// EffectDestructive removes or overwrites what cannot be restored from
	// a note version; it always waits for approval.
	EffectDestructive Effect = "destructive"
	// EffectExternal acts outside Consilium (an outside app); it waits for
	// approval unless an admin marked the tool read-only.
	EffectExternal Effect = "external"
)

// Tool is one action an agent may take on the user's data. Tools are plain
// values so that core packages, integrations and tests can all provide
// them; the orchestrator offers an agent the tools its config allows.
type Tool struct {
	// Name is what the model calls (sdk.ValidName).
	Name        string
	Description string
	// Parameters is the JSON Schema of the arguments object.
	Parameters json.RawMessage
	Effect     Effect
	// Provider is the outside app (integration plugin) that runs an
	// external tool; "" for Consilium's own.
	Provider string
	// ReadOnly marks an external tool an admin vouches changes nothing
	// outside: it runs without the user's approval.
	ReadOnly bool
	// Bulk, when set, reports whether a call with these arguments touches
	// many items at once; such a call waits for approval even when its
	// effect is a write.
	Bulk func(args json.RawMessage) bool
	// Run does it for call.UserID, never for an id taken from the
	// arguments. It validates args itself: bad arguments answer an
	// *apperr.Error with field errors, which the model sees and can
	// correct. A write uses call.IdempotencyKey (or runs inside the
	// orchestrator's transaction, found in ctx) so that a retried run never
	// applies it twice.
	Run func(ctx context.Context, call *ToolCall, args json.RawMessage) (*ToolResult, error)
}

// ToolCall is a call as the server knows it: whose data, in which run. Every
// field is filled in by the server.
type ToolCall struct {
	UserID         uuid.UUID
	ConversationID uuid.UUID
	RunID          uuid.UUID
	Agent          string
	// CallID is the model's id for the call.
	CallID string
	// IdempotencyKey is the same for every attempt of this call of this
	// run.
	IdempotencyKey string
	// book numbers the turn's sources (nil: the call's own, from 1).
	book citer
}

// citer numbers the sources of a turn.
type citer interface {
	cite(c Citation) int
}

// Cite numbers a passage the tool answers with: the number the model
// cites it by ([n]). The numbers are the turn's, shared by the passages of
// its context and every tool's results, so that no two sources of a turn
// have the same number; a passage already numbered in the turn keeps its
// number. A tool puts the number in its Content and in the Citation's
// Index of its result.
func (c *ToolCall) Cite(p Citation) int {
	if c.book == nil {
		c.book = &citationList{}
	}
	return c.book.cite(p)
}

// citationList is a list of numbered sources, numbered 1, 2, ... in order.
type citationList struct {
	list []Citation
}

func (l *citationList) cite(c Citation) int {
	for _, have := range l.list {
		if sameSource(have, c) {
			return have.Index
		}
	}
	c.Index = len(l.list) + 1
	l.list = append(l.list, c)
	return c.Index
}

// sameSource reports whether two citations point at the same passage.
func sameSource(a, b Citation) bool {
	return a.Type == b.Type && a.ID == b.ID && a.Section == b.Section && slices.Equal(a.BlockIDs, b.BlockIDs)
}

// ToolResult is what a tool answers.
type ToolResult struct {
	// Content goes back to the model (JSON or plain text).
	Content string
	// Summary is one line for the audit log and tool_call.finished.
	Summary string
	// Citations are the passages a search found, for the answer's
	// metadata.
	Citations []Citation
	// Untrusted is true when Content holds text that came from outside
	// the user's own writing (documents, mail, outside apps): once such
	// text is in a turn, every write waits for approval.
	Untrusted bool
}

// Citation points at a passage of a note or document.
type Citation struct {
	// Index is the number the model cites it by ([1], [2], ...).
	Index    int       `json:"index"`
	Type     string    `json:"type"` // note | document
	ID       uuid.UUID `json:"id"`
	Title    string    `json:"title"`
	Section  string    `json:"section,omitempty"`
	BlockIDs []string  `json:"block_ids,omitempty"`
}
