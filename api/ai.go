package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/ai"
	"github.com/consilium-hq/consilium/core/chat"
)

var aiTags = []string{"ai"}

// RAGQuery asks the user's own notes and documents.
type RAGQuery struct {
	Query   string      `json:"query" minLength:"1" maxLength:"2000" example:"When is the plumber coming?"`
	K       int         `json:"k,omitempty" minimum:"1" maximum:"50" default:"8" doc:"How many passages to return."`
	Sources []string    `json:"sources,omitempty" maxItems:"2" doc:"Where to look: notes, documents or both (the default, or notes only when note_ids or tags are given)." enum:"notes,documents"`
	NoteIDs []uuid.UUID `json:"note_ids,omitempty" maxItems:"200" doc:"Only these notes."`
	Tags    []string    `json:"tags,omitempty" maxItems:"20" doc:"Only notes with at least one of these tags."`
	Answer  bool        `json:"answer,omitempty" doc:"Have the chat model write an answer from the passages, citing them as [1], [2], ..."`
}

// PassageSource is where a passage comes from.
type PassageSource struct {
	Type     string    `json:"type" enum:"note,document"`
	ID       uuid.UUID `json:"id"`
	Title    string    `json:"title"`
	Section  string    `json:"section,omitempty" example:"Trip › Packing" doc:"The headings above the passage, or the page of a PDF (\"page 3\")."`
	BlockIDs []string  `json:"block_ids" doc:"The note blocks the passage comes from, to highlight or link them; empty for documents."`
}

// Passage is a retrieved passage.
type Passage struct {
	Text   string        `json:"text"`
	Score  float64       `json:"score" doc:"Fused score (a weighted sum of the vector and full-text scores, each scaled to 0-1); higher is better, comparable within one response."`
	Source PassageSource `json:"source"`
}

// RAGAnswer is the answer the chat model wrote.
type RAGAnswer struct {
	Text      string `json:"text" doc:"Markdown, citing passages by their 1-based index as [n]."`
	Provider  string `json:"provider" example:"openai"`
	Model     string `json:"model" example:"gpt-4o-mini"`
	Citations []int  `json:"citations" doc:"Indexes (1-based) of the passages the text cites, in order of first citation."`
}

// RAGResult is the answer to a RAG query.
type RAGResult struct {
	Passages []Passage  `json:"passages"`
	Answer   *RAGAnswer `json:"answer,omitempty" doc:"Present when answer was true."`
	Warnings []string   `json:"warnings" doc:"What was left out, such as vector search while the embedding model is unavailable."`
}

// IndexCounts counts sources by where they stand in the index.
type IndexCounts struct {
	Total      int `json:"total"`
	Indexed    int `json:"indexed" doc:"Embedded and searchable."`
	Pending    int `json:"pending" doc:"Waiting for a job or retrying after an error."`
	Failed     int `json:"failed" doc:"Not retried until they change or are reindexed."`
	NotIndexed int `json:"not_indexed" doc:"Notes never queued (written before retrieval existed); an admin runs consilium ai reindex."`
	Outdated   int `json:"outdated" doc:"Embedded by another model than the current one: found by text only until reindexed."`
}

// IndexStatus is the health of the user's index.
type IndexStatus struct {
	Notes          IndexCounts `json:"notes"`
	Documents      IndexCounts `json:"documents"`
	Chunks         int         `json:"chunks" doc:"Passages indexed."`
	EmbeddingModel string      `json:"embedding_model,omitempty" example:"local/lexical-384" doc:"The embedding model in use (provider/model), once known."`
	LastError      string      `json:"last_error,omitempty" doc:"The latest error of a pending or failed note or document."`
}

// Agent is a chat agent.
type Agent struct {
	Name        string   `json:"name" example:"assistant"`
	Description string   `json:"description"`
	Provider    string   `json:"provider" example:"openai" doc:"The model provider plugin it talks through."`
	Model       string   `json:"model" doc:"Model id; empty: the provider's default."`
	Tools       []string `json:"tools" example:"[\"search\",\"create_task\"]" doc:"The tools it may use: Consilium's own by name, external for every tool of the user's connected outside apps, <provider>:* for those of one outside app. Outside tools are named <provider>_<tool> in tool calls and approvals; each call waits for the user's approval unless an admin marked the tool read-only."`
	Available   bool     `json:"available" doc:"Whether its provider is running right now."`
}

// AgentList is every agent configured for chat.
type AgentList struct {
	Agents []Agent `json:"agents" nullable:"false"`
}

