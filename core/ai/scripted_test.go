package ai_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/ai"
	"github.com/consilium-hq/consilium/core/ai/aitest"
	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/model/modeltest"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/sdk"
)

// The tests here run the pipeline on a scripted model (core/model/
// modeltest) instead of the local plugin: they are about what the service
// sends and what it does with the answers, errors included, which a real
// provider cannot be made to produce on cue. The plugin path itself is
// covered by the tests on the local plugin (pipeline_test.go,
// quality_test.go, api/ai_test.go).

// scripted returns a model that embeds with modeltest.HashEmbed and
// answers chats with turns, and the env options that serve it as the
// provider of every kind of work.
func scripted(turns ...modeltest.Turn) (*modeltest.Model, envOptions) {
	m := modeltest.New(turns...)
	m.EmbedFunc = modeltest.HashEmbed(16)
	return m, envOptions{models: modeltest.Source{aitest.LocalName: m}}
}

// TestQueryAnswerFromScriptedModel: the chat model gets the passages found
// and the question, and its answer comes back with the passages it cites.
func TestQueryAnswerFromScriptedModel(t *testing.T) {
	t.Parallel()
	m, o := scripted(modeltest.Turn{Text: []string{"Prepay in April ", "[1]."}, Model: "tiny-1", Usage: sdk.Usage{InputTokens: 90, OutputTokens: 4}})
	o.configure = func(c *config.AI) { c.ChatModel = "tiny-1" }
	e := newEnv(t, o)
	user := e.newUser()
	tax := e.createNote(user, "Taxes", "Quarterly tax prepayment is due in April.")
	e.createNote(user, "Garden", "Plant the tomatoes in May.")
	e.waitIdle()

	res, err := e.ai.Query(context.Background(), user, &ai.QueryParams{SearchParams: ai.SearchParams{Query: "tax prepayment", K: 1}, Answer: true})
	require.NoError(t, err)
	require.Len(t, res.Passages, 1)
	require.Equal(t, tax.ID, res.Passages[0].SourceID)
	require.Equal(t, &ai.Answer{Text: "Prepay in April [1].", Provider: aitest.LocalName, Model: "tiny-1", Citations: []int{1}}, res.Answer)

	reqs := m.Requests()
	require.Len(t, reqs, 1)
	require.Equal(t, "tiny-1", reqs[0].Model)
	require.Len(t, reqs[0].Messages, 2)
	require.Equal(t, sdk.RoleSystem, reqs[0].Messages[0].Role)
	require.Contains(t, reqs[0].Messages[0].Content, ai.FormatPassage(1, res.Passages[0]), "the passage, numbered as cited")
	require.NotContains(t, reqs[0].Messages[0].Content, "tomatoes", "only the passages found")
	require.Equal(t, sdk.Message{Role: sdk.RoleUser, Content: "tax prepayment"}, reqs[0].Messages[1])
	require.Zero(t, m.Left())
}

// TestModelErrorsReachCallers: what a provider says goes to the caller as
// the API's error kinds (see userError), whatever provider says it.
func TestModelErrorsReachCallers(t *testing.T) {
	t.Parallel()
	m, o := scripted(
		modeltest.Turn{Err: &sdk.Error{Code: sdk.CodeRateLimited, Message: "slow down", RetryAfter: 7 * time.Second}},
		modeltest.Turn{Err: sdk.Errorf(sdk.CodePermanent, "the prompt is too long")},
		modeltest.Turn{Text: []string{"The answer is"}, Err: sdk.Errorf(sdk.CodeTemporary, "stream cut")},
	)
	e := newEnv(t, o)
	ctx := context.Background()
	user := e.newUser()
	ask := func() error {
		_, err := e.ai.Query(ctx, user, &ai.QueryParams{SearchParams: ai.SearchParams{Query: "anything"}, Answer: true})
		return err
	}

	err := ask()
	require.True(t, apperr.Is(err, apperr.RateLimited), "%v", err)
	var ae *apperr.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, 7*time.Second, ae.RetryAfter)
	err = ask()
	require.True(t, apperr.Is(err, apperr.Invalid), "%v", err)
	require.Equal(t, "Answering: the prompt is too long", userMessage(t, err))
	err = ask()
	require.True(t, apperr.Is(err, apperr.Unavailable), "a stream cut mid-answer: %v", err)
	require.Equal(t, "Answering is not available right now (stream cut); try again later", userMessage(t, err))
	require.Len(t, m.Requests(), 3)

	// The scripted model has no transcription: as a plugin without it.
	_, err = e.ai.Transcribe(ctx, user, &ai.TranscribeParams{Image: []byte("\x89PNG\r\n\x1a\n0000")})
	require.True(t, apperr.Is(err, apperr.Unavailable), "%v", err)
	require.Equal(t, "Transcription is not available: Transcribe is not implemented by this plugin", userMessage(t, err))
}

