package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/ai"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/metrics"
	"github.com/consilium-hq/consilium/core/model"
	"github.com/consilium-hq/consilium/sdk"
)

// Searcher finds passages of the user's notes and documents (*ai.Service).
type Searcher interface {
	Search(ctx context.Context, userID uuid.UUID, p *ai.SearchParams) ([]ai.Passage, string, error)
}

// OrchestratorOptions configure an Orchestrator.
type OrchestratorOptions struct {
	// Models are the model providers the agents talk through.
	Models model.Source
	// Tools are every tool an agent may be given (core/chat/tools); an
	// agent is offered those its config names.
	Tools []Tool
	// External are the tools of the user's connected outside apps,
	// offered to agents whose config names them ("external" or
	// "<provider>:*"); nil: none.
	External ExternalTools
	// Search finds the passages of each turn's context and of the offline
	// answers; nil: none.
	Search Searcher
	// Agents resolves delegates (the Service's registry).
	Agents Agents
	// Limits are ai.chat (zero values take the defaults).
	Limits config.Chat
	Logger *slog.Logger
	// Metrics counts the tokens of every model call (nil: none).
	Metrics *metrics.Metrics
	// Now is the clock of the context (default time.Now).
	Now func() time.Time
}

// Orchestrator is the Runner of chat: our own loop over the model's
// streaming chat. It sends the agent the turn's context and tools, runs the
// tools the model calls (through the executor: audit, idempotency,
// approvals), hands work to delegates through delegate_to_<agent> tools,
// and stops when the model answers without calling a tool or a budget is
// spent. An agent on the offline local provider answers from retrieval
// only.
type Orchestrator struct {
	models   model.Source
	tools    map[string]Tool
	external ExternalTools
	search   Searcher
	agents   Agents
	limits   config.Chat
	logger   *slog.Logger
	now      func() time.Time
	metrics  *metrics.Metrics
}

var _ Runner = (*Orchestrator)(nil)

// MaxDelegationDepth bounds delegation: the agent the user talks to is at
// depth 0; its delegates at 1 may delegate once more, to depth 2.
const MaxDelegationDepth = 2

// delegatePrefix names the tool that hands work to an agent.
const delegatePrefix = "delegate_to_"

