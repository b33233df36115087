package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/sdk"
)

// idempotencyKey is the key of the call at pos of the run's turn: the same
// on every attempt that reaches it.
func idempotencyKey(runID uuid.UUID, pos int) string {
	return fmt.Sprintf("%s:%d", runID, pos)
}

// step answers the first pending call of the frame at depth: a tool call
// runs through the executor, a delegate_to call starts the delegate's
// frame.
func (o *Orchestrator) step(ctx context.Context, t *Turn, st *turnState, agent Agent, depth int) error {
	f := st.Frames[depth]
	call := f.Pending[0]
	pos := st.Pos
	key := idempotencyKey(t.Run.ID, pos)
	tc := &ToolCall{UserID: t.Run.UserID, ConversationID: t.Run.ConversationID, RunID: t.Run.ID, Agent: agent.Name,
		CallID: call.ID, IdempotencyKey: key, book: st}

	if pos > st.Counted {
		st.Counted = pos
		rk := call.Name + " " + canonicalJSON(call.Arguments)
		st.Repeats[rk]++
		if st.Repeats[rk] > o.limits.MaxRepeatedCalls {
			return budgetError("repeated_calls", fmt.Sprintf("the agent called %s with the same arguments more than %d times",
				call.Name, o.limits.MaxRepeatedCalls))
		}
	}

	if name, ok := strings.CutPrefix(call.Name, delegatePrefix); ok && o.mayDelegate(agent, name, depth) {
		return o.delegate(ctx, t, st, agent, depth, call, tc, name)
	}

	res, err := o.execute(ctx, t, st, agent, call, tc)
	if err != nil {
		return err
	}
	if err := o.storeToolMessage(ctx, t, pos, call, res, &st.Calls[len(st.Calls)-1]); err != nil {
		return err
	}
	st.Pos++
	f.Messages = append(f.Messages, toolMessage(call, res.Content))
	f.Pending = f.Pending[1:]
	if res.Untrusted {
		st.Untrusted = true
	}
	// A result this attempt ran was numbered through st already; a
	// replayed one brings the numbers of the attempt that ran it.
	st.addCitations(res.Citations)
	return nil
}

// toolMessageID is the id of the tool message of the call at pos of the
// run: the same on every attempt.
func toolMessageID(runID uuid.UUID, pos int) uuid.UUID {
	return uuid.NewSHA1(runID, []byte("tool:"+strconv.Itoa(pos)))
}

// storeToolMessage stores what the call answered (the model's view of it)
// as a tool message of the conversation, once: a retried turn that replays
// the call finds it stored. rec, the call's entry in the answer's
// metadata, gets the message's id and the call's arguments.
func (o *Orchestrator) storeToolMessage(ctx context.Context, t *Turn, pos int, call sdk.ToolCall, res *storedResult, rec *callRecord) error {
	id := toolMessageID(t.Run.ID, pos)
	rec.MessageID = &id
	rec.Arguments = jsonOrString(call.Arguments)
	meta := map[string]any{"call_id": call.ID, "tool": call.Name, "status": rec.Status, "summary": rec.Summary,
		"arguments": rec.Arguments}
	if rec.ApprovalID != nil {
		meta["approval_id"] = rec.ApprovalID
	}
	if len(res.Citations) > 0 {
		meta["citations"] = res.Citations
	}
	raw, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	return t.svc.db.InTx(ctx, func(tx db.Tx) error {
		_, err := t.svc.insertMessage(ctx, tx, t.Run, &NewMessage{ID: id, Role: RoleTool, Content: res.Content, AgentID: rec.Agent,
			Metadata: raw, once: true})
		return err
	})
}

func toolMessage(call sdk.ToolCall, content string) sdk.Message {
	return sdk.Message{Role: sdk.RoleTool, ToolCallID: call.ID, Name: call.Name, Content: content}
}

func (o *Orchestrator) mayDelegate(agent Agent, name string, depth int) bool {
	if depth >= MaxDelegationDepth || o.agents == nil {
		return false
	}
	for _, d := range agent.Delegates {
		if d == name {
			_, ok := o.agents.Agent(name)
			return ok
		}
	}
	return false
}

