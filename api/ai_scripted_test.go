package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/model/modeltest"
	"github.com/consilium-hq/consilium/sdk"
)

// TestRAGAnswerFromScriptedModel runs the API on a scripted model (no
// plugin process): the answer and its citations come back as the model
// wrote them, and a provider that rate-limits answers 429 with the
// provider's Retry-After, which the local plugin cannot be made to do.
func TestRAGAnswerFromScriptedModel(t *testing.T) {
	t.Parallel()
	m := modeltest.New(
		modeltest.Turn{Text: []string{"Post it today ", "[1]."}, Model: "tiny-1"},
		modeltest.Turn{Err: &sdk.Error{Code: sdk.CodeRateLimited, Message: "slow down", RetryAfter: 9 * time.Second}},
	)
	m.EmbedFunc = modeltest.HashEmbed(16)
	e := apitest.New(t, apitest.Options{Models: modeltest.Source{apitest.LocalProvider: m}, Workers: true})
	b := &aiBundle{e: e, u: e.NewUser()}
	res := b.do(http.MethodPost, "/api/notes", `{"title":"Errands","content":[{"type":"paragraph","content":"Post the parcel."}]}`)
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	require.Equal(t, 1.0, b.waitIndexed(t)["notes"].(map[string]any)["indexed"])

	res = b.do(http.MethodPost, "/api/ai/rag/query", map[string]any{"query": "parcel", "answer": true})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	answer := res.Map(t)["answer"].(map[string]any)
	require.Equal(t, map[string]any{"text": "Post it today [1].", "provider": "local", "model": "tiny-1", "citations": []any{1.0}}, answer)
	require.Equal(t, "parcel", m.Requests()[0].Messages[1].Content)

	res = b.do(http.MethodPost, "/api/ai/rag/query", map[string]any{"query": "parcel", "answer": true})
	require.Equal(t, http.StatusTooManyRequests, res.Status, res.String())
	require.Equal(t, "9", res.Header.Get("Retry-After"))
}
