package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
)

// seedSuggestion stores a scanned message of user and its pending
// suggestion as the mail scan does, and returns the suggestion's id.
func seedSuggestion(t testing.TB, e *apitest.Env, user, title, subject string) string {
	t.Helper()
	ctx := context.Background()
	msg := "m" + uuid.NewString()[:12]
	var emailID, id uuid.UUID
	require.NoError(t, e.DB.Pool.QueryRow(ctx, `INSERT INTO emails (user_id, provider, message_id, thread_id, sender, subject, body, url,
			received_at, scanned_at, outcome, extractor)
		VALUES ($1, 'gmail', $2, $2, 'bob@example.org', $3, 'Could you maybe look at this?', 'https://mail.google.com/mail/u/0/#all/' || $2,
			now(), now(), 'suggestion', 'rules') RETURNING id`, user, msg, subject).Scan(&emailID))
	require.NoError(t, e.DB.Pool.QueryRow(ctx, `INSERT INTO mail_suggestions (user_id, email_id, title, due_date, priority, confidence, extractor)
		VALUES ($1, $2, $3, '2026-12-11', 'medium', 0.5, 'rules') RETURNING id`, user, emailID, title).Scan(&id))
	return id.String()
}

// TestMailSuggestionsAPI: suggestions listed in cursor pages with their
// fields; accept answers 201 with the task (in the Email note, source
// email), a second accept 409; dismiss 204, then accept 409; another
// user's id 404 and a malformed one 422 naming it.
func TestMailSuggestionsAPI(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	alice, bob := e.NewUser(), e.NewUser()
	first := seedSuggestion(t, e, alice.ID, "Look at the draft", "Draft")
	second := seedSuggestion(t, e, alice.ID, "Book the room", "Room")

	res := e.Do(http.MethodGet, "/api/external/gmail/suggestions?limit=1", nil, alice.Bearer())
	require.Equal(t, http.StatusOK, res.Status, res.String())
	var pg struct {
		Items []map[string]any `json:"items"`
		Next  *string          `json:"next_cursor"`
	}
	res.JSON(t, &pg)
	require.Len(t, pg.Items, 1)
	require.Equal(t, first, pg.Items[0]["id"])
	require.Equal(t, "Look at the draft", pg.Items[0]["title"])
	require.Equal(t, "2026-12-11", pg.Items[0]["due_date"])
	require.Equal(t, "medium", pg.Items[0]["priority"])
	require.Equal(t, "rules", pg.Items[0]["extractor"])
	require.Equal(t, "pending", pg.Items[0]["status"])
	require.InDelta(t, 0.5, pg.Items[0]["confidence"], 1e-9)
	require.NotEmpty(t, pg.Items[0]["message_id"])
	require.NotNil(t, pg.Next)
	res = e.Do(http.MethodGet, "/api/external/gmail/suggestions?limit=1&cursor="+*pg.Next, nil, alice.Bearer())
	require.Equal(t, http.StatusOK, res.Status, res.String())
	res.JSON(t, &pg)
	require.Len(t, pg.Items, 1)
	require.Equal(t, second, pg.Items[0]["id"])

	res = e.Do(http.MethodGet, "/api/external/gmail/suggestions", nil, bob.Bearer())
	require.Equal(t, http.StatusOK, res.Status, res.String())
	res.JSON(t, &pg)
	require.Empty(t, pg.Items, "Bob sees none of Alice's suggestions")

	for _, op := range []string{"accept", "dismiss"} {
		res = e.Do(http.MethodPost, "/api/external/gmail/suggestions/"+first+"/"+op, nil, bob.Bearer())
		require.Equal(t, http.StatusNotFound, res.Status, "Bob %s: %s", op, res)
		res = e.Do(http.MethodPost, "/api/external/gmail/suggestions/nope/"+op, nil, alice.Bearer())
		require.Equal(t, http.StatusUnprocessableEntity, res.Status, res.String())
		require.Contains(t, res.String(), "suggestion")
	}

	res = e.Do(http.MethodPost, "/api/external/gmail/suggestions/"+first+"/accept", nil, alice.Bearer())
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	tk := res.Map(t)
	require.Equal(t, "Look at the draft", tk["title"])
	require.Equal(t, "email", tk["source"])
	require.Equal(t, "2026-12-11", tk["due_date"])
	res = e.Do(http.MethodPost, "/api/external/gmail/suggestions/"+first+"/accept", nil, alice.Bearer())
	require.Equal(t, http.StatusConflict, res.Status, res.String())
	res = e.Do(http.MethodPost, "/api/external/gmail/suggestions/"+first+"/dismiss", nil, alice.Bearer())
	require.Equal(t, http.StatusConflict, res.Status, res.String())

	var noteTitle, refURL string
	require.NoError(t, e.DB.Pool.QueryRow(context.Background(), `SELECT n.title, r.url FROM tasks t JOIN notes n ON n.id = t.note_id
		JOIN external_refs r ON r.task_id = t.id AND r.system = 'email' WHERE t.id = $1`, tk["id"]).Scan(&noteTitle, &refURL))
	require.Equal(t, "Email", noteTitle)
	require.Contains(t, refURL, "https://mail.google.com/mail/u/0/#all/")

	res = e.Do(http.MethodPost, "/api/external/gmail/suggestions/"+second+"/dismiss", nil, alice.Bearer())
	require.Equal(t, http.StatusNoContent, res.Status, res.String())
	res = e.Do(http.MethodPost, "/api/external/gmail/suggestions/"+second+"/accept", nil, alice.Bearer())
	require.Equal(t, http.StatusConflict, res.Status, res.String())
	res = e.Do(http.MethodGet, "/api/external/gmail/suggestions?status=pending", nil, alice.Bearer())
	require.Equal(t, http.StatusOK, res.Status, res.String())
	res.JSON(t, &pg)
	require.Empty(t, pg.Items)
}

