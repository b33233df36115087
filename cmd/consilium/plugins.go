package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/scaffold"
)

// pluginsConfig returns the plugins serve would run (the `plugins` section
// of the loaded config, with the offline local plugin when it names no
// model provider) and a logger.
func pluginsConfig(cmd *cobra.Command) (plugin.Config, *slog.Logger, error) {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return plugin.Config{}, nil, err
	}
	logger := newLogger(cfg.Log)
	return withDefaultLLM(cfg.Plugins, cfg.AI.WordNetDir, logger), logger, nil
}

func newPluginsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "plugins", Short: "List, check and create plugins"}
	cmd.AddCommand(newPluginsListCmd(), newPluginsCheckCmd(), newPluginsInitCmd())
	return cmd
}

func newPluginsListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Start the configured plugins and show their state, version and capabilities",
		Long: "Starts the configured plugins as serve would, waits for each one's first start to end\n" +
			"and prints their state, version, capabilities and last error.\n" +
			"Exits non-zero when a plugin has failed (state failed: its start did not succeed);\n" +
			"the listing is printed first either way. Disabled plugins do not count.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, logger, err := pluginsConfig(cmd)
			if err != nil {
				return err
			}
			if logger == nil {
				logger = slog.New(slog.DiscardHandler)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			h := plugin.New(cfg, logger, plugin.WithVersion(version))
			h.Start(ctx)
			defer h.Stop()
			if err := h.WaitReady(ctx); err != nil {
				return err
			}
			states := h.States()
			show := printPluginStates
			if asJSON {
				show = func(w io.Writer, s []plugin.PluginState) error { return writeJSON(w, s) }
			}
			if err := show(cmd.OutOrStdout(), states); err != nil {
				return err
			}
			return failedPlugins(states)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printPluginStates(w io.Writer, states []plugin.PluginState) error {
	if len(states) == 0 {
		_, err := fmt.Fprintln(w, "no plugins configured (plugins.items in the config file)")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tSTATE\tVERSION\tPROTOCOL\tCAPABILITIES\tPATH")
	for _, s := range states {
		caps := make([]string, len(s.Capabilities))
		for i, c := range s.Capabilities {
			caps[i] = string(c)
		}
		proto := ""
		if s.ProtocolVersion > 0 {
			proto = fmt.Sprintf("v%d", s.ProtocolVersion)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Kind, s.State, dash(s.Version), dash(proto),
			dash(strings.Join(caps, ",")), s.Path)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range states {
		if s.LastError != "" {
			fmt.Fprintf(w, "%s: %s\n", s.Name, s.LastError)
		}
	}
	return nil
}

// failedPlugins returns an error naming the plugins whose start failed, or
// nil. It makes `plugins list` usable as a check in scripts.
func failedPlugins(states []plugin.PluginState) error {
	var failed []string
	for _, s := range states {
		if s.State == plugin.StateFailed {
			failed = append(failed, s.Name)
		}
	}
	switch len(failed) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("plugin %s has failed", failed[0])
	default:
		return fmt.Errorf("plugins %s have failed", strings.Join(failed, ", "))
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newPluginsCheckCmd() *cobra.Command {
	var (
		kind, sha     string
		asJSON        bool
		settings      []string
		secretEnvs    []string
		connectionID  string
		startTimeout  time.Duration
		verboseLogger bool
	)
	cmd := &cobra.Command{
		Use:   "check PATH",
		Short: "Start a plugin binary, handshake, print its manifest and run the conformance checks",
		Long: "Starts the binary as the host would (handshake, automatic mTLS, a clean environment),\n" +
			"prints its manifest and runs the conformance checks through the host's call path.\n" +
			"Exits non-zero when the plugin does not start or a check fails.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			conn := sdk.Connection{ID: connectionID, Config: map[string]string{}, Secrets: map[string]string{}}
			for _, kv := range settings {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return fmt.Errorf("--set %q: want key=value", kv)
				}
				conn.Config[k] = v
			}
			for _, kv := range secretEnvs {
				k, env, ok := strings.Cut(kv, "=")
				if !ok {
					return fmt.Errorf("--secret-env %q: want name=ENV_VAR", kv)
				}
				conn.Secrets[k] = os.Getenv(env)
			}
			logger := slog.New(slog.DiscardHandler)
			if verboseLogger {
				logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelDebug}))
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			report, err := plugin.Check(ctx, plugin.CheckParams{Path: args[0], Kind: sdk.Kind(kind), SHA256: sha,
				Connection: conn, StartTimeout: startTimeout, Logger: logger})
			if err != nil {
				return fmt.Errorf("%s did not start: %w", args[0], err)
			}
			if asJSON {
				if err := writeJSON(cmd.OutOrStdout(), checkJSON(report)); err != nil {
					return err
				}
			} else {
				printCheckReport(cmd.OutOrStdout(), args[0], report)
			}
			if !report.Passed() {
				return errors.New("conformance checks failed")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&kind, "kind", "", "llm or integration (default: detect)")
	f.StringVar(&sha, "sha256", "", "refuse the binary unless its SHA-256 is this")
	f.StringArrayVar(&settings, "set", nil, "connection setting key=value sent with every call (repeatable)")
	f.StringArrayVar(&secretEnvs, "secret-env", nil, "secret name=ENV_VAR read from this environment (repeatable)")
	f.StringVar(&connectionID, "connection", "check", "connection id sent with every call")
	f.DurationVar(&startTimeout, "start-timeout", 30*time.Second, "how long the plugin may take to start")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVarP(&verboseLogger, "verbose", "v", false, "show the host's and the plugin's logs on stderr")
	return cmd
}

func printCheckReport(w io.Writer, path string, r *plugin.CheckReport) {
	s := r.State
	m := s.Manifest
	fmt.Fprintf(w, "plugin      %s\n", path)
	fmt.Fprintf(w, "kind        %s, protocol v%d, sdk %s\n", r.Kind, s.ProtocolVersion, dash(s.SDKVersion))
	fmt.Fprintf(w, "started in  %s (pid %d)\n\n", r.StartupTime.Round(time.Millisecond), s.PID)
	fmt.Fprintf(w, "manifest\n")
	fmt.Fprintf(w, "  name          %s (%s) %s\n", m.Name, m.DisplayName, m.Version)
	if m.Description != "" {
		fmt.Fprintf(w, "  description   %s\n", m.Description)
	}
	if r.Kind == sdk.KindIntegration {
		auth := string(m.Auth.Type)
		if o := m.Auth.OAuth2; o != nil {
			auth += fmt.Sprintf(" (auth %s, token %s, scopes %s)", o.AuthURL, o.TokenURL, strings.Join(o.Scopes, " "))
		}
		fmt.Fprintf(w, "  auth          %s\n", dash(auth))
	}
	caps := make([]string, len(m.Capabilities))
	for i, c := range m.Capabilities {
		caps[i] = string(c)
	}
	fmt.Fprintf(w, "  capabilities  %s\n", dash(strings.Join(caps, ", ")))
	fmt.Fprintf(w, "  methods       %s\n", strings.Join(m.Methods, ", "))
	for _, md := range m.Models {
		mc := make([]string, len(md.Capabilities))
		for i, c := range md.Capabilities {
			mc[i] = string(c)
		}
		extra := ""
		if md.EmbeddingDimension > 0 {
			extra = fmt.Sprintf(", %d dimensions", md.EmbeddingDimension)
		}
		fmt.Fprintf(w, "  model         %s (%s%s)\n", md.ID, strings.Join(mc, ", "), extra)
	}
	for _, c := range m.Config {
		def := ""
		if c.Default != "" {
			def = fmt.Sprintf(", default %q", c.Default)
		}
		fmt.Fprintf(w, "  config        %s (%s%s)\n", c.Key, dash(c.Type), def)
	}
	for _, l := range m.RateLimits {
		fmt.Fprintf(w, "  rate limit    %d per %s per %s (burst %d)\n", l.Requests, l.Per, l.Scope, max(l.Burst, 1))
	}
	if err := m.Validate(); err != nil {
		fmt.Fprintf(w, "  problems      %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	fmt.Fprintf(w, "\nconformance\n")
	passed, failed, skipped := 0, 0, 0
	for _, res := range r.Results {
		switch {
		case res.Err != nil:
			failed++
			fmt.Fprintf(w, "  FAIL  %s: %v\n", res.Name, res.Err)
		case res.Skipped != "":
			skipped++
			fmt.Fprintf(w, "  SKIP  %s: %s\n", res.Name, res.Skipped)
		default:
			passed++
			fmt.Fprintf(w, "  ok    %s\n", res.Name)
		}
	}
	verdict := "conformant"
	if failed > 0 {
		verdict = "NOT conformant"
	}
	fmt.Fprintf(w, "\n%s: %d of %d checks ok, %d skipped\n", verdict, passed, passed+failed, skipped)
}

// checkJSON is the --json form of a report.
func checkJSON(r *plugin.CheckReport) any {
	type result struct {
		Name    string `json:"name"`
		Passed  bool   `json:"passed"`
		Error   string `json:"error,omitempty"`
		Skipped string `json:"skipped,omitempty"`
	}
	out := struct {
		Kind      sdk.Kind           `json:"kind"`
		State     plugin.PluginState `json:"state"`
		Manifest  *sdk.Manifest      `json:"manifest"`
		StartupMS int64              `json:"startup_ms"`
		Passed    bool               `json:"passed"`
		Results   []result           `json:"results"`
	}{Kind: r.Kind, State: r.State, Manifest: r.State.Manifest, StartupMS: r.StartupTime.Milliseconds(), Passed: r.Passed()}
	for _, res := range r.Results {
		x := result{Name: res.Name, Passed: res.Err == nil && res.Skipped == "", Skipped: res.Skipped}
		if res.Err != nil {
			x.Error = res.Err.Error()
		}
		out.Results = append(out.Results, x)
	}
	return out
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newPluginsInitCmd() *cobra.Command {
	var p scaffold.Params
	var kind string
	cmd := &cobra.Command{
		Use:   "init NAME",
		Short: "Create a new plugin project: a Go module with a plugin on the SDK, a conformance test and a README",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p.Name, p.Kind = args[0], sdk.Kind(kind)
			if p.Dir == "" {
				p.Dir = p.Name
			}
			files, err := scaffold.Write(p)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, f := range files {
				fmt.Fprintln(w, "created", f)
			}
			fmt.Fprintf(w, "\nNext:\n  cd %s\n", p.Dir)
			if p.SDKPath == "" {
				fmt.Fprintln(w, "  # until the SDK is published, point go.mod at a Consilium checkout:")
				fmt.Fprintln(w, "  go mod edit -replace github.com/consilium-hq/consilium/sdk=/path/to/consilium/sdk")
			}
			fmt.Fprintf(w, "  go mod tidy && go test ./... && go build -o %s .\n", p.Name)
			fmt.Fprintf(w, "  consilium plugins check ./%s\n", p.Name)
			fmt.Fprintln(w, "Then add it under plugins.items in the config (README.md has the snippet).")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&kind, "kind", "integration", "integration or llm")
	f.StringVar(&p.Dir, "dir", "", "directory to create (default: NAME)")
	f.StringVar(&p.Module, "module", "", "Go module path (default: example.com/NAME)")
	f.StringVar(&p.SDKPath, "sdk", "", "path of a local checkout of the SDK (adds a replace directive)")
	return cmd
}
