package proxy

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/softfk/softfk/parser"
	"github.com/softfk/softfk/policy"
)

// frontend handles the messages a client sends: it decides what goes
// upstream and queues, for each request, who will receive its answers.
// Statements that touch no relationship pass through untouched; the others
// get softfk's checks around them (see enforce.go).
type frontend struct {
	s       *session
	out     *[]byte   // bytes for upstream, written by flush
	pending []pending // requests in out, queued in the router by flush

	// The client's prepared statements and portals that touch a
	// relationship (others are not tracked).
	stmts   map[string]*preparedStmt
	portals map[string]*boundPortal
	// sqlPrepared follows the session's SQL-level prepared writes by name
	// (sqlprepared.go); sqlGeneration counts its changes.
	sqlPrepared   map[string]*sqlPrepared
	sqlGeneration uint64
	// preparing are the client's extended-protocol statements that PREPARE
	// or DEALLOCATE SQL-level statements, and arming the portals bound to
	// them: their effect is recorded when a portal runs (see
	// sessionEffects).
	preparing map[string]*parser.Statement
	arming    map[string]*parser.Statement
	// remap, while softfk runs the statement an EXECUTE stands for in the
	// EXECUTE's place, maps error positions back to the client's text.
	remap func(int) int
	own   ownStatements
	// ownWrites are the prepared statements of simple-protocol writes
	// (see shapedWrite), and writeShapes how each parameterized text runs,
	// one shape per set of parameter types.
	ownWrites   ownStatements
	writeShapes map[string][]*writeShape
	// ddl are prepared statements that change a guarded table's schema,
	// with their analysis; ddlRan says one ran since the last Sync, and
	// pipeline what such statements changed (see pipelineDDL); refused
	// are the portals of writes softfk refused after them.
	ddl      map[string][]parser.Statement
	ddlRan   bool
	pipeline pipelineDDL
	refused  map[string]bool
	// naming are prepared statements that may create or name a relation;
	// ownStale says one ran (or a Query that may), after which own and
	// ownWrites are prepared again before their next use (see
	// closeStaleOwn).
	naming   map[string]bool
	ownStale bool
	// copy follows a COPY FROM STDIN softfk checks, while its data flows.
	copy *copyIn
	// writes are the client's prepared statements that may write, planned
	// again when the configuration or the catalog changes (replan.go).
	writes map[string]*parsedWrite
	// syncs counts the client's Syncs: a portal bound before the last
	// one may have failed to bind unnoticed (see portalBound).
	syncs uint64
	// clientOpened says the client sent a Bind or an Execute since its
	// last Sync: its implicit transaction may hold portals or work that
	// a Sync of softfk's would end. planningAhead is set while softfk
	// plans a client's Parse, Bind or Describe it has not passed on yet,
	// or reads the catalog before a client's Query (see await).
	clientOpened  bool
	planningAhead bool
	// scratch is reused to check messages softfk decodes (decodeExact).
	scratch []byte
}

func newFrontend(s *session) *frontend {
	return &frontend{s: s, stmts: map[string]*preparedStmt{}, portals: map[string]*boundPortal{},
		sqlPrepared: map[string]*sqlPrepared{}, own: newOwnStatements(ownStmtRoot, maxOwnStatements), ownWrites: newOwnStatements(ownWriteRoot, maxOwnWrites),
		writeShapes: map[string][]*writeShape{}, ddl: map[string][]parser.Statement{}, naming: map[string]bool{},
		writes: map[string]*parsedWrite{}}
}

// outPool recycles upstream write buffers so an idle session holds none.
var outPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// handle processes one client message.
func (f *frontend) handle(typ byte, body []byte) error {
	if f.copy != nil && !inCopyStream(typ) {
		running, err := f.copyRunning()
		if err != nil || running {
			// The server takes it as the COPY's failure, with no answer
			// of its own.
			f.send(typ, body)
			return err
		}
	}
	switch typ {
	case 'Q':
		return f.query(body)
	case 'P':
		f.planAhead(f.parse, body)
	case 'B':
		f.planAhead(f.bind, body)
		f.clientOpened = true
	case 'D':
		f.planAhead(f.describe, body)
	case 'E':
		f.clientOpened = true
		return f.execute(body)
	case 'C':
		f.close(body)
	case 'S':
		f.syncs++
		f.clientOpened = false
		p := pending{kind: reqSync}
		if f.ddlRan {
			p.ready, f.ddlRan = f.s.schemaChanged, false
		}
		f.pending = append(f.pending, p)
		f.send(typ, body)
	case 'F':
		f.forward(reqFunctionCall, typ, body)
	case 'd':
		if f.copy != nil {
			f.copy.feed(body)
		}
		f.send(typ, body)
	case 'c', 'f':
		if f.copy != nil {
			return f.endCopy(typ, body)
		}
		f.forward(reqCopyEnd, typ, body)
	default:
		// Flush, Terminate and anything the server will judge itself: no
		// answer of their own to route.
		f.send(typ, body)
	}
	return nil
}

