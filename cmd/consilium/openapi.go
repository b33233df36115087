package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/consilium-hq/consilium/api"
	"github.com/consilium-hq/consilium/core/ai"
	"github.com/consilium-hq/consilium/core/app"
	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/integration"
)

// newOpenAPICmd prints the OpenAPI document the API serves, without a
// database: for clients generated at build time and for make lint-openapi.
func newOpenAPICmd() *cobra.Command {
	var yaml bool
	cmd := &cobra.Command{
		Use:   "openapi [--yaml]",
		Short: "Print the OpenAPI 3.1 document the API serves (JSON; no database needed)",
		Long: "Print the OpenAPI 3.1 document that `serve` answers at /api/openapi.json. The limits it names " +
			"(upload sizes) come from --config when one is given, else from the defaults.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := config.Default()
			if path, _ := cmd.Flags().GetString("config"); path != "" || os.Getenv("CONSILIUM_CONFIG") != "" {
				loaded, err := loadConfig(cmd)
				if err != nil {
					return err
				}
				cfg = *loaded
			}
			// The AI and chat routes are documented from their services;
			// they are never called here.
			aiSvc, err := ai.New(ai.Options{Config: cfg.AI})
			if err != nil {
				return fmt.Errorf("ai: %w", err)
			}
			agents := chat.NewRegistry(cfg.AI, "", nil)
			integ, err := integration.New(integration.Options{})
			if err != nil {
				return err
			}
			srv := api.New(api.Deps{App: &app.App{AI: aiSvc, Agents: agents, Chat: chat.NewService(chat.Options{Agents: agents}), Integrations: integ},
				HTTP: cfg.HTTP, RateLimit: cfg.RateLimit, Version: version})
			var out []byte
			if yaml {
				out, err = srv.OpenAPI().YAML()
			} else {
				out, err = srv.OpenAPI().MarshalJSON()
			}
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), string(out))
			return err
		},
	}
	cmd.Flags().BoolVar(&yaml, "yaml", false, "print YAML instead of JSON")
	return cmd
}
