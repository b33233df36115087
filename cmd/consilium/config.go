package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/consilium-hq/consilium/core/config"
)

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Inspect the configuration"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "Print the effective config (secrets masked) and every problem in it; exit 1 if there is one",
		Long: "Print the configuration serve and worker would run with (defaults, then the file given by --config " +
			"or $CONSILIUM_CONFIG, then CONSILIUM_* environment variables), with secrets masked, followed by every " +
			"problem found at once. Exits 1 when there is a problem.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, env := configSource(cmd)
			cfg, problems, err := config.Check(path, env)
			if err != nil {
				return err
			}
			out, err := cfg.Masked()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			source := "no config file"
			if path != "" {
				source = path
			}
			fmt.Fprintf(w, "# The effective configuration: defaults, then %s, then the environment. Secrets are masked.\n%s", source, out)
			if len(problems) == 0 {
				fmt.Fprintln(w, "# config check: no problems")
				return nil
			}
			fmt.Fprintf(w, "# config check: %d problem(s):\n", len(problems))
			for _, p := range problems {
				fmt.Fprintf(w, "#   - %s\n", p)
			}
			return fmt.Errorf("the config has %d problem(s) (listed above)", len(problems))
		},
	})
	return cmd
}
