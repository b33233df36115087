package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/consilium-hq/consilium/core/integration"
	"github.com/consilium-hq/consilium/core/page"
)

var integrationTags = []string{"integrations"}

// ProviderJSON is an outside system users can connect.
type ProviderJSON struct {
	Name         string   `json:"name" example:"clickup"`
	DisplayName  string   `json:"display_name" example:"ClickUp"`
	Description  string   `json:"description"`
	AuthType     string   `json:"auth_type" enum:"none,api_key,oauth2,link" doc:"api_key: connect with {token}; oauth2: connect with {} and open authorize_url; link (Composio): connect with {} or {toolkit} and open authorize_url, the provider's own connect page."`
	Scopes       []string `json:"scopes" doc:"OAuth scopes asked for."`
	PKCE         bool     `json:"pkce" doc:"The OAuth flow uses PKCE (S256)."`
	Capabilities []string `json:"capabilities" example:"[\"tasks.pull\"]"`
	Available    bool     `json:"available" doc:"The plugin is running; false while it starts or restarts."`
}

// ConnectionStatus is a connection's state.
type ConnectionStatus struct {
	Provider    string           `json:"provider" example:"clickup"`
	State       string           `json:"state" enum:"connected,needs_reauth,disconnected,error"`
	Connected   bool             `json:"connected"`
	NeedsReauth bool             `json:"needs_reauth" doc:"The provider refused the credentials: connect again."`
	LastSyncAt  *time.Time       `json:"last_sync_at"`
	NextSyncAt  *time.Time       `json:"next_sync_at"`
	LastError   *string          `json:"last_error"`
	Counts      map[string]int64 `json:"counts" doc:"Records synced: upserts, deletes, tasks_created."`
}

func toConnectionStatus(s *integration.Status) ConnectionStatus {
	out := ConnectionStatus{Provider: s.Provider, State: s.State, Connected: s.State == integration.StateConnected,
		NeedsReauth: s.State == integration.StateNeedsReauth, LastSyncAt: s.LastSyncAt, NextSyncAt: s.NextSyncAt, Counts: s.Counts}
	if s.LastError != "" {
		out.LastError = &s.LastError
	}
	return out
}

// ConnectRequest connects an account.
type ConnectRequest struct {
	Token   string `json:"token,omitempty" maxLength:"4096" example:"pk_12345678_ABCDEFGHIJ" doc:"API-key and personal-token providers: the key, checked with the provider before it is saved (encrypted). OAuth and link providers: leave out."`
	Toolkit string `json:"toolkit,omitempty" maxLength:"64" example:"gmail" doc:"Link providers (Composio): the app whose account to connect, one of the toolkits the admin enabled; optional when only one is. Other providers: leave out."`
}

// Connecting is the status (token providers) or where to send the
// user (OAuth providers).
type Connecting struct {
	Status       *ConnectionStatus `json:"status,omitempty" doc:"Token providers: the connection."`
	AuthorizeURL string            `json:"authorize_url,omitempty" doc:"OAuth and link providers: open this in the browser."`
	State        string            `json:"state,omitempty" doc:"OAuth and link providers: the state the callback brings back (single use)."`
	ExpiresAt    *time.Time        `json:"expires_at,omitempty" doc:"OAuth and link providers: finish before this (at most 10 minutes)."`
}

// SyncJobs are the jobs a sync request queued.
type SyncJobs struct {
	JobIDs []int64 `json:"job_ids" nullable:"false"`
}

// ExternalReference is where a task lives outside.
type ExternalReference struct {
	System       string             `json:"system" example:"clickup"`
	ExternalID   string             `json:"external_id"`
	URL          string             `json:"url"`
	LastSyncedAt time.Time          `json:"last_synced_at"`
	SyncStatus   string             `json:"sync_status" enum:"synced,pending,error" doc:"pending: a change made here is waiting to be pushed; error: the outside system refused the last push."`
	Conflicts    []ExternalConflict `json:"conflicts" doc:"Fields both sides changed since the last sync, the latest last (up to 20): the later change won, the other is kept here."`
	Replies      *ExternalReplies   `json:"replies,omitempty" doc:"Email references only: the later messages of the thread (or naming the message in In-Reply-To/References) attached to the task."`
	// SuggestedStatus is set, for email references, while the task's
	// status differs from it.
	SuggestedStatus *SuggestedStatus `json:"suggested_status,omitempty" doc:"Email references only: the status change the latest reply that reads as done, cancelled or blocked suggests. It is never applied by itself: set the status with PUT /tasks/{task_id}/status to take it. Absent when there is none, or when the task already has that status."`
}

