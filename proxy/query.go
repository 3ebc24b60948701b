package proxy

import (
	"bytes"
	"cmp"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/softfk/softfk/parser"
	"github.com/softfk/softfk/policy"
)

// query handles a simple-protocol Query message. Statements that need
// only known-key checks get them inlined in the same query string, right
// after each statement; if a statement needs the server's results first,
// the query runs statement group by statement group inside a transaction
// (splitQuery).
func (f *frontend) query(body []byte) error {
	if skipped, err := f.serverSkipsQuery(); err != nil || skipped {
		// The server takes the Query without an answer of its own.
		f.send('Q', body)
		return err
	}
	if !wellFormedQuery(body) {
		// Postgres refuses it; nothing in it runs.
		f.forward(reqQuery, 'Q', body)
		return nil
	}
	// A Query replaces the unnamed statement and portal, as Postgres does.
	delete(f.stmts, "")
	delete(f.writes, "")
	delete(f.portals, "")
	delete(f.ddl, "")
	delete(f.naming, "")
	delete(f.preparing, "")
	delete(f.arming, "")
	// After DDL on a guarded table, every session reads the catalog again.
	var ready func(byte)
	text := body[:len(body)-1]
	if f.changesSchema(text) {
		ready = f.s.schemaChanged
	}
	f.ownStale = f.ownStale || f.namesRelation(text)
	// A catalog read before the Query must not leave the Query in its
	// implicit transaction: a DISCARD ALL would find itself pipelined.
	f.planningAhead = true
	relevant, err := f.relevant(text)
	f.planningAhead = false
	if errors.Is(err, errCatalogUnavailable) {
		f.endFailedQuery(ready)
		return nil
	}
	if !relevant {
		f.noteSessionEffects(text)
		f.pending = append(f.pending, pending{kind: reqQuery, ready: ready})
		f.send('Q', body)
		return nil
	}
	sql := string(text)
	var res *parser.Result
	if f.remap == nil && f.paramsReadAsLiterals() {
		pz, analyzed, err := f.s.srv.parser.Parameterize(sql)
		if err == nil && pz != nil {
			if shaped, err := f.shapedWrite(sql, pz, ready); shaped || err != nil {
				return err
			}
		}
		res = analyzed
	}
	if res == nil {
		if res, err = f.s.srv.parser.Analyze(sql); err != nil {
			f.forward(reqQuery, 'Q', body)
			return nil
		}
	}
	if len(res.Statements) == 1 && res.Statements[0].Kind == parser.Execute {
		// An EXECUTE runs as the statement it stands for.
		stands, remap, _, err := f.executeText(sql, &res.Statements[0])
		if errors.Is(err, errCatalogUnavailable) {
			f.endFailedQuery(ready)
			return nil
		}
		if err != nil {
			return err
		}
		if stands != "" {
			f.remap = remap
			defer func() { f.remap = nil }()
			return f.query(append([]byte(stands), 0))
		}
	}
	if len(res.Statements) == 1 && res.Statements[0].Main() != nil && f.remap == nil && parser.UsesParams(sql) {
		// A write that refers to a parameter fails at the server, as a
		// Query brings none, before it writes anything.
		f.pending = append(f.pending, pending{kind: reqQuery, ready: ready})
		f.send('Q', body)
		return nil
	}
	plans := make([]*policy.Plan, len(res.Statements))
	watches := make([]*watch, len(res.Statements))
	planned, rounds, txControl, learning, namesMayMove, tablesChanged := false, false, false, false, false, false
	// created holds the partitions and views the query string creates of
	// guarded tables (or of such partitions and views), each with a
	// relationship of the table.
	var created map[string]*policy.Rel
	for i := range res.Statements {
		st := &res.Statements[i]
		watches[i] = f.sessionEffects(st, true)
		learning = learning || watches[i] != nil
		txControl = txControl || st.Kind == parser.Transaction
		if plans[i], err = f.plan(st, policy.Env{NamesMayMove: namesMayMove, TransactionBlock: len(res.Statements) > 1}); err != nil {
			failAll(watches)
			f.endFailedQuery(ready)
			return nil
		}
		if p := plans[i]; p != nil && p.Unverifiable == nil && tablesChanged && !st.Alter.OnlySwitchesTriggers() {
			// Planned with the catalog facts from before the query string
			// ran: its own DDL may have changed them (a key's default or
			// type, a trigger).
			u := &policy.Unverifiable{Reason: "a write checked after DDL on a table with soft foreign keys in one query string; send the DDL separately", Rel: p.FirstRel(), Table: p.Table}
			plans[i] = f.unverifiablePlan(u, st.Text)
		}
		if r := writesCreated(st, created); plans[i] == nil && r != nil {
			// The catalog facts know nothing of it yet.
			u := &policy.Unverifiable{Reason: "a write into a partition or through a view created earlier in the same query string, or into a table it attached as a partition or whose defaults or triggers it changed; send the DDL separately", Rel: r}
			plans[i] = f.unverifiablePlan(u, st.Text)
		}
		namesMayMove = namesMayMove || !st.KeepsNames()
		tablesChanged = tablesChanged || f.changesGuardedTables(st)
		created = f.noteCreated(created, st)
		if p := plans[i]; p != nil {
			f.s.srv.metrics.StatementChecked()
			planned = true
			rounds = rounds || needsPlanRounds(p)
		}
	}
	for i, p := range plans {
		if p != nil && len(res.Statements) == 1 && judgedFirst(&res.Statements[i], p) {
			return f.refuseCopySimple(body, p.Unverifiable, res.Statements[i].Text, ready)
		}
		if p == nil || p.Copy == nil || standIn(p, "") != nil {
			continue
		}
		if len(res.Statements) == 1 {
			return f.startCopySimple(sql, p.Copy, res.Statements[i].Text)
		}
		u := &policy.Unverifiable{Reason: "COPY together with other statements in one query string; send it alone", Rel: p.FirstRel(), Table: p.Table}
		plans[i] = f.unverifiablePlan(u, res.Statements[i].Text)
	}
	switch {
	case !planned && !learning && f.remap == nil:
		f.pending = append(f.pending, pending{kind: reqQuery, ready: ready})
		f.send('Q', body)
		return nil
	case len(res.Statements) == 1 && f.asExtended(sql, &res.Statements[0], plans[0], ready):
		return nil
	case len(res.Statements) == 1 && roundsAsExtended(plans[0]):
		return f.runAsExtended(sql, &res.Statements[0], plans[0], ready)
	case !rounds:
		f.inlineQuery(sql, res, plans, watches, ready)
		return nil
	case txControl && len(res.Statements) > 1:
		// Splitting would change what BEGIN/COMMIT inside the string mean.
		for i, p := range plans {
			if p != nil && p.Unverifiable == nil && needsRounds(p) {
				u := &policy.Unverifiable{Reason: "this statement together with transaction control in one query string; send them separately", Rel: p.FirstRel(), Table: p.Table}
				plans[i] = f.unverifiablePlan(u, res.Statements[i].Text)
			}
		}
		f.inlineQuery(sql, res, plans, watches, ready)
		return nil
	}
	return f.splitQuery(sql, res, plans, watches, ready)
}

