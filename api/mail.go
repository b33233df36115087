package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/integration"
	"github.com/consilium-hq/consilium/core/page"
)

// MailSuggestion is a request found in mail that waits for the user.
type MailSuggestion struct {
	ID         uuid.UUID  `json:"id"`
	MessageID  string     `json:"message_id" doc:"The provider's id of the message (Gmail's message id)."`
	ThreadID   string     `json:"thread_id"`
	Title      string     `json:"title" example:"Send the Q3 report"`
	DueDate    *string    `json:"due_date" nullable:"true" format:"date" example:"2026-12-11"`
	Priority   *string    `json:"priority" nullable:"true" enum:"high,medium,low"`
	Confidence float64    `json:"confidence" minimum:"0" maximum:"1"`
	Extractor  string     `json:"extractor" enum:"model,rules" doc:"rules: the offline extractor decided (no chat model, or only the local provider)."`
	Status     string     `json:"status" enum:"pending,accepted,dismissed"`
	TaskID     *uuid.UUID `json:"task_id" nullable:"true" doc:"The task an accepted suggestion became."`
	CreatedAt  time.Time  `json:"created_at"`
}

// MailSuggestionList is a page of suggestions.
type MailSuggestionList page.Page[MailSuggestion]

type suggestionPath struct {
	SuggestionID string `path:"suggestion_id" doc:"The suggestion's id." format:"uuid"`
}

func registerMail(authed huma.API, svc *integration.Service) {
	huma.Register(authed, huma.Operation{
		OperationID: "list-mail-suggestions", Method: http.MethodGet, Path: "/external/gmail/suggestions", Tags: integrationTags,
		Summary: "Requests found in mail",
		Description: "Requests the mail scan was not sure enough of (below integrations.mail.confidence_threshold), or all of " +
			"them with the preference email_review_all: true, oldest first. Accept makes the task; dismiss drops it. Page with next_cursor.",
		Errors: []int{http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct {
		Status string `query:"status" enum:"pending,accepted,dismissed" doc:"Only suggestions in this state."`
		Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size."`
		Cursor string `query:"cursor" doc:"next_cursor of the previous page."`
	}) (*struct{ Body MailSuggestionList }, error) {
		res, err := svc.ListSuggestions(ctx, principal(ctx).User.ID, in.Status, in.Limit, in.Cursor)
		if err != nil {
			return nil, err
		}
		return &struct{ Body MailSuggestionList }{MailSuggestionList(page.Map(res, func(x *integration.Suggestion) MailSuggestion {
			out := MailSuggestion{ID: x.ID, MessageID: x.MessageID, ThreadID: x.ThreadID, Title: x.Title, Priority: x.Priority,
				Confidence: x.Confidence, Extractor: x.Extractor, Status: x.Status, TaskID: x.TaskID, CreatedAt: x.CreatedAt}
			if x.DueDate != nil {
				d := x.DueDate.Format(time.DateOnly)
				out.DueDate = &d
			}
			return out
		}))}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "accept-mail-suggestion", Method: http.MethodPost, Path: "/external/gmail/suggestions/{suggestion_id}/accept",
		Tags: integrationTags, Summary: "Accept a suggestion", DefaultStatus: http.StatusCreated,
		Description: "Makes the task in the Email note (source email, with a reference to the message, its thread and Gmail link). " +
			"409 when the suggestion was already accepted or dismissed.",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *suggestionPath) (*taskCreatedOutput, error) {
		id, err := parseID(in.SuggestionID, "suggestion")
		if err != nil {
			return nil, err
		}
		t, err := svc.AcceptSuggestion(ctx, principal(ctx).User.ID, id)
		if err != nil {
			return nil, err
		}
		out := taskOut(t)
		return &taskCreatedOutput{Location: apiPrefix + "/tasks/" + out.Body.ID.String(), ETag: out.ETag, Body: out.Body}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "dismiss-mail-suggestion", Method: http.MethodPost, Path: "/external/gmail/suggestions/{suggestion_id}/dismiss",
		Tags: integrationTags, Summary: "Dismiss a suggestion", DefaultStatus: http.StatusNoContent,
		Description: "Drops the suggestion (again: nothing changes). 409 when it was already accepted.",
		Errors:      []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *suggestionPath) (*struct{}, error) {
		id, err := parseID(in.SuggestionID, "suggestion")
		if err != nil {
			return nil, err
		}
		return nil, svc.DismissSuggestion(ctx, principal(ctx).User.ID, id)
	})
}