// NewOrchestrator returns the orchestrator.
func NewOrchestrator(o OrchestratorOptions) *Orchestrator {
	def := config.Default().AI.Chat
	l := o.Limits
	if l.MaxModelCalls <= 0 {
		l.MaxModelCalls = def.MaxModelCalls
	}
	if l.MaxTokens <= 0 {
		l.MaxTokens = def.MaxTokens
	}
	if l.MaxDuration <= 0 {
		l.MaxDuration = def.MaxDuration
	}
	if l.MaxRepeatedCalls <= 0 {
		l.MaxRepeatedCalls = def.MaxRepeatedCalls
	}
	if l.HistoryMessages < 0 {
		l.HistoryMessages = 0
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	tools := map[string]Tool{}
	for _, t := range o.Tools {
		tools[t.Name] = t
	}
	return &Orchestrator{models: o.Models, tools: tools, external: o.External, search: o.Search, agents: o.Agents, limits: l, logger: o.Logger, now: o.Now, metrics: o.Metrics}
}

// turnState is where a turn stands; it is saved with the run when the turn
// stops for an approval, and the resumed turn continues from it.
type turnState struct {
	// Frames are the agents working, the one the user talks to first and
	// the delegate working now last.
	Frames []*frame `json:"frames"`
	// Pos is the position of the next tool call in the turn: with the run
	// it makes the call's idempotency key.
	Pos int `json:"pos"`
	// Counted is the last position counted against the repeat budget.
	Counted int `json:"counted"`
	// Untrusted is set once text from outside is in the turn.
	Untrusted  bool           `json:"untrusted"`
	ModelCalls int            `json:"model_calls"`
	Usage      sdk.Usage      `json:"usage"`
	Repeats    map[string]int `json:"repeats"`
	// MessageID and Text are the answer being written (the text of the
	// agent the user talks to).
	MessageID uuid.UUID    `json:"message_id"`
	Text      string       `json:"text"`
	Model     string       `json:"model"`
	Calls     []callRecord `json:"calls"`
	// Citations are the sources the tools found, numbered after the
	// context's Passages (one numbering, see cite).
	Citations []Citation `json:"citations"`
	// Passages are the context's passages, cited as [1]..[n].
	Passages []Citation `json:"passages"`
	// Budget names the budget spent when the answer was asked for
	// without tools (finalAnswer).
	Budget string `json:"budget,omitempty"`

	// ext are the user's outside tools by the model's name for them,
	// listed when an agent first needs them (externalTools); each attempt
	// lists them again.
	ext       map[string]Tool
	extLoaded bool
}

// frame is one agent at work.
type frame struct {
	Agent    string        `json:"agent"`
	Messages []sdk.Message `json:"messages"`
	// Pending are the tool calls of the agent's last answer not yet
	// answered, in order.
	Pending []sdk.ToolCall `json:"pending"`
	// CallPos is the position of the delegate_to call that started this
	// frame (depth > 0).
	CallPos int `json:"call_pos"`
}

// callRecord is a tool call in the answer's metadata.
type callRecord struct {
	CallID     string     `json:"call_id"`
	Tool       string     `json:"tool"`
	Agent      string     `json:"agent"`
	Status     string     `json:"status"`
	Summary    string     `json:"summary"`
	ApprovalID *uuid.UUID `json:"approval_id,omitempty"`
	// Arguments are the model's; MessageID is the call's tool message.
	Arguments json.RawMessage `json:"arguments,omitempty"`
	MessageID *uuid.UUID      `json:"message_id,omitempty"`
}

// RunTurn answers the turn.
func (o *Orchestrator) RunTurn(ctx context.Context, t *Turn) error {
	if t.Agent.Provider == LocalProvider {
		return o.offline(ctx, t)
	}
	deadline := o.now().Add(o.limits.MaxDuration)
	st := &turnState{Repeats: map[string]int{}, Counted: -1}
	if len(t.State) > 0 {
		if err := json.Unmarshal(t.State, st); err != nil {
			return fmt.Errorf("read the run's state: %w", err)
		}
		if st.Repeats == nil {
			st.Repeats = map[string]int{}
		}
	} else {
		st.MessageID = t.AnswerID()
		system, history, passages, untrusted, err := o.context(ctx, t, t.Agent)
		if err != nil {
			return err
		}
		st.Untrusted = untrusted
		st.Passages = passages
		msgs := append([]sdk.Message{{Role: sdk.RoleSystem, Content: system}}, history...)
		msgs = append(msgs, sdk.Message{Role: sdk.RoleUser, Content: t.Message.Content})
		st.Frames = []*frame{{Agent: t.Agent.Name, Messages: msgs}}
	}
	err := o.loop(ctx, t, st, deadline)
	var re *RunError
	if errors.As(err, &re) && re.budget != "" {
		// A spent budget: the model is asked once more, without tools,
		// for the answer it can give now.
		if ferr := o.finalAnswer(ctx, t, st, deadline, re); ferr == nil {
			st.Budget = re.budget
			err = nil
		} else if ctx.Err() != nil {
			err = ferr
		}
	}
	if err == nil {
		if _, err := o.storeAnswer(ctx, t, st, nil); err != nil {
			return err
		}
		o.title(ctx, t, st)
		return nil
	}
	if errors.Is(err, ErrWaitingApproval) {
		return err
	}
	if ctx.Err() != nil {
		// Cancelled by the user: what was written is kept, marked so. (A
		// worker that stops leaves the turn to the job's next attempt,
		// which writes the answer again.)
		if errors.Is(context.Cause(ctx), ErrCancelled) && st.Text != "" {
			if _, serr := o.storeAnswer(context.WithoutCancel(ctx), t, st, &RunError{Code: RunCancelled,
				Message: "the user cancelled the run"}); serr != nil {
				return serr
			}
		}
		return err
	}
	if st.Text != "" && !errors.Is(err, errNotFound) {
		// The run fails (a provider error, a cut stream, a spent budget):
		// the partial answer is kept, marked incomplete with the cause.
		stop := re
		if stop == nil {
			stop = &RunError{Code: "internal", Message: "the run failed on the server"}
		}
		if _, serr := o.storeAnswer(context.WithoutCancel(ctx), t, st, stop); serr != nil {
			return serr
		}
	}
	return err
}

// finalAnswer asks the agent the user talks to for its answer after a
// budget (re) was spent: the delegates' work stops, every call left
// unanswered is answered "not done", and the model is called once more
// with no tools. It fails (and the run ends budget_exceeded) when no time
// is left, the call fails or the model answers nothing.
func (o *Orchestrator) finalAnswer(ctx context.Context, t *Turn, st *turnState, deadline time.Time, re *RunError) error {
	if re.budget == "time" || !o.now().Before(deadline) {
		return re
	}
	agent, ok := o.agent(t, st.Frames[0].Agent)
	if !ok {
		return re
	}
	st.Frames = st.Frames[:1]
	f := st.Frames[0]
	for _, call := range f.Pending {
		f.Messages = append(f.Messages, toolMessage(call, "Not done: the turn's budget ran out before this call was made."))
	}
	f.Pending = nil
	f.Messages = append(f.Messages, sdk.Message{Role: sdk.RoleUser, Content: "[Consilium] This turn's budget is spent (" + re.budget +
		"): no more tools can be called. Answer the user now with what you have, and say plainly what was not done."})
	before := len(st.Text)
	resp, err := o.callModel(ctx, t, st, agent, f, 0, deadline, true)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return re
	}
	f.Messages = append(f.Messages, sdk.Message{Role: sdk.RoleAssistant, Content: resp.Message.Content})
	if len(st.Text) == before {
		return re
	}
	return nil
}