// noteCreated records in created (made when needed) the relations whose
// writes the catalog facts, read before st ran, cannot check, each with a
// relationship of the guarded table behind it: the partition or view st
// creates of a guarded table (or of a relation created before it in the
// query string), a table the facts do not know that st attaches to one as
// a partition, and a guarded table whose column defaults or triggers st
// changes.
func (f *frontend) noteCreated(created map[string]*policy.Rel, st *parser.Statement) map[string]*policy.Rel {
	db := f.s.rules()
	var name string
	var over []parser.Relation
	switch c, a, w := st.Creates(), st.Alter, st.ChangesWritesOf(); {
	case c != nil:
		name, over = c.Name, c.Over
	case a != nil && a.Attach != nil && db.RelOfAny([]parser.Relation{*a.Attach}) == nil:
		name, over = a.Attach.Name, []parser.Relation{a.Table}
	case w != nil:
		name, over = w.Name, []parser.Relation{*w}
	default:
		return created
	}
	r := db.RelOfAny(over)
	for _, o := range over {
		r = cmp.Or(r, created[o.Name])
	}
	if r == nil {
		return created
	}
	if created == nil {
		created = map[string]*policy.Rel{}
	}
	created[name] = r
	return created
}

// writesCreated returns the relationship of the table behind a relation
// created earlier in the query string (see created in query) that st
// writes, or nil.
func writesCreated(st *parser.Statement, created map[string]*policy.Rel) *policy.Rel {
	for _, t := range st.Targets {
		if r := created[t.Relation.Name]; r != nil && t.Kind != parser.Truncate {
			return r // (a table just created is empty: a TRUNCATE of it removes nothing)
		}
	}
	return nil
}

// unverifiablePlan is the plan of a statement softfk cannot verify: one
// that refuses it, or none when it goes through as written (logged either
// way, see reject).
func (f *frontend) unverifiablePlan(u *policy.Unverifiable, stmt string) *policy.Plan {
	if f.reject(u, stmt) {
		return &policy.Plan{Unverifiable: u}
	}
	return nil
}

