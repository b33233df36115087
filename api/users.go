package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/user"
)

// User is a user as the API shows it; never the password hash.
type User struct {
	ID          uuid.UUID   `json:"id"`
	Email       string      `json:"email" example:"ada@example.com"`
	FullName    string      `json:"full_name" example:"Ada Lovelace"`
	IsActive    bool        `json:"is_active"`
	IsSuperuser bool        `json:"is_superuser"`
	Preferences Preferences `json:"preferences"`
	CreatedAt   time.Time   `json:"created_at"`
	UpdatedAt   time.Time   `json:"updated_at"`
}

// Preferences are the user's settings: a JSON object of at most 64 KiB whose
// known keys Consilium reads and checks; every other key is the frontend's.
type Preferences map[string]any

func (Preferences) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{
		Type: huma.TypeObject, AdditionalProperties: true,
		Description: "The user's settings: a JSON object of at most 64 KiB, nested at most 32 levels. The keys below " +
			"are read by Consilium and checked when written; every other key is free-form, for the frontend.",
		Properties: map[string]*huma.Schema{
			user.PrefTimezone: {Type: huma.TypeString, Nullable: true, Examples: []any{"Europe/Zurich"},
				Description: "An IANA time zone name (Europe/Zurich, America/New_York, UTC). Today, overdue tasks " +
					"and planning periods are computed there; UTC when absent or null."},
			user.PrefWeekStart: {Type: huma.TypeString, Nullable: true, Examples: []any{"monday"},
				Description: "The weekday weeks start on in planning summaries: monday, tuesday, wednesday, " +
					"thursday, friday, saturday or sunday (any case); Monday when absent or null."},
		},
	}
}

func toUserJSON(u *user.User) User {
	prefs := Preferences{}
	_ = json.Unmarshal(u.Preferences, &prefs)
	return User{
		ID: u.ID, Email: u.Email, FullName: u.FullName, IsActive: u.IsActive, IsSuperuser: u.IsSuperuser,
		Preferences: prefs, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
}

// UpdateUserRequest changes the fields it carries.
type UpdateUserRequest struct {
	Email    *string `json:"email,omitempty" maxLength:"320" example:"ada@example.com"`
	FullName *string `json:"full_name,omitempty" maxLength:"200" example:"Ada Lovelace"`
}

type userOutput struct {
	Body User
}

type preferencesBody struct {
	Body Preferences
}

func registerUsers(authed huma.API, users *user.Service) {
	huma.Register(authed, huma.Operation{
		OperationID: "get-current-user", Method: http.MethodGet, Path: "/users/me",
		Summary: "The signed-in user", Tags: []string{"users"},
		Description: "The account of the bearer token: id, email, name, whether it is active and a superuser, and " +
			"its preferences.",
	}, func(ctx context.Context, _ *struct{}) (*userOutput, error) {
		return &userOutput{Body: toUserJSON(principal(ctx).User)}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "update-current-user", Method: http.MethodPut, Path: "/users/me",
		Summary: "Change the signed-in user's name or email", Tags: []string{"users"},
		Description: "Only the fields sent change. The email follows the registration rules (trimmed, unique regardless " +
			"of case: 409 when another account has it).",
		RequestBody: jsonExample(map[string]any{"full_name": "Ada King"}),
		Errors:      []int{http.StatusConflict, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct{ Body UpdateUserRequest }) (*userOutput, error) {
		u, err := users.UpdateProfile(ctx, principal(ctx).User.ID, &user.ProfileChange{Email: in.Body.Email, FullName: in.Body.FullName})
		if err != nil {
			return nil, err
		}
		return &userOutput{Body: toUserJSON(u)}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "get-preferences", Method: http.MethodGet, Path: "/users/preferences",
		Summary: "The signed-in user's preferences", Tags: []string{"users"},
		Description: "The preferences object as last replaced: timezone and week_start, which Consilium reads, and " +
			"whatever keys the frontend keeps there. An account that never set any answers {}.",
	}, func(ctx context.Context, _ *struct{}) (*preferencesBody, error) {
		return &preferencesBody{Body: toUserJSON(principal(ctx).User).Preferences}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "replace-preferences", Method: http.MethodPut, Path: "/users/preferences",
		Summary: "Replace the signed-in user's preferences", Tags: []string{"users"},
		Description: "The object sent replaces the stored one whole. At most 64 KiB; timezone and week_start must " +
			"hold what they say (a bad one answers 422 naming it, e.g. body.timezone), other keys are free-form.",
		MaxBodyBytes: user.MaxPreferencesBytes,
		RequestBody:  jsonExample(map[string]any{"timezone": "Europe/Zurich", "week_start": "monday", "theme": "dark"}),
		Errors:       []int{http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *preferencesBody) (*preferencesBody, error) {
		raw, err := json.Marshal(in.Body)
		if err != nil {
			return nil, err
		}
		u, err := users.ReplacePreferences(ctx, principal(ctx).User.ID, raw)
		if err != nil {
			return nil, err
		}
		return &preferencesBody{Body: toUserJSON(u).Preferences}, nil
	})
}
