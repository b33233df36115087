package chat

import (
	"context"
	"strings"
	"time"

	"github.com/consilium-hq/consilium/sdk"
)

// titleTimeout bounds the model call that titles a conversation.
const titleTimeout = 15 * time.Second

// title has the model name the conversation after its first exchange,
// when its title is still the first words of the first message. It is
// best effort: a failure keeps those words (and is not tried again).
func (o *Orchestrator) title(ctx context.Context, t *Turn, st *turnState) {
	if !o.limits.ModelTitles || st.Text == "" {
		return
	}
	var auto bool
	if err := t.svc.db.Pool.QueryRow(ctx, `SELECT title_auto FROM conversations WHERE user_id = $1 AND id = $2`,
		t.Run.UserID, t.Run.ConversationID).Scan(&auto); err != nil || !auto {
		return
	}
	title := ""
	if llm, err := o.llm(t.Agent); err == nil {
		cctx, cancel := context.WithTimeout(ctx, titleTimeout)
		resp, err := llm.Chat(cctx, &sdk.ChatRequest{Model: t.Agent.Model, MaxTokens: 30, Messages: []sdk.Message{
			{Role: sdk.RoleSystem, Content: "Write a title of at most six words for the conversation below. Answer with the title only, no quotes."},
			{Role: sdk.RoleUser, Content: "User: " + truncate(t.Message.Content, 2000) + "\n\nAssistant: " + truncate(st.Text, 2000)},
		}}, nil)
		cancel()
		if err == nil {
			title = cleanTitle(resp.Message.Content)
		} else {
			o.logger.InfoContext(ctx, "chat title: the model did not answer; keeping the first words", "error", err)
		}
	}
	// Either way the title is settled: only the first exchange is titled.
	_, err := t.svc.db.Pool.Exec(ctx, `UPDATE conversations SET title = CASE WHEN $3 = '' THEN title ELSE $3 END,
			title_auto = false, updated_at = CASE WHEN $3 = '' THEN updated_at ELSE now() END
		WHERE user_id = $1 AND id = $2 AND title_auto`, t.Run.UserID, t.Run.ConversationID, title)
	if err != nil {
		o.logger.WarnContext(ctx, "chat title: not stored", "error", err)
	}
}

// cleanTitle makes a model's answer a title: one line, no quotes, at most
// MaxTitleLength characters.
func cleanTitle(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	s = strings.Trim(strings.TrimSpace(s), "\"'“”‘’*#` ")
	s = strings.TrimPrefix(s, "Title: ")
	return truncate(strings.TrimSpace(s), MaxTitleLength)
}