// TestUnknownProviderIsAConfigurationError: work sent to a provider the
// model source does not serve says the provider is not configured (agents
// on such a provider are listed unavailable: core/chat's registry tests).
func TestUnknownProviderIsAConfigurationError(t *testing.T) {
	t.Parallel()
	m, o := scripted()
	o.plugins.Items = []plugin.PluginConfig{llmPlugin(aitest.LocalName), llmPlugin("elsewhere")}
	o.configure = func(c *config.AI) {
		c.ChatProvider = "elsewhere"
		c.Agents = []config.Agent{{Name: "here", Provider: aitest.LocalName}, {Name: "there"}}
	}
	e := newEnv(t, o)
	_, err := e.ai.Query(context.Background(), e.newUser(), &ai.QueryParams{SearchParams: ai.SearchParams{Query: "x"}, Answer: true})
	require.True(t, apperr.Is(err, apperr.Unavailable), "%v", err)
	require.Equal(t, "Answering is not available: its model provider is not configured", userMessage(t, err))
	require.Empty(t, m.Requests())
}

func llmPlugin(name string) plugin.PluginConfig {
	return plugin.PluginConfig{Name: name, Kind: sdk.KindLLM, Path: "/nonexistent/" + name, Enabled: true}
}

// userMessage is what the API would tell the user.
func userMessage(t *testing.T, err error) string {
	t.Helper()
	var ae *apperr.Error
	require.ErrorAs(t, err, &ae)
	return ae.Message
}

// TestProviderWithoutEmbeddings: a provider that cannot embed fails the
// note's embedding at once (retrying cannot help), and search says it
// used full text only.
func TestProviderWithoutEmbeddings(t *testing.T) {
	t.Parallel()
	m := modeltest.New()
	e := newEnv(t, envOptions{models: modeltest.Source{aitest.LocalName: m}})
	ctx := context.Background()
	user := e.newUser()
	n := e.createNote(user, "Errands", "Post the parcel.")
	e.waitIdle()
	require.Equal(t, []string{"cancelled/1"}, e.embedJobs(n.ID), "one attempt, not retried")
	var status, reason string
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT status, error FROM note_embeddings WHERE note_id = $1`, n.ID).Scan(&status, &reason))
	require.Equal(t, "failed", status)
	require.Contains(t, reason, "Embed is not implemented")
	require.NotEmpty(t, m.EmbedRequests())

	ps, warning, err := e.ai.Search(ctx, user, &ai.SearchParams{Query: "parcel"})
	require.NoError(t, err)
	require.Empty(t, ps)
	require.Contains(t, warning, "Only full-text search")
}

// TestTranscriptionSavedAsNoteIsIndexed goes round the construction cycle
// that the composition root closes: the AI service saves the transcription
// through the notes service, whose hook queues the AI service's job.
func TestTranscriptionSavedAsNoteIsIndexed(t *testing.T) {
	t.Parallel()
	m, o := scripted()
	m.TranscribeFunc = func(_ context.Context, req *sdk.TranscribeRequest) (*sdk.TranscribeResponse, error) {
		return &sdk.TranscribeResponse{Text: fmt.Sprintf("# Shopping\n\nQuinces from the market (%s, %s).", req.MIMEType, req.Language)}, nil
	}
	e := newEnv(t, o)
	ctx := context.Background()
	user := e.newUser()
	res, err := e.ai.Transcribe(ctx, user, &ai.TranscribeParams{Image: []byte("\x89PNG\r\n\x1a\n0000"), Language: "en", CreateNote: true})
	require.NoError(t, err)
	require.NotNil(t, res.Note)
	require.Equal(t, "Shopping", res.Note.Title)
	require.Len(t, m.TranscribeRequests(), 1)
	require.Equal(t, "image/png", m.TranscribeRequests()[0].MIMEType)

	e.waitIdle()
	require.Equal(t, []string{"completed/1"}, e.embedJobs(res.Note.ID))
	ps := e.search(user, ai.SearchParams{Query: "quinces market", Ranking: ai.RankVector})
	require.Len(t, ps, 1)
	require.Equal(t, res.Note.ID, ps[0].SourceID)
	require.Contains(t, ps[0].Text, "Quinces from the market (image/png, en).")
}

// TestTenantIndexWhenJobsEndTogether: embedding jobs of one user that run
// and commit at once still queue the user's own index when together they
// cross the threshold. (Without the per-user lock in maybeTenantIndex each
// counted only its own and the committed chunks; this failed 8 runs in 30.
// The local plugin, which embeds one call at a time, hid it.)
func TestTenantIndexWhenJobsEndTogether(t *testing.T) {
	t.Parallel()
	_, o := scripted()
	o.paused, o.workers = true, 8
	o.configure = func(c *config.AI) { c.TenantIndexThreshold = 5 }
	e := newEnv(t, o)
	user := e.newUser()
	for i := range 6 {
		e.createNote(user, fmt.Sprintf("Note %d", i), fmt.Sprintf("Walnut harvest number %d.", i))
	}
	e.startWorkers()
	e.waitIdle()
	var states []string
	rows, err := e.db.Pool.Query(context.Background(), `SELECT state FROM vector_indexes WHERE user_id = $1`, user)
	require.NoError(t, err)
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		states = append(states, s)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"ready"}, states)
}