// failAll tells the watches of a query that never ran that it failed.
func failAll(watches []*watch) {
	for _, w := range watches {
		if w != nil {
			w.round.fail()
		}
	}
}

// wellFormedQuery reports whether a Query message's body is one
// NUL-terminated string, as Postgres requires.
func wellFormedQuery(body []byte) bool {
	return bytes.IndexByte(body, 0) == len(body)-1 && len(body) > 0
}

// serverSkipsQuery reports whether the server will not run a Query the
// client sends now (see router.skipsQueries). Whether an earlier message
// failed, or started a COPY, is known only from its answers: while the
// client has requests unanswered, softfk asks for the answers and waits
// for them (only a client that pipelines a Query behind other messages
// waits). A softfk statement of its own sent into a skipping server would
// be skipped too, and its Sync would end the skipping early, running the
// client's next messages that Postgres skips; the session effects softfk
// notes (DISCARD, SET) would be wrong.
func (f *frontend) serverSkipsQuery() (bool, error) {
	if len(f.pending) == 0 && f.s.router.idle() && !f.s.router.skipsQueries() {
		return false, nil
	}
	if err := f.awaitAnswers(); err != nil {
		return false, err
	}
	return f.s.router.skipsQueries(), nil
}

// endFailedQuery ends a Query whose planning failed on the server: the
// client has the server's error and the server now skips everything up
// to a Sync, whose ReadyForQuery ends the query as the client expects.
func (f *frontend) endFailedQuery(ready func(byte)) {
	f.pending = append(f.pending, pending{kind: reqSync, ready: ready})
	f.sendMsg(&pgproto3.Sync{})
}

// queryBuilder rewrites a query string, keeping track of the statements'
// owners and of how far each client statement moved: error positions,
// counted in characters, are mapped back to the client's own text.
type queryBuilder struct {
	orig string // the client's query string
	// remap maps error positions in orig to the client's own text, when
	// orig is what softfk sends in its stead (see frontend.remap).
	remap func(int) int
	sql   strings.Builder
	runes int // characters written so far
	parts []part
	// clients are where the client's statements stand in sql.
	clients []clientText
}

// clientText is where a client statement stands in the text sent upstream:
// characters (start, end], moved by shift from where it stood in orig.
type clientText struct {
	start, end, shift int
	moved             func(int) int // see clientMoved
}

// raw appends text that is not a statement of its own.
func (q *queryBuilder) raw(text string) {
	q.sql.WriteString(text)
	q.runes += utf8.RuneCountInString(text)
}

// client appends a client statement's text, which starts at offset from in
// the client's query string.
func (q *queryBuilder) client(text string, from int, p part) { q.clientMoved(text, from, nil, p) }

// clientMoved appends a client statement's text as client does, with
// text softfk inserted into it: moved maps positions in text back to the
// client's statement (nil: nothing moved).
func (q *queryBuilder) clientMoved(text string, from int, moved func(int) int, p part) {
	// Positions are mapped through the whole query string: a syntax error
	// in a later statement is reported against the first.
	p.remap = q.clientPosition
	start := q.runes
	q.raw(text)
	q.clients = append(q.clients, clientText{start: start, end: q.runes, shift: start - utf8.RuneCountInString(q.orig[:from]), moved: moved})
	q.parts = append(q.parts, p)
}

// clientPosition maps an error position in the text sent upstream that
// falls in one of the client's statements to the client's text (0 when it
// falls in none).
func (q *queryBuilder) clientPosition(pos int) int {
	for _, c := range q.clients {
		if pos > c.start && pos <= c.end {
			if c.moved != nil {
				pos = c.start + c.moved(pos-c.start)
			}
			pos -= c.shift
			if q.remap != nil {
				pos = q.remap(pos)
			}
			return pos
		}
	}
	return 0
}

// own appends a statement of softfk's, on its own line so a trailing
// comment of the previous statement cannot swallow it.
func (q *queryBuilder) own(sql string, p part, before bool) {
	if before {
		q.raw(sql + ";\n")
	} else {
		q.raw("\n;" + sql)
	}
	q.parts = append(q.parts, p)
}

// stepPositions maps error positions met by one of softfk's steps, about
// to be appended to the query, to the client's text (see
// stepClientPosition). A position outside the step is a syntax error of
// the whole query string, which Postgres reports before running its first
// statement: one in a client statement maps there.
func (q *queryBuilder) stepPositions(step *policy.Step) func(int) int {
	start := q.runes
	return func(pos int) int {
		if pos <= start || pos > start+utf8.RuneCountInString(step.SQL) {
			return q.clientPosition(pos)
		}
		return stepClientPosition(step, q.orig, q.remap, pos-start)
	}
}

