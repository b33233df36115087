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