// planAhead runs handle for a client message that softfk may plan, with
// statements of its own, before passing it on.
func (f *frontend) planAhead(handle func([]byte), body []byte) {
	f.planningAhead = true
	handle(body)
	f.planningAhead = false
}

// decodeExact is decodeExact with the frontend's scratch buffer.
func (f *frontend) decodeExact(msg pgproto3.FrontendMessage, body []byte) bool {
	ok, scratch := decodeExact(msg, body, f.scratch)
	if cap(scratch) <= writeFlushThreshold {
		f.scratch = scratch
	}
	return ok
}

// inCopyStream reports whether a client message may come inside a COPY
// from the client: its data, its end, and the Sync and Flush the server
// ignores there.
func inCopyStream(typ byte) bool {
	switch typ {
	case 'd', 'c', 'f', 'S', 'H':
		return true
	}
	return false
}

// copyRunning learns, for a client message that no COPY stream holds,
// whether the checked COPY the client started still runs. If it does not,
// it failed before it started (the client has its error), and softfk
// stops following it.
func (f *frontend) copyRunning() (bool, error) {
	if err := f.awaitAnswers(); err != nil {
		return false, err
	}
	if f.s.router.copyRunning() {
		return true, nil
	}
	f.release()
	return false, nil
}

// release frees what the frontend holds when the session ends (the
// temporary file of a COPY cut short).
func (f *frontend) release() {
	if f.copy != nil {
		f.copy.keys.close()
		f.copy = nil
	}
}

// forward sends a client message whose answers go to the client.
func (f *frontend) forward(kind requestKind, typ byte, body []byte) {
	f.forwardPart(kind, typ, body, part{})
}

// forwardPart sends a client message whose answers are handled as p says.
func (f *frontend) forwardPart(kind requestKind, typ byte, body []byte, p part) {
	f.pending = append(f.pending, pending{kind: kind, part: p})
	f.send(typ, body)
}

// send appends a message for upstream.
func (f *frontend) send(typ byte, body []byte) {
	if f.out == nil {
		f.out = outPool.Get().(*[]byte)
	}
	*f.out = appendMessage(*f.out, typ, body)
}

// sendMsg encodes and appends a message for upstream.
func (f *frontend) sendMsg(m pgproto3.FrontendMessage) {
	if f.out == nil {
		f.out = outPool.Get().(*[]byte)
	}
	if b, err := m.Encode(*f.out); err == nil {
		*f.out = b
	}
}

// flush queues the pending requests in the router and writes the bytes.
func (f *frontend) flush() error {
	if f.out == nil {
		return nil
	}
	if len(f.pending) > 0 {
		f.s.router.push(f.pending...)
		clear(f.pending)
		f.pending = f.pending[:0]
	}
	err := f.s.writeUpstream(*f.out)
	*f.out = (*f.out)[:0]
	if cap(*f.out) <= writeFlushThreshold {
		outPool.Put(f.out)
	}
	f.out = nil
	return err
}

// flushBeforeWait flushes before the frontend waits for answers; on the
// event loop the loop goes on without it meanwhile (session.yield).
func (f *frontend) flushBeforeWait() error {
	err := f.flush()
	f.s.yield()
	return err
}

// preparedStmt is a client statement (named or unnamed) that touches a
// relationship.
type preparedStmt struct {
	stmt parser.Statement
	// text, when set, is what the server prepares in place of the client's
	// text (before hidden columns): the statement an EXECUTE stands for;
	// remap maps error positions in it back to the client's.
	text       string
	remap      func(int) int
	paramTypes []uint32
	plan       *policy.Plan // as planned at Parse; re-planned per Execute when it has a continuation
	hidden     int          // columns softfk appended to its RETURNING
}

// boundPortal is a portal of such a statement, with the parameters bound.
type boundPortal struct {
	stmt    *preparedStmt
	formats []int16
	values  [][]byte
	// bindFailed is set when the server refuses or skips the Bind; syncs
	// is the client's Sync count when it was sent.
	bindFailed atomic.Bool
	syncs      uint64
}

