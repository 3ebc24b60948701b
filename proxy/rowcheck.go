package proxy

import (
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/softfk/softfk/policy"
)

// rowCheck follows a client statement that checks its own rows
// (policy.Inline): the statement itself fails with an enforced check's
// signal, which the client sees as Postgres's error, and its hidden
// columns carry the shadow checks' findings.
type rowCheck struct {
	enforced, shadow *checkResponder // nil when no relationship has that mode
	shadowCols       int
}

// newRowCheck starts following a statement sent now with checks in.
func (f *frontend) newRowCheck(in *policy.Inline, stmt string) *rowCheck {
	rc := &rowCheck{shadowCols: in.Shadows}
	for _, c := range []struct {
		check *policy.Check
		resp  **checkResponder
	}{{in.Enforced, &rc.enforced}, {in.Shadow, &rc.shadow}} {
		if c.check != nil {
			*c.resp = &checkResponder{f: f, check: c.check, stmt: stmt}
			markSent(*c.resp)
		}
	}
	return rc
}

// row reads the shadow findings of one of the statement's rows.
func (rc *rowCheck) row(body []byte) {
	if rc.shadow == nil {
		return
	}
	for _, v := range lastValues(body, rc.shadowCols) {
		if v != nil {
			rc.shadow.shadowed = append(rc.shadow.shadowed, *v)
		}
	}
}

// succeeded records that every row passed (and reports what the shadow
// checks found).
func (rc *rowCheck) succeeded(r *router) {
	for _, c := range []*checkResponder{rc.enforced, rc.shadow} {
		if c != nil {
			c.succeeded(r)
		}
	}
}

// failed looks at the statement's error: a violation signal is answered
// with Postgres's error, and failed then reports true; any other error is
// the client's to see as it is.
func (rc *rowCheck) failed(r *router, body []byte) bool {
	if rc.enforced == nil {
		return false
	}
	var e pgproto3.ErrorResponse
	return e.Decode(body) == nil && rc.enforced.signalled(r, &e)
}
