package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/consilium-hq/consilium/core/ai"
)

func newAICmd() *cobra.Command {
	cmd := &cobra.Command{Use: "ai", Short: "Administer retrieval: embeddings and their indexes"}
	var email string
	var force bool
	reindex := &cobra.Command{
		Use:   "reindex",
		Short: "Queue embedding jobs for every note and document",
		Long: "Queues a job per note and document that embeds it with the configured embedding provider and model " +
			"(ai.embedding_provider, ai.embedding_model). Run it after changing either: vectors of two models are never " +
			"compared, so until the jobs have run, passages embedded by the old model are found by full-text search only. " +
			"It also indexes notes written before retrieval existed and retries failures. Jobs skip sources whose chunks " +
			"already have the current model unless --force is given. The jobs run in the workers (consilium worker, or " +
			"serve --with-worker); follow them with GET /api/ai/index/status.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			a, err := openApp(ctx, cfg, newLogger(cfg.Log), false)
			if err != nil {
				return err
			}
			defer a.close()
			p := ai.ReindexParams{Force: force}
			if email != "" {
				u, err := a.Users.ByEmail(ctx, email)
				if err != nil {
					return err
				}
				p.UserID = &u.ID
			}
			res, err := a.AI.Reindex(ctx, p)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "queued %d note and %d document embedding jobs (sources with a job already waiting were skipped); "+
				"the workers run them\n", res.Notes, res.Documents)
			return nil
		},
	}
	reindex.Flags().StringVar(&email, "user", "", "only this user's notes and documents (their email)")
	reindex.Flags().BoolVar(&force, "force", false, "embed again even what already has the current model")
	cmd.AddCommand(reindex)
	return cmd
}
