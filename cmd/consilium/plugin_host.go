package main

import (
	"log/slog"
	"os"
	"path/filepath"

	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/sdk"
)

// LocalPluginName is the name the offline model provider runs under when
// no other model provider is configured.
const LocalPluginName = "local"

// withDefaultLLM enables the offline `local` plugin when the config declares
// no model provider, so that `make run` answers AI calls out of the box. The
// binary is looked for in bin/plugins/ beside the consilium binary, beside
// it, and in ./bin/plugins/. It reads WordNet from wordnetDir (ai.wordnet_dir).
func withDefaultLLM(cfg plugin.Config, wordnetDir string, logger *slog.Logger) plugin.Config {
	for _, it := range cfg.Items {
		if it.Kind == sdk.KindLLM && it.Enabled {
			return cfg
		}
	}
	var dirs []string
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Dir(exe)
		dirs = append(dirs, filepath.Join(dir, "plugins"), dir, filepath.Join(dir, "..", "lib", "consilium", "plugins"))
	}
	dirs = append(dirs, filepath.Join("bin", "plugins"))
	for _, d := range dirs {
		path := filepath.Join(d, LocalPluginName)
		if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			abs, _ := filepath.Abs(path)
			logger.Info("no model provider configured: using the offline local plugin", "path", abs)
			cfg.Items = append(cfg.Items, plugin.PluginConfig{Name: LocalPluginName, Kind: sdk.KindLLM, Path: abs, Enabled: true,
				Config: map[string]string{"wordnet_dir": wordnetDir}})
			return cfg
		}
	}
	logger.Warn("no model provider configured and no local plugin found (run make build): AI features are unavailable")
	return cfg
}
