// Command consilium is the Consilium server: the API, the River workers, the
// migrations and the admin verbs, in one binary.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/consilium-hq/consilium/core/apperr"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "consilium:", errorText(err))
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "consilium",
		Short:         "Consilium: a self-hostable backend for personal planning with AI",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().String("config", "", "path of the YAML config file (default $CONSILIUM_CONFIG)")
	root.AddCommand(
		newServeCmd(),
		newWorkerCmd(),
		newMigrateCmd(),
		newUserCmd(),
		newVersionCmd(),
		newPluginsCmd(),
		newAICmd(),
		newOpenAPICmd(),
		newConfigCmd(),
		newKeysCmd(),
		newHealthcheckCmd(),
	)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "consilium", version)
		},
	}
}

// errorText is how an error reads on the command line: an application
// error from core by its message, bad input by what is wrong with which
// field ("email: must be an email address such as ada@example.com").
func errorText(err error) string {
	var e *apperr.Error
	if !errors.As(err, &e) || e.Err != nil {
		return err.Error()
	}
	if e.Code != apperr.Invalid || len(e.Fields) == 0 {
		return e.Message
	}
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Where() + ": " + f.Message
	}
	return strings.Join(parts, "; ")
}