// loop works the frames until the first agent answers.
func (o *Orchestrator) loop(ctx context.Context, t *Turn, st *turnState, deadline time.Time) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if o.now().After(deadline) {
			return budgetError("time", fmt.Sprintf("the turn ran for its %s", o.limits.MaxDuration))
		}
		depth := len(st.Frames) - 1
		f := st.Frames[depth]
		agent, ok := o.agent(t, f.Agent)
		if !ok {
			return &RunError{Code: "agent_unavailable", Message: fmt.Sprintf("the agent %q is no longer configured", f.Agent)}
		}
		if len(f.Pending) > 0 {
			if err := o.step(ctx, t, st, agent, depth); err != nil {
				return err
			}
			continue
		}
		if st.ModelCalls >= o.limits.MaxModelCalls {
			return budgetError("model_calls", fmt.Sprintf("the turn made its %d model calls", o.limits.MaxModelCalls))
		}
		if tokens := st.Usage.InputTokens + st.Usage.OutputTokens; tokens >= o.limits.MaxTokens {
			return budgetError("tokens", fmt.Sprintf("the turn used %d tokens (at most %d)", tokens, o.limits.MaxTokens))
		}
		resp, err := o.callModel(ctx, t, st, agent, f, depth, deadline, false)
		if err != nil {
			return err
		}
		f.Messages = append(f.Messages, sdk.Message{Role: sdk.RoleAssistant, Content: resp.Message.Content, ToolCalls: resp.Message.ToolCalls})
		if len(resp.Message.ToolCalls) > 0 {
			f.Pending = append([]sdk.ToolCall(nil), resp.Message.ToolCalls...)
			continue
		}
		if depth == 0 {
			return nil
		}
		// The delegate answered: its text is the result of the parent's
		// delegate_to call.
		st.Frames = st.Frames[:depth]
		parent := st.Frames[depth-1]
		call := parent.Pending[0]
		res := &storedResult{Content: resp.Message.Content}
		if res.Content == "" {
			res.Content = "(the agent answered nothing)"
		}
		if err := o.finishDelegation(ctx, t, st, parent, f, call, res); err != nil {
			return err
		}
	}
}