// stepClientPosition maps the position (in characters, from 1) of an error
// in one of softfk's steps to the client's query string orig, then through
// remap if set: it points where the client wrote the piece of its
// statement that the step repeats (policy.Step.Source), or nowhere (0).
func stepClientPosition(step *policy.Step, orig string, remap func(int) int, pos int) int {
	at := byteOffset(step.SQL, pos-1)
	if step.Source == nil || at >= len(step.SQL) {
		return 0
	}
	off := step.Source.ClientOffset(step.SQL, at)
	if off < 0 {
		return 0
	}
	pos = utf8.RuneCountInString(orig[:off]) + 1
	if remap != nil {
		pos = remap(pos)
	}
	return pos
}

// checkedStatement appends a client statement st (text, which starts at
// offset from of the client's string) with its plan p: the checks it makes
// of its own rows, and its known-key checks after it. Its responses are
// held until every enforced check after it has passed (shadow checks hold
// nothing).
func (f *frontend) checkedStatement(q *queryBuilder, text string, from int, st *parser.Statement, p *policy.Plan) {
	h := &hold{}
	stmtPart := part{hold: h}
	if p.Inline != nil {
		text = withHiddenReturning(text, relativeTo(st, from), p.Hidden)
		stmtPart.hidden, stmtPart.noRows = len(p.Hidden), !st.Returns()
		stmtPart.rows = f.newRowCheck(p.Inline, st.Text)
	}
	q.client(text, from, stmtPart)
	stmtIdx := len(q.parts) - 1
	for i, resp := range f.afterResponders(p.After, h, st.Text) {
		f.inlineStep(q, p.After[i], resp)
	}
	if h.waiting == 0 {
		q.parts[stmtIdx].hold = nil
	}
}

// afterResponders builds the responders of the steps that follow a client
// statement: the enforced checks give their verdicts to h, which holds the
// statement's responses; other steps' failures drop them.
func (f *frontend) afterResponders(after []*policy.Step, h *hold, stmt string) []responder {
	resps := make([]responder, len(after))
	for i, st := range after {
		switch {
		case st.Check == nil:
			resps[i] = &stepResponder{hold: h}
		case st.Check.Shadow:
			resps[i] = &checkResponder{f: f, check: st.Check, stmt: stmt}
		default:
			resps[i] = &checkResponder{f: f, check: st.Check, stmt: stmt, hold: h, verdict: true}
			h.waiting++
		}
	}
	return resps
}

// asExtended runs a simple Query of one statement whose known keys are
// checked after it through the extended protocol instead, and reports
// whether it did: the checks then run as Bind and Execute of a statement
// the server planned once, where in a query string they would be EXECUTE
// statements, parsed and analysed every time. The client sees what the
// Query would have given it: Postgres treats one statement ended by Sync
// as it treats a one-statement Query (one implicit transaction, the
// unnamed statement and portal replaced), and the acknowledgements of the
// extended protocol are not passed on. It applies when each checked value
// is a constant whose text the check can take as a parameter.
func (f *frontend) asExtended(sql string, st *parser.Statement, p *policy.Plan, ready func(byte)) bool {
	if p == nil || len(p.After) == 0 || len(p.Hidden) > 0 || needsRounds(p) || p.Rewrite != "" || standIn(p, "") != nil {
		return false
	}
	steps := make([]*policy.Step, len(p.After))
	for i, step := range p.After {
		if steps[i] = withTextArgs(step); steps[i] == nil {
			return false
		}
	}
	// The statement's responses wait for its own completion too: a Query
	// that fails shows nothing but its error, not even the RowDescription
	// the Describe brings first.
	h := &hold{waiting: 1}
	resps := f.afterResponders(steps, h, st.Text)
	stmtPart := part{simple: true, hold: h, remap: f.remap}
	send := func(kind requestKind, msg pgproto3.FrontendMessage) {
		f.pending = append(f.pending, pending{kind: kind, part: stmtPart})
		f.sendMsg(msg)
	}
	send(reqParse, &pgproto3.Parse{Query: sql})
	send(reqBind, &pgproto3.Bind{})
	// A Query leaves no unnamed statement or portal behind: closing the
	// statement now keeps the portal bound to it, and whatever happens
	// next, the Query left no statement. The portal goes once it and its
	// checks ran.
	f.closeUnnamed('S')
	if givesRows(st) {
		send(reqDescribe, &pgproto3.Describe{ObjectType: 'P'})
	}
	send(reqExecute, &pgproto3.Execute{})
	for i, step := range steps {
		f.sendStep(step, resps[i], nil)
	}
	f.closeUnnamed('P') // skipped if a check fails (see closeUnnamed)
	f.pending = append(f.pending, pending{kind: reqSync, ready: ready})
	f.sendMsg(&pgproto3.Sync{})
	return true
}

