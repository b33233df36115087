package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/consilium-hq/consilium/api"
)

func newServeCmd() *cobra.Command {
	var withWorker bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the HTTP API (with --with-worker, also work River jobs)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			logger := newLogger(cfg.Log)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			flushTraces, err := startTracing(ctx, cfg, logger)
			if err != nil {
				return err
			}
			defer flushTraces()

			a, err := openApp(ctx, cfg, logger, withWorker)
			if err != nil {
				return err
			}
			defer a.close()
			a.plugins.Start(ctx)
			defer a.plugins.Stop()
			a.Hub.Start(ctx)
			if _, err := a.serveMetrics(ctx); err != nil {
				return err
			}
			if withWorker {
				if err := a.River.Start(ctx); err != nil {
					return fmt.Errorf("start river: %w", err)
				}
			}

			jobsUI, err := api.NewJobsUI(ctx, a.River, logger)
			if err != nil {
				return err
			}
			srv := api.New(api.Deps{
				App: a.App, HTTP: cfg.HTTP, RateLimit: cfg.RateLimit, Logger: logger,
				Plugins: a.plugins, Ready: a.mig.Ready, Version: version, MetricsToken: cfg.Metrics.Token, JobsUI: jobsUI,
			})
			ln, err := net.Listen("tcp", cfg.HTTP.Addr)
			if err != nil {
				return fmt.Errorf("http.addr: %w", err)
			}
			hs := api.NewHTTPServer(srv.Handler(), cfg.HTTP, logger)
			ln = api.ProblemListener(ln)
			base := "http://" + ln.Addr().String()
			logger.Info("serving", "api", base+"/api", "docs", base+"/api/docs",
				"openapi", base+"/api/openapi.json", "workers", withWorker, "version", version)
			fmt.Fprintf(cmd.OutOrStdout(), "\n  Consilium API  %s/api\n  API docs       %s/api/docs\n  OpenAPI        %s/api/openapi.json\n\n", base, base, base)

			errc := make(chan error, 1)
			go func() { errc <- hs.Serve(ln) }()
			select {
			case err := <-errc:
				return fmt.Errorf("http server: %w", err)
			case <-ctx.Done():
			}
			stop()
			logger.Info("shutting down: finishing in-flight requests", "timeout", cfg.HTTP.ShutdownTimeout)
			sctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
			defer cancel()
			if err := hs.Shutdown(sctx); err != nil {
				logger.Error("http shutdown", "error", err)
			}
			if withWorker {
				stopRiver(sctx, a)
			}
			if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			logger.Info("stopped")
			return nil
		},
	}
	cmd.Flags().BoolVar(&withWorker, "with-worker", false, "also run River workers in this process")
	return cmd
}

// stopRiver lets running jobs finish; past the deadline it cancels them so
// they are released and retried by another worker.
func stopRiver(ctx context.Context, a *process) {
	if err := a.River.Stop(ctx); err != nil {
		a.Logger.Warn("river did not stop in time: cancelling running jobs", "error", err)
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.River.StopAndCancel(cctx)
	}
}

func newWorkerCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "worker",
		Short: "Work River jobs (sync, indexing, embedding, maintenance)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			logger := newLogger(cfg.Log)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			flushTraces, err := startTracing(ctx, cfg, logger)
			if err != nil {
				return err
			}
			defer flushTraces()
			a, err := openApp(ctx, cfg, logger, true)
			if err != nil {
				return err
			}
			defer a.close()
			a.plugins.Start(ctx)
			defer a.plugins.Stop()
			a.Hub.Start(ctx) // hears run.cancel for the turns worked here
			if _, err := a.serveMetrics(ctx); err != nil {
				return err
			}
			if err := a.River.Start(ctx); err != nil {
				return fmt.Errorf("start river: %w", err)
			}
			logger.Info("worker started", "max_workers", cfg.Jobs.MaxWorkers, "version", version)
			<-ctx.Done()
			stop()
			logger.Info("shutting down: letting running jobs finish", "timeout", cfg.HTTP.ShutdownTimeout)
			sctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
			defer cancel()
			stopRiver(sctx, a)
			logger.Info("stopped")
			return nil
		},
	}
}