// callModel makes one model call of frame f, streaming the text of the
// first agent as message.delta events; noTools offers it none.
func (o *Orchestrator) callModel(ctx context.Context, t *Turn, st *turnState, agent Agent, f *frame, depth int, deadline time.Time, noTools bool) (*sdk.ChatResponse, error) {
	llm, err := o.llm(agent)
	if err != nil {
		return nil, err
	}
	st.ModelCalls++
	req := &sdk.ChatRequest{Model: agent.Model, Messages: f.Messages, Stream: true}
	if !noTools {
		req.Tools = o.definitions(ctx, t, st, agent, depth)
	}
	callCtx, cancel := context.WithDeadlineCause(ctx, deadline, errTurnTime)
	defer cancel()
	var d *deltas
	var stream sdk.ChatStream
	if depth == 0 {
		d = &deltas{turn: t, id: st.MessageID, now: o.now}
		stream = sdk.ChatStreamFunc(func(ev *sdk.ChatEvent) error {
			if ev.Text == "" {
				return nil
			}
			st.Text += ev.Text
			return d.add(callCtx, ev.Text)
		})
	}
	resp, err := llm.Chat(callCtx, req, stream)
	if d != nil {
		if ferr := d.flush(context.WithoutCancel(ctx)); ferr != nil && err == nil {
			err = ferr
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(context.Cause(callCtx), errTurnTime) {
			return nil, budgetError("time", fmt.Sprintf("the turn ran for its %s", o.limits.MaxDuration))
		}
		return nil, providerError(agent, err)
	}
	if depth == 0 && d != nil && d.sent == 0 && resp.Message.Content != "" {
		// A provider that did not stream: the whole text at once.
		st.Text += resp.Message.Content
		if err := t.Emit(ctx, DeltaEvent(t.Run.ID, st.MessageID, resp.Message.Content)); err != nil {
			return nil, err
		}
	}
	st.Usage.InputTokens += resp.Usage.InputTokens
	st.Usage.OutputTokens += resp.Usage.OutputTokens
	modelName := resp.Model
	if modelName == "" {
		modelName = agent.Model
	}
	o.metrics.ChatTokens(agent.Provider, modelName, resp.Usage.InputTokens, resp.Usage.OutputTokens)
	if resp.Model != "" && depth == 0 {
		st.Model = resp.Model
	}
	return resp, nil
}

var errTurnTime = errors.New("the turn's time is up")

func (o *Orchestrator) llm(agent Agent) (model.LLM, error) {
	if o.models == nil {
		return nil, &RunError{Code: "model_unavailable", Message: "model providers are not running in this process"}
	}
	llm, err := o.models.Model(agent.Provider)
	if err != nil {
		return nil, &RunError{Code: "model_unavailable", Err: err,
			Message: fmt.Sprintf("the model provider %q of the agent %s is not configured", agent.Provider, agent.Name)}
	}
	return llm, nil
}

// providerError is the run's error for a failed model call.
func providerError(agent Agent, err error) error {
	code := sdk.CodeOf(err)
	msg := err.Error()
	var se *sdk.Error
	if errors.As(err, &se) && se.Message != "" {
		msg = se.Message
	}
	return &RunError{Code: "model_" + string(code), Err: err,
		Message: fmt.Sprintf("the model provider %s failed (%s): %s; what was written is kept, send the message again to retry",
			agent.Provider, code, truncate(msg, 300))}
}

func budgetError(which, msg string) error {
	return &RunError{Status: RunBudgetExceeded, Code: "budget_exceeded", budget: which,
		Message: msg + " (ai.chat budget " + which + "); what was written is kept"}
}

// agent returns the named agent (the turn's own is always known).
func (o *Orchestrator) agent(t *Turn, name string) (Agent, bool) {
	if name == t.Agent.Name {
		return t.Agent, true
	}
	if o.agents == nil {
		return Agent{}, false
	}
	return o.agents.Agent(name)
}

// definitions are the tools offered to agent at depth: its own, the
// outside tools its config names (by name, at most maxExternalTools), and
// a delegate_to tool per delegate.
func (o *Orchestrator) definitions(ctx context.Context, t *Turn, st *turnState, agent Agent, depth int) []sdk.ToolDefinition {
	var out []sdk.ToolDefinition
	for _, name := range agent.Tools {
		if tool, ok := o.tools[name]; ok {
			out = append(out, sdk.ToolDefinition{Name: tool.Name, Description: tool.Description, Parameters: tool.Parameters})
		}
	}
	if wantsExternal(agent) {
		ext := o.externalTools(ctx, t, st)
		names := make([]string, 0, len(ext))
		for name, tool := range ext {
			if externalAllowed(agent, tool.Provider) {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		if len(names) > maxExternalTools {
			o.logger.WarnContext(ctx, "chat: outside tools beyond the limit left out", "agent", agent.Name, "offered", maxExternalTools, "left_out", len(names)-maxExternalTools)
			names = names[:maxExternalTools]
		}
		for _, name := range names {
			tool := ext[name]
			out = append(out, sdk.ToolDefinition{Name: tool.Name, Description: tool.Description, Parameters: tool.Parameters})
		}
	}
	if depth < MaxDelegationDepth && o.agents != nil {
		for _, name := range agent.Delegates {
			d, ok := o.agents.Agent(name)
			if !ok {
				continue
			}
			out = append(out, sdk.ToolDefinition{Name: delegatePrefix + d.Name,
				Description: "Hand a piece of work to the agent " + d.Name + ": " + d.Description +
					" It sees only your brief and its own tools, and answers with the output you ask for.",
				Parameters: delegateSchema})
		}
	}
	return out
}

var delegateSchema = json.RawMessage(`{"type":"object","properties":{` +
	`"brief":{"type":"string","description":"Everything the agent needs to know to do the work: it sees nothing else."},` +
	`"expected_output":{"type":"string","description":"What it should answer with."}},` +
	`"required":["brief","expected_output"],"additionalProperties":false}`)

// storeAnswer stores the answer of the turn with its metadata; stop, when
// set, is why it stopped before it was complete (its code the
// stop_reason).
func (o *Orchestrator) storeAnswer(ctx context.Context, t *Turn, st *turnState, stop *RunError) (*Message, error) {
	meta := map[string]any{
		"provider":   t.Agent.Provider,
		"model":      st.Model,
		"usage":      map[string]int{"input_tokens": st.Usage.InputTokens, "output_tokens": st.Usage.OutputTokens},
		"tool_calls": nonNilSlice(st.Calls),
		"citations":  o.citations(st),
	}
	if stop != nil {
		meta["incomplete"] = true
		meta["stop_reason"] = stop.Code
		meta["error"] = stop.Message
	}
	if st.Budget != "" {
		// Answered after a budget was spent, without tools.
		meta["budget_exceeded"] = st.Budget
	}
	raw, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	return t.AddMessage(ctx, &NewMessage{ID: st.MessageID, Role: RoleAssistant, Content: st.Text, AgentID: t.Agent.Name, Metadata: raw, once: true})
}

// citations are the sources the answer cites as [n]: passages of the
// context and passages the tools found, which share one numbering.
func (o *Orchestrator) citations(st *turnState) []Citation {
	out := []Citation{}
	for _, n := range ai.Citations(st.Text, st.lastIndex()) {
		if c := st.source(n); c != nil {
			out = append(out, *c)
		}
	}
	return out
}

// cite numbers a source of the turn (the executor gives it to the tools):
// the context's passages are 1..len(Passages), the tools' sources follow,
// and a source numbered before keeps its number.
func (st *turnState) cite(c Citation) int {
	for _, list := range [][]Citation{st.Passages, st.Citations} {
		for _, have := range list {
			if sameSource(have, c) {
				return have.Index
			}
		}
	}
	c.Index = st.lastIndex() + 1
	st.Citations = append(st.Citations, c)
	return c.Index
}

// addCitations adds the sources of a result replayed from the audit log,
// numbered by the attempt that ran the call: those whose number the turn
// has already are known.
func (st *turnState) addCitations(cs []Citation) {
	for _, c := range cs {
		if st.source(c.Index) != nil {
			continue
		}
		if c.Index <= 0 {
			st.cite(c)
			continue
		}
		st.Citations = append(st.Citations, c)
	}
}

// source is the source numbered n, nil when none is.
func (st *turnState) source(n int) *Citation {
	for _, list := range [][]Citation{st.Passages, st.Citations} {
		for i := range list {
			if list[i].Index == n {
				return &list[i]
			}
		}
	}
	return nil
}

// lastIndex is the highest number of the turn's sources.
func (st *turnState) lastIndex() int {
	n := 0
	for _, list := range [][]Citation{st.Passages, st.Citations} {
		for _, c := range list {
			n = max(n, c.Index)
		}
	}
	return n
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// deltas batches streamed text into message.delta events: one event per
// deltaChars characters or deltaEvery, whichever comes first, never one
// per token.
type deltas struct {
	turn *Turn
	id   uuid.UUID
	now  func() time.Time
	mu   sync.Mutex
	buf  strings.Builder
	last time.Time
	sent int
}

const (
	deltaChars = 200
	deltaEvery = 50 * time.Millisecond
)

func (d *deltas) add(ctx context.Context, text string) error {
	d.mu.Lock()
	d.buf.WriteString(text)
	if d.last.IsZero() {
		d.last = d.now()
	}
	due := d.buf.Len() >= deltaChars || d.now().Sub(d.last) >= deltaEvery
	d.mu.Unlock()
	if !due {
		return nil
	}
	return d.flush(ctx)
}

func (d *deltas) flush(ctx context.Context) error {
	d.mu.Lock()
	text := d.buf.String()
	d.buf.Reset()
	d.last = d.now()
	if text != "" {
		d.sent++
	}
	d.mu.Unlock()
	if text == "" {
		return nil
	}
	return d.turn.Emit(ctx, DeltaEvent(d.turn.Run.ID, d.id, text))
}