// roundsAsExtended reports whether runAsExtended can run a one-statement
// Query planned as p: one whose checks need its results.
func roundsAsExtended(p *policy.Plan) bool {
	if !needsPlanRounds(p) || p.Rewrite != "" || p.Copy != nil || p.Inline != nil {
		return false
	}
	for _, step := range append(p.Before[:len(p.Before):len(p.Before)], p.After...) {
		if withTextArgs(step) == nil {
			return false
		}
	}
	return true
}

// runAsExtended runs a simple Query of one statement whose checks need its
// results (a DELETE or key UPDATE of referenced rows, a multi-row UPDATE,
// MERGE) through the extended protocol, as runPlan runs a client's
// Execute: the statement and its rounds share the implicit transaction
// that the final Sync ends, so no transaction of softfk's own is needed
// around them, and the client sees what the Query would have given it
// (see asExtended). The steps before the statement repeat its constants:
// they are prepared for their one use, and positions of errors they meet
// in the client's clauses map into the query string.
func (f *frontend) runAsExtended(sql string, st *parser.Statement, p *policy.Plan, ready func(byte)) error {
	status, err := f.settledStatus()
	if err != nil {
		return err
	}
	if status == 'E' {
		// It fails in an aborted transaction: nothing to check.
		f.pending = append(f.pending, pending{kind: reqQuery, ready: ready})
		f.sendMsg(&pgproto3.Query{String: sql})
		return nil
	}
	stmt := st.Text
	// Held: the statement's own completion, and the release once every
	// round has passed (see releaseHeld).
	h := &hold{waiting: 2}
	rd := newRound(len(p.Before) + 1)
	before := make([]responder, len(p.Before))
	remap := f.remap
	for i, step := range p.Before {
		step := withTextArgs(step)
		before[i] = f.responderFor(step, h, rd, stmt, func(pos int) int { return stepClientPosition(step, sql, remap, pos) })
		f.sendStepOnce(step, before[i])
	}
	text, moved := sentText(sql, 0, st, p)
	stmtPart := part{simple: true, hold: h, remap: composed(moved, remap), hidden: len(p.Hidden), noRows: len(p.Hidden) > 0 && !st.Returns()}
	send := func(kind requestKind, pt part, msg pgproto3.FrontendMessage) {
		f.pending = append(f.pending, pending{kind: kind, part: pt})
		f.sendMsg(msg)
	}
	send(reqParse, stmtPart, &pgproto3.Parse{Query: text})
	send(reqBind, stmtPart, &pgproto3.Bind{})
	f.closeUnnamed('S') // see asExtended
	if givesRows(st) {
		send(reqDescribe, stmtPart, &pgproto3.Describe{ObjectType: 'P'})
	}
	w := &watch{hidden: len(p.Hidden), round: rd}
	execPart := stmtPart
	execPart.watch = w
	send(reqExecute, execPart, &pgproto3.Execute{})
	for _, step := range p.After {
		f.sendStep(withTextArgs(step), f.afterResponder(step, h, stmt), nil)
	}
	if err := f.finishRounds(p, rd, w, before, h, stmt); err != nil {
		return err
	}
	f.closeUnnamed('P')
	f.pending = append(f.pending, pending{kind: reqSync, ready: ready})
	f.sendMsg(&pgproto3.Sync{})
	return nil
}

// givesRows reports whether a checked statement sent for a simple Query
// gives the client rows, and so needs a Describe for their RowDescription:
// a write with a RETURNING list, or a query whose WITH writes. A write
// without RETURNING would just get NoData, which a Query never shows.
func givesRows(st *parser.Statement) bool {
	w := st.Main()
	return w == nil || w.Returning
}

// closeUnnamed closes the unnamed statement ('S') or portal ('P') with an
// answer the client never sees. A checked Query closes its portal after
// its checks: when one fails, the server skips the Close, and the portal
// stays until the transaction ends, as the portal of a Query that fails
// does (an Execute of it inside an aborted transaction block reports the
// block, 25P02, not a missing portal).
func (f *frontend) closeUnnamed(objectType byte) { f.closeHidden(objectType, "") }