// ExternalReplies are the replies attached to a task that came from mail.
type ExternalReplies struct {
	Count  int            `json:"count" doc:"Replies attached (the latest 50 are kept)."`
	Latest *ExternalReply `json:"latest,omitempty" doc:"The latest reply; absent when there is none."`
}

// ExternalReply is one reply to a task's mail.
type ExternalReply struct {
	MessageID string    `json:"message_id" doc:"The reply's message id in the mailbox."`
	From      string    `json:"from" example:"Bob <bob@example.org>"`
	Date      time.Time `json:"date" doc:"When the reply was received."`
	Snippet   string    `json:"snippet" doc:"The start of the reply's text, as the mailbox gives it."`
	URL       string    `json:"url,omitempty" doc:"Opens the reply in the mailbox."`
}

// SuggestedStatus is a status change a reply suggests for its task.
type SuggestedStatus struct {
	Status  string    `json:"status" enum:"completed,deferred" doc:"The task status suggested: completed for done; deferred for cancelled or blocked."`
	Signal  string    `json:"signal" enum:"done,cancelled,blocked" doc:"What the reply said."`
	ReplyID string    `json:"reply_id" doc:"The message id of the reply that suggests it."`
	From    string    `json:"from"`
	Date    time.Time `json:"date" doc:"When that reply was received."`
}

// ExternalConflict is one field changed both here and outside since the
// last sync.
type ExternalConflict struct {
	Field  string    `json:"field" enum:"title,description,status,due,priority" doc:"The task field."`
	Ours   string    `json:"ours" doc:"Our value (due: YYYY-MM-DD or YYYY-MM-DD HH:MM in the user's time zone; status and priority in Consilium's terms)."`
	Theirs string    `json:"theirs" doc:"The outside system's value, in the same terms."`
	Winner string    `json:"winner" enum:"ours,theirs" doc:"Whose change was later and is now on both sides."`
	At     time.Time `json:"at" doc:"When the sync decided it."`
}

// ExternalTask is a task from outside with its reference.
type ExternalTask struct {
	Task      TaskJSON          `json:"task"`
	Reference ExternalReference `json:"reference"`
}

// ExternalTaskList is a page of external tasks.
type ExternalTaskList page.Page[ExternalTask]

// ProviderPath is the path of the operations on one provider (exported:
// Huma reads parameters of embedded structs only when they are).
type ProviderPath struct {
	Provider string `path:"provider" maxLength:"64" pattern:"^[a-z][a-z0-9_-]*$" example:"clickup" doc:"The provider (an integration plugin's name, GET /api/external/providers)."`
}

