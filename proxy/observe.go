package proxy

import (
	"context"
	"slices"
	"time"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/metrics"
)

// What operators watch: metrics, the violation log and the upstream's
// health. The proxy's hot paths reach them through a few calls on
// s.srv.metrics, which is nil (and records nothing) when metrics are off.

// Option changes how New builds a Server.
type Option func(*Server)

// WithCatalogMaxAge sets how old a database's catalog facts may grow
// before a session reads them again (default 30 s).
func WithCatalogMaxAge(d time.Duration) Option {
	return func(s *Server) { s.catalogMaxAge = d }
}

// WithMetrics makes the server record its activity in m.
func WithMetrics(m *metrics.Metrics) Option {
	return func(s *Server) { s.metrics = m }
}

// configureViolationLog points the violation log at cfg's file (or turns
// it off).
func (s *Server) configureViolationLog(cfg *config.Config) error {
	return s.violations.Configure(cfg.ViolationLog, cfg.ViolationLogMaxBytes, cfg.ViolationLogKeep)
}

// CheckUpstream connects to the upstream as a session would (TCP, then the
// SSLRequest exchange unless upstream_tls is disable, so a Postgres server
// must answer) and hangs up before the startup message; nil means the
// upstream accepts connections.
func (s *Server) CheckUpstream(ctx context.Context) error {
	conn, err := s.dialer.dial(ctx)
	if err != nil {
		return err
	}
	return conn.Close()
}

// markSent starts the clock of a check's round trip; other steps are not
// timed.
func markSent(resp responder) {
	if c, ok := resp.(*checkResponder); ok {
		c.sent = time.Now()
	}
}

// observe records a check's answer: its round trip, and for each
// relationship it covers a violation when named in violated, else rest
// (rest "" counts only the violations: a failed check says nothing about
// the relationships it did not get to).
func (c *checkResponder) observe(violated []string, rest metrics.Outcome) {
	m := c.f.s.srv.metrics
	if m == nil {
		return
	}
	if !c.sent.IsZero() {
		m.CheckAnswered(time.Since(c.sent))
	}
	for r := range c.check.Rels() {
		switch {
		case slices.Contains(violated, r.Name):
			m.CountCheck(r.Name, metrics.OutcomeViolation)
		case rest != "":
			m.CountCheck(r.Name, rest)
		}
	}
}