// closeHidden closes a statement ('S') or portal ('P') with an answer the
// client never sees; closing one that does not exist is no error.
func (f *frontend) closeHidden(objectType byte, name string) {
	f.pending = append(f.pending, pending{kind: reqClose, part: part{proxy: &stepResponder{}}})
	f.sendMsg(&pgproto3.Close{ObjectType: objectType, Name: name})
}

// namesRelation reports whether sql may create a relation or give one a
// name (see parser.Statement.NamesRelation), in a session whose database
// has relationships (without any, softfk prepares no statement of its
// own, and a Query costs no scan for this).
func (f *frontend) namesRelation(sql []byte) bool {
	if !f.s.rules().Active() || !parser.MayNameRelation(unsafeString(sql)) {
		return false
	}
	res, err := f.s.srv.parser.Analyze(string(sql))
	if err != nil {
		return false
	}
	for _, st := range res.Statements {
		if st.NamesRelation() {
			return true
		}
	}
	return false
}

// closeStaleOwn closes softfk's prepared statements after the session ran
// a statement that may have made a name in them denote another relation
// (see ownStale): each is prepared again at its next use, and so reads its
// names afresh. The Closes go before that use.
func (f *frontend) closeStaleOwn() {
	if !f.ownStale {
		return
	}
	f.ownStale = false
	for _, name := range append(f.own.drain(), f.ownWrites.drain()...) {
		f.closeHidden('S', name)
	}
}

// closeOneOff closes o's one-off statement before it is prepared again:
// the Close after its last use is skipped when that use fails, as the
// server skips what follows an error, and the statement stays prepared.
func (f *frontend) closeOneOff(o *ownStatements) { f.closeHidden('S', o.once) }

// withTextArgs returns a copy of a simple-protocol check whose arguments,
// SQL constants, are given as their text instead; nil when one is not a
// constant with a text (see parser.LiteralText).
func withTextArgs(step *policy.Step) *policy.Step {
	out := *step
	out.Args = make([]policy.Arg, len(step.Args))
	for i, a := range step.Args {
		switch {
		case a.Expr == "NULL":
			out.Args[i] = policy.Arg{Null: true}
		case a.Expr != "":
			text, ok := parser.LiteralText(a.Expr)
			if !ok {
				return nil
			}
			out.Args[i] = policy.Arg{Text: text}
		default:
			out.Args[i] = a
		}
	}
	return &out
}

// inlineStep appends one of softfk's steps to a rewritten query. A step
// with parameters runs as EXECUTE of a statement prepared once per session
// (PREPAREd in the same query the first time): the server then parses and
// plans it once, not for every query.
func (f *frontend) inlineStep(q *queryBuilder, st *policy.Step, resp responder) {
	markSent(resp)
	if len(st.Args) == 0 {
		q.own(st.SQL, part{proxy: resp}, false)
		return
	}
	f.closeStaleOwn()
	name, prepared, oneOff := f.own.claim(st.SQL)
	if !prepared {
		aux := &auxResponder{step: resp}
		if oneOff {
			f.closeOneOff(&f.own) // sent now, before the query that prepares it
		} else {
			aux.notDone = f.own.forget(st.SQL, name)
		}
		q.own("PREPARE "+name+" AS "+st.SQL, part{proxy: aux}, false)
	}
	args := make([]string, len(st.Args))
	for i, a := range st.Args {
		switch {
		case a.Expr != "":
			args[i] = a.Expr
		case a.Null:
			args[i] = "NULL"
		default:
			args[i] = parser.QuoteLiteral(a.Text)
		}
	}
	q.own("EXECUTE "+name+"("+strings.Join(args, ", ")+")", part{proxy: resp}, false)
	if oneOff {
		q.own("DEALLOCATE "+f.own.once, part{proxy: &auxResponder{step: resp}}, false)
	}
}

// inlineQuery sends the query with each statement's known-key checks (and
// the rejection of unverifiable ones) inlined; watches[i], when set,
// follows the i-th statement.
func (f *frontend) inlineQuery(sql string, res *parser.Result, plans []*policy.Plan, watches []*watch, ready func(byte)) {
	q := queryBuilder{orig: sql, remap: f.remap}
	prev := 0
	for i := range res.Statements {
		st := &res.Statements[i]
		p := plans[i]
		switch {
		case p == nil:
			q.client(sql[prev:st.End], prev, part{watch: watches[i]})
		case standIn(p, st.Text) != nil:
			q.raw(sql[prev:st.Start])
			step, rj := f.refusal(p, st.Text)
			q.own(step.SQL, part{proxy: rj}, true)
			q.client(sql[st.Start:st.End], st.Start, part{})
		case p.Rewrite != "" || len(p.Notices) > 0:
			q.raw(sql[prev:st.Start])
			q.client(rewritten(p, sql[st.Start:st.End]), st.Start, part{notices: noticesFor(p), rename: p.Rename})
		default:
			f.checkedStatement(&q, sql[prev:st.End], prev, st, p)
		}
		prev = st.End
	}
	q.sql.WriteString(sql[prev:])
	f.pending = append(f.pending, pending{kind: reqQuery, parts: q.parts, ready: ready})
	f.sendMsg(&pgproto3.Query{String: q.sql.String()})
}