// param returns the client's value and format of parameter n (1-based).
func (b *boundPortal) param(n int) ([]byte, int16) {
	var format int16
	switch {
	case len(b.formats) == 1:
		format = b.formats[0]
	case n <= len(b.formats):
		format = b.formats[n-1]
	}
	if n > len(b.values) {
		return nil, 0
	}
	return b.values[n-1], format
}

// parse handles a Parse message.
func (f *frontend) parse(body []byte) {
	name, rest, ok := cutNul(body)
	if !ok {
		f.forward(reqParse, 'P', body)
		return
	}
	delete(f.stmts, string(name))
	delete(f.ddl, string(name))
	delete(f.naming, string(name))
	delete(f.writes, string(name))
	sql, _, _ := cutNul(rest)
	delete(f.preparing, string(name))
	if effects := f.effectsOf(sql); len(effects) == 1 {
		if f.preparing == nil {
			f.preparing = map[string]*parser.Statement{}
		}
		f.preparing[string(name)] = effects[0]
	}
	if stmts := f.schemaChanges(sql); stmts != nil {
		f.ddl[string(name)] = stmts
	}
	if f.namesRelation(sql) {
		f.naming[string(name)] = true
	}
	relevant, _ := f.relevant(sql) // reads the catalog if it must
	// Stamped before planning, with the catalog read: a change meanwhile
	// makes the next Bind plan again.
	pw := f.newParsedWrite(sql)
	if !relevant {
		f.forwardParse(pw, body)
		return
	}
	var msg pgproto3.Parse
	if !f.decodeExact(&msg, body) {
		f.forward(reqParse, 'P', body)
		return
	}
	ps, _ := f.prepare(msg.Query, msg.ParameterOIDs)
	if ps == nil {
		f.forwardParse(pw, body)
		return
	}
	f.stmts[msg.Name] = ps
	query := msg.Query
	var positions func(int) int
	msg.Query, positions = ps.serverText(query)
	if pw != nil {
		pw.query, pw.paramTypes, pw.parsed, pw.text = query, msg.ParameterOIDs, msg.Query, msg.Query
		f.writes[msg.Name] = pw
	}
	f.pending = append(f.pending, pending{kind: reqParse, part: part{remap: positions}})
	f.sendMsg(&msg)
}

// serverText is the text the server prepares for the client's query
// planned as ps: with softfk's insertions and hidden RETURNING columns, or
// rewritten. positions maps error positions in it back to the client's
// text (nil: they are the client's).
func (ps *preparedStmt) serverText(query string) (text string, positions func(int) int) {
	if ps.text != "" {
		query = ps.text
	}
	if ps.hidden == 0 && ps.plan.Rewrite != "" {
		return ps.plan.Rewrite, ps.remap
	}
	text, moved := sentText(query, 0, &ps.stmt, ps.plan)
	return text, composed(moved, ps.remap)
}

// relevant is the cheap test that keeps statements away from the parser:
// some relationship applies to this database, and the text has a write
// keyword and names a guarded table, or may set constraints and names a
// relationship. It makes sure the catalog facts are there for planning;
// err says why they are not (errCatalogUnavailable: the client has the
// server's error).
func (f *frontend) relevant(sql []byte) (bool, error) {
	db := f.s.rules()
	if !db.Active() {
		return false, nil
	}
	text := unsafeString(sql)
	mayWrite := parser.MayWrite(text)
	if mayWrite && !db.HasCatalog() {
		// The catalog names the partitions of guarded tables, which
		// MentionNames needs (DDL may have made one).
		if err := f.ensureCatalog(db); err != nil {
			return false, err
		}
	}
	if !(mayWrite && parser.MentionsAny(text, db.MentionNames()) || parser.MayChangePrepared(text) || f.executesPrepared(text) ||
		parser.MaySetConstraints(text) && parser.MentionsAny(text, db.RelationshipNames())) {
		return false, nil
	}
	if err := f.ensureCatalog(db); err != nil {
		return false, err
	}
	return true, nil
}

// changesSchema reports whether sql is DDL on a guarded table, or defines
// a function (a trigger's may change), after which the catalog facts must
// be read again.
func (f *frontend) changesSchema(sql []byte) bool {
	return f.schemaChanges(sql) != nil
}

