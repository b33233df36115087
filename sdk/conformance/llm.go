package conformance

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/consilium-hq/consilium/sdk"
)

// LLMClient is what the checks call: the host side of an llm plugin, such
// as *host.LLMClient (package sdk/host).
type LLMClient interface {
	sdk.LLM
	sdk.Embedder
	sdk.Transcriber
}

// LLMChecks returns the checks for an llm plugin.
func LLMChecks(c LLMClient, o Options) []Check {
	var m *sdk.Manifest
	call := func(ctx context.Context) (context.Context, context.CancelFunc) {
		return context.WithTimeout(ctx, o.timeout())
	}
	modelWith := func(capability sdk.Capability) *sdk.Model {
		for i := range m.Models {
			for _, c := range m.Models[i].Capabilities {
				if c == capability {
					return &m.Models[i]
				}
			}
		}
		return nil
	}
	return []Check{
		{"describe", func(ctx context.Context) (err error) {
			m, err = describe(ctx, &o, c.Describe)
			if err != nil && m != nil && m.ProtocolVersion == 0 {
				m = nil
			}
			if err == nil && len(m.Models) == 0 {
				err = errors.New("manifest lists no models")
			}
			return err
		}},
		{"capabilities_match_methods", func(ctx context.Context) error {
			if m == nil {
				return Skip("Describe failed")
			}
			var errs []error
			if modelWith(sdk.CapEmbed) != nil && !m.Implements("Embed") {
				errs = append(errs, errors.New("a model has capability embed but Embed is not implemented"))
			}
			if modelWith(sdk.CapTranscribe) != nil && !m.Implements("Transcribe") {
				errs = append(errs, errors.New("a model has capability transcribe but Transcribe is not implemented"))
			}
			return errors.Join(errs...)
		}},
		{"chat", func(ctx context.Context) error {
			if m == nil {
				return Skip("Describe failed")
			}
			if o.SkipChat {
				return Skip("Options.SkipChat")
			}
			model := modelWith(sdk.CapChat)
			if model == nil {
				return Skip("no model has capability chat")
			}
			ctx, cancel := call(ctx)
			defer cancel()
			var streamed strings.Builder
			resp, err := c.Chat(ctx, &sdk.ChatRequest{Connection: o.Connection, Model: model.ID, Stream: true,
				Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "Say hello."}}},
				sdk.ChatStreamFunc(func(ev *sdk.ChatEvent) error { streamed.WriteString(ev.Text); return nil }))
			if err != nil {
				return fmt.Errorf("Chat: %w", err)
			}
			if resp.Message.Role != sdk.RoleAssistant {
				return fmt.Errorf("Chat answered with role %q, want assistant", resp.Message.Role)
			}
			if resp.Message.Content == "" && len(resp.Message.ToolCalls) == 0 {
				return errors.New("Chat answered with neither content nor tool calls")
			}
			if streamed.Len() > 0 && streamed.String() != resp.Message.Content {
				return fmt.Errorf("streamed text %q differs from the final content %q", streamed.String(), resp.Message.Content)
			}
			return nil
		}},
		{"embed", func(ctx context.Context) error {
			if m == nil {
				return Skip("Describe failed")
			}
			if !m.Implements("Embed") {
				return Skip("Embed is not implemented")
			}
			model := modelWith(sdk.CapEmbed)
			if model == nil {
				return errors.New("Embed is implemented but no model has capability embed")
			}
			ctx, cancel := call(ctx)
			defer cancel()
			texts := []string{"plan the week", "water the plants"}
			resp, err := c.Embed(ctx, &sdk.EmbedRequest{Connection: o.Connection, Model: model.ID, Texts: texts})
			if err != nil {
				return fmt.Errorf("Embed: %w", err)
			}
			if len(resp.Vectors) != len(texts) {
				return fmt.Errorf("Embed returned %d vectors for %d texts", len(resp.Vectors), len(texts))
			}
			if resp.Dimension <= 0 {
				return errors.New("Embed returned no dimension")
			}
			if model.EmbeddingDimension > 0 && resp.Dimension != model.EmbeddingDimension {
				return fmt.Errorf("Embed dimension %d, manifest says %d", resp.Dimension, model.EmbeddingDimension)
			}
			for i, v := range resp.Vectors {
				if len(v) != resp.Dimension {
					return fmt.Errorf("vector %d has %d values, want %d", i, len(v), resp.Dimension)
				}
			}
			return nil
		}},
		{"unknown_model_is_typed", func(ctx context.Context) error {
			if m == nil {
				return Skip("Describe failed")
			}
			if o.SkipChat {
				return Skip("Options.SkipChat")
			}
			ctx, cancel := call(ctx)
			defer cancel()
			_, err := c.Chat(ctx, &sdk.ChatRequest{Connection: o.Connection, Model: "conformance-no-such-model",
				Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "hi"}}}, nil)
			return requireCode("Chat with an unknown model", err, sdk.CodeNotFound, sdk.CodeInvalidConfig, sdk.CodePermanent)
		}},
		{"cancellation", func(ctx context.Context) error {
			return checkCancellation(ctx, &o, func(ctx context.Context) error {
				_, err := c.Describe(ctx, &sdk.DescribeRequest{Connection: o.Connection})
				return err
			})
		}},
	}
}
