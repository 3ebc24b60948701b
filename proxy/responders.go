package proxy

import (
	"encoding/binary"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/softfk/softfk/metrics"
	"github.com/softfk/softfk/policy"
)

// Responders for softfk's own statements. Each one decides what the client
// sees when the statement fails (its own error, or the translation of a
// violation signal) and tells the waiting executor how its round went.

// checkResponder reads the verdict of a check step.
type checkResponder struct {
	f        *frontend
	check    *policy.Check
	hold     *hold  // the client's held responses
	verdict  bool   // success counts as one of the hold's verdicts
	round    *round // nil outside a multi-round plan
	stmt     string // the client's statement, for logs
	shadowed []string
	sent     time.Time // when the check went out, for its latency
	// position maps an error position in the check to the client's text
	// (0: none); nil maps every position to none.
	position func(int) int
	command  string // see policy.Step.Command
}

func (c *checkResponder) row(body []byte) {
	if c.check.Shadow {
		if v := firstValue(body); v != nil {
			c.shadowed = append(c.shadowed, *v)
		}
	}
}

func (c *checkResponder) succeeded(r *router) {
	var violated []string
	for _, row := range c.shadowed {
		if v, err := c.check.FromRow(row); err == nil {
			c.f.s.reportViolation(v, c.check, c.stmt)
			violated = append(violated, v.Rel.Name)
		}
	}
	c.observe(violated, metrics.OutcomeOK)
	c.shadowed = nil
	if c.verdict {
		r.verdict(c.hold)
	}
	if c.round != nil {
		c.round.complete()
	}
}

func (c *checkResponder) failed(r *router, e *pgproto3.ErrorResponse) {
	r.drop(c.hold)
	if c.check.LockWaitConflicts && e.Code == codeLockNotAvailable {
		c.observe(nil, metrics.OutcomeError)
		r.sendError(&pgproto3.ErrorResponse{Severity: e.Severity, SeverityUnlocalized: "ERROR",
			Code: codeSerializationFailure, Message: "could not serialize access due to concurrent update"})
		c.fail()
		return
	}
	if c.signalled(r, e) {
		return
	}
	c.observe(nil, metrics.OutcomeError)
	r.sendError(ownStatementError(e, c.position, c.command))
	c.fail()
}

// signalled answers an enforced check's violation signal with Postgres's
// error and reports true; for any other error it does nothing.
func (c *checkResponder) signalled(r *router, e *pgproto3.ErrorResponse) bool {
	if c.check.Shadow || !policy.IsSignal(e.Code, e.Message) {
		return false
	}
	v, err := c.check.FromError(e.Message)
	if err != nil {
		return false
	}
	if v.Conflict {
		c.observe(nil, metrics.OutcomeError)
	} else {
		c.f.s.reportViolation(v, c.check, c.stmt)
		c.observe([]string{v.Rel.Name}, "")
	}
	r.sendError(violationError(v, e))
	c.fail()
	return true
}

func (c *checkResponder) skipped(r *router) {
	r.drop(c.hold)
	c.fail()
}

func (c *checkResponder) fail() {
	if c.round != nil {
		c.round.fail()
	}
}

// stepResponder follows a step that is not a check: a capture of keys, a
// cascading action. Its rows are collected when the plan wants them.
type stepResponder struct {
	hold    *hold
	round   *round
	collect bool
	rows    [][]*string
	// position and command are as checkResponder's.
	position func(int) int
	command  string
}

func (s *stepResponder) row(body []byte) {
	if s.collect {
		s.rows = append(s.rows, lastValues(body, columnCount(body)))
	}
}

func (s *stepResponder) succeeded(*router) {
	if s.round != nil {
		s.round.complete()
	}
}

func (s *stepResponder) failed(r *router, e *pgproto3.ErrorResponse) {
	r.drop(s.hold)
	r.sendError(ownStatementError(e, s.position, s.command))
	if s.round != nil {
		s.round.fail()
	}
}

func (s *stepResponder) skipped(r *router) {
	r.drop(s.hold)
	if s.round != nil {
		s.round.fail()
	}
}

// auxResponder answers the Parse, Bind and Close around a step: only their
// failure matters, and it is the step's failure. notDone, if set, learns
// that the request did not take effect (failed or skipped): a statement
// softfk meant to prepare is then not prepared.
type auxResponder struct {
	step    responder
	notDone func()
}

func (a *auxResponder) row([]byte)        {}
func (a *auxResponder) succeeded(*router) {}
func (a *auxResponder) skipped(*router) {
	if a.notDone != nil {
		a.notDone()
	}
}
func (a *auxResponder) failed(r *router, e *pgproto3.ErrorResponse) {
	if a.notDone != nil {
		a.notDone()
	}
	a.step.failed(r, e)
}

// finisher releases a hold when the proxy's last statement of a plan has
// been answered: everything before it has then succeeded. It fails as any
// step does.
type finisher struct {
	stepResponder
}

