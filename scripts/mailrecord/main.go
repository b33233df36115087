// Command mailrecord records a real model provider's answers to the mail
// corpus (core/integration/testdata/mailcorpus), for the model path's
// quality test (TestMailCorpusModelReplay) to replay: every mail goes
// through the llm plugin, built here, as the mail scan sends it
// (integration.MailRequest, no tools), and each raw answer is written as
// one JSON line keyed by the request's hash.
//
// Usage (make mail-record wraps it):
//
//	OPENAI_API_KEY=... go run ./scripts/mailrecord -provider openai -model gpt-4o-mini \
//	    [-base-url URL] [-key-env OPENAI_API_KEY] [-out FILE]
//
// The default -out is mail-replay.jsonl in the shared fixtures' llm folder
// (../shared/fixtures/llm, or $CONSILIUM_FIXTURES/llm). The recording is
// third-party output: it goes in the shared fixtures, never in the
// repository.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"github.com/consilium-hq/consilium/core/integration"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/core/sharedfixtures"
	"github.com/consilium-hq/consilium/sdk"
)

func main() {
	provider := flag.String("provider", "openai", "the llm plugin's provider (openai, anthropic, xai, openrouter, ollama)")
	model := flag.String("model", "", "the chat model (required)")
	baseURL := flag.String("base-url", "", "the provider's API root (default: the plugin's, the real one)")
	keyEnv := flag.String("key-env", "", "the variable holding the API key (default: the provider's usual, e.g. OPENAI_API_KEY)")
	out := flag.String("out", "", "the recording (default: mail-replay.jsonl in the shared fixtures' llm folder)")
	zone := flag.String("zone", "Europe/Berlin", "the mailbox owner's time zone (the corpus is labelled in it)")
	flag.Parse()
	if err := run(*provider, *model, *baseURL, *keyEnv, *out, *zone); err != nil {
		fmt.Fprintln(os.Stderr, "mailrecord:", err)
		os.Exit(1)
	}
}

func run(provider, model, baseURL, keyEnv, out, zone string) error {
	if model == "" {
		return fmt.Errorf("-model is required")
	}
	if keyEnv == "" {
		keyEnv = map[string]string{"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "xai": "XAI_API_KEY",
			"openrouter": "OPENROUTER_API_KEY"}[provider]
	}
	if out == "" {
		dir, _ := sharedfixtures.Lookup("llm")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		out = filepath.Join(dir, "mail-replay.jsonl")
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return err
	}
	mails, err := loadCorpus(filepath.Join("core", "integration", "testdata", "mailcorpus"))
	if err != nil {
		return err
	}

	tmp, err := os.MkdirTemp("", "mailrecord-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "llm")
	build := exec.Command("go", "build", "-o", bin, "./plugins/llm")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build ./plugins/llm: %w", err)
	}
	item := plugin.PluginConfig{Name: provider, Kind: sdk.KindLLM, Path: bin, Enabled: true,
		Config: map[string]string{"provider": provider, "chat_model": model}}
	if baseURL != "" {
		item.Config["base_url"] = baseURL
	}
	if keyEnv != "" {
		item.SecretEnv = map[string]string{"api_key": keyEnv}
	}
	cfg := plugin.Config{Items: []plugin.PluginConfig{item}}.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	h := plugin.New(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	ctx := context.Background()
	h.Start(ctx)
	defer h.Stop()
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := h.WaitReady(wctx); err != nil {
		return err
	}
	m, err := h.Model(provider)
	if err != nil {
		return err
	}

	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for i, c := range mails {
		req := integration.MailRequest(model, c.From, c.Subject, c.Body, c.Date, loc)
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		resp, err := m.Chat(cctx, req, nil)
		cancel()
		if err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", c.ID, err)
		}
		line := map[string]any{"id": c.ID, "request_sha256": integration.MailRequestHash(req), "provider": provider,
			"model": model, "content": resp.Message.Content, "recorded_at": time.Now().UTC()}
		if resp.Model != "" {
			line["model"] = resp.Model
		}
		if len(resp.Message.ToolCalls) > 0 {
			line["tool_calls"] = len(resp.Message.ToolCalls)
		}
		if err := enc.Encode(line); err != nil {
			f.Close()
			return err
		}
		fmt.Fprintf(os.Stderr, "\r%d/%d", i+1, len(mails))
	}
	fmt.Fprintln(os.Stderr)
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Println("recorded", len(mails), "answers to", out)
	return nil
}

type corpusMail struct {
	ID      string    `json:"id"`
	From    string    `json:"from"`
	Subject string    `json:"subject"`
	Body    string    `json:"body"`
	Date    time.Time `json:"date"`
}

func loadCorpus(dir string) ([]corpusMail, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no corpus in %s (run from the repository root): %v", dir, err)
	}
	sort.Strings(files)
	var out []corpusMail
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if len(sc.Bytes()) == 0 {
				continue
			}
			var c corpusMail
			if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			out = append(out, c)
		}
	}
	return out, nil
}
