package chat

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/consilium-hq/consilium/core/ai"
	"github.com/consilium-hq/consilium/sdk"
)

// offlinePassages is how many passages an offline answer is written from.
const offlinePassages = 5

// offline answers without a language model: it searches the user's notes
// and documents for the message and has the local plugin quote the best
// passages (it says plainly that no language model is configured), citing
// them. Nothing is pretended: no tool runs, no agent is asked.
func (o *Orchestrator) offline(ctx context.Context, t *Turn) error {
	var passages []ai.Passage
	if o.search != nil {
		ps, _, err := o.search.Search(ctx, t.Run.UserID, &ai.SearchParams{Query: truncate(t.Message.Content, ai.MaxQueryLength), K: offlinePassages})
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			o.logger.WarnContext(ctx, "offline chat: search failed", "run_id", t.Run.ID, "error", err)
		}
		passages = ps
	}
	var ctxText strings.Builder
	for i, p := range passages {
		ctxText.WriteString(ai.FormatPassage(i+1, p) + "\n")
	}
	id := t.AnswerID()
	text, modelName := "", ""
	if o.models != nil {
		if llm, err := o.models.Model(LocalProvider); err == nil {
			d := &deltas{turn: t, id: id, now: o.now}
			resp, err := llm.Chat(ctx, &sdk.ChatRequest{Stream: true, Messages: []sdk.Message{
				{Role: sdk.RoleSystem, Content: "Answer from these passages of the user's notes and documents.\n\n" + ctxText.String()},
				{Role: sdk.RoleUser, Content: t.Message.Content},
			}}, sdk.ChatStreamFunc(func(ev *sdk.ChatEvent) error {
				if ev.Text == "" {
					return nil
				}
				text += ev.Text
				return d.add(ctx, ev.Text)
			}))
			if ferr := d.flush(context.WithoutCancel(ctx)); ferr != nil {
				return ferr
			}
			switch {
			case err == nil && d.sent == 0:
				text = resp.Message.Content
			case err != nil && ctx.Err() != nil:
				return ctx.Err()
			case err != nil:
				o.logger.WarnContext(ctx, "offline chat: the local plugin failed; quoting the passages here", "error", err)
				if text != "" {
					return &RunError{Code: "model_" + string(sdk.CodeOf(err)), Err: err, Message: "the offline answer was cut off; send the message again"}
				}
			}
			if resp != nil {
				modelName = resp.Model
			}
		}
	}
	if text == "" {
		text = offlineText(passages)
		if err := t.Emit(ctx, DeltaEvent(t.Run.ID, id, text)); err != nil {
			return err
		}
	}
	cites := []Citation{}
	for i, p := range passages {
		ref := p.SourceType + ":" + p.SourceID.String()
		if strings.Contains(text, ref) || strings.Contains(text, p.Title) {
			cites = append(cites, passageCitation(i+1, p))
		}
	}
	meta, err := json.Marshal(map[string]any{"provider": LocalProvider, "model": modelName, "no_language_model": true,
		"retrieval_only": true, "citations": cites, "tool_calls": []callRecord{}})
	if err != nil {
		return err
	}
	_, err = t.AddMessage(ctx, &NewMessage{ID: id, Role: RoleAssistant, Content: text, AgentID: t.Agent.Name, Metadata: meta, once: true})
	return err
}

// offlineText is the retrieval-only answer when the local plugin is not
// running either: the passages, quoted.
func offlineText(passages []ai.Passage) string {
	var b strings.Builder
	b.WriteString("No language model is configured, so I can only quote what you wrote, not answer in my own words.\n\n")
	if len(passages) == 0 {
		b.WriteString("Nothing in your notes or documents matches your message.\n\n")
	}
	for _, p := range passages {
		for _, line := range strings.Split(truncate(p.Text, 600), "\n") {
			b.WriteString("> " + line + "\n")
		}
		b.WriteString("\n— " + p.Title + " (" + p.SourceType + ":" + p.SourceID.String() + ")\n\n")
	}
	b.WriteString("To get written answers, an administrator can configure a model provider (ai.chat_provider).")
	return b.String()
}