func registerIntegrations(public, authed huma.API, svc *integration.Service) {
	registerMail(authed, svc)
	huma.Register(authed, huma.Operation{
		OperationID: "list-providers", Method: http.MethodGet, Path: "/external/providers", Tags: integrationTags,
		Summary:     "List the outside systems users can connect",
		Description: "The integration plugins an admin enabled, with how users authenticate, the OAuth scopes and what each can do.",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body []ProviderJSON }, error) {
		out := []ProviderJSON{}
		for _, p := range svc.Providers() {
			out = append(out, ProviderJSON{Name: p.Name, DisplayName: p.DisplayName, Description: p.Description, AuthType: p.AuthType,
				Scopes: p.Scopes, PKCE: p.PKCE, Capabilities: p.Capabilities, Available: p.Available})
		}
		return &struct{ Body []ProviderJSON }{out}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "connect-provider", Method: http.MethodPost, Path: "/external/connect/{provider}", Tags: integrationTags,
		Summary: "Connect an account",
		Description: "API-key and personal-token providers: send {token}; it is checked with the provider, saved encrypted, " +
			"and the status answered (a refused token is 422 naming token). OAuth providers: send {}; the answer's authorize_url " +
			"(with state and PKCE where the provider takes it) finishes at GET /api/external/callback/{provider}. Link providers " +
			"(Composio): send {} or {\"toolkit\": \"gmail\"} (a toolkit the admin did not enable is 422 naming toolkit); authorize_url " +
			"is the provider's connect page, which sends the browser back to the same callback.",
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusTooManyRequests, http.StatusServiceUnavailable},
		RequestBody: jsonExample(map[string]any{"token": "pk_12345678_ABCDEFGHIJ"}),
	}, func(ctx context.Context, in *struct {
		ProviderPath
		Body ConnectRequest
	}) (*struct{ Body Connecting }, error) {
		st, auth, err := svc.ConnectWith(ctx, principal(ctx).User.ID, &integration.ConnectParams{Provider: in.Provider,
			Token: in.Body.Token, Toolkit: in.Body.Toolkit})
		if err != nil {
			return nil, err
		}
		out := Connecting{}
		if st != nil {
			cs := toConnectionStatus(st)
			out.Status = &cs
		}
		if auth != nil {
			out.AuthorizeURL, out.State, out.ExpiresAt = auth.AuthorizeURL, auth.State, &auth.ExpiresAt
		}
		return &struct{ Body Connecting }{out}, nil
	})

	huma.Register(public, huma.Operation{
		OperationID: "oauth-callback", Method: http.MethodGet, Path: "/external/callback/{provider}", Tags: integrationTags,
		Summary: "Finish an OAuth or link connect",
		Description: "Where the provider sends the browser back. Needs no bearer token: the state names the user, and is single-use " +
			"and valid 10 minutes. Answers the status, or 303 to integrations.return_url when it is set. A wrong, reused or expired " +
			"state, or a code the provider refuses, answers 400 and saves nothing. Link providers (Composio) come back with " +
			"connected_account_id and status; the provider is asked whether that account (which must be the one the connect " +
			"started) is active before it is saved: an account still pending answers 400, a failed or expired one 422, and " +
			"nothing is saved.",
		Errors: []int{http.StatusBadRequest, http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, func(ctx context.Context, in *struct {
		ProviderPath
		Code       string `query:"code" maxLength:"4096" doc:"The authorization code."`
		State      string `query:"state" maxLength:"200" doc:"The state of connect-provider's answer."`
		Error      string `query:"error" maxLength:"200" doc:"Set by the provider when the user declined."`
		AccountID  string `query:"connected_account_id" maxLength:"200" doc:"Link providers: the account the provider connected."`
		LinkStatus string `query:"status" maxLength:"64" doc:"Link providers: the provider's word on the connect (informative; the provider is asked)."`
	}) (*struct {
		Status   int
		Location string `header:"Location"`
		Body     *ConnectionStatus
	}, error) {
		if in.Error != "" {
			return nil, newProblem(ctx, http.StatusBadRequest, "the provider answered "+in.Error+": nothing was connected")
		}
		st, err := svc.CallbackWith(ctx, &integration.CallbackParams{Provider: in.Provider, Code: in.Code, State: in.State, AccountID: in.AccountID})
		var notActive *integration.LinkNotActiveError
		switch {
		case errors.Is(err, integration.ErrBadState), errors.Is(err, integration.ErrCodeRefused), errors.Is(err, integration.ErrLinkMismatch):
			return nil, newProblem(ctx, http.StatusBadRequest, err.Error())
		case errors.As(err, &notActive) && notActive.Pending():
			return nil, newProblem(ctx, http.StatusBadRequest, err.Error())
		case errors.As(err, &notActive):
			return nil, newProblem(ctx, http.StatusUnprocessableEntity, err.Error())
		}
		if err != nil {
			return nil, err
		}
		out := &struct {
			Status   int
			Location string `header:"Location"`
			Body     *ConnectionStatus
		}{Status: http.StatusOK}
		if ru := svc.ReturnURL(); ru != "" {
			u, _ := url.Parse(ru)
			q := u.Query()
			q.Set("provider", in.Provider)
			q.Set("status", st.State)
			u.RawQuery = q.Encode()
			out.Status, out.Location = http.StatusSeeOther, u.String()
			return out, nil
		}
		cs := toConnectionStatus(st)
		out.Body = &cs
		return out, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "disconnect-provider", Method: http.MethodDelete, Path: "/external/disconnect/{provider}", Tags: integrationTags,
		Summary: "Disconnect an account", DefaultStatus: http.StatusNoContent,
		Description: "Forgets the credentials and stops syncing. keep_tasks=false also deletes the tasks imported from the provider " +
			"(out of their notes). 404 when not connected.",
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct {
		ProviderPath
		KeepTasks bool `query:"keep_tasks" default:"true" doc:"Keep the imported tasks (default) or delete them."`
	}) (*struct{}, error) {
		return nil, svc.Disconnect(ctx, principal(ctx).User.ID, in.Provider, in.KeepTasks)
	})

	huma.Register(authed, huma.Operation{
		OperationID: "connection-status", Method: http.MethodGet, Path: "/external/status/{provider}", Tags: integrationTags,
		Summary:     "A connection's status",
		Description: "Connected, needs re-auth, last and next sync, counts, last error. A provider never connected answers state disconnected.",
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *ProviderPath) (*struct{ Body ConnectionStatus }, error) {
		st, err := svc.Status(ctx, principal(ctx).User.ID, in.Provider)
		if err != nil {
			return nil, err
		}
		return &struct{ Body ConnectionStatus }{toConnectionStatus(st)}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "sync-provider", Method: http.MethodPost, Path: "/external/sync/{provider}", Tags: integrationTags,
		Summary: "Sync a connection now", DefaultStatus: http.StatusAccepted,
		Description: "Queues a sync; full=true starts from no cursor (a reconcile). 404 when not connected.",
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct {
		ProviderPath
		Full bool `query:"full" doc:"Reconcile from the start."`
	}) (*struct{ Body SyncJobs }, error) {
		ids, err := svc.SyncNow(ctx, principal(ctx).User.ID, in.Provider, in.Full)
		if err != nil {
			return nil, err
		}
		return &struct{ Body SyncJobs }{SyncJobs{JobIDs: ids}}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "sync-tasks", Method: http.MethodPost, Path: "/tasks/sync", Tags: integrationTags,
		Summary: "Sync every connection now", DefaultStatus: http.StatusAccepted,
		Description: "Queues a sync of each connected outside system. 404 when none is connected.",
		Errors:      []int{http.StatusNotFound},
		Metadata:    map[string]any{declares404: true},
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body SyncJobs }, error) {
		ids, err := svc.SyncAll(ctx, principal(ctx).User.ID)
		if err != nil {
			return nil, err
		}
		return &struct{ Body SyncJobs }{SyncJobs{JobIDs: ids}}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "list-external-tasks", Method: http.MethodGet, Path: "/tasks/external", Tags: integrationTags,
		Summary:     "Tasks from outside systems",
		Description: "The user's imported tasks with their references, in import order. A reference to mail (system email) also shows the replies attached to the task and the status change the latest reply suggests (never applied by itself). Page with next_cursor.",
		Errors:      []int{http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct {
		Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size."`
		Cursor string `query:"cursor" doc:"next_cursor of the previous page."`
	}) (*struct{ Body ExternalTaskList }, error) {
		uid := principal(ctx).User.ID
		res, err := svc.ListExternal(ctx, uid, in.Limit, in.Cursor)
		if err != nil {
			return nil, err
		}
		if err := svc.FillTasks(ctx, uid, res.Items); err != nil {
			return nil, err
		}
		return &struct{ Body ExternalTaskList }{ExternalTaskList(page.Map(res, func(e *integration.ExternalTask) ExternalTask {
			return ExternalTask{Task: toTaskJSON(e.Task), Reference: toExternalReference(e)}
		}))}, nil
	})
}

func toExternalReference(e *integration.ExternalTask) ExternalReference {
	ref := ExternalReference{System: e.System, ExternalID: e.ExternalID, URL: e.URL, LastSyncedAt: e.LastSyncedAt,
		SyncStatus: e.SyncStatus, Conflicts: toConflicts(e.Conflicts)}
	if e.System != integration.SystemEmail {
		return ref
	}
	ref.Replies = &ExternalReplies{Count: e.ReplyCount}
	if r := e.LatestReply; r != nil {
		ref.Replies.Latest = &ExternalReply{MessageID: r.MessageID, From: r.From, Date: r.ReceivedAt, Snippet: r.Snippet, URL: r.URL}
	}
	if s := e.SuggestedStatus; s != nil && (e.Task == nil || string(e.Task.Status) != s.Status) {
		ref.SuggestedStatus = &SuggestedStatus{Status: s.Status, Signal: s.Signal, ReplyID: s.MessageID, From: s.From, Date: s.ReceivedAt}
	}
	return ref
}

func toConflicts(raw json.RawMessage) []ExternalConflict {
	out := []ExternalConflict{}
	var cs []integration.Conflict
	if json.Unmarshal(raw, &cs) != nil {
		return out
	}
	for _, c := range cs {
		out = append(out, ExternalConflict{Field: string(c.Field), Ours: c.Ours, Theirs: c.Theirs, Winner: c.Winner, At: c.At})
	}
	return out
}
