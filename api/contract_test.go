package api_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
)

// recordingT is a test whose errors are recorded instead of failing it: the
// contract check reports through it.
type recordingT struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recordingT) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recordingT) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.errors
	r.errors = nil
	return out
}

// probeBody is the body of a test-only operation that can break its own
// contract.
type probeBody struct {
	Count  int        `json:"count" minimum:"0"`
	NoteID *uuid.UUID `json:"note_id" doc:"Declared without nullable: a null breaks the schema (the bug of issue 10)."`
}

// The API tests' client checks every response against the served
// document: an answer with a status the operation does not declare, or a
// body its schema refuses, fails the test that received it.
func TestContractCheckFailsOnViolations(t *testing.T) {
	t.Parallel()
	rt := &recordingT{TB: t}
	e := apitest.New(rt, apitest.Options{Routes: func(a huma.API) {
		huma.Register(a, huma.Operation{OperationID: "contract-probe", Method: http.MethodGet, Path: "/contract-probe/{case}",
			Errors: []int{http.StatusNotFound}},
			func(ctx context.Context, in *struct {
				Case string `path:"case"`
			}) (*struct{ Body probeBody }, error) {
				id := uuid.New()
				switch in.Case {
				case "undeclared-status":
					return nil, huma.NewError(http.StatusTeapot, "not declared")
				case "declared-error":
					return nil, huma.Error404NotFound("declared")
				case "out-of-range":
					return &struct{ Body probeBody }{Body: probeBody{Count: -1, NoteID: &id}}, nil
				case "null":
					return &struct{ Body probeBody }{Body: probeBody{Count: 1}}, nil
				}
				return &struct{ Body probeBody }{Body: probeBody{Count: 1, NoteID: &id}}, nil
			})
	}})
	for name, c := range map[string]struct {
		status int
		report string
	}{
		"ok":                {http.StatusOK, ""},
		"declared-error":    {http.StatusNotFound, ""},
		"undeclared-status": {http.StatusTeapot, "answered 418, which contract-probe does not declare"},
		"out-of-range":      {http.StatusOK, "the 200 body does not match the schema contract-probe declares"},
		"null":              {http.StatusOK, "the 200 body does not match the schema contract-probe declares"},
	} {
		res := e.Do(http.MethodGet, "/api/contract-probe/"+name, nil)
		require.Equal(t, c.status, res.Status, name)
		got := rt.take()
		if c.report == "" {
			require.Empty(t, got, name)
			continue
		}
		require.Len(t, got, 1, name)
		require.Contains(t, got[0], c.report, name)
		require.Contains(t, got[0], "GET /api/contract-probe/"+name, name)
	}
	// Paths the document does not describe have no contract to break.
	require.Equal(t, http.StatusNotFound, e.Do(http.MethodGet, "/api/no-such-route", nil).Status)
	require.Equal(t, http.StatusOK, e.Do(http.MethodGet, "/healthz", nil).Status)
	require.Empty(t, rt.take())
}
