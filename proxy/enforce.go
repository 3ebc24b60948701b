package proxy

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/parser"
	"github.com/softfk/softfk/policy"
)

// How softfk runs its checks around a client's statement:
//
//   - Known keys (literals, bound parameters, NULL, DEFAULT) need nothing
//     from the statement: the check goes in the same batch right after it
//     and raises an error on violation, so Postgres skips the rest exactly
//     as after a real FK error, and the client pays no extra round trip.
//   - Anything else (keys the server computes, deleted or changed parent
//     keys) comes back from the statement itself (hidden RETURNING columns,
//     or a locking capture just before it); softfk waits for those rows and
//     then runs the checks and actions they call for, round after round,
//     inside the same transaction.
//
// Until every check has passed, the statement's own responses are held
// back; on a violation the client gets Postgres's error instead.

// ownStatements are softfk's prepared statements in this session, by key
// (see policy.StatementKey), named root followed by a number; at most max
// of them. A statement past the limit is prepared under the name once,
// used and closed.
type ownStatements struct {
	mu    sync.Mutex
	names map[string]string
	next  int
	max   int
	root  string
	once  string
}

func newOwnStatements(root string, max int) ownStatements {
	return ownStatements{names: map[string]string{}, root: root, max: max, once: root + "once"}
}

// maxOwnStatements bounds how many of its checks softfk keeps prepared per
// session; beyond it, statements are prepared for one use.
const maxOwnStatements = 256

// maxOwnWrites bounds how many shapes of simple-protocol writes softfk
// keeps prepared per session (see shapedWrite).
const maxOwnWrites = 64

// Names of softfk's portals and the roots of its statements' names; the
// prefix is not one a client would use.
const (
	ownPortal    = "softfk_portal"
	ownNoPortal  = "softfk_none"
	ownStmtRoot  = "softfk_stmt_"
	ownWriteRoot = "softfk_write_"
	rejectMarker = "softfk:unverifiable"
)

func (o *ownStatements) reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	clear(o.names)
}

// drain forgets every statement kept and returns their names, for the
// caller to close.
func (o *ownStatements) drain() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	names := make([]string, 0, len(o.names))
	for _, name := range o.names {
		names = append(names, name)
	}
	clear(o.names)
	return names
}

// lookup returns the name under which sql is prepared, if it is.
func (o *ownStatements) lookup(sql string) (string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	name, ok := o.names[sql]
	return name, ok
}

// remember records that sql is being prepared under a new name, or returns
// false when the session already keeps as many as it may.
func (o *ownStatements) remember(sql string) (string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.names) >= o.max {
		return "", false
	}
	o.next++
	name := o.root + strconv.Itoa(o.next)
	o.names[sql] = name
	return name, true
}

// claim returns the name of the statement kept under key, and whether it
// is prepared already; when the session keeps as many as it may, the
// one-off name o.once, for a statement to prepare, use once and close
// (oneOff).
func (o *ownStatements) claim(key string) (name string, prepared, oneOff bool) {
	if name, ok := o.lookup(key); ok {
		return name, true, false
	}
	if name, ok := o.remember(key); ok {
		return name, false, false
	}
	return o.once, false, true
}

// canKeep reports whether the statement under key is prepared, or may be
// without going over the session's limit.
func (o *ownStatements) canKeep(key string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, ok := o.names[key]
	return ok || len(o.names) < o.max
}

// forget returns a function that drops sql's entry (if still name) when
// its Parse did not take effect. It runs on the goroutine reading the
// server, hence the lock.
func (o *ownStatements) forget(sql, name string) func() {
	return func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.names[sql] == name {
			delete(o.names, sql)
		}
	}
}

