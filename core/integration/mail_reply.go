package integration

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/db"
)

// Reply signals: what a reply to a task's mail says about the task.
const (
	ReplyDone      = "done"
	ReplyCancelled = "cancelled"
	ReplyBlocked   = "blocked"
)

// Reply-signal phrases, in the languages of the corpus (English, German,
// Spanish, French). Cancelled is looked for before done, since "hat sich
// erledigt" (it is no longer needed) holds "erledigt" (done).
var (
	reReplyCancelled = regexp.MustCompile(`(?i)(^|[^\pL])(no longer (needed|necessary|required)|not needed any ?more|never ?mind|(is|was|has been|got) (cancel?led|called off)|cancel?led|call(ed)? it off|hat sich (damit )?erledigt|nicht mehr (nötig|notwendig|gebraucht)|abgesagt|storniert|ya no (hace falta|es necesario)|cancelad[oa]|plus besoin|annulée?|pas la peine)([^\pL]|$)`)
	reReplyBlocked   = regexp.MustCompile(`(?i)(^|[^\pL])(blocked|stuck|on hold|(still|i'?m|we'?re|i am|we are) waiting (on|for)|can'?t (proceed|continue)|blockiert|warte(n)? (noch )?auf|bloquead[oa]|bloquée?|en attente)([^\pL]|$)`)
	reReplyDone      = regexp.MustCompile(`(?i)(^|[^\pL])(done|fixed|finished|completed|resolved|sorted( it)?( out)?|taken care of|all set|(it'?s|is) (sent|merged|deployed|live)|erledigt|fertig|behoben|ist raus|hecho|listo|terminad[oa]|resuelto|cerrado|c'est fait|terminée?|réglée?)([^\pL]|$)`)
	reReplyNegated   = regexp.MustCompile(`(?i)((^|[^\pL])(not|never|yet to|noch nicht|nicht|kein|todavía no|aún no|no está|pas encore|pas)([^\pL]|$)|n't([^\pL]|$))`)
)

// ReplyStatus reads a reply for a signal about the task it answers: done,
// cancelled or blocked, or "" when it says none. Only the reply's own
// words count (quoted mail is left out), a question is no signal, and a
// negated phrase ("not done yet") is none.
func ReplyStatus(body string) string {
	var own []string
	for _, l := range strings.Split(clip(body, maxMailText), "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, ">") || strings.HasPrefix(t, "-----") || strings.HasPrefix(t, "________") {
			if strings.HasPrefix(t, ">") {
				continue
			}
			break
		}
		if (strings.HasPrefix(t, "On ") || strings.HasPrefix(t, "Am ") || strings.HasPrefix(t, "El ") || strings.HasPrefix(t, "Le ")) &&
			(strings.HasSuffix(t, "wrote:") || strings.HasSuffix(t, "schrieb:") || strings.HasSuffix(t, "escribió:") || strings.HasSuffix(t, "écrit :") ||
				strings.HasSuffix(t, "écrit:")) {
			break
		}
		own = append(own, l)
	}
	text := strings.Join(own, "\n")
	for _, sig := range []struct {
		name string
		re   *regexp.Regexp
	}{{ReplyCancelled, reReplyCancelled}, {ReplyBlocked, reReplyBlocked}, {ReplyDone, reReplyDone}} {
		for _, sent := range reSentence.FindAllString(text, -1) {
			sent = strings.TrimSpace(sent)
			if strings.HasSuffix(sent, "?") || !sig.re.MatchString(sent) {
				continue
			}
			if sig.name == ReplyDone && reReplyNegated.MatchString(sent) {
				continue
			}
			return sig.name
		}
	}
	return ""
}

// SuggestedStatusFor is the task status a reply signal suggests: done
// completed; cancelled and blocked deferred (the task index has no
// cancelled or blocked state).
func SuggestedStatusFor(signal string) blocknote.Status {
	if signal == ReplyDone {
		return blocknote.StatusCompleted
	}
	return blocknote.StatusDeferred
}

// suggestStatus records on a reference the status a reply suggests (the
// latest reply with a signal wins). The task is left as it is: the user
// decides.
func suggestStatus(ctx context.Context, tx db.Tx, refID uuid.UUID, e *email) error {
	signal := ReplyStatus(e.Body)
	if signal == "" {
		return nil
	}
	sug, _ := json.Marshal(map[string]any{"status": SuggestedStatusFor(signal), "signal": signal, "message_id": e.MessageID,
		"from": e.From, "received_at": e.ReceivedAt.UTC()})
	_, err := tx.Exec(ctx, `UPDATE external_refs SET metadata = jsonb_set(metadata, '{suggested_status}', $2::jsonb)
		WHERE id = $1 AND coalesce((metadata->'suggested_status'->>'received_at')::timestamptz, '-infinity') <= $3`,
		refID, sug, e.ReceivedAt.UTC())
	return err
}

// Reply is a message attached to a task's reference.
type Reply struct {
	MessageID  string    `json:"message_id"`
	From       string    `json:"from"`
	Subject    string    `json:"subject"`
	Snippet    string    `json:"snippet"`
	ReceivedAt time.Time `json:"received_at"`
	URL        string    `json:"url"`
}

// StatusSuggestion is the status change a reply suggests for its task.
type StatusSuggestion struct {
	Status     string    `json:"status"`
	Signal     string    `json:"signal"`
	MessageID  string    `json:"message_id"`
	From       string    `json:"from"`
	ReceivedAt time.Time `json:"received_at"`
}

// replyInfo reads a reference's replies and status suggestion from its
// metadata: the count, the latest reply (nil when none) and the
// suggestion (nil when none).
func replyInfo(meta []byte) (int, *Reply, *StatusSuggestion) {
	var m struct {
		Replies   []Reply           `json:"replies"`
		Suggested *StatusSuggestion `json:"suggested_status"`
	}
	if len(meta) == 0 || json.Unmarshal(meta, &m) != nil {
		return 0, nil, nil
	}
	var latest *Reply
	for i := range m.Replies {
		if latest == nil || !m.Replies[i].ReceivedAt.Before(latest.ReceivedAt) {
			latest = &m.Replies[i]
		}
	}
	return len(m.Replies), latest, m.Suggested
}
