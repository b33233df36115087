package provider

import (
	"cmp"
	"context"
	"strings"

	"github.com/consilium-hq/consilium/sdk"
)

// Embed embeds the texts in batches of embed_batch_size, one request per
// batch, reporting progress to the host after each.
func (p *Plugin) Embed(ctx context.Context, req *sdk.EmbedRequest) (*sdk.EmbedResponse, error) {
	s, err := ReadSettings(&req.Connection)
	if err != nil {
		return nil, err
	}
	if s.Provider == Anthropic {
		return nil, sdk.Errorf(sdk.CodeUnimplemented, "anthropic has no embeddings API: configure an openai, xai, openrouter or ollama instance for embeddings")
	}
	if err := s.RequireKey(); err != nil {
		return nil, err
	}
	s.EmbeddingModel = cmp.Or(req.Model, s.EmbeddingModel)
	if s.EmbeddingModel == "" {
		return nil, sdk.InvalidConfig("no embedding model: set config %q", KeyEmbeddingModel)
	}
	for i, t := range req.Texts {
		if strings.TrimSpace(t) == "" {
			// OpenAI rejects the whole batch for one empty input.
			return nil, sdk.Permanent("embed: text %d is empty", i)
		}
	}
	out := &sdk.EmbedResponse{Model: s.EmbeddingModel, Dimension: s.Dimension(), Vectors: make([][]float32, 0, len(req.Texts))}
	for start := 0; start < len(req.Texts); start += s.EmbedBatchSize {
		end := min(start+s.EmbedBatchSize, len(req.Texts))
		c, err := p.newCall(s, false)
		if err != nil {
			return nil, err
		}
		vectors, err := c.embed.CreateEmbedding(ctx, req.Texts[start:end])
		if err := s.mapError(ctx, "embed", err, c.rec, false); err != nil {
			return nil, err
		}
		if len(vectors) != end-start {
			return nil, sdk.Temporary("embed: %s answered %d vectors for %d texts", s.DisplayName, len(vectors), end-start)
		}
		for _, v := range vectors {
			if len(out.Vectors) == 0 && len(v) > 0 {
				out.Dimension = len(v)
			}
			if len(v) != out.Dimension {
				return nil, sdk.Temporary("embed: %s answered vectors of %d and %d dimensions", s.DisplayName, out.Dimension, len(v))
			}
			out.Vectors = append(out.Vectors, v)
		}
		_ = sdk.ReportProgress(ctx, sdk.Progress{Done: int64(end), Total: int64(len(req.Texts)), Message: "embedding"})
	}
	return out, nil
}