// unsafeString views bytes as a string without copying, for read-only
// scanning while the bytes are unchanged.
func unsafeString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// unsafeBytes views a string as bytes without copying, for bytes that are
// only read (a parameter value to encode).
func unsafeBytes(s string) []byte {
	if s == "" {
		return []byte{} // not nil, which a Bind sends as NULL
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// sendStep appends the messages that run one of softfk's steps with the
// extended protocol, and queues their answers for resp.
func (f *frontend) sendStep(st *policy.Step, resp responder, bp *boundPortal) {
	markSent(resp)
	name, oneOff := f.prepareOwn(st.Key(), st.SQL, st.Types, resp)
	f.runStep(st, resp, bp, name, oneOff)
}

// sendStepOnce sends a step whose SQL will not come again (it repeats a
// simple query's constants): prepared for this one use, not kept.
func (f *frontend) sendStepOnce(st *policy.Step, resp responder) {
	markSent(resp)
	f.closeOneOff(&f.own)
	f.pending = append(f.pending, pending{kind: reqParse, part: part{proxy: &auxResponder{step: resp}}})
	f.sendMsg(&pgproto3.Parse{Name: f.own.once, Query: st.SQL, ParameterOIDs: st.Types})
	f.runStep(st, resp, nil, f.own.once, true)
}

// runStep binds, executes and closes softfk's statement name for a step;
// oneOff closes the statement too.
func (f *frontend) runStep(st *policy.Step, resp responder, bp *boundPortal, name string, oneOff bool) {
	aux := &auxResponder{step: resp}
	f.pending = append(f.pending, pending{kind: reqBind, part: part{proxy: aux}})
	f.sendBind(name, st.Args, bp)
	f.pending = append(f.pending, pending{kind: reqExecute, part: part{proxy: resp}})
	f.sendMsg(&pgproto3.Execute{Portal: ownPortal})
	f.pending = append(f.pending, pending{kind: reqClose, part: part{proxy: aux}})
	f.sendMsg(&pgproto3.Close{ObjectType: 'P', Name: ownPortal})
	if oneOff {
		f.pending = append(f.pending, pending{kind: reqClose, part: part{proxy: aux}})
		f.sendMsg(&pgproto3.Close{ObjectType: 'S', Name: f.own.once})
	}
}

// prepareOwn returns the name of softfk's statement for sql (with
// parameter types), kept under key, and sends its Parse unless it is
// prepared already; resp learns when that Parse fails. oneOff says the
// session keeps as many statements as it may: sql is then prepared as
// the one-off statement, to be closed after its one use.
func (f *frontend) prepareOwn(key, sql string, types []uint32, resp responder) (name string, oneOff bool) {
	f.closeStaleOwn()
	name, prepared, oneOff := f.own.claim(key)
	if prepared {
		return name, false
	}
	if oneOff {
		f.closeOneOff(&f.own)
	}
	f.pending = append(f.pending, pending{kind: reqParse, part: part{proxy: &auxResponder{step: resp, notDone: f.own.forget(key, name)}}})
	f.sendMsg(&pgproto3.Parse{Name: name, Query: sql, ParameterOIDs: types})
	return name, oneOff
}

// sendBind appends the Bind of softfk's portal to statement name with the
// given arguments (text results), encoded directly: a check of a 100-row
// INSERT has hundreds of arguments, each of which would otherwise be
// copied into its own slice first.
func (f *frontend) sendBind(name string, args []policy.Arg, bp *boundPortal) {
	if f.out == nil {
		f.out = outPool.Get().(*[]byte)
	}
	b, lenAt := beginMessage(*f.out, 'B')
	b = appendCString(b, ownPortal)
	b = appendCString(b, name)
	b = appendInt16(b, len(args))
	for _, a := range args {
		var format int16
		switch {
		case a.ClientParam > 0 && bp != nil:
			_, format = bp.param(a.ClientParam)
		case a.Binary != nil && !a.Null:
			format = 1
		}
		b = appendInt16(b, int(format))
	}
	b = appendInt16(b, len(args))
	for _, a := range args {
		switch {
		case a.ClientParam > 0 && bp != nil:
			v, _ := bp.param(a.ClientParam)
			b = appendValue(b, v, v == nil)
		case a.Null:
			b = appendValue(b, nil, true)
		case a.Binary != nil:
			b = appendValue(b, a.Binary, false)
		default:
			b = appendInt32(b, int32(len(a.Text)))
			b = append(b, a.Text...)
		}
	}
	b = appendInt16(b, 1) // one result format for all columns:
	b = appendInt16(b, 0) // text
	*f.out = finishMessage(b, lenAt)
}

// appendValue appends a parameter value with its length (-1 for NULL).
func appendValue(dst, v []byte, null bool) []byte {
	if null {
		return appendInt32(dst, -1)
	}
	dst = appendInt32(dst, int32(len(v)))
	return append(dst, v...)
}

// responderFor builds the responder of a step.
func (f *frontend) responderFor(st *policy.Step, h *hold, rd *round, stmt string, position func(int) int) responder {
	if st.Check != nil {
		return &checkResponder{f: f, check: st.Check, hold: h, round: rd, stmt: stmt, position: position, command: st.Command}
	}
	return &stepResponder{hold: h, round: rd, collect: st.Collect, position: position, command: st.Command}
}

// collectedRows returns the rows of the collecting steps, in step order.
func collectedRows(steps []*policy.Step, resps []responder) [][][]*string {
	var out [][][]*string
	for i, st := range steps {
		if st.Collect {
			out = append(out, resps[i].(*stepResponder).rows)
		}
	}
	return out
}

// execute handles an Execute message.
func (f *frontend) execute(body []byte) error {
	portal, _, _ := cutNul(body)
	if st := f.arming[string(portal)]; st != nil {
		// It PREPAREs or DEALLOCATEs: its answer says whether it did.
		delete(f.arming, string(portal))
		f.forwardPart(reqExecute, 'E', body, part{watch: f.sessionEffects(st, true)})
		return nil
	}
	bp := f.portals[string(portal)]
	if f.refused[string(portal)] {
		// Its Bind was refused (see refuseUnverified): the server skips it.
		f.forward(reqExecute, 'E', body)
		return nil
	}
	if bp != nil {
		exists, err := f.portalBound(bp)
		if err != nil {
			return err
		}
		if !exists {
			delete(f.portals, string(portal))
			bp = nil
		}
	}
	if bp == nil {
		f.forward(reqExecute, 'E', body)
		return nil
	}
	plan := bp.stmt.plan
	f.s.srv.metrics.StatementChecked()
	if plan.Continue != nil {
		// A continuation keeps state: each execution gets a fresh one.
		if fresh, _ := f.plan(&bp.stmt.stmt, policy.Env{Extended: true, ParamTypes: bp.stmt.paramTypes}); fresh != nil && len(fresh.Hidden) == bp.stmt.hidden &&
			slices.Equal(fresh.Insert, bp.stmt.plan.Insert) {
			plan = fresh
		}
	}
	stmt := bp.stmt.stmt.Text
	result := bp.stmt.resultPart()
	result.notices, result.rename = noticesFor(plan), plan.Rename
	if step, rj := f.refusal(plan, stmt); rj != nil {
		if judgedFirst(&bp.stmt.stmt, plan) {
			return f.refuseCopy(body, plan.Unverifiable, stmt)
		}
		f.sendStep(step, rj, nil)
		f.forwardPart(reqExecute, 'E', body, result)
		return nil
	}
	if plan.Copy != nil {
		f.startCopyExtended(body, plan.Copy, stmt, result)
		return nil
	}
	var msg pgproto3.Execute
	exact := f.decodeExact(&msg, body)
	if w := bp.stmt.stmt.Main(); exact && msg.MaxRows > 0 && w != nil && !w.Returning {
		// A write that returns no rows runs to its end whatever the
		// limit; softfk's hidden RETURNING would make the limit suspend
		// it instead, and without one the limit changes nothing.
		msg.MaxRows = 0
		encoded, _ := msg.Encode(nil)
		body = encoded[5:]
	} else if exact && msg.MaxRows > 0 && needsRounds(plan) {
		u := &policy.Unverifiable{Reason: "Execute with a row limit", Rel: plan.FirstRel(), Table: plan.Table}
		if f.reject(u, stmt) {
			step, rj := f.unverifiableRefusal(u, stmt)
			f.sendStep(step, rj, nil)
		}
		f.forwardPart(reqExecute, 'E', body, result)
		return nil
	}
	return f.runPlan(plan, bp, stmt, func(p part) { f.forwardPart(reqExecute, 'E', body, p) }, result)
}

// standIn returns the error a client gets instead of running a statement
// the plan refuses: Postgres's own refusal, or softfk's for a write it
// cannot verify.
func standIn(p *policy.Plan, stmt string) *pgproto3.ErrorResponse {
	switch {
	case p.Refuse != nil:
		return &pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: p.Refuse.Code,
			Message: p.Refuse.Message, Detail: p.Refuse.Detail, Hint: p.Refuse.Hint}
	case p.Unverifiable != nil:
		return unverifiableError(p.Unverifiable, stmt)
	}
	return nil
}

// refusal returns the step that goes before a statement the plan
// refuses, and its rejecter, which answers with the error standIn gives
// after the notices Postgres would send first; nil when the plan refuses
// nothing.
func (f *frontend) refusal(p *policy.Plan, stmt string) (*policy.Step, *rejecter) {
	if p.Refuse == nil && p.Unverifiable != nil {
		step, rj := f.unverifiableRefusal(p.Unverifiable, stmt)
		rj.notices = noticesFor(p)
		return step, rj
	}
	err := standIn(p, stmt)
	if err == nil {
		return nil, nil
	}
	return refuseStep(p.Refuse), &rejecter{err: err, notices: noticesFor(p)}
}

// unverifiableRefusal returns the step and rejecter that refuse a write
// softfk cannot verify, u, unless a real FOREIGN KEY would not check it
// when it runs; either verdict is reported then.
func (f *frontend) unverifiableRefusal(u *policy.Unverifiable, stmt string) (*policy.Step, *rejecter) {
	return unverifiableStep(u), &rejecter{err: unverifiableError(u, stmt),
		report: func(refused bool) { f.s.reportUnverifiable(u, stmt, refused) }}
}

// rewritten is the text softfk sends for a statement whose plan rewrites
// it or only adds notices: the rewrite, or the statement's own text.
func rewritten(p *policy.Plan, text string) string {
	if p.Rewrite != "" {
		return p.Rewrite
	}
	return text
}

// noticesFor encodes the notices Postgres would have sent for a statement
// softfk rewrote or lets through as it is (a DROP ... CASCADE).
func noticesFor(p *policy.Plan) []byte {
	var out []byte
	for _, notice := range p.Notices {
		n := pgproto3.NoticeResponse{Severity: "NOTICE", SeverityUnlocalized: "NOTICE", Code: "00000", Message: notice.Message, Detail: notice.Detail}
		out, _ = n.Encode(out)
	}
	return out
}

// needsRounds reports whether a plan runs steps before its statement or
// after its results, in rounds.
func needsRounds(p *policy.Plan) bool {
	return len(p.Before) > 0 || p.Continue != nil
}

// awaitsResults reports whether a plan with rounds needs what its first
// round brings back: rows of a step before the statement, or the
// statement's own hidden columns, for its continuation. Otherwise its
// first round is its last, and is not waited for (see continueRounds).
func awaitsResults(p *policy.Plan) bool {
	return p.Continue != nil || slices.ContainsFunc(p.Before, func(st *policy.Step) bool { return st.Collect })
}

// afterResponder answers a step right after the statement of a plan with
// rounds: a check, or an action, whose failure is the statement's.
func (f *frontend) afterResponder(st *policy.Step, h *hold, stmt string) responder {
	if st.Check == nil {
		return &stepResponder{hold: h}
	}
	return &checkResponder{f: f, check: st.Check, hold: h, stmt: stmt}
}

// runPlan runs a plan around a client request of the extended protocol:
// send appends the request itself with the part it is given.
func (f *frontend) runPlan(plan *policy.Plan, bp *boundPortal, stmt string, send func(part), result part) error {
	h := &hold{}
	if plan.Inline != nil {
		result.rows = f.newRowCheck(plan.Inline, stmt)
	}
	if !needsRounds(plan) {
		// Only enforced checks hold the responses back; shadow checks just
		// watch.
		resps := f.afterResponders(plan.After, h, stmt)
		if h.waiting > 0 {
			result.hold = h
		}
		send(result)
		for i, st := range plan.After {
			f.sendStep(st, resps[i], bp)
		}
		return nil
	}
	rd := newRound(len(plan.Before) + 1)
	resps := make([]responder, len(plan.Before))
	for i, st := range plan.Before {
		resps[i] = f.responderFor(st, h, rd, stmt, nil)
		f.sendStep(st, resps[i], bp)
	}
	w := &watch{hidden: len(plan.Hidden), round: rd}
	result.hold, result.watch = h, w
	send(result)
	for _, st := range plan.After {
		f.sendStep(st, f.afterResponder(st, h, stmt), bp)
	}
	return f.finishRounds(plan, rd, w, resps, h, stmt)
}

// finishRounds ends a plan with rounds once its first round (the steps
// before, w watching the statement) has been sent: it waits for that round
// when the plan needs what it brings back, runs the further rounds, and
// releases the held responses, in order, after the last one (see
// continueRounds). Nothing is released when a request failed: the client
// has been told.
func (f *frontend) finishRounds(p *policy.Plan, rd *round, w *watch, before []responder, h *hold, stmt string) error {
	if awaitsResults(p) {
		ok, err := f.await(rd)
		if !ok || err != nil {
			return err
		}
		ok, err = f.continueRounds(p, policy.Collected{Hidden: w.rows, Steps: collectedRows(p.Before, before)}, h, stmt)
		if !ok || err != nil {
			return err
		}
	}
	f.releaseHeld(h)
	return nil
}

// continueRounds runs the rounds a plan's continuation makes of what the
// statement and its first round collected; ok is false when a request of
// a round failed (the client has been told). Each round is waited for but
// the last, whose steps collect nothing for another: the caller's release
// of the held responses follows it in the same batch, and the server
// skips that release when a step fails.
func (f *frontend) continueRounds(plan *policy.Plan, collected policy.Collected, h *hold, stmt string) (ok bool, err error) {
	for plan.Continue != nil {
		steps := plan.Continue.Next(collected)
		if len(steps) == 0 {
			break
		}
		rd := newRound(len(steps))
		resps := make([]responder, len(steps))
		for i, st := range steps {
			resps[i] = f.responderFor(st, h, rd, stmt, nil)
			f.sendStep(st, resps[i], nil)
		}
		if !slices.ContainsFunc(steps, func(st *policy.Step) bool { return st.Collect }) {
			break
		}
		if ok, err := f.await(rd); !ok || err != nil {
			return false, err
		}
		collected = policy.Collected{Steps: collectedRows(steps, resps)}
	}
	return true, nil
}

// portalBound reports whether a portal's Bind succeeded. Bind and Execute
// in one batch need no answer: a failed Bind makes the server skip the
// Execute and softfk's statements with it. A Sync between them ends the
// skipping, so softfk's statements for the Execute would run and could
// report something else than the missing portal: softfk waits for the
// Bind's answer then.
func (f *frontend) portalBound(bp *boundPortal) (bool, error) {
	if bp.syncs == f.syncs {
		return true, nil
	}
	if err := f.awaitAnswers(); err != nil {
		return false, err
	}
	return !bp.bindFailed.Load(), nil
}

// await sends what is buffered (asking the server to answer without ending
// the transaction) and waits for the round; ok is false when a request of
// the round failed (the client has been told).
//
// A round that plans a client's message ahead of it runs in the implicit
// transaction of the client's messages not yet ended by a Sync, where
// Postgres counts softfk's Execute as pipelining: a VACUUM or DISCARD ALL
// the client sends as a Query (this one, or a later one before its Sync)
// would then fail (25001) where directly it runs. When that transaction
// holds nothing of the client's (no Bind or Execute since its Sync, a Sync
// the server did not ignore inside a COPY, no transaction block), a Sync
// of softfk's ends it after a round that succeeded.
func (f *frontend) await(rd *round) (bool, error) {
	f.send('H', nil)
	if err := f.flushBeforeWait(); err != nil {
		return false, err
	}
	select {
	case <-rd.done:
	case <-f.s.done:
		return false, errSessionClosed
	}
	ok := rd.wait()
	if ok && f.planningAhead && !f.clientOpened && !f.s.router.lastSyncEaten() && f.s.router.status() == 'I' {
		if _, err := f.syncRound(); err != nil {
			return false, err
		}
	}
	return ok, nil
}

// reject reports whether an unverifiable write is refused (enforce mode
// with unverifiable: reject); otherwise it is logged and let through. A
// refused one is logged with the verdict of its refusal's step (see
// unverifiableRefusal).
func (f *frontend) reject(u *policy.Unverifiable, stmt string) bool {
	refuse := f.refuses(u)
	if !refuse {
		f.s.reportUnverifiable(u, stmt, false)
	}
	return refuse
}

// refuses reports whether the configuration refuses an unverifiable write.
func (f *frontend) refuses(u *policy.Unverifiable) bool {
	return f.s.rules().UnverifiablePolicy() == config.UnverifiableReject && (u.Rel == nil || u.Rel.Mode == config.Enforce)
}

// refuseStep is the statement that stands in for a statement Postgres
// would refuse because of a foreign key, r: it fails, unless Postgres
// refuses the statement first for a reason of its own (r.Unless: a
// read-only transaction, a missing privilege), when it succeeds and lets
// the statement run into that error. (The cast of the CASE is evaluated
// when the statement runs.)
func refuseStep(r *policy.Refusal) *policy.Step {
	return &policy.Step{SQL: "SELECT CAST(CASE WHEN NOT (" + cmp.Or(r.Unless, "false") + ") THEN '" + rejectMarker + "' END AS int4)"}
}

// unverifiableStep stands in for a write softfk cannot verify, u: it
// fails while a real FOREIGN KEY would check the write (see
// policy.Unverifiable.Enforced), and succeeds, letting the write run,
// while it would not (session_replication_role is replica, or a
// superuser disabled the table's triggers). (The cast of the CASE is
// evaluated when the statement runs; a cast of a constant would fail
// when it is planned.)
func unverifiableStep(u *policy.Unverifiable) *policy.Step {
	return &policy.Step{SQL: "SELECT CAST(CASE WHEN " + u.Enforced() + " THEN '" + rejectMarker + "' END AS int4)"}
}

// unverifiableError is what a client gets for a write softfk refuses.
func unverifiableError(u *policy.Unverifiable, stmt string) *pgproto3.ErrorResponse {
	rel := ""
	if u.Rel != nil {
		rel = fmt.Sprintf(" (relationship %q on table %s)", u.Rel.Name, u.Rel.Table)
	}
	return &pgproto3.ErrorResponse{
		Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: codeFeatureUnsupported,
		Message: fmt.Sprintf("softfk cannot verify this statement's writes to a table with soft foreign keys%s: %s", rel, u.Reason),
		Detail:  "Statement: " + truncate(strings.TrimSpace(stmt), 200),
		Hint:    "Write it as a plain INSERT, UPDATE or DELETE, or set unverifiable: allow in softfk's configuration to let such statements through unchecked.",
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// sentText is the text softfk sends for the client's statement st
// planned as p, given its text (which starts at offset from of st's query
// string): with the plan's insertions and hidden RETURNING columns.
// positions maps error positions in it back to text; nil when nothing
// moved (hidden columns come last).
func sentText(text string, from int, st *parser.Statement, p *policy.Plan) (sent string, positions func(int) int) {
	if len(p.Hidden) > 0 {
		text = withHiddenReturning(text, relativeTo(st, from), p.Hidden)
	}
	if len(p.Insert) == 0 {
		return text, nil
	}
	ins := make([]parser.Insertion, len(p.Insert))
	for i, in := range p.Insert {
		ins[i] = parser.Insertion{At: in.At + st.Start - from, Text: in.Text}
	}
	return parser.Spliced(text, ins), parser.SplicedPositions(text, ins)
}

// composed maps an error position through first, then through then;
// either may be nil (no change).
func composed(first, then func(int) int) func(int) int {
	switch {
	case first == nil:
		return then
	case then == nil:
		return first
	}
	return func(pos int) int { return then(first(pos)) }
}

// withHiddenReturning appends softfk's hidden columns to a statement's
// RETURNING list (starting one when it has none), right after its last
// token so a trailing comment cannot swallow them.
func withHiddenReturning(sql string, st *parser.Statement, hidden []string) string {
	clause := " RETURNING "
	if st.Returns() {
		clause = ", "
	}
	for i, h := range hidden {
		if i > 0 {
			clause += ", "
		}
		clause += h + " AS softfk_" + strconv.Itoa(i)
	}
	return sql[:st.TokenEnd] + clause + sql[st.TokenEnd:]
}
