package proxy

import (
	"time"

	"go.uber.org/zap"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/metrics"
	"github.com/softfk/softfk/parser"
	"github.com/softfk/softfk/policy"
	"github.com/softfk/softfk/violationlog"
)

// reportViolation records one violation (or, in shadow mode, an action the
// relationship would have applied).
func (s *session) reportViolation(v *policy.Violation, c *policy.Check, stmt string) {
	e := s.event(violationlog.KindViolation, v.Rel, stmt)
	e.Key = v.Key
	if !s.srv.policy().Config.LogKeyValues {
		e.Key = "(redacted)"
	}
	e.Mode = string(c.Mode())
	e.Action = v.Action
	s.recordViolation(e)
}

// reportShadowEvent records what a shadow relationship would have stopped
// or changed without a check (a TRUNCATE it would refuse or cascade).
func (s *session) reportShadowEvent(e policy.ShadowEvent, stmt string) {
	ev := s.event(violationlog.KindViolation, e.Rel, stmt)
	ev.Mode = string(config.Shadow)
	ev.Action = e.Action
	s.recordViolation(ev)
}

// recordViolation logs a violation event (shadow at WARN, since nothing
// stopped it; enforce at INFO, since the client got the error), writes it
// to the violation log and counts it.
func (s *session) recordViolation(e *violationlog.Event) {
	fields := []zap.Field{
		zap.String("relationship", e.Relationship),
		zap.String("table", e.Table),
	}
	if e.Key != "" {
		fields = append(fields, zap.String("key", e.Key))
	}
	fields = append(fields,
		zap.String("statement", e.Statement),
		zap.String("mode", e.Mode),
		zap.String("database", e.Database),
		zap.String("user", e.User),
		zap.String("application_name", e.ApplicationName),
		zap.String("client", e.Client),
	)
	if e.Action != "" {
		fields = append(fields, zap.String("action", e.Action))
	}
	if e.Mode == string(config.Shadow) {
		s.srv.log.Warn("soft foreign key violation", fields...)
	} else {
		s.srv.log.Info("soft foreign key violation", fields...)
	}
	s.writeEvent(e)
	s.srv.metrics.Violation(e.Relationship, e.Mode)
}

// reportUnverifiable records a write softfk could not check.
func (s *session) reportUnverifiable(u *policy.Unverifiable, stmt string, rejected bool) {
	e := s.event(violationlog.KindUnverifiable, u.Rel, stmt)
	e.Reason, e.Rejected = u.Reason, &rejected
	if u.Rel != nil {
		e.Mode = string(u.Rel.Mode)
	}
	s.log.Warn("unverifiable write", zap.String("reason", u.Reason), zap.String("relationship", e.Relationship),
		zap.String("statement", e.Statement), zap.Bool("rejected", rejected))
	s.writeEvent(e)
	s.srv.metrics.CountCheck(e.Relationship, metrics.OutcomeUnverifiable)
}

// event starts an event of the session about rel (which may be nil).
func (s *session) event(kind string, rel *policy.Rel, stmt string) *violationlog.Event {
	e := &violationlog.Event{
		Time:            time.Now().UTC(),
		Event:           kind,
		Statement:       parser.Fingerprint(stmt),
		Database:        s.database(),
		User:            s.params["user"],
		ApplicationName: s.params["application_name"],
		Client:          s.client.RemoteAddr().String(),
	}
	if rel != nil {
		e.Relationship, e.Table = rel.Name, rel.Table.String()
	}
	return e
}

// writeEvent appends e to the violation log, if one is configured.
func (s *session) writeEvent(e *violationlog.Event) {
	if err := s.srv.violations.Write(e); err != nil {
		s.log.Error("cannot write the violation log", zap.Error(err))
	}
}
