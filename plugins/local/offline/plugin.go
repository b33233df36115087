package offline

import (
	"cmp"
	"context"
	"strconv"
	"strings"

	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/wordnet"
)

// Model ids.
const (
	ModelEmbed      = "lexical-384"
	ModelEmbedWN    = "lexical-wordnet-384"
	ModelRetrieval  = "retrieval"
	ModelTranscribe = "tesseract"
)

// Keys of Connection.Config; all optional.
const (
	KeyTesseractPath = "tesseract_path"
	KeyOCRLanguage   = "ocr_language"
	KeyMaxPassages   = "max_passages"
	KeyWordNetDir    = "wordnet_dir"
)

// DefaultWordNetDir is where Debian's wordnet-base installs WordNet.
const DefaultWordNetDir = "/usr/share/wordnet"

// lexicon is the WordNet database of the connection's wordnet_dir, nil
// when it cannot be read (opened once per folder).
func lexicon(c sdk.Connection) (*wordnet.Lexicon, error) {
	return wordnet.Load(c.Setting(KeyWordNetDir, DefaultWordNetDir))
}

const defaultMaxPassages = 3

// Plugin is the local llm plugin.
type Plugin struct {
	Version string
}

var (
	_ sdk.LLM         = (*Plugin)(nil)
	_ sdk.Embedder    = (*Plugin)(nil)
	_ sdk.Transcriber = (*Plugin)(nil)
)

// Describe says plainly what each model is. Transcription is offered only
// when Tesseract is installed.
func (p *Plugin) Describe(ctx context.Context, req *sdk.DescribeRequest) (*sdk.Manifest, error) {
	embedNote := "WordNet is not installed (scripts/install-wordnet.sh installs it), so words match only in the forms written."
	lexModel := sdk.Model{ID: ModelEmbed, DisplayName: "Lexical feature hashing, 384 dimensions (not a neural model)",
		Capabilities: []sdk.Capability{sdk.CapEmbed}, EmbeddingDimension: Dimension}
	embedModels := []sdk.Model{lexModel}
	if lex, err := lexicon(req.Connection); err == nil {
		embedNote = "The default model, " + ModelEmbedWN + ", adds each word's base forms and the words WordNet (" + lex.Dir() +
			") relates to it, so that \"taxes\" meets \"tax\" and \"pay\" meets \"payment\"."
		embedModels = []sdk.Model{{ID: ModelEmbedWN, DisplayName: "Lexical feature hashing with WordNet lemmas and related words, 384 dimensions (not a neural model)",
			Capabilities: []sdk.Capability{sdk.CapEmbed}, EmbeddingDimension: Dimension}, lexModel}
	}
	ocrNote := "Transcription is unavailable: the Tesseract OCR engine is not installed (scripts/install-tesseract.sh installs it)."
	models := []sdk.Model{
		{ID: ModelRetrieval, DisplayName: "Retrieval only (no language model)",
			Capabilities: []sdk.Capability{sdk.CapChat, sdk.CapChatStream}},
	}
	models = append(models, embedModels...)
	caps := []sdk.Capability{sdk.CapChat, sdk.CapChatStream, sdk.CapEmbed}
	if bin, err := findTesseract(req.Connection.Setting(KeyTesseractPath, "")); err == nil {
		ocrNote = "Transcription runs the Tesseract OCR engine (" + bin + ") on the image: printed text reads well, handwriting poorly."
		models = append(models, sdk.Model{ID: ModelTranscribe, DisplayName: "Tesseract OCR",
			Capabilities: []sdk.Capability{sdk.CapTranscribe}})
		caps = append(caps, sdk.CapTranscribe)
	}
	return &sdk.Manifest{
		Name:        "local",
		DisplayName: "Local (offline, no language model)",
		Description: "Works with no network and no key. Embeddings are lexical feature-hashing embeddings, not a neural model: " +
			"words, word pairs and character 3- to 5-grams hashed with random signs into 384 dimensions and L2-normalised, " +
			"so they find shared words and word parts, not meaning. " + embedNote + " Chat cannot write: it quotes the passages the host " +
			"retrieved that best match the question, with their sources, and says that no language model is configured. " + ocrNote,
		Version:      p.Version,
		Auth:         sdk.Auth{Type: sdk.AuthNone},
		Capabilities: caps,
		Models:       models,
		Config: []sdk.ConfigField{
			{Key: KeyTesseractPath, Label: "Tesseract binary", Type: "string",
				Help: "Path of the tesseract program; empty to look on PATH and in the usual places."},
			{Key: KeyOCRLanguage, Label: "OCR language", Type: "string", Default: "eng",
				Help: "Tesseract language(s) when a request gives no hint, such as eng or eng+deu."},
			{Key: KeyWordNetDir, Label: "WordNet folder", Type: "string", Default: DefaultWordNetDir,
				Help: "Folder of the WordNet 3.0 database (index.*, data.*, *.exc), as Debian's wordnet-base installs it."},
			{Key: KeyMaxPassages, Label: "Passages quoted", Type: "int", Default: strconv.Itoa(defaultMaxPassages),
				Help: "How many of the best-matching passages a chat answer quotes."},
		},
	}, nil
}