// delegate starts the delegate's frame: it sees only the brief.
func (o *Orchestrator) delegate(ctx context.Context, t *Turn, st *turnState, agent Agent, depth int, call sdk.ToolCall, tc *ToolCall, name string) error {
	f := st.Frames[depth]
	// A retried turn that reaches a delegation it finished replays its
	// answer.
	if e, err := auditByKey(ctx, t.svc.db.Pool, t.Run.UserID, tc.IdempotencyKey); err != nil {
		return err
	} else if e != nil {
		st.Calls = append(st.Calls, callRecord{CallID: call.ID, Tool: call.Name, Agent: agent.Name, Status: e.Status, Summary: e.Summary})
		if err := o.storeToolMessage(ctx, t, st.Pos, call, &e.Result, &st.Calls[len(st.Calls)-1]); err != nil {
			return err
		}
		st.Pos++
		f.Messages = append(f.Messages, toolMessage(call, e.Result.Content))
		f.Pending = f.Pending[1:]
		return nil
	}
	var args struct {
		Brief          string `json:"brief"`
		ExpectedOutput string `json:"expected_output"`
	}
	if err := json.Unmarshal(call.Arguments, &args); err != nil || strings.TrimSpace(args.Brief) == "" {
		// The model sees why and may try again; nothing is recorded as
		// delegated.
		res := &storedResult{Content: "error: delegate_to_" + name + " needs a JSON object with a non-empty brief and expected_output"}
		if err := o.record(ctx, t, st, agent, call, tc, EffectRead, CallRejected, "bad arguments", res, nil); err != nil {
			return err
		}
		if err := o.storeToolMessage(ctx, t, st.Pos, call, res, &st.Calls[len(st.Calls)-1]); err != nil {
			return err
		}
		st.Pos++
		f.Messages = append(f.Messages, toolMessage(call, res.Content))
		f.Pending = f.Pending[1:]
		return nil
	}
	d, _ := o.agents.Agent(name)
	system := d.SystemPrompt + "\n\n" + o.dateLine(ctx, t) + "\n\n" + untrustedRule +
		"\n\nYou were handed this work by the agent " + agent.Name + "; your final answer goes back to it, not to the user."
	brief := "Brief: " + args.Brief
	if args.ExpectedOutput != "" {
		brief += "\n\nExpected output: " + args.ExpectedOutput
	}
	st.Frames = append(st.Frames, &frame{Agent: d.Name, CallPos: st.Pos,
		Messages: []sdk.Message{{Role: sdk.RoleSystem, Content: system}, {Role: sdk.RoleUser, Content: brief}}})
	st.Pos++
	return t.Emit(ctx, NewEvent(&t.Run.ID, EventAgentDelegated, struct {
		CallID         string `json:"call_id"`
		From           string `json:"from"`
		To             string `json:"to"`
		Brief          string `json:"brief"`
		ExpectedOutput string `json:"expected_output"`
		Depth          int    `json:"depth"`
	}{call.ID, agent.Name, d.Name, args.Brief, args.ExpectedOutput, depth + 1}))
}

// finishDelegation gives the delegate's answer to its parent as the result
// of the delegate_to call, and records the delegation.
func (o *Orchestrator) finishDelegation(ctx context.Context, t *Turn, st *turnState, parent, child *frame, call sdk.ToolCall, res *storedResult) error {
	pa, _ := o.agent(t, parent.Agent)
	tc := &ToolCall{UserID: t.Run.UserID, ConversationID: t.Run.ConversationID, RunID: t.Run.ID, Agent: pa.Name,
		CallID: call.ID, IdempotencyKey: idempotencyKey(t.Run.ID, child.CallPos)}
	// Recorded like a tool call; its events are agent.delegated and
	// agent.returned.
	summary := child.Agent + " answered: " + truncate(res.Content, 200)
	if _, err := insertAudit(ctx, t.svc.db.Pool, o.entry(t, pa, call, tc, EffectRead, CallCompleted, summary, res, nil, time.Now()), true); err != nil {
		return err
	}
	st.Calls = append(st.Calls, callRecord{CallID: call.ID, Tool: call.Name, Agent: pa.Name, Status: CallCompleted, Summary: summary})
	if err := t.Emit(ctx, NewEvent(&t.Run.ID, EventAgentReturned, struct {
		CallID  string `json:"call_id"`
		From    string `json:"from"`
		To      string `json:"to"`
		Summary string `json:"summary"`
	}{call.ID, child.Agent, pa.Name, truncate(res.Content, 200)})); err != nil {
		return err
	}
	if err := o.storeToolMessage(ctx, t, child.CallPos, call, res, &st.Calls[len(st.Calls)-1]); err != nil {
		return err
	}
	parent.Messages = append(parent.Messages, toolMessage(call, res.Content))
	parent.Pending = parent.Pending[1:]
	return nil
}

