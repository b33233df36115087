package model_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/model"
	"github.com/consilium-hq/consilium/sdk"
)

// chatOnly is a provider with neither embeddings nor transcription.
type chatOnly struct{}

func (chatOnly) Describe(context.Context, *sdk.DescribeRequest) (*sdk.Manifest, error) {
	return &sdk.Manifest{Name: "chat-only"}, nil
}

func (chatOnly) Chat(context.Context, *sdk.ChatRequest, sdk.ChatStream) (*sdk.ChatResponse, error) {
	return &sdk.ChatResponse{}, nil
}

func (chatOnly) Available() bool { return true }

// embedOnly adds embeddings.
type embedOnly struct{ chatOnly }

func (embedOnly) Embed(context.Context, *sdk.EmbedRequest) (*sdk.EmbedResponse, error) {
	return &sdk.EmbedResponse{Model: "e"}, nil
}

// TestOptionalCapabilities: embedding and transcription are found by type
// assertion; a provider without one gets CodeUnimplemented naming it.
func TestOptionalCapabilities(t *testing.T) {
	t.Parallel()
	_, err := model.Embedder(chatOnly{})
	require.Equal(t, sdk.CodeUnimplemented, sdk.CodeOf(err))
	require.Contains(t, err.Error(), "does not embed")
	_, err = model.Transcriber(chatOnly{})
	require.Equal(t, sdk.CodeUnimplemented, sdk.CodeOf(err))
	require.Contains(t, err.Error(), "does not transcribe")

	e, err := model.Embedder(embedOnly{})
	require.NoError(t, err)
	res, err := e.Embed(context.Background(), &sdk.EmbedRequest{})
	require.NoError(t, err)
	require.Equal(t, "e", res.Model)
	_, err = model.Transcriber(embedOnly{})
	require.Equal(t, sdk.CodeUnimplemented, sdk.CodeOf(err))
}