// schemaChanges returns the statements of sql when it changes the schema
// as changesSchema says, else nil.
func (f *frontend) schemaChanges(sql []byte) []parser.Statement {
	db := f.s.rules()
	text := unsafeString(sql)
	if !db.Active() || !parser.MayChangeSchema(text) {
		return nil
	}
	mentions := parser.MentionsAny(text, db.MentionNames())
	if !mentions && !parser.MayDefineFunction(text) {
		return nil
	}
	res, err := f.s.srv.parser.Analyze(string(sql))
	if err != nil {
		return nil
	}
	for _, st := range res.Statements {
		if st.Kind == parser.Schema && (mentions || st.DefinesFunction()) {
			return res.Statements
		}
	}
	return nil
}

// prepare analyses and plans a statement of the extended protocol; nil when
// it touches no relationship. When planning fails (errCatalogUnavailable)
// the client has the server's error and the server skips what follows up
// to the client's Sync.
func (f *frontend) prepare(sql string, paramTypes []uint32) (*preparedStmt, error) {
	res, err := f.s.srv.parser.Analyze(sql)
	if err != nil || len(res.Statements) != 1 {
		return nil, nil // the server will reject it itself
	}
	st := res.Statements[0]
	if st.Kind == parser.Execute {
		text, remap, _, err := f.executeText(sql, &st)
		if err != nil {
			return nil, err
		}
		if text != "" {
			ps, err := f.prepare(text, paramTypes)
			if ps != nil {
				ps.text, ps.remap = text, remap
			}
			return ps, err
		}
	}
	plan, err := f.plan(&st, policy.Env{Extended: true, ParamTypes: paramTypes})
	if plan == nil {
		return nil, err
	}
	return &preparedStmt{stmt: st, paramTypes: paramTypes, plan: plan, hidden: len(plan.Hidden)}, nil
}

// plan plans one statement, including SQL-level EXECUTE of a prepared
// statement softfk could not verify. Shadow events are logged here, and an
// unverifiable write that the configuration lets through gets no plan.
// Planning a TRUNCATE or a DROP TABLE asks the server which tables its
// names denote; when that fails (in an aborted transaction, say) the error
// is errCatalogUnavailable: the client has the server's error, and the
// server skips every message up to the next Sync.
func (f *frontend) plan(st *parser.Statement, env policy.Env) (*policy.Plan, error) {
	if st.Kind == parser.Execute {
		return f.planExecute(st)
	}
	db := f.s.rules()
	env.StandardStrings = f.s.standardStrings.Load()
	env.ClientEncoding, _ = f.s.clientEncoding.Load().(string)
	env.CatalogKeys, env.MergesViews = f.s.catalogKeys.Load(), f.s.mergesViews.Load()
	if status := f.s.router.status(); status == 'T' || status == 'E' {
		env.TransactionBlock = true
	}
	if q := db.ResolveQuery(st, env); q != "" && !env.NamesMayMove {
		resolved, err := f.resolveNames(q)
		if err != nil {
			return nil, err
		}
		env.Resolved = resolved
	}
	p := db.Plan(st, env)
	if p == nil {
		return nil, nil
	}
	for _, e := range p.Shadowed {
		f.s.reportShadowEvent(e, st.Text)
	}
	p.Shadowed = nil
	if u := p.Unverifiable; u != nil && !f.reject(u, st.Text) {
		return nil, nil
	}
	if p.Empty() {
		return nil, nil
	}
	return p, nil
}

// resolveNames asks the session, on its own connection, which schema's
// table or constraint each name denotes (its search_path decides), by
// the query policy.DB.ResolveQuery gives.
func (f *frontend) resolveNames(query string) (map[string]string, error) {
	rd := newRound(1)
	resp := &stepResponder{round: rd, collect: true}
	f.sendStep(&policy.Step{SQL: query, Collect: true}, resp, nil)
	if ok, err := f.await(rd); err != nil || !ok {
		return nil, errCatalogUnavailable
	}
	out := map[string]string{}
	for _, row := range resp.rows {
		if len(row) == 2 && row[0] != nil && row[1] != nil {
			out[*row[0]] = *row[1]
		}
	}
	return out, nil
}

