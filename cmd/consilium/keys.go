package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/integration"
)

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage the data keys that seal connection secrets"}
	var batch int
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Make a new data key and re-seal every secret under it; interrupted, run it again to continue",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadDBConfig(cmd)
			if err != nil {
				return err
			}
			if cfg.Integrations.MasterKey == "" {
				return errors.New("integrations.master_key is not set (CONSILIUM_INTEGRATIONS_MASTER_KEY)")
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			pool, err := db.Open(ctx, cfg.Database.URL, db.PoolOptions{MaxConns: 2})
			if err != nil {
				return err
			}
			defer pool.Close()
			k, err := integration.NewKeyring(db.New(pool), cfg.Integrations.MasterKey)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			res, err := k.Rotate(ctx, integration.RotateOptions{BatchSize: batch, AfterBatch: func(done int) {
				fmt.Fprintf(out, "re-sealed %d\n", done)
			}})
			if err != nil {
				if res != nil {
					return fmt.Errorf("interrupted after re-sealing %d secrets under key %s (run again to continue): %w", res.Resealed, res.KeyID, err)
				}
				return err
			}
			verb := "new key"
			if res.Resumed {
				verb = "continued with key"
			}
			fmt.Fprintf(out, "%s %s: re-sealed %d secrets, %d unreadable (their connections need the user to connect again), retired %d old keys\n",
				verb, res.KeyID, res.Resealed, res.Unreadable, res.Retired)
			return nil
		},
	}
	rotate.Flags().IntVar(&batch, "batch", 100, "secrets re-sealed per transaction")
	cmd.AddCommand(rotate)
	return cmd
}