// splitQuery runs a query string some of whose statements need the
// server's results before their checks can run. It needs a transaction to
// keep the whole string atomic, as Postgres's implicit transaction would:
// inside the client's own, or in one softfk opens and closes (invisible to
// the client). Statements run in groups, each ending with a statement
// whose checks need its results; those checks then run before the next
// group. Only the last ReadyForQuery reaches the client.
func (f *frontend) splitQuery(sql string, res *parser.Result, plans []*policy.Plan, watches []*watch, ready func(byte)) error {
	status, err := f.settledStatus()
	if err != nil {
		failAll(watches)
		return err
	}
	if status == 'E' {
		// Every statement fails in an aborted transaction: nothing to check.
		failAll(watches)
		f.pending = append(f.pending, pending{kind: reqQuery, ready: ready})
		f.sendMsg(&pgproto3.Query{String: sql})
		return nil
	}
	envelope := status == 'I'
	if envelope {
		f.hiddenQuery("BEGIN", nil)
	}
	failed := false
	start := 0
	var held *hold
	for start < len(res.Statements) && !failed {
		end := start
		for end < len(res.Statements)-1 && !needsPlanRounds(plans[end]) {
			end++
		}
		failed, held, err = f.runGroup(sql, res, plans, watches, start, end)
		if err != nil {
			return err
		}
		start = end + 1
	}
	if failed {
		failAll(watches[start:]) // never sent
	}
	if held != nil {
		// The last statement's checks all passed: its responses go out
		// just before the end of the query, without a round of their own.
		f.releaseHeld(held)
	}
	switch {
	case envelope && failed:
		f.finalQuery("ROLLBACK", ready)
	case envelope:
		f.finalQuery("COMMIT", ready)
	default:
		f.pending = append(f.pending, pending{kind: reqSync, ready: ready})
		f.sendMsg(&pgproto3.Sync{})
	}
	return nil
}

// releaseHeld sends a cheap request (closing a portal that does not exist
// is not an error) whose answer releases h's held responses in order,
// once everything sent before it has been answered.
func (f *frontend) releaseHeld(h *hold) {
	f.pending = append(f.pending, pending{kind: reqClose, part: part{proxy: &finisher{stepResponder{hold: h}}}})
	f.sendMsg(&pgproto3.Close{ObjectType: 'P', Name: ownNoPortal})
}

func needsPlanRounds(p *policy.Plan) bool {
	return p != nil && standIn(p, "") == nil && needsRounds(p)
}

// settledStatus waits until every earlier request has been answered and
// returns the transaction status.
func (f *frontend) settledStatus() (byte, error) {
	if err := f.flushBeforeWait(); err != nil {
		return 0, err
	}
	select {
	case <-f.s.router.whenIdle():
		return f.s.router.status(), nil
	case <-f.s.done:
		return 0, errSessionClosed
	}
}

// awaitAnswers asks the server for the answers to everything sent so far
// (a Flush, which does not end the transaction) and waits for all of them,
// or until the server waits for the client's COPY data.
func (f *frontend) awaitAnswers() error {
	f.send('H', nil)
	_, err := f.settledStatus()
	return err
}

// hiddenQuery sends a statement of softfk's as a Query whose answers the
// client never sees; ready, if set, learns the resulting status.
func (f *frontend) hiddenQuery(sql string, ready func(byte)) {
	f.pending = append(f.pending, pending{kind: reqQuery, parts: []part{{proxy: &stepResponder{}}}, hideReady: true, ready: ready})
	f.sendMsg(&pgproto3.Query{String: sql})
}

// finalQuery sends the statement that ends softfk's transaction; its
// ReadyForQuery is the one the client's query gets. A failing COMMIT
// (deferred constraint, serialization failure) reports its own error.
func (f *frontend) finalQuery(sql string, ready func(byte)) {
	f.pending = append(f.pending, pending{kind: reqQuery, parts: []part{{proxy: &stepResponder{}}}, ready: ready})
	f.sendMsg(&pgproto3.Query{String: sql})
}