// Chat answers with quotes from the passages in the conversation (see
// retrieval.go for how the host passes them). Tools are not offered to it,
// since it cannot call them.
func (p *Plugin) Chat(ctx context.Context, req *sdk.ChatRequest, stream sdk.ChatStream) (*sdk.ChatResponse, error) {
	if m := cmp.Or(req.Model, ModelRetrieval); m != ModelRetrieval {
		return nil, sdk.NotFound("the local plugin has no chat model %q; its only one is %q", m, ModelRetrieval)
	}
	n, err := positive(req.Connection, KeyMaxPassages, defaultMaxPassages)
	if err != nil {
		return nil, err
	}
	text := answer(readConversation(req.Messages), n)
	if req.Stream && stream != nil {
		// Paragraph by paragraph: the text is ready at once.
		for _, para := range strings.SplitAfter(text, "\n\n") {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if err := stream.Send(&sdk.ChatEvent{Text: para}); err != nil {
				return nil, err
			}
		}
	}
	return &sdk.ChatResponse{Message: sdk.Message{Role: sdk.RoleAssistant, Content: text}, StopReason: "stop", Model: ModelRetrieval}, nil
}

// Embed returns lexical embeddings: by default with WordNet's lemmas and
// related words when WordNet is there (ModelEmbedWN), else without
// (ModelEmbed).
func (p *Plugin) Embed(ctx context.Context, req *sdk.EmbedRequest) (*sdk.EmbedResponse, error) {
	lex, lexErr := lexicon(req.Connection)
	model := req.Model
	switch {
	case model == "" && lexErr == nil:
		model = ModelEmbedWN
	case model == "":
		model = ModelEmbed
	case model == ModelEmbedWN && lexErr != nil:
		return nil, sdk.InvalidConfig("embedding model %q needs WordNet (scripts/install-wordnet.sh installs it): %v", model, lexErr)
	case model != ModelEmbed && model != ModelEmbedWN:
		return nil, sdk.NotFound("the local plugin has no embedding model %q; its models are %q and %q", model, ModelEmbedWN, ModelEmbed)
	}
	if model == ModelEmbed {
		lex = nil
	}
	out := &sdk.EmbedResponse{Model: model, Dimension: Dimension, Vectors: make([][]float32, len(req.Texts))}
	for i, t := range req.Texts {
		if i%256 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		out.Vectors[i] = EmbedWordNet(lex, t)
	}
	return out, nil
}

// Transcribe reads the text in an image with Tesseract.
func (p *Plugin) Transcribe(ctx context.Context, req *sdk.TranscribeRequest) (*sdk.TranscribeResponse, error) {
	if m := cmp.Or(req.Model, ModelTranscribe); m != ModelTranscribe {
		return nil, sdk.NotFound("the local plugin has no transcription model %q; its only one is %q", m, ModelTranscribe)
	}
	if len(req.Image) == 0 {
		return nil, sdk.Permanent("transcribe: the image is empty")
	}
	bin, err := findTesseract(req.Connection.Setting(KeyTesseractPath, ""))
	if err != nil {
		return nil, err
	}
	lang := ocrLanguage(ctx, bin, req.Language, req.Connection.Setting(KeyOCRLanguage, "eng"))
	text, err := ocr(ctx, bin, lang, req.Image)
	if err != nil {
		return nil, err
	}
	return &sdk.TranscribeResponse{Text: text}, nil
}

func positive(c sdk.Connection, key string, def int) (int, error) {
	v := c.Setting(key, "")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, sdk.InvalidConfig("config %q is %q, want a whole number ≥ 1", key, v)
	}
	return n, nil
}
