package chat

import (
	"context"
	"encoding/json"
)

// LocalProvider is the name of the offline model plugin, which cannot
// write answers.
const LocalProvider = "local"

// NoModelText is what an agent without a language model answers.
const NoModelText = "No language model is configured on this server, so no agent can write an answer yet. " +
	"Your message is saved. An administrator can configure a model provider (ai.chat_provider, " +
	"see the README's AI section); until then, POST /api/ai/rag/query finds passages of your notes and documents."

// NoModelRunner is a minimal Runner (tests of the run machinery). It
// pretends nothing: an agent on the offline local provider answers that no
// language model is configured, and an agent on a real model provider ends
// its run with an error saying that agent turns are not available yet.
type NoModelRunner struct{}

var _ Runner = NoModelRunner{}

func (NoModelRunner) RunTurn(ctx context.Context, t *Turn) error {
	if t.Agent.Provider != LocalProvider && t.Agent.Provider != "" {
		return &RunError{Code: "unavailable",
			Message: "this server version cannot run agents on a language model yet; your message is saved"}
	}
	id := t.AnswerID()
	if err := t.Emit(ctx, DeltaEvent(t.Run.ID, id, NoModelText)); err != nil {
		return err
	}
	meta, _ := json.Marshal(map[string]any{"provider": t.Agent.Provider, "model": nil, "no_language_model": true})
	_, err := t.AddMessage(ctx, &NewMessage{ID: id, Role: RoleAssistant, Content: NoModelText, AgentID: t.Agent.Name, Metadata: meta, once: true})
	return err
}
