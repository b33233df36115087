package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/consilium-hq/consilium/plugins/local/internal/page"
	"github.com/consilium-hq/consilium/plugins/local/offline"
	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/conformance"
	"github.com/consilium-hq/consilium/sdk/plugintest"
	"github.com/consilium-hq/consilium/sdk/wordnet"
)

// TestPluginProcess builds the plugin and calls it over gRPC as its own
// process, started the way the host starts plugins (clean environment with
// only PATH and GOMAXPROCS).
func TestPluginProcess(t *testing.T) {
	p := plugintest.Start(t, plugintest.Build(t, "."))
	ctx := context.Background()

	t.Run("conformance", func(t *testing.T) {
		// A "tesseract" that never finishes: cancelling the call must stop
		// it and return.
		slow := filepath.Join(t.TempDir(), "tesseract")
		if err := os.WriteFile(slow, []byte("#!/bin/sh\nexec sleep 30\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		plugintest.RunLLM(t, p, conformance.Options{Blocking: func(ctx context.Context) error {
			_, err := p.LLM.Transcribe(ctx, &sdk.TranscribeRequest{Image: []byte("png"),
				Connection: sdk.Connection{Config: map[string]string{offline.KeyTesseractPath: slow}}})
			return err
		}})
	})

	t.Run("manifest", func(t *testing.T) {
		m, err := p.LLM.Describe(ctx, &sdk.DescribeRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Description, "not a neural model") || !m.Implements("Transcribe") || !m.Has(sdk.CapTranscribe) {
			t.Errorf("manifest %+v", m)
		}
	})

	t.Run("embed", func(t *testing.T) {
		texts := []string{"buy milk", "call mom on Sunday"}
		resp, err := p.LLM.Embed(ctx, &sdk.EmbedRequest{Texts: texts})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Dimension != offline.Dimension || len(resp.Vectors) != 2 {
			t.Fatalf("dimension %d, %d vectors", resp.Dimension, len(resp.Vectors))
		}
		// The default model: with WordNet where it is installed.
		lex, err := wordnet.Load(offline.DefaultWordNetDir)
		if want := map[bool]string{true: offline.ModelEmbedWN, false: offline.ModelEmbed}[err == nil]; resp.Model != want {
			t.Errorf("model %s, want %s (WordNet in %s: %v)", resp.Model, want, offline.DefaultWordNetDir, err)
		}
		// Deterministic across processes: the same as computed here.
		for i, text := range texts {
			if !slices.Equal(resp.Vectors[i], offline.EmbedWordNet(lex, text)) {
				t.Errorf("vector of %q differs from the in-process one", text)
			}
		}
	})

	t.Run("chat", func(t *testing.T) {
		ctxMsg := "Passages:\n" + offline.FormatPassage(offline.Passage{Source: "Health", Ref: "note:12", Text: "Dentist moved to Friday at 3pm."}) +
			"\n" + offline.FormatPassage(offline.Passage{Source: "Groceries", Text: "Buy milk and eggs."})
		var streamed strings.Builder
		resp, err := p.LLM.Chat(ctx, &sdk.ChatRequest{Stream: true, Messages: []sdk.Message{
			{Role: sdk.RoleSystem, Content: ctxMsg}, {Role: sdk.RoleUser, Content: "When is the dentist?"}}},
			sdk.ChatStreamFunc(func(ev *sdk.ChatEvent) error { streamed.WriteString(ev.Text); return nil }))
		if err != nil {
			t.Fatal(err)
		}
		got := resp.Message.Content
		if !strings.Contains(got, "> Dentist moved to Friday at 3pm.\n\n— Health (note:12)") || strings.Contains(got, "milk") ||
			!strings.Contains(got, "No language model is configured") || streamed.String() != got {
			t.Errorf("answer:\n%s", got)
		}
	})

	t.Run("transcribe", func(t *testing.T) {
		img, err := page.Render([]string{"[ ] buy milk", "[x] call mom"}, 40)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := p.LLM.Transcribe(ctx, &sdk.TranscribeRequest{Image: img, MIMEType: "image/png"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(resp.Text, "[ ] buy milk") || !strings.Contains(resp.Text, "[x] call mom") {
			t.Errorf("text %q", resp.Text)
		}
	})
}
