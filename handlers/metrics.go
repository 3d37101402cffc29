package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"airlock/oauthflow"
	"airlock/store"
)

// Metrics are Airlock's Prometheus series. Labels carry integration keys,
// route patterns and classes — never account ids, parameter values or tokens.
type Metrics struct {
	reg             *prometheus.Registry
	refreshes       *prometheus.CounterVec
	refreshSeconds  prometheus.Histogram
	tokenWaits      prometheus.Histogram
	outbound        *prometheus.CounterVec
	outboundSeconds prometheus.Histogram
	httpRequests    *prometheus.CounterVec
	webhooks        *prometheus.CounterVec
	// The per-request counters, by their labels.
	httpByRoute     *labelled
	outboundByClass *labelled
}

// NewMetrics builds the registry (its own, not the global default). st feeds
// the gauges that are read at scrape time.
func NewMetrics(st *store.Store) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "airlock_token_refreshes_total",
			Help: "Calls to token endpoints to refresh or renew a token, by integration and outcome (ok, rejected, temporary_error)."},
			[]string{"integration", "outcome"}),
		refreshSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "airlock_token_refresh_seconds",
			Help: "Time spent at token endpoints per refresh.", Buckets: prometheus.DefBuckets}),
		tokenWaits: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "airlock_token_wait_seconds",
			Help:    "Time callers waited for a token refresh (only callers whose token had expired, was about to, or was rejected wait).",
			Buckets: prometheus.DefBuckets}),
		outbound: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "airlock_outbound_requests_total",
			Help: "Requests sent through accounts, by integration and status class (2xx … 5xx)."},
			[]string{"integration", "code_class"}),
		outboundSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "airlock_outbound_request_seconds",
			Help: "Duration of requests sent through accounts.", Buckets: prometheus.DefBuckets}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "airlock_http_requests_total",
			Help: "Requests Airlock answered, by route pattern and status code."}, []string{"route", "code"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "airlock_webhook_attempts_total",
			Help: "Webhook delivery attempts by outcome."}, []string{"outcome"}),
	}
	m.reg.MustRegister(m.refreshes, m.refreshSeconds, m.tokenWaits, m.outbound, m.outboundSeconds, m.httpRequests, m.webhooks,
		newStateCollector(st), prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	m.httpByRoute, m.outboundByClass = newLabelled(m.httpRequests, ""), newLabelled(m.outbound, "xx")
	return m
}

// WatchActivity adds airlock_activity_dropped_total, the activity rows the
// log dropped (its buffer full, or the database refusing them), read at
// scrape time.
func (m *Metrics) WatchActivity(l *store.ActivityLog) {
	if m == nil || l == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "airlock_activity_dropped_total",
		Help: "Activity rows dropped: the buffer was full or the database refused to write them."},
		func() float64 { return float64(l.Dropped()) }))
}

// ObserveTokenWait is the token manager's OnWait hook.
func (m *Metrics) ObserveTokenWait(_ oauthflow.Integration, d time.Duration) {
	if m == nil {
		return
	}
	m.tokenWaits.Observe(d.Seconds())
}

// ObserveRefresh is the token manager's OnRefresh hook.
func (m *Metrics) ObserveRefresh(in oauthflow.Integration, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.refreshes.WithLabelValues(in.Key, outcome).Inc()
	m.refreshSeconds.Observe(d.Seconds())
}

// observeRequest is the runner's Observe hook.
func (m *Metrics) observeRequest(in oauthflow.Integration, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.outboundByClass.get(in.Key, status/100).Inc()
	m.outboundSeconds.Observe(d.Seconds())
}

// countRequests counts every answered request by route pattern and code. It
// sits outside logRequests, which has turned any error into a response.
func (h *Handler) countRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if h.metrics != nil {
			route := c.Path()
			if route == "" || c.Response().Status == http.StatusNotFound && route == "/*" {
				route = "unmatched"
			}
			h.metrics.httpByRoute.get(route, c.Response().Status).Inc()
		}
		return err
	}
}

// metricsEndpoint serves /metrics to loopback peers (the real TCP peer, not a
// forwarded header) and to admin API keys; 403 otherwise. A request relayed by
// a reverse proxy on the same host comes from loopback too: one carrying
// forwarding headers, or from a configured trusted proxy, is not local.
func (h *Handler) metricsEndpoint(c echo.Context) error {
	r := c.Request()
	local := peerAddr(r).IsLoopback() && !inPrefixes(peerAddr(r), h.cfg.TrustedProxies) &&
		r.Header.Get("X-Forwarded-For") == "" && r.Header.Get("Forwarded") == "" && r.Header.Get("X-Real-Ip") == ""
	if !local {
		k, err := h.apiKey(c)
		if err != nil || k.Role != store.RoleAdmin {
			return c.String(http.StatusForbidden, "metrics are served to loopback peers and admin API keys only\n")
		}
	}
	promhttp.HandlerFor(h.metrics.reg, promhttp.HandlerOpts{}).ServeHTTP(c.Response(), c.Request())
	return nil
}

// stateCollector reads account, flow and alert counts from the store at
// scrape time, so the gauges are right whichever process changed them.
type stateCollector struct {
	st                      *store.Store
	accountsDesc, flowsDesc *prometheus.Desc
	alertsDesc              *prometheus.Desc
}

func newStateCollector(st *store.Store) *stateCollector {
	return &stateCollector{st: st,
		accountsDesc: prometheus.NewDesc("airlock_accounts", "Accounts by status.", []string{"status"}, nil),
		flowsDesc:    prometheus.NewDesc("airlock_pending_flows", "Authorization-code flows waiting for their callback.", nil, nil),
		alertsDesc:   prometheus.NewDesc("airlock_open_alerts", "Open alerts.", nil, nil),
	}
}

func (s *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- s.accountsDesc
	ch <- s.flowsDesc
	ch <- s.alertsDesc
}

func (s *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := s.st.CountAccountsByStatus(ctx)
	if err == nil {
		for _, st := range []string{oauthflow.StatusPending, oauthflow.StatusConnected, oauthflow.StatusNeedsReconnect, oauthflow.StatusError, oauthflow.StatusDisconnected} {
			ch <- prometheus.MustNewConstMetric(s.accountsDesc, prometheus.GaugeValue, float64(counts[st]), st)
		}
	}
	if n, err := s.st.CountPendingFlows(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(s.flowsDesc, prometheus.GaugeValue, float64(n))
	}
	if n, err := s.st.CountOpenAlerts(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(s.alertsDesc, prometheus.GaugeValue, float64(n))
	}
}