// TestMailRepliesAPI: GET /tasks/external shows, on a task that came from
// mail, the replies attached (count and the latest) and the status the
// latest reply with a signal suggests, stored by the mail scan (seeded
// here in the scan's shape; plugins/gmail's TestMailBecomesTasks makes
// them through the real scan). The suggestion never changes the task: its
// status stays until the user sets it, and then the suggestion is no
// longer shown. Another user sees none of it.
func TestMailRepliesAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := apitest.New(t, apitest.Options{})
	alice, bob := e.NewUser(), e.NewUser()
	id := seedSuggestion(t, e, alice.ID, "Send the Q3 report", "Q3 report")
	res := e.Do(http.MethodPost, "/api/external/gmail/suggestions/"+id+"/accept", nil, alice.Bearer())
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	taskID := res.Map(t)["id"].(string)

	type page struct {
		Items []struct {
			Task      map[string]any `json:"task"`
			Reference struct {
				System  string `json:"system"`
				Replies *struct {
					Count  int            `json:"count"`
					Latest map[string]any `json:"latest"`
				} `json:"replies"`
				SuggestedStatus map[string]any `json:"suggested_status"`
			} `json:"reference"`
		} `json:"items"`
	}
	list := func() page {
		t.Helper()
		res := e.Do(http.MethodGet, "/api/tasks/external", nil, alice.Bearer())
		require.Equal(t, http.StatusOK, res.Status, res.String())
		var p page
		res.JSON(t, &p)
		require.Len(t, p.Items, 1)
		return p
	}
	p := list()
	require.Equal(t, "email", p.Items[0].Reference.System)
	require.NotNil(t, p.Items[0].Reference.Replies, "an email reference always says how many replies it has")
	require.Zero(t, p.Items[0].Reference.Replies.Count)
	require.Nil(t, p.Items[0].Reference.Replies.Latest)
	require.Nil(t, p.Items[0].Reference.SuggestedStatus)

	// Two replies, the later one saying it is done.
	_, err := e.DB.Pool.Exec(ctx, `UPDATE external_refs SET metadata = metadata || jsonb_build_object(
		'replies', jsonb_build_array(
			jsonb_build_object('message_id', 'r1', 'from', 'Bob <bob@example.org>', 'subject', 'Re: Q3 report', 'snippet', 'Working on it',
				'received_at', '2026-12-02T09:00:00Z', 'url', 'https://mail.google.com/mail/u/0/#all/r1'),
			jsonb_build_object('message_id', 'r2', 'from', 'Bob <bob@example.org>', 'subject', 'Re: Q3 report', 'snippet', 'Done, it is sent.',
				'received_at', '2026-12-03T10:30:00Z', 'url', 'https://mail.google.com/mail/u/0/#all/r2')),
		'suggested_status', jsonb_build_object('status', 'completed', 'signal', 'done', 'message_id', 'r2', 'from', 'Bob <bob@example.org>',
			'received_at', '2026-12-03T10:30:00Z'))
		WHERE user_id = $1 AND task_id = $2`, alice.ID, taskID)
	require.NoError(t, err)
	p = list()
	ref := p.Items[0].Reference
	require.Equal(t, 2, ref.Replies.Count)
	require.Equal(t, "r2", ref.Replies.Latest["message_id"])
	require.Equal(t, "Bob <bob@example.org>", ref.Replies.Latest["from"])
	require.Equal(t, "2026-12-03T10:30:00Z", ref.Replies.Latest["date"])
	require.Equal(t, "Done, it is sent.", ref.Replies.Latest["snippet"])
	require.Equal(t, map[string]any{"status": "completed", "signal": "done", "reply_id": "r2", "from": "Bob <bob@example.org>",
		"date": "2026-12-03T10:30:00Z"}, ref.SuggestedStatus)
	require.Equal(t, "not_started", p.Items[0].Task["status"], "a suggestion never changes the task")

	res = e.Do(http.MethodGet, "/api/tasks/external", nil, bob.Bearer())
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Empty(t, res.Map(t)["items"])

	// The user takes it: the task is completed and the suggestion is done.
	res = e.Do(http.MethodPut, "/api/tasks/"+taskID+"/status", map[string]any{"status": "completed"}, alice.Bearer())
	require.Equal(t, http.StatusOK, res.Status, res.String())
	p = list()
	require.Equal(t, "completed", p.Items[0].Task["status"])
	require.Nil(t, p.Items[0].Reference.SuggestedStatus)
	require.Equal(t, 2, p.Items[0].Reference.Replies.Count)
}
