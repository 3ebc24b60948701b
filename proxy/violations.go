package proxy

import (
	"go.uber.org/zap"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/parser"
	"github.com/softfk/softfk/policy"
)

// reportViolation logs one violation (or, in shadow mode, an action the
// relationship would have applied): shadow at WARN, since nothing stopped
// it; enforce at INFO, since the client got the error.
func (s *session) reportViolation(v *policy.Violation, c *policy.Check, stmt string) {
	key := v.Key
	if !s.srv.policy().Config.LogKeyValues {
		key = "(redacted)"
	}
	fields := []zap.Field{
		zap.String("relationship", v.Rel.Name),
		zap.String("table", v.Rel.Table.String()),
		zap.String("key", key),
		zap.String("statement", parser.Fingerprint(stmt)),
		zap.String("mode", string(c.Mode())),
		zap.String("database", s.database()),
		zap.String("user", s.params["user"]),
		zap.String("application_name", s.params["application_name"]),
		zap.String("client", s.client.RemoteAddr().String()),
	}
	if v.Action != "" {
		fields = append(fields, zap.String("action", v.Action))
	}
	if c.Shadow {
		s.srv.log.Warn("soft foreign key violation", fields...)
	} else {
		s.srv.log.Info("soft foreign key violation", fields...)
	}
}

// reportUnverifiable logs a write softfk could not check.
func (s *session) reportUnverifiable(u *policy.Unverifiable, stmt string, rejected bool) {
	rel := ""
	if u.Rel != nil {
		rel = u.Rel.Name
	}
	s.log.Warn("unverifiable write", zap.String("reason", u.Reason), zap.String("relationship", rel),
		zap.String("statement", parser.Fingerprint(stmt)), zap.Bool("rejected", rejected))
}

// reportShadowEvent logs what a shadow relationship would have stopped or
// changed without a check (a TRUNCATE it would refuse or cascade).
func (s *session) reportShadowEvent(e policy.ShadowEvent, stmt string) {
	s.srv.log.Warn("soft foreign key violation",
		zap.String("relationship", e.Rel.Name),
		zap.String("table", e.Rel.Table.String()),
		zap.String("action", e.Action),
		zap.String("statement", parser.Fingerprint(stmt)),
		zap.String("mode", string(config.Shadow)),
		zap.String("database", s.database()),
		zap.String("user", s.params["user"]),
		zap.String("application_name", s.params["application_name"]),
		zap.String("client", s.client.RemoteAddr().String()),
	)
}
