package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/app"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/metrics"
)

// metrics.addr serves /metrics on a listener of its own, and only that.
func TestMetricsListener(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.Metrics.Addr = "127.0.0.1:0"
	m := metrics.New()
	m.ObserveJob("demo.kind", "completed", 0)
	p := &process{cfg: &cfg, App: &app.App{Metrics: m, Logger: slog.New(slog.DiscardHandler)}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := p.serveMetrics(ctx)
	require.NoError(t, err)

	res, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.True(t, strings.Contains(string(body), `consilium_jobs_total{kind="demo.kind",outcome="completed"} 1`), "%s", body)

	res, err = http.Get("http://" + addr + "/api/notes")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusNotFound, res.StatusCode, "nothing but /metrics there")

	cfg.Metrics.Addr = ""
	addr, err = p.serveMetrics(ctx)
	require.NoError(t, err)
	require.Empty(t, addr, "no listener without metrics.addr")
}