func (fi *finisher) succeeded(r *router) {
	r.release(fi.hold)
	fi.stepResponder.succeeded(r)
}

// rejecter stands in for a statement softfk refuses: Postgres's own
// refusal, whose step always fails, or a write softfk cannot verify,
// whose step fails unless session_replication_role is replica (see
// unverifiableStep). The client sees the refusal instead of the step's
// error; a write let through runs next.
type rejecter struct {
	err     *pgproto3.ErrorResponse
	notices []byte // sent before err
	// report, for a write softfk cannot verify, records the verdict once
	// the step has given it.
	report func(refused bool)
}

func (rj *rejecter) row([]byte) {}

// succeeded lets the statement run: a real FOREIGN KEY would not check
// the write, or Postgres refuses the statement for a reason of its own
// first (see refuseStep).
func (rj *rejecter) succeeded(*router) {
	if rj.report != nil {
		rj.report(false)
	}
}
func (rj *rejecter) failed(r *router, e *pgproto3.ErrorResponse) {
	if rj.report != nil {
		rj.report(true)
	}
	out := *rj.err
	out.Severity = e.Severity
	r.out = append(r.out, rj.notices...)
	r.sendError(&out)
}
func (rj *rejecter) skipped(*router) {}

// copyRefuser stands in for a COPY FROM STDIN that softfk refuses once
// the server has started it (see refuseCopy): the error of softfk's
// CopyFail becomes the refusal; any other error is the server's own
// verdict on the statement, and the client gets it unchanged.
type copyRefuser struct {
	err     *pgproto3.ErrorResponse
	refused func()        // called when the client gets err
	done    chan struct{} // closed when the COPY has ended, whichever way
}

func (cr *copyRefuser) row([]byte) {}
func (cr *copyRefuser) succeeded(r *router) {
	r.sendError(cr.err)
	cr.refused()
	close(cr.done)
}
func (cr *copyRefuser) failed(r *router, e *pgproto3.ErrorResponse) {
	if e.Code == codeQueryCanceled && strings.Contains(e.Message, rejectMarker) {
		out := *cr.err
		out.Severity = e.Severity
		e = &out
		cr.refused()
	}
	r.sendError(e)
	close(cr.done)
}
func (cr *copyRefuser) skipped(*router) { close(cr.done) }

// violationError is the error Postgres raises for v, with the severity
// words of the server's own signal error (they follow its lc_messages).
func violationError(v *policy.Violation, signal *pgproto3.ErrorResponse) *pgproto3.ErrorResponse {
	if v.Conflict {
		return &pgproto3.ErrorResponse{Severity: signal.Severity, SeverityUnlocalized: "ERROR",
			Code: "40001", Message: v.Message}
	}
	return &pgproto3.ErrorResponse{
		Severity:            signal.Severity,
		SeverityUnlocalized: "ERROR",
		Code:                v.Code,
		Message:             v.Message,
		Detail:              v.Detail,
		SchemaName:          v.Schema,
		TableName:           v.Table,
		ConstraintName:      v.Constraint,
		File:                v.File,
		Line:                v.Line,
		Routine:             v.Routine,
	}
}

// ownStatementError passes on the error of one of softfk's statements
// (missing privilege, a lock timeout, a serialization failure, an unknown
// column in the client's WHERE that softfk's lock met first...) without
// the positions and query text that would point into softfk's SQL: an
// error position is kept only where position maps it into the client's
// text. A step that locks rows before the client's statement and is
// refused in a read-only transaction names, as Postgres would, the
// client's command instead of its own (see policy.Step.Command).
func ownStatementError(e *pgproto3.ErrorResponse, position func(int) int, command string) *pgproto3.ErrorResponse {
	out := *e
	out.Position, out.InternalPosition, out.InternalQuery = 0, 0, ""
	if position != nil && e.Position > 0 {
		out.Position = int32(position(int(e.Position)))
	}
	if command != "" && e.Code == codeReadOnlyTransaction {
		// The command name is an argument of the message, never
		// translated.
		for _, locking := range lockingCommands {
			if strings.Contains(e.Message, locking) {
				out.Message = strings.Replace(e.Message, locking, command, 1)
				break
			}
		}
	}
	return &out
}

// lockingCommands are how Postgres names the statements softfk's steps
// lock rows with (FOR UPDATE, FOR NO KEY UPDATE) before the client's.
var lockingCommands = []string{"SELECT FOR UPDATE", "SELECT FOR NO KEY UPDATE"}

// firstValue decodes the first value of a DataRow body.
func firstValue(body []byte) *string {
	if len(body) < 6 {
		return nil
	}
	size := int(int32(binary.BigEndian.Uint32(body[2:])))
	if size < 0 || 6+size > len(body) {
		return nil
	}
	s := string(body[6 : 6+size])
	return &s
}