// runGroup sends statements [start, end] as one query (the last one with
// its hidden columns and captures), waits for it, then runs the last
// statement's rounds. failed reports that the transaction is now aborted.
// When the group ends the query string and its last statement's checks
// all passed, held is that statement's hold, for the caller to release
// with the query's end; a group before others releases its own.
func (f *frontend) runGroup(sql string, res *parser.Result, plans []*policy.Plan, watches []*watch, start, end int) (failed bool, held *hold, err error) {
	q := queryBuilder{orig: sql, remap: f.remap}
	last := &res.Statements[end]
	lastPlan := plans[end]
	rounds := needsPlanRounds(lastPlan)
	var beforeResps []responder
	h := &hold{}
	w := &watch{}
	groupDone := make(chan byte, 1)
	for i := start; i <= end; i++ {
		st := &res.Statements[i]
		p := plans[i]
		text := st.Text
		switch {
		case p == nil:
			q.client(text, st.Start, part{watch: watches[i]})
		case standIn(p, st.Text) != nil:
			step, rj := f.refusal(p, st.Text)
			q.own(step.SQL, part{proxy: rj}, true)
			q.client(text, st.Start, part{})
		case p.Rewrite != "" || len(p.Notices) > 0:
			q.client(rewritten(p, text), st.Start, part{notices: noticesFor(p), rename: p.Rename})
		case i == end && rounds:
			for _, step := range p.Before {
				r := f.responderFor(step, h, nil, st.Text, q.stepPositions(step))
				beforeResps = append(beforeResps, r)
				q.own(step.SQL, part{proxy: r}, true)
			}
			text, moved := sentText(text, st.Start, st, p)
			w.hidden = len(p.Hidden)
			q.clientMoved(text, st.Start, moved, part{hold: h, watch: w, hidden: len(p.Hidden), noRows: len(p.Hidden) > 0 && !st.Returns()})
			for _, step := range p.After {
				f.inlineStep(&q, step, f.afterResponder(step, h, st.Text))
			}
		default:
			f.checkedStatement(&q, text, st.Start, st, p)
		}
		if i < end {
			q.raw(";")
		}
	}
	// The watch's round is not used: the group's ReadyForQuery says when
	// it is over.
	w.round = newRound(1)
	f.pending = append(f.pending, pending{kind: reqQuery, parts: q.parts, hideReady: true, ready: func(s byte) { groupDone <- s }})
	f.sendMsg(&pgproto3.Query{String: q.sql.String()})
	status, err := f.awaitReady(groupDone)
	if err != nil || status == 'E' {
		return true, nil, err
	}
	if !rounds {
		return false, nil, nil
	}
	collected := policy.Collected{Hidden: w.rows, Steps: collectedRows(lastPlan.Before, beforeResps)}
	for lastPlan.Continue != nil {
		steps := lastPlan.Continue.Next(collected)
		if len(steps) == 0 {
			break
		}
		resps := make([]responder, len(steps))
		for i, st := range steps {
			resps[i] = f.responderFor(st, h, nil, last.Text, nil)
			f.sendStep(st, resps[i], nil)
		}
		if status, err := f.syncRound(); err != nil || status == 'E' {
			return true, nil, err
		}
		collected = policy.Collected{Steps: collectedRows(steps, resps)}
	}
	if end == len(res.Statements)-1 {
		return false, h, nil
	}
	f.releaseHeld(h)
	status, err = f.syncRound()
	return err != nil || status == 'E', nil, err
}

// relativeTo returns the statement with TokenEnd made relative to offset
// from of the query string, where the text it is given to starts.
func relativeTo(st *parser.Statement, from int) *parser.Statement {
	c := *st
	c.TokenEnd -= from
	return &c
}

// syncRound ends a round of softfk's extended-protocol statements with a
// Sync (inside a transaction block it commits nothing) and waits for it.
func (f *frontend) syncRound() (byte, error) {
	done := make(chan byte, 1)
	f.pending = append(f.pending, pending{kind: reqSync, hideReady: true, ready: func(s byte) { done <- s }})
	f.sendMsg(&pgproto3.Sync{})
	return f.awaitReady(done)
}

// awaitReady flushes and waits for a hidden ReadyForQuery's status.
func (f *frontend) awaitReady(done chan byte) (byte, error) {
	if err := f.flushBeforeWait(); err != nil {
		return 0, err
	}
	select {
	case s := <-done:
		return s, nil
	case <-f.s.done:
		return 0, errSessionClosed
	}
}
