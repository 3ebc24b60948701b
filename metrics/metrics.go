// Package metrics holds softfk's Prometheus metrics and serves them, with a
// health check of the upstream, over HTTP. Each Metrics has its own
// registry, so several proxies can run in one process (as in tests). A nil
// *Metrics is valid and records nothing: the proxy calls it unconditionally
// and pays a nil check when metrics are off.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Outcome is how one check of one relationship ended.
type Outcome string

// The outcomes of a check.
const (
	OutcomeOK           Outcome = "ok"           // no violation
	OutcomeViolation    Outcome = "violation"    // a violation (rejected in enforce, logged in shadow)
	OutcomeUnverifiable Outcome = "unverifiable" // a write softfk could not check
	OutcomeError        Outcome = "error"        // the check failed for another reason (permissions, conflicts, ...)
)

// UpstreamError is a kind of trouble with the upstream Postgres.
type UpstreamError string

// The kinds of upstream errors.
const (
	UpstreamConnect UpstreamError = "connect" // a session could not connect
	UpstreamLost    UpstreamError = "lost"    // a session's upstream connection broke
)

// Metrics is the set of softfk's metrics in one registry.
type Metrics struct {
	registry          *prometheus.Registry
	sessionsOpen      prometheus.Gauge
	sessionsTotal     prometheus.Counter
	statementsChecked prometheus.Counter
	checks            *prometheus.CounterVec
	violations        *prometheus.CounterVec
	checkSeconds      prometheus.Histogram
	upstreamErrors    *prometheus.CounterVec
	bytesToClient     prometheus.Counter
	bytesToUpstream   prometheus.Counter
	reloads           *prometheus.CounterVec
}

// New creates the metrics in a registry of their own, together with the Go
// runtime and process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	f := factory{reg}
	bytes := f.counterVec("softfk_bytes_relayed_total", "Bytes softfk wrote to clients and to the upstream.", "direction")
	m := &Metrics{
		registry:          reg,
		sessionsOpen:      f.gauge("softfk_sessions_open", "Client sessions connected to the upstream now."),
		sessionsTotal:     f.counter("softfk_sessions_total", "Client sessions that connected to the upstream and authenticated."),
		statementsChecked: f.counter("softfk_statements_checked_total", "Client statements that touched a relationship and were planned (checks, actions or refusal)."),
		checks:            f.counterVec("softfk_checks_total", "Answers to softfk's checks, per relationship and outcome (ok, violation, unverifiable, error).", "relationship", "outcome"),
		violations:        f.counterVec("softfk_violations_total", "Violations found (and, in shadow mode, actions that would have applied), per relationship and mode.", "relationship", "mode"),
		checkSeconds: f.histogram("softfk_check_duration_seconds",
			"Time from sending a check (together with its statement) to its answer.",
			[]float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10}),
		upstreamErrors:  f.counterVec("softfk_upstream_errors_total", "Upstream failures: connect (a session could not connect) and lost (a connection broke).", "kind"),
		bytesToClient:   bytes.WithLabelValues("to_client"),
		bytesToUpstream: bytes.WithLabelValues("to_upstream"),
		reloads:         f.counterVec("softfk_config_reloads_total", "Configuration reloads, by result (ok, rejected).", "result"),
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// factory creates metrics registered in one registry.
type factory struct{ reg *prometheus.Registry }

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	f.reg.MustRegister(h)
	return h
}

// SessionStarted counts a session that reached the upstream and
// authenticated.
func (m *Metrics) SessionStarted() {
	if m == nil {
		return
	}
	m.sessionsOpen.Inc()
	m.sessionsTotal.Inc()
}

// SessionEnded counts the end of a session SessionStarted counted.
func (m *Metrics) SessionEnded() {
	if m == nil {
		return
	}
	m.sessionsOpen.Dec()
}

// StatementChecked counts a client statement that touched a relationship.
func (m *Metrics) StatementChecked() {
	if m == nil {
		return
	}
	m.statementsChecked.Inc()
}

// CheckAnswered records the round trip of one check.
func (m *Metrics) CheckAnswered(d time.Duration) {
	if m == nil {
		return
	}
	m.checkSeconds.Observe(d.Seconds())
}

// CountCheck counts the outcome of a check for one relationship.
func (m *Metrics) CountCheck(relationship string, o Outcome) {
	if m == nil {
		return
	}
	m.checks.WithLabelValues(relationship, string(o)).Inc()
}

// Violation counts a violation event of a relationship in a mode (enforce
// or shadow).
func (m *Metrics) Violation(relationship, mode string) {
	if m == nil {
		return
	}
	m.violations.WithLabelValues(relationship, mode).Inc()
}

// Upstream counts an upstream failure.
func (m *Metrics) Upstream(kind UpstreamError) {
	if m == nil {
		return
	}
	m.upstreamErrors.WithLabelValues(string(kind)).Inc()
}

// BytesToClient counts n bytes written to a client.
func (m *Metrics) BytesToClient(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.bytesToClient.Add(float64(n))
}

// BytesToUpstream counts n bytes written to the upstream.
func (m *Metrics) BytesToUpstream(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.bytesToUpstream.Add(float64(n))
}

// Reloaded counts a configuration reload, put in force (ok) or rejected.
func (m *Metrics) Reloaded(ok bool) {
	if m == nil {
		return
	}
	result := "ok"
	if !ok {
		result = "rejected"
	}
	m.reloads.WithLabelValues(result).Inc()
}
