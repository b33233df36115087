// Package aitest helps tests of retrieval, transcription and chat: it
// builds the real offline `local` plugin (and the hosted providers' `llm`
// plugin) once per test binary and runs them under a plugin host, and it makes the inputs those tests need (page images,
// photographed pages, PDFs with a text layer).
package aitest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/core/testsecrets"
	"github.com/consilium-hq/consilium/sdk"
)

// LocalName is the name the local plugin runs under in tests.
const LocalName = "local"

// WordNetDir is where the local plugin and search read WordNet by default
// (config ai.wordnet_dir's default; scripts/install-wordnet.sh installs it).
const WordNetDir = "/usr/share/wordnet"

// LocalEmbeddingModel is the local plugin's default embedding model here,
// as the host names it: local/lexical-wordnet-384 where WordNet is
// installed, local/lexical-384 where it is not.
func LocalEmbeddingModel() string {
	if _, err := os.Stat(filepath.Join(WordNetDir, "index.noun")); err == nil {
		return LocalName + "/lexical-wordnet-384"
	}
	return LocalName + "/lexical-384"
}

// builds are the plugins built for this test binary, by directory name.
var builds sync.Map // string -> *pluginBuild

type pluginBuild struct {
	once sync.Once
	path string
	err  error
}

// LocalPlugin builds ./plugins/local once per test binary and returns the
// binary's path; it is removed when the package's tests end (dbtest.Main).
func LocalPlugin(t testing.TB) string {
	t.Helper()
	return buildPlugin(t, "local")
}

// LLMPlugin builds ./plugins/llm, the plugin of the hosted model providers
// (OpenAI, Anthropic, ...), once per test binary, as LocalPlugin does.
// Tests point its base_url at a local server speaking the provider's wire
// format (modeltest.OpenAIServer, modeltest.AnthropicServer).
func LLMPlugin(t testing.TB) string {
	t.Helper()
	return buildPlugin(t, "llm")
}

func buildPlugin(t testing.TB, name string) string {
	t.Helper()
	v, _ := builds.LoadOrStore(name, &pluginBuild{})
	build := v.(*pluginBuild)
	build.once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			build.err = err
			return
		}
		dir, err := os.MkdirTemp("", "consilium-"+name+"-plugin-")
		if err != nil {
			build.err = err
			return
		}
		dbtest.AtExit(func() { os.RemoveAll(dir) })
		build.path = filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", build.path, "./plugins/"+name)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build ./plugins/%s: %v\n%s", name, err, out)
		}
	})
	if build.err != nil {
		t.Fatalf("aitest: %v", build.err)
	}
	return build.path
}

// Config declares the local plugin, enabled, under LocalName.
func Config(t testing.TB) plugin.Config {
	return plugin.Config{Items: []plugin.PluginConfig{{Name: LocalName, Kind: sdk.KindLLM, Path: LocalPlugin(t), Enabled: true}}}
}

// Host starts a plugin host running cfg (Config(t) for the local plugin)
// with opts, waits until its plugins have started, and stops it when the
// test ends.
func Host(t testing.TB, cfg plugin.Config, opts ...plugin.Option) *plugin.Host {
	t.Helper()
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("aitest: %v", err)
	}
	for _, it := range cfg.Items {
		testsecrets.RegisterEnv("plugin_secret", it.SecretEnv)
	}
	h := plugin.New(cfg, testsecrets.Logger("plugin-host"), append([]plugin.Option{plugin.WithVersion("test")}, opts...)...)
	h.Start(context.Background())
	t.Cleanup(h.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := h.WaitReady(ctx); err != nil {
		t.Fatalf("aitest: plugins did not start: %v", err)
	}
	for _, st := range h.States() {
		if st.Enabled && st.State != plugin.StateRunning {
			t.Fatalf("aitest: plugin %s is %s: %s", st.Name, st.State, st.LastError)
		}
	}
	return h
}

var shared struct {
	once sync.Once
	h    *plugin.Host
	err  error
}

// LocalHost returns a host running the local plugin under LocalName,
// shared by the tests of the binary and stopped when they end.
func LocalHost(t testing.TB) *plugin.Host {
	t.Helper()
	path := LocalPlugin(t)
	shared.once.Do(func() {
		cfg := plugin.Config{Items: []plugin.PluginConfig{{Name: LocalName, Kind: sdk.KindLLM, Path: path, Enabled: true}}}.WithDefaults()
		h := plugin.New(cfg, testsecrets.Logger("plugin-host"), plugin.WithVersion("test"))
		h.Start(context.Background())
		dbtest.AtExit(h.Stop)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := h.WaitReady(ctx); err != nil {
			shared.err = err
			return
		}
		if st, _ := h.State(LocalName); st.State != plugin.StateRunning {
			shared.err = fmt.Errorf("the local plugin is %s: %s", st.State, st.LastError)
			return
		}
		shared.h = h
	})
	if shared.err != nil {
		t.Fatalf("aitest: %v", shared.err)
	}
	return shared.h
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "plugins", "local", "main.go")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no plugins/local above the working directory")
		}
		dir = parent
	}
}