func registerAI(authed huma.API, svc *ai.Service, agents chat.Agents) {
	limits := svc.Limits()
	registerDocuments(authed, svc, limits.MaxUploadBytes)

	huma.Register(authed, huma.Operation{
		OperationID: "query-rag", Method: http.MethodPost, Path: "/ai/rag/query",
		Summary: "Ask your notes and documents", Tags: aiTags,
		Description: "Finds the passages of the signed-in user's notes and documents that best match the query: " +
			"vector search (filtered to the user inside the index scan) and full-text search (rare words weigh more), " +
			"fused, so exact names and codes are found as well as near spellings. " +
			"Each passage names its source and, for notes, the blocks it comes from. With answer: true the configured " +
			"chat model writes an answer that cites the passages by index. If the embedding model is unavailable, " +
			"full-text results come back with a warning; if the chat model is, the request fails with 503.",
		RequestBody: jsonExample(map[string]any{"query": "When is the plumber coming?", "k": 5}),
		Errors:      []int{http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, func(ctx context.Context, in *struct{ Body RAGQuery }) (*struct{ Body RAGResult }, error) {
		b := in.Body
		res, err := svc.Query(ctx, principal(ctx).User.ID, &ai.QueryParams{Answer: b.Answer, SearchParams: ai.SearchParams{
			Query: b.Query, K: b.K, Sources: b.Sources, NoteIDs: b.NoteIDs, Tags: b.Tags}})
		if err != nil {
			return nil, err
		}
		out := &struct{ Body RAGResult }{Body: RAGResult{Passages: []Passage{}, Warnings: res.Warnings}}
		for _, p := range res.Passages {
			out.Body.Passages = append(out.Body.Passages, Passage{Text: p.Text, Score: p.Score, Source: PassageSource{
				Type: p.SourceType, ID: p.SourceID, Title: p.Title, Section: p.Heading, BlockIDs: nonNil(p.BlockIDs)}})
		}
		if a := res.Answer; a != nil {
			out.Body.Answer = &RAGAnswer{Text: a.Text, Provider: a.Provider, Model: a.Model, Citations: nonNil(a.Citations)}
		}
		return out, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "get-index-status", Method: http.MethodGet, Path: "/ai/index/status",
		Summary: "Index health", Tags: aiTags,
		Description: "How many of the signed-in user's notes and documents are indexed, pending and failed, " +
			"the number of passages and the latest error, so the frontend can show that search is up to date.",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body IndexStatus }, error) {
		st, err := svc.IndexStatus(ctx, principal(ctx).User.ID)
		if err != nil {
			return nil, err
		}
		counts := func(c ai.SourceCounts) IndexCounts {
			return IndexCounts{Total: c.Total, Indexed: c.Indexed, Pending: c.Pending, Failed: c.Failed, NotIndexed: c.NotIndexed, Outdated: c.Outdated}
		}
		return &struct{ Body IndexStatus }{Body: IndexStatus{Notes: counts(st.Notes), Documents: counts(st.Documents),
			Chunks: st.Chunks, EmbeddingModel: st.EmbeddingModel, LastError: st.LastError}}, nil
	})

	registerTranscribe(authed, svc, limits.MaxImageBytes)

	listAgents := func(ctx context.Context, _ *struct{}) (*struct{ Body AgentList }, error) {
		out := &struct{ Body AgentList }{Body: AgentList{Agents: []Agent{}}}
		for _, a := range agents.Agents() {
			out.Body.Agents = append(out.Body.Agents, Agent{Name: a.Name, Description: a.Description, Provider: a.Provider,
				Model: a.Model, Tools: nonNil(a.Tools), Available: a.Available})
		}
		return out, nil
	}
	agentsDoc := "The agents configured for chat (ai.agents in the server config; by default the manager \"assistant\" " +
		"and its specialists planner, tasks, researcher and inbox): " +
		"name, description, model provider and model, the tools it may use, and whether its provider is running."
	huma.Register(authed, huma.Operation{OperationID: "list-agents", Method: http.MethodGet, Path: "/ai/agents",
		Summary: "List agents", Tags: aiTags, Description: agentsDoc}, listAgents)
	huma.Register(authed, huma.Operation{OperationID: "list-agents-post", Method: http.MethodPost, Path: "/ai/agents",
		Summary: "List agents (POST)", Tags: aiTags, Description: agentsDoc + " Same as GET, for clients that only POST."}, listAgents)
}
