// Package metrics is what a Consilium process tells Prometheus: HTTP
// requests by route and status with latency, the database pool, River
// queue depth and job outcomes per kind, plugin calls, errors and restarts,
// chat runs and tokens, and the sync lag of outside systems. Every method
// is safe on a nil *Metrics (a process or test without metrics).
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/consilium-hq/consilium/core/tracing"
)

// Metrics holds the registry and the instruments.
type Metrics struct {
	Registry *prometheus.Registry

	httpRequests   *prometheus.CounterVec
	httpDuration   *prometheus.HistogramVec
	jobs           *prometheus.CounterVec
	jobDuration    *prometheus.HistogramVec
	pluginCalls    *prometheus.CounterVec
	pluginDuration *prometheus.HistogramVec
	pluginRestarts *prometheus.CounterVec
	chatRuns       *prometheus.CounterVec
	chatTokens     *prometheus.CounterVec

	// httpSeries caches each (route, method, status)'s counter and
	// histogram: WithLabelValues hashes and looks up its labels on every
	// call, the costliest part of counting a request.
	httpSeries sync.Map // httpKey → *httpSeries
}

type httpKey struct {
	route, method string
	status        int
}

type httpSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// New makes a registry with the Go runtime and process collectors and
// every instrument of Consilium.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	latency := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	m := &Metrics{
		Registry: reg,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "consilium_http_requests_total",
			Help: "HTTP requests by route pattern, method and status code."}, []string{"route", "method", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "consilium_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern and method (a WebSocket or event stream counts until it closes).",
			Buckets: latency}, []string{"route", "method"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "consilium_jobs_total",
			Help: "River jobs worked by this process, by kind and outcome (completed, failed, cancelled, snoozed)."},
			[]string{"kind", "outcome"}),
		jobDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "consilium_job_duration_seconds",
			Help: "How long River jobs ran in this process, by kind.", Buckets: latency}, []string{"kind"}),
		pluginCalls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "consilium_plugin_calls_total",
			Help: "Calls to plugins by plugin, method and result (ok, or the SDK error code)."},
			[]string{"plugin", "method", "result"}),
		pluginDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "consilium_plugin_call_duration_seconds",
			Help: "Plugin call latency by plugin and method.", Buckets: latency}, []string{"plugin", "method"}),
		pluginRestarts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "consilium_plugin_restarts_total",
			Help: "Times the host restarted a plugin process after it exited or failed."}, []string{"plugin"}),
		chatRuns: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "consilium_chat_runs_total",
			Help: "Chat runs that ended in this process, by status (completed, cancelled, failed, budget_exceeded)."},
			[]string{"status"}),
		chatTokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "consilium_chat_tokens_total",
			Help: "Model tokens spent by chat runs, by provider, model and direction (input, output)."},
			[]string{"provider", "model", "direction"}),
	}
	reg.MustRegister(m.httpRequests, m.httpDuration, m.jobs, m.jobDuration, m.pluginCalls, m.pluginDuration,
		m.pluginRestarts, m.chatRuns, m.chatTokens,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "consilium_trace_spans_exported_total",
			Help: "Trace spans this process exported by OTLP (tracing.otlp_endpoint)."},
			func() float64 { n, _ := tracing.Stats(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "consilium_trace_spans_dropped_total",
			Help: "Trace spans this process dropped: the exporter fell behind, or an export failed."},
			func() float64 { _, n := tracing.Stats(); return float64(n) }))
	return m
}

// Handler serves the registry in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry, Timeout: 10 * time.Second})
}

// ObserveHTTP counts a finished request; route is the matched pattern
// ("GET /api/notes/{note_id}"), never the raw path, so ids do not become
// label values.
func (m *Metrics) ObserveHTTP(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	if route == "" {
		// A request no route took may carry any method a client makes
		// up; each would be a new series.
		route = "unmatched"
		if !knownMethods[method] {
			method = "other"
		}
	}
	k := httpKey{route, method, status}
	v, ok := m.httpSeries.Load(k)
	if !ok {
		v, _ = m.httpSeries.LoadOrStore(k, &httpSeries{
			requests: m.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)),
			duration: m.httpDuration.WithLabelValues(route, method),
		})
	}
	series := v.(*httpSeries)
	series.requests.Inc()
	series.duration.Observe(d.Seconds())
}

var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true, http.MethodPatch: true,
	http.MethodDelete: true, http.MethodConnect: true, http.MethodOptions: true, http.MethodTrace: true,
}

// ObserveJob counts a job this process worked.
func (m *Metrics) ObserveJob(kind, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.jobs.WithLabelValues(kind, outcome).Inc()
	if d > 0 {
		m.jobDuration.WithLabelValues(kind).Observe(d.Seconds())
	}
}

// ObservePluginCall counts a call to a plugin; result is "ok" or the SDK
// error code.
func (m *Metrics) ObservePluginCall(plugin, method, result string, d time.Duration) {
	if m == nil {
		return
	}
	m.pluginCalls.WithLabelValues(plugin, method, result).Inc()
	m.pluginDuration.WithLabelValues(plugin, method).Observe(d.Seconds())
}

