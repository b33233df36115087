package provider

import (
	"cmp"
	"context"
	"encoding/json"

	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"

	"github.com/consilium-hq/consilium/sdk"
)

// Chat answers a conversation, streaming text as it arrives when asked to.
// Tool calls are sent on the stream once complete, after the text: the
// providers stream their arguments in fragments.
func (p *Plugin) Chat(ctx context.Context, req *sdk.ChatRequest, stream sdk.ChatStream) (*sdk.ChatResponse, error) {
	s, err := ReadSettings(&req.Connection)
	if err != nil {
		return nil, err
	}
	if err := s.RequireKey(); err != nil {
		return nil, err
	}
	msgs, err := s.messages(req.Messages)
	if err != nil {
		return nil, err
	}
	model := cmp.Or(req.Model, s.ChatModel)
	streamed := req.Stream && stream != nil
	c, err := p.newCall(s, streamed)
	if err != nil {
		return nil, err
	}
	temperature := s.Temperature
	if req.Temperature != nil {
		temperature = *req.Temperature
	}
	opts := s.callOptions(model, temperature, cmp.Or(req.MaxTokens, s.MaxTokens))
	if len(req.Tools) > 0 {
		opts = append(opts, llms.WithTools(tools(req.Tools)))
	}
	if streamed {
		opts = append(opts, llms.WithStreamingFunc(func(ctx context.Context, chunk []byte) error {
			// Role-only deltas arrive empty; tool-call fragments are
			// assembled from the stream and sent whole below, and text that
			// came in the same chunk is sent now.
			if len(chunk) == 0 {
				return nil
			}
			if isToolCallChunk(chunk) {
				if text := c.rec.tools.takeCallText(); text != "" {
					return stream.Send(&sdk.ChatEvent{Text: text})
				}
				return nil
			}
			return stream.Send(&sdk.ChatEvent{Text: string(chunk)})
		}))
	}
	resp, err := c.model.GenerateContent(ctx, msgs, opts...)
	if err := s.mapError(ctx, "chat", err, c.rec, streamed); err != nil {
		return nil, err
	}
	var streamedCalls []sdk.ToolCall
	if c.rec.tools != nil {
		if calls, ok := c.rec.tools.result(); ok {
			streamedCalls = calls
		}
	}
	out, err := s.chatResponse(resp, model, streamedCalls)
	if err != nil {
		return nil, err
	}
	if streamed {
		for i := range out.Message.ToolCalls {
			if err := stream.Send(&sdk.ChatEvent{ToolCall: &out.Message.ToolCalls[i]}); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// callOptions are the options every generation call takes; maxTokens 0
// leaves the provider's default.
func (s *Settings) callOptions(model string, temperature float64, maxTokens int) []llms.CallOption {
	opts := []llms.CallOption{llms.WithModel(model), llms.WithTemperature(temperature)}
	if maxTokens > 0 {
		opts = append(opts, llms.WithMaxTokens(maxTokens))
	}
	if s.LegacyMaxTokens && s.Provider != Anthropic {
		opts = append(opts, openai.WithLegacyMaxTokensField())
	}
	return opts
}

// chatResponse merges langchaingo's choices into one assistant message:
// its Anthropic client returns one choice per content block (text, then
// tool_use), its OpenAI client one choice in all. streamed, when not nil,
// are the tool calls read from the stream itself (toolStream), which
// replace langchaingo's.
func (s *Settings) chatResponse(resp *llms.ContentResponse, model string, streamed []sdk.ToolCall) (*sdk.ChatResponse, error) {
	out := &sdk.ChatResponse{Message: sdk.Message{Role: sdk.RoleAssistant}, Model: model}
	calls := streamed
	for _, ch := range resp.Choices {
		out.Message.Content += ch.Content
		if ch.StopReason != "" {
			out.StopReason = ch.StopReason
		}
		if streamed == nil {
			for _, tc := range ch.ToolCalls {
				if tc.FunctionCall != nil {
					calls = append(calls, sdk.ToolCall{ID: tc.ID, Name: tc.FunctionCall.Name,
						Arguments: json.RawMessage(arguments(json.RawMessage(tc.FunctionCall.Arguments)))})
				}
			}
		}
		in, outTokens := usage(ch.GenerationInfo)
		out.Usage.InputTokens = max(out.Usage.InputTokens, in)
		out.Usage.OutputTokens = max(out.Usage.OutputTokens, outTokens)
	}
	for _, tc := range calls {
		if !json.Valid(tc.Arguments) {
			err := sdk.Temporary("chat: %s called tool %q with arguments that are not valid JSON: %.200s", s.DisplayName, tc.Name, tc.Arguments)
			if normalizeStop(out.StopReason, true) == "length" {
				// Cut off by max_tokens: the same request fails again.
				err.Code = sdk.CodePermanent
			}
			return nil, err
		}
	}
	out.Message.ToolCalls = calls
	out.StopReason = normalizeStop(out.StopReason, len(out.Message.ToolCalls) > 0)
	return out, nil
}

// normalizeStop speaks OpenAI's words for why an answer ended (stop,
// tool_calls, length, content_filter) whatever the provider said.
func normalizeStop(reason string, toolCalls bool) string {
	switch reason {
	case "end_turn", "stop_sequence", "stop":
		return "stop"
	case "tool_use", "tool_calls", "function_call":
		return "tool_calls"
	case "max_tokens", "length":
		return "length"
	case "":
		// OpenRouter's final usage chunk resets the finish reason.
		if toolCalls {
			return "tool_calls"
		}
		return "stop"
	}
	return reason
}

// usage reads token counts from langchaingo's generation info: OpenAI's
// PromptTokens/CompletionTokens or Anthropic's InputTokens/OutputTokens.
func usage(info map[string]any) (in, out int) {
	return cmp.Or(toInt(info["PromptTokens"]), toInt(info["InputTokens"])),
		cmp.Or(toInt(info["CompletionTokens"]), toInt(info["OutputTokens"]))
}

func toInt(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case int64:
		return int(n)
	case float64:
		return int(n)
	}
	return 0
}