// bind handles a Bind message.
func (f *frontend) bind(body []byte) {
	portal, rest, _ := cutNul(body)
	stmtName, _, _ := cutNul(rest)
	delete(f.portals, string(portal))
	delete(f.arming, string(portal))
	delete(f.refused, string(portal))
	if st := f.preparing[string(stmtName)]; st != nil {
		if f.arming == nil {
			f.arming = map[string]*parser.Statement{}
		}
		f.arming[string(portal)] = st
	}
	stale := f.pipeline.tablesChanged && f.pipeline.current(f.s.rules()) // DDL earlier in the pipeline changed what plans rely on
	stmts, isDDL := f.ddl[string(stmtName)]
	if isDDL {
		f.ddlRan = true // executing it is the usual next step; invalidating early is harmless
		f.noteDDL(stmts)
	}
	f.ownStale = f.ownStale || f.naming[string(stmtName)]
	target := f.replanIfStale(stmtName)
	ps := f.stmts[string(stmtName)]
	switch {
	case isDDL && stale && ps != nil && ps.stmt.DropsDependencies():
		// Refused or not with the catalog facts from before that DDL
		// ran, which may have dropped the referencing tables: Postgres
		// alone judges it (see pipelineDDL).
		ps = nil
	case !isDDL:
		f.refuseUnverified(portal, stmtName)
	}
	if ps == nil && target == "" {
		f.forward(reqBind, 'B', body)
		return
	}
	var msg pgproto3.Bind
	if !f.decodeExact(&msg, body) {
		f.forward(reqBind, 'B', body)
		return
	}
	if target != "" {
		msg.PreparedStatement = target
		body, _ = msg.Encode(nil)
		body = body[5:]
	}
	if ps == nil {
		f.forward(reqBind, 'B', body)
		return
	}
	bp := &boundPortal{stmt: ps, formats: append([]int16(nil), msg.ParameterFormatCodes...), syncs: f.syncs}
	for _, v := range msg.Parameters {
		if v == nil {
			bp.values = append(bp.values, nil)
		} else {
			bp.values = append(bp.values, append([]byte{}, v...))
		}
	}
	f.portals[msg.DestinationPortal] = bp
	if ps.hidden > 0 && len(msg.ResultFormatCodes) > 1 {
		// One format per column: the hidden (text) columns need theirs.
		for i := 0; i < ps.hidden; i++ {
			msg.ResultFormatCodes = append(msg.ResultFormatCodes, 0)
		}
		f.pending = append(f.pending, pending{kind: reqBind, part: part{failed: &bp.bindFailed}})
		f.sendMsg(&msg)
		return
	}
	f.forwardPart(reqBind, 'B', body, part{failed: &bp.bindFailed})
}

// describe handles a Describe message: the descriptions of a statement
// with hidden columns lose them.
func (f *frontend) describe(body []byte) {
	if len(body) < 2 {
		f.forward(reqDescribe, 'D', body)
		return
	}
	name, _, _ := cutNul(body[1:])
	var ps *preparedStmt
	if body[0] == 'S' {
		if target := f.replanIfStale(name); target != "" {
			body = append(append([]byte{'S'}, target...), 0)
		}
		ps = f.stmts[string(name)]
	} else if bp := f.portals[string(name)]; bp != nil {
		ps = bp.stmt
	}
	f.forwardPart(reqDescribe, 'D', body, ps.resultPart())
}

// resultPart describes how the results of a statement with hidden columns
// are cut down for the client.
func (ps *preparedStmt) resultPart() part {
	if ps == nil || ps.hidden == 0 {
		return part{}
	}
	return part{hidden: ps.hidden, noRows: ps.hidden > 0 && !ps.stmt.Returns()}
}

// close handles a Close message.
func (f *frontend) close(body []byte) {
	if len(body) >= 2 {
		name, _, _ := cutNul(body[1:])
		if body[0] == 'S' {
			delete(f.stmts, string(name))
			delete(f.writes, string(name))
			delete(f.ddl, string(name))
			delete(f.preparing, string(name))
		} else {
			delete(f.portals, string(name))
			delete(f.arming, string(name))
			delete(f.refused, string(name))
		}
	}
	f.forward(reqClose, 'C', body)
}

// noteParameterStatus records the server parameters the session relies on.
func (s *session) noteParameterStatus(body []byte) {
	name, rest, ok := cutNul(body)
	if !ok {
		return
	}
	value, _, _ := cutNul(rest)
	switch string(name) {
	case "standard_conforming_strings":
		s.standardStrings.Store(string(value) == "on")
	case "client_encoding":
		s.clientEncoding.Store(string(value))
	case "server_version":
		major := majorVersion(string(value))
		s.catalogKeys.Store(major >= 14)
		s.mergesViews.Store(major >= 17)
	}
}

// majorVersion reads the major version from server_version ("15.18
// (Debian 15.18-0+deb12u1)", "9.6.24"), or 0.
func majorVersion(v string) int {
	end := 0
	for end < len(v) && v[end] >= '0' && v[end] <= '9' {
		end++
	}
	n, _ := strconv.Atoi(v[:end])
	return n
}
