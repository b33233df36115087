package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db"
)

func newMigrateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply, roll back or show database migrations (app and River)",
	}
	run := func(fn func(ctx context.Context, m *db.Migrator, cmd *cobra.Command) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadDBConfig(cmd)
			if err != nil {
				return err
			}
			logger := newLogger(cfg.Log)
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			pool, err := db.Open(ctx, cfg.Database.URL, db.PoolOptions{MaxConns: 2})
			if err != nil {
				return err
			}
			defer pool.Close()
			return fn(ctx, db.NewMigrator(pool, logger), cmd)
		}
	}
	cmd.AddCommand(
		&cobra.Command{Use: "up", Short: "Apply every pending migration", Args: cobra.NoArgs,
			RunE: run(func(ctx context.Context, m *db.Migrator, _ *cobra.Command) error { return m.Up(ctx) })},
		&cobra.Command{Use: "down", Short: "Roll back the most recent app migration", Args: cobra.NoArgs,
			RunE: run(func(ctx context.Context, m *db.Migrator, _ *cobra.Command) error { return m.Down(ctx) })},
		&cobra.Command{Use: "status", Short: "List migrations and whether they are applied", Args: cobra.NoArgs,
			RunE: run(func(ctx context.Context, m *db.Migrator, c *cobra.Command) error {
				return m.Status(ctx, c.OutOrStdout())
			})},
	)
	return cmd
}

// loadDBConfig loads the config but only insists on what migrations need,
// so `migrate` works before auth secrets are configured.
func loadDBConfig(cmd *cobra.Command) (*config.Config, error) {
	return config.LoadDatabaseOnly(configSource(cmd))
}