// execute runs one tool call: replayed from the audit log when an earlier
// attempt finished it; refused when the agent has no such tool; held for
// approval when its effect, its size or untrusted text in the turn say so;
// else run, a write in one transaction with its audit row.
func (o *Orchestrator) execute(ctx context.Context, t *Turn, st *turnState, agent Agent, call sdk.ToolCall, tc *ToolCall) (*storedResult, error) {
	pool := t.svc.db.Pool
	if e, err := auditByKey(ctx, pool, t.Run.UserID, tc.IdempotencyKey); err != nil {
		return nil, err
	} else if e != nil {
		st.Calls = append(st.Calls, callRecord{CallID: call.ID, Tool: call.Name, Agent: agent.Name, Status: e.Status, Summary: e.Summary, ApprovalID: e.ApprovalID})
		return &e.Result, nil
	}
	tool, ok := o.tools[call.Name]
	allowed := ok && contains(agent.Tools, call.Name)
	if !ok && wantsExternal(agent) {
		tool, ok = o.externalTools(ctx, t, st)[call.Name]
		allowed = ok && externalAllowed(agent, tool.Provider)
	}
	if !allowed {
		res := &storedResult{Content: fmt.Sprintf("error: there is no tool %q for you; your tools are those you were given", call.Name)}
		return res, o.record(ctx, t, st, agent, call, tc, EffectRead, CallRejected, "no such tool for "+agent.Name, res, nil)
	}
	// A call that waited for approval had its tool_call.started before
	// the approval.required: the resumed turn does not send it again.
	reason := approvalReason(tool, call.Arguments, st.Untrusted)
	var approval *Approval
	if reason != "" {
		a, err := approvalByKey(ctx, pool, t.Run.UserID, tc.IdempotencyKey)
		if err != nil {
			return nil, err
		}
		approval = a
	}
	if approval == nil {
		if err := t.Emit(ctx, NewEvent(&t.Run.ID, EventToolCallStarted, struct {
			CallID    string          `json:"call_id"`
			Tool      string          `json:"tool"`
			Agent     string          `json:"agent"`
			Arguments json.RawMessage `json:"arguments"`
			Effect    Effect          `json:"effect"`
		}{call.ID, tool.Name, agent.Name, jsonOrString(call.Arguments), tool.Effect})); err != nil {
			return nil, err
		}
	}

	var approvalID *uuid.UUID
	if reason != "" {
		if approval == nil || approval.Status == ApprovalPending {
			state, err := json.Marshal(st)
			if err != nil {
				return nil, err
			}
			if _, err := t.waitForApproval(ctx, &approvalRequest{Key: tc.IdempotencyKey, Agent: agent.Name, Tool: tool.Name,
				CallID: call.ID, Arguments: jsonOrString(call.Arguments), Effect: tool.Effect, Reason: reason, Provider: tool.Provider,
				State: state}); err != nil {
				return nil, err
			}
			return nil, ErrWaitingApproval
		}
		approvalID = &approval.ID
		if approval.Status == ApprovalDenied {
			res := &storedResult{Content: "The user denied this action (" + tool.Name + "); it was not done. Do not try it again in this turn; " +
				"tell the user what you would have done instead."}
			return res, o.record(ctx, t, st, agent, call, tc, tool.Effect, CallDenied, "denied by the user", res, approvalID)
		}
	}

	created := time.Now()
	var out *ToolResult
	var toolErr error
	if tool.Effect == EffectWrite || tool.Effect == EffectDestructive {
		// The write and its audit row commit together, or neither does.
		err := t.svc.db.InTx(ctx, func(tx db.Tx) error {
			out, toolErr = tool.Run(db.WithTx(ctx, tx), tc, call.Arguments)
			if toolErr != nil {
				return toolErr
			}
			if _, err := insertAudit(ctx, tx, o.entry(t, agent, call, tc, tool.Effect, CallCompleted, out.Summary, toStored(out), approvalID, created), false); err != nil {
				return err
			}
			// Its tool_call.finished too: a worker killed after the commit
			// leaves no call that ran without its event (the retry replays
			// the result from the audit row and sends nothing).
			_, err := AppendEvents(ctx, tx, t.Run.UserID, t.Run.ConversationID, o.finishedEvent(t, call, agent, CallCompleted, out.Summary))
			return err
		})
		if err != nil && toolErr == nil {
			if db.IsUniqueViolation(err, "") {
				// Another attempt recorded this call meanwhile: its result stands.
				e, rerr := auditByKey(ctx, pool, t.Run.UserID, tc.IdempotencyKey)
				if rerr == nil && e != nil {
					st.Calls = append(st.Calls, callRecord{CallID: call.ID, Tool: call.Name, Agent: agent.Name, Status: e.Status, Summary: e.Summary, ApprovalID: e.ApprovalID})
					return &e.Result, nil
				}
			}
			return nil, err
		}
		if toolErr == nil {
			res := toStored(out)
			st.Calls = append(st.Calls, callRecord{CallID: call.ID, Tool: call.Name, Agent: agent.Name, Status: CallCompleted, Summary: out.Summary, ApprovalID: approvalID})
			return res, nil
		}
	} else if tool.Effect == EffectExternal {
		// At most once: a row says the call started before it is made (the
		// audit log is append-only: its outcome is a row of its own), so a
		// retried turn never makes it again (see unknownOutcome).
		started := o.entry(t, agent, call, &ToolCall{IdempotencyKey: tc.IdempotencyKey + startedSuffix}, tool.Effect, CallStarted,
			"", &storedResult{}, approvalID, created)
		if inserted, err := insertAudit(ctx, pool, started, true); err != nil {
			return nil, err
		} else if !inserted {
			return o.unknownOutcome(ctx, t, st, agent, call, tc, tool.Effect, approvalID)
		}
		out, toolErr = tool.Run(ctx, tc, call.Arguments)
		if toolErr == nil {
			res := toStored(out)
			return res, o.record(ctx, t, st, agent, call, tc, tool.Effect, CallCompleted, out.Summary, res, approvalID)
		}
	} else {
		out, toolErr = tool.Run(ctx, tc, call.Arguments)
		if toolErr == nil {
			res := toStored(out)
			return res, o.record(ctx, t, st, agent, call, tc, tool.Effect, CallCompleted, out.Summary, res, approvalID)
		}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	var ae *apperr.Error
	content := "error: the tool failed on the server; nothing was changed"
	if errors.As(toolErr, &ae) && ae.Code != apperr.Internal {
		content = "error: " + ae.Message
		for _, f := range ae.Fields {
			content += fmt.Sprintf("; %s: %s", f.Location, f.Message)
		}
	} else {
		o.logger.WarnContext(ctx, "chat tool failed", "tool", tool.Name, "run_id", t.Run.ID, "error", toolErr)
	}
	// An outside app's error may carry its text: untrusted, as its
	// output would be.
	res := &storedResult{Content: content, Untrusted: tool.Effect == EffectExternal}
	return res, o.record(ctx, t, st, agent, call, tc, tool.Effect, CallFailed, truncate(content, 300), res, approvalID)
}

// startedSuffix marks the idempotency key of an outside call's started row.
const startedSuffix = "#started"

// unknownOutcome answers an outside call that an earlier attempt started
// and never finished (its worker stopped mid-call): it is not made again,
// since the app may have done it; the model is told to have the user check.
func (o *Orchestrator) unknownOutcome(ctx context.Context, t *Turn, st *turnState, agent Agent, call sdk.ToolCall, tc *ToolCall, effect Effect, approvalID *uuid.UUID) (*storedResult, error) {
	content := fmt.Sprintf("error: the outcome of %s is unknown: the server stopped while the outside app was running it, "+
		"so it may or may not have happened, and it was not run again. Tell the user, and ask them to check in that app "+
		"before asking for it again.", call.Name)
	res := &storedResult{Content: content}
	return res, o.record(ctx, t, st, agent, call, tc, effect, CallFailed, "outcome unknown: interrupted mid-call", res, approvalID)
}

// record writes the audit row of a call that wrote nothing and its
// tool_call.finished event, in one transaction; when an earlier attempt
// wrote the row, that row stands and sent the event.
func (o *Orchestrator) record(ctx context.Context, t *Turn, st *turnState, agent Agent, call sdk.ToolCall, tc *ToolCall, effect Effect, status, summary string, res *storedResult, approvalID *uuid.UUID) error {
	err := t.svc.db.InTx(ctx, func(tx db.Tx) error {
		inserted, err := insertAudit(ctx, tx, o.entry(t, agent, call, tc, effect, status, summary, res, approvalID, time.Now()), true)
		if err != nil || !inserted {
			return err
		}
		_, err = AppendEvents(ctx, tx, t.Run.UserID, t.Run.ConversationID, o.finishedEvent(t, call, agent, status, summary))
		return err
	})
	if err != nil {
		return err
	}
	st.Calls = append(st.Calls, callRecord{CallID: call.ID, Tool: call.Name, Agent: agent.Name, Status: status, Summary: summary, ApprovalID: approvalID})
	return nil
}

func (o *Orchestrator) finishedEvent(t *Turn, call sdk.ToolCall, agent Agent, status, summary string) Event {
	return NewEvent(&t.Run.ID, EventToolCallFinished, struct {
		CallID  string `json:"call_id"`
		Tool    string `json:"tool"`
		Agent   string `json:"agent"`
		Status  string `json:"status"`
		Summary string `json:"summary"`
	}{call.ID, call.Name, agent.Name, status, summary})
}

func (o *Orchestrator) entry(t *Turn, agent Agent, call sdk.ToolCall, tc *ToolCall, effect Effect, status, summary string, res *storedResult, approvalID *uuid.UUID, created time.Time) *AuditEntry {
	return &AuditEntry{UserID: t.Run.UserID, ConversationID: t.Run.ConversationID, RunID: t.Run.ID, Agent: agent.Name,
		Tool: call.Name, CallID: call.ID, IdempotencyKey: tc.IdempotencyKey, Arguments: jsonOrString(call.Arguments),
		Effect: effect, Status: status, Summary: summary, Result: *res, ApprovalID: approvalID, CreatedAt: created}
}

func toStored(r *ToolResult) *storedResult {
	if r == nil {
		return &storedResult{Content: "(no result)"}
	}
	return &storedResult{Content: r.Content, Citations: r.Citations, Untrusted: r.Untrusted}
}

// approvalReason says why a call must wait for the user's approval, or
// "" when it runs at once: destructive calls and external ones (but for
// those an admin marked read-only) always wait, a bulk call and any write
// once untrusted text is in the turn too.
func approvalReason(tool Tool, args json.RawMessage, untrusted bool) string {
	switch tool.Effect {
	case EffectDestructive:
		return ReasonDestructive
	case EffectExternal:
		if tool.ReadOnly {
			return ""
		}
		return ReasonExternal
	case EffectRead:
		return ""
	}
	if tool.Bulk != nil && tool.Bulk(args) {
		return ReasonBulk
	}
	if untrusted {
		return ReasonUntrusted
	}
	return ""
}

// canonicalJSON compacts args so that equal calls compare equal.
func canonicalJSON(args json.RawMessage) string {
	var v any
	if err := json.Unmarshal(args, &v); err != nil {
		return string(args)
	}
	b, _ := json.Marshal(v) // map keys sorted
	return string(b)
}

// jsonOrString is args when they are JSON, else args as a JSON string.
func jsonOrString(args json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(args)) > 0 && json.Valid(args) {
		return args
	}
	b, _ := json.Marshal(string(args))
	return b
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
