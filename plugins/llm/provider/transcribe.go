package provider

import (
	"cmp"
	"context"
	"encoding/base64"
	"mime"
	"net/http"
	"strings"

	"github.com/tmc/langchaingo/llms"

	"github.com/consilium-hq/consilium/sdk"
)

// transcribePrompt asks for the text only, with checkboxes the way the notes
// parser reads task lists.
const transcribePrompt = "Transcribe all the text in this image exactly as it is written, line by line, in reading order. " +
	"Write an empty checkbox as \"[ ]\" and a ticked one as \"[x]\" at the start of its line. " +
	"Reply with the transcription only, with no comments; reply with nothing if the image has no text."

// imageTypes are the image formats every supported provider accepts.
var imageTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// Transcribe reads the text in an image with the vision model, sending the
// image as an image part of a chat message: a data: URL in an image_url part
// for the OpenAI format, a base64 image block for Anthropic.
func (p *Plugin) Transcribe(ctx context.Context, req *sdk.TranscribeRequest) (*sdk.TranscribeResponse, error) {
	s, err := ReadSettings(&req.Connection)
	if err != nil {
		return nil, err
	}
	if err := s.RequireKey(); err != nil {
		return nil, err
	}
	model := cmp.Or(req.Model, s.VisionModel)
	if model == "" {
		return nil, sdk.InvalidConfig("no vision model for %s: set config %q to a model that reads images", s.DisplayName, KeyVisionModel)
	}
	if len(req.Image) == 0 {
		return nil, sdk.Permanent("transcribe: the image is empty")
	}
	mimeType := req.MIMEType
	if mimeType == "" {
		mimeType = http.DetectContentType(req.Image)
	}
	if mt, _, err := mime.ParseMediaType(mimeType); err == nil {
		mimeType = mt
	}
	if !imageTypes[mimeType] {
		return nil, sdk.Permanent("transcribe: %s images are not supported; send PNG, JPEG, GIF or WebP", mimeType)
	}
	var image llms.ContentPart = llms.ImageURLContent{URL: "data:" + mimeType + ";base64," + base64.StdEncoding.EncodeToString(req.Image)}
	if s.Provider == Anthropic {
		image = llms.BinaryContent{MIMEType: mimeType, Data: req.Image}
	}
	prompt := transcribePrompt
	if req.Language != "" {
		prompt += " The text is probably in the language " + req.Language + "."
	}
	c, err := p.newCall(s, false)
	if err != nil {
		return nil, err
	}
	msgs := []llms.MessageContent{{Role: llms.ChatMessageTypeHuman, Parts: []llms.ContentPart{image, llms.TextPart(prompt)}}}
	resp, err := c.model.GenerateContent(ctx, msgs, s.callOptions(model, 0, cmp.Or(s.MaxTokens, 4096))...)
	if err := s.mapError(ctx, "transcribe", err, c.rec, false); err != nil {
		return nil, err
	}
	out, err := s.chatResponse(resp, model, nil)
	if err != nil {
		return nil, err
	}
	return &sdk.TranscribeResponse{Text: strings.TrimSpace(out.Message.Content)}, nil
}