// PluginRestarted counts a restart of a plugin process.
func (m *Metrics) PluginRestarted(plugin string) {
	if m == nil {
		return
	}
	m.pluginRestarts.WithLabelValues(plugin).Inc()
}

// ChatRunEnded counts a chat run by its final status.
func (m *Metrics) ChatRunEnded(status string) {
	if m == nil {
		return
	}
	m.chatRuns.WithLabelValues(status).Inc()
}

// ChatTokens adds the tokens a model call of a chat run spent.
func (m *Metrics) ChatTokens(provider, model string, input, output int) {
	if m == nil {
		return
	}
	if input > 0 {
		m.chatTokens.WithLabelValues(provider, model, "input").Add(float64(input))
	}
	if output > 0 {
		m.chatTokens.WithLabelValues(provider, model, "output").Add(float64(output))
	}
}

// SyncLagFunc reads, per provider, how far behind the sync of its most
// behind connection is (core/integration's Service.SyncLag).
type SyncLagFunc func(ctx context.Context) (map[string]time.Duration, error)

// WatchSyncLag adds the sync lag per provider, read at scrape time from
// the database (so every process reports the same, whichever worker
// synced).
func (m *Metrics) WatchSyncLag(read SyncLagFunc) {
	if m == nil || read == nil {
		return
	}
	m.Registry.MustRegister(&syncLagCollector{read: read})
}

// WatchDatabase adds the pool's statistics and River's queue depth (jobs
// by queue and state, read at scrape time) to the registry.
func (m *Metrics) WatchDatabase(pool *pgxpool.Pool) {
	if m == nil {
		return
	}
	m.Registry.MustRegister(&poolCollector{pool: pool}, &queueCollector{pool: pool})
}

var (
	poolAcquired = prometheus.NewDesc("consilium_db_pool_acquired_connections", "Connections in use.", nil, nil)
	poolIdle     = prometheus.NewDesc("consilium_db_pool_idle_connections", "Idle connections.", nil, nil)
	poolTotal    = prometheus.NewDesc("consilium_db_pool_connections", "Open connections.", nil, nil)
	poolMax      = prometheus.NewDesc("consilium_db_pool_max_connections", "The pool's limit (database.max_conns).", nil, nil)
	poolWaits    = prometheus.NewDesc("consilium_db_pool_empty_acquires_total",
		"Acquires that had to wait because every connection was in use.", nil, nil)
	poolWait = prometheus.NewDesc("consilium_db_pool_acquire_wait_seconds_total",
		"Time spent waiting for a connection.", nil, nil)
	queueDepth = prometheus.NewDesc("consilium_jobs_queued",
		"River jobs not yet finished, by queue and state (available, scheduled, retryable, running, pending).",
		[]string{"queue", "state"}, nil)
	queueErrors = prometheus.NewDesc("consilium_jobs_queued_scrape_errors",
		"1 when the queue depth could not be read at this scrape.", nil, nil)
	syncLag = prometheus.NewDesc("consilium_sync_lag_seconds",
		"Seconds since the connected connection of an outside system that is most behind last synced (since it connected, when it never has), by provider.",
		[]string{"provider"}, nil)
	syncLagErrors = prometheus.NewDesc("consilium_sync_lag_scrape_errors",
		"1 when the sync lag could not be read at this scrape.", nil, nil)
)

type poolCollector struct{ pool *pgxpool.Pool }

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolAcquired, poolIdle, poolTotal, poolMax, poolWaits, poolWait} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(poolAcquired, prometheus.GaugeValue, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(s.IdleConns()))
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(s.TotalConns()))
	ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWait, prometheus.CounterValue, s.EmptyAcquireWaitTime().Seconds())
}

type queueCollector struct{ pool *pgxpool.Pool }

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDepth
	ch <- queueErrors
}

// Collect counts unfinished jobs; finished ones are River's history, and
// counting them would scan it.
func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rows, err := c.pool.Query(ctx, `SELECT queue, state::text, count(*) FROM river_job
		WHERE state IN ('available', 'scheduled', 'retryable', 'running', 'pending') GROUP BY queue, state`)
	failed := 0.0
	if err == nil {
		for rows.Next() {
			var queue, state string
			var n int64
			if err = rows.Scan(&queue, &state, &n); err != nil {
				break
			}
			ch <- prometheus.MustNewConstMetric(queueDepth, prometheus.GaugeValue, float64(n), queue, state)
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	if err != nil {
		failed = 1
	}
	ch <- prometheus.MustNewConstMetric(queueErrors, prometheus.GaugeValue, failed)
}

type syncLagCollector struct{ read SyncLagFunc }

func (c *syncLagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- syncLag
	ch <- syncLagErrors
}

func (c *syncLagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	lags, err := c.read(ctx)
	failed := 0.0
	if err != nil {
		failed = 1
	}
	for provider, lag := range lags {
		ch <- prometheus.MustNewConstMetric(syncLag, prometheus.GaugeValue, lag.Seconds(), provider)
	}
	ch <- prometheus.MustNewConstMetric(syncLagErrors, prometheus.GaugeValue, failed)
}
