package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/user"
)

// User is a user as the API shows it; never the password hash.
type User struct {
	ID          uuid.UUID      `json:"id"`
	Email       string         `json:"email" example:"ada@example.com"`
	FullName    string         `json:"full_name" example:"Ada Lovelace"`
	IsActive    bool           `json:"is_active"`
	IsSuperuser bool           `json:"is_superuser"`
	Preferences map[string]any `json:"preferences" doc:"Free JSON object for the frontend (timezone, week_start, ...)."`
	CreatedAt   time.Time      `json:"created_at"`
	UpdatedAt   time.Time      `json:"updated_at"`
}

func toUserJSON(u *user.User) User {
	prefs := map[string]any{}
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
	Body map[string]any
}

func registerUsers(authed huma.API, d *db.DB) {
	huma.Register(authed, huma.Operation{
		OperationID: "get-current-user", Method: http.MethodGet, Path: "/users/me",
		Summary: "The signed-in user", Tags: []string{"users"},
	}, func(ctx context.Context, _ *struct{}) (*userOutput, error) {
		return &userOutput{Body: toUserJSON(principal(ctx).User)}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "update-current-user", Method: http.MethodPut, Path: "/users/me",
		Summary: "Change the signed-in user's name or email", Tags: []string{"users"},
		Description: "Only the fields sent change. The email follows the registration rules (trimmed, unique regardless of case).",
		Errors:      []int{http.StatusConflict, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct{ Body UpdateUserRequest }) (*userOutput, error) {
		var p user.UpdateParams
		if in.Body.Email != nil {
			email, err := user.NormalizeEmail("email", *in.Body.Email)
			if err != nil {
				return nil, err
			}
			p.Email = &email
		}
		if in.Body.FullName != nil {
			name, err := user.CheckFullName("full_name", *in.Body.FullName)
			if err != nil {
				return nil, err
			}
			p.FullName = &name
		}
		u, err := user.Update(ctx, d.Pool, principal(ctx).User.ID, &p)
		if err != nil {
			return nil, err
		}
		return &userOutput{Body: toUserJSON(u)}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "get-preferences", Method: http.MethodGet, Path: "/users/preferences",
		Summary: "The signed-in user's preferences", Tags: []string{"users"},
	}, func(ctx context.Context, _ *struct{}) (*preferencesBody, error) {
		return &preferencesBody{Body: toUserJSON(principal(ctx).User).Preferences}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "replace-preferences", Method: http.MethodPut, Path: "/users/preferences",
		Summary: "Replace the signed-in user's preferences", Tags: []string{"users"},
		Description:  "The object sent replaces the stored one whole. At most 64 KiB.",
		MaxBodyBytes: user.MaxPreferencesBytes,
		Errors:       []int{http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *preferencesBody) (*preferencesBody, error) {
		raw, err := json.Marshal(in.Body)
		if err != nil {
			return nil, err
		}
		u, err := user.SetPreferences(ctx, d.Pool, principal(ctx).User.ID, raw)
		if err != nil {
			return nil, err
		}
		return &preferencesBody{Body: toUserJSON(u).Preferences}, nil
	})
}
