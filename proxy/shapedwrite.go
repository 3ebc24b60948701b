package proxy

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/softfk/softfk/parser"
	"github.com/softfk/softfk/policy"
)

// Over the simple protocol, PostgreSQL parses and plans each write's text
// afresh, and softfk's checks with it: those inside the statement (see
// policy.Inline), those after it, and those before a DELETE or key UPDATE
// of referenced rows. A write that writes or pins constants (see
// parser.Parameterize) runs instead as a statement softfk prepares once
// per session for its shape, with a parameter in place of each constant,
// executed with the query's constants; its checks run as softfk's prepared
// statements with the same values. The client sees what its Query gives.

// shapedWrite runs a simple Query sql of one statement as softfk's
// prepared statement of its shape, pz, and reports whether it did. It
// does not when softfk cannot run the statement's checks so (see
// writeShape), when a parameter could answer differently from the
// constant it stands for (see policy.Table.StringParamExact), or when a
// write whose checks need its results comes in an aborted transaction.
// The session must read parameters as Parameterize reads literals (see
// paramsReadAsLiterals).
func (f *frontend) shapedWrite(sql string, pz *parser.Parameterized, ready func(byte)) (bool, error) {
	sh := f.writeShape(pz)
	if sh == nil {
		return false, nil
	}
	p := sh.plan
	rounds := needsRounds(p)
	if rounds {
		if p.Continue != nil {
			// A continuation keeps state: each execution gets a fresh one.
			if p = sh.db.Plan(sh.stmt, sh.env); p == nil || len(p.Hidden) != len(sh.plan.Hidden) {
				return false, nil
			}
		}
		// In an aborted transaction the Query fails as it is.
		if status, err := f.settledStatus(); err != nil || status == 'E' {
			return err != nil, err
		}
	}
	f.s.srv.metrics.StatementChecked()
	stmt := pz.Statement
	remap := func(pos int) int {
		at := byteOffset(sh.text, pos-1)
		if at >= sh.tokenEnd {
			return 0 // softfk's hidden RETURNING
		}
		return utf8.RuneCountInString(sql[:pz.ClientAt(at)]) + 1
	}
	// Held, when anything is: the statement's own completion (a Query that
	// fails shows nothing but its error, not even the RowDescription
	// softfk's Describe brings first), then the verdicts of the checks
	// after it, or once every round has passed, their release (see
	// releaseHeld).
	h := &hold{waiting: 1}
	var after []responder
	if rounds {
		h.waiting++
	} else {
		after = f.afterResponders(p.After, h, stmt)
	}
	stmtPart := part{simple: true, hidden: len(p.Hidden), noRows: len(p.Hidden) > 0 && !sh.returns, remap: remap,
		paramAt: func(n int) int {
			if n < 1 || n > len(pz.Constants) {
				return 0
			}
			return utf8.RuneCountInString(sh.text[:pz.Constants[n-1].At]) + 1
		}}
	if h.waiting > 1 || sh.returns {
		stmtPart.hold = h
	}
	if p.Inline != nil {
		stmtPart.rows = f.newRowCheck(p.Inline, stmt)
	}
	send := func(kind requestKind, pt part, msg pgproto3.FrontendMessage) {
		f.pending = append(f.pending, pending{kind: kind, part: pt})
		f.sendMsg(msg)
	}

	f.closeUnnamed('S') // a Query leaves no unnamed statement behind
	f.closeStaleOwn()
	name, prepared, oneOff := f.ownWrites.claim(sh.key)
	if oneOff {
		f.closeOneOff(&f.ownWrites)
	}
	if !prepared {
		parse := &clientParse{forget: f.ownWrites.forget(sh.key, name), remap: remap}
		send(reqParse, part{proxy: parse}, &pgproto3.Parse{Name: name, Query: sh.text, ParameterOIDs: sh.env.ParamTypes})
	}
	values := make([][]byte, len(pz.Constants))
	for i, c := range pz.Constants {
		values[i] = unsafeBytes(c.Value)
	}
	// The statement's Bind comes first: a constant its parameter cannot
	// take fails there, as the literal would have failed the Query, and
	// the server skips the steps with the rest.
	send(reqBind, stmtPart, &pgproto3.Bind{PreparedStatement: name, Parameters: values})
	bp := &boundPortal{values: values}
	var rd *round
	var before []responder
	if rounds {
		rd = newRound(len(p.Before) + 1)
		before = make([]responder, len(p.Before))
		for i, step := range p.Before {
			before[i] = f.responderFor(step, h, rd, stmt, func(pos int) int { return stepClientPosition(step, sh.text, remap, pos) })
			f.sendStep(step, before[i], bp)
		}
	}
	if sh.returns {
		send(reqDescribe, stmtPart, &pgproto3.Describe{ObjectType: 'P'})
	}
	w := &watch{hidden: len(p.Hidden), round: rd}
	execPart := stmtPart
	if rounds {
		execPart.watch = w
	}
	send(reqExecute, execPart, &pgproto3.Execute{})
	for i, step := range p.After {
		var resp responder
		if rounds {
			resp = f.afterResponder(step, h, stmt)
		} else {
			resp = after[i]
		}
		f.sendStep(step, resp, bp)
	}
	if oneOff {
		f.closeHidden('S', f.ownWrites.once)
	}
	if rounds {
		if err := f.finishRounds(p, rd, w, before, h, stmt); err != nil {
			return true, err
		}
	}
	f.closeUnnamed('P') // after the checks (see closeUnnamed)
	f.pending = append(f.pending, pending{kind: reqSync, ready: ready})
	f.sendMsg(&pgproto3.Sync{})
	return true, nil
}

// paramsReadAsLiterals reports whether a string constant means in this
// session what Parameterize reads (standard_conforming_strings on), and
// travels unconverted as a parameter's text (client encoding UTF8).
func (f *frontend) paramsReadAsLiterals() bool {
	enc, _ := f.s.clientEncoding.Load().(string)
	return enc == "UTF8" && f.s.standardStrings.Load()
}

// writeShape is how the writes of one parameterized text and parameter
// types run, as planned with one configuration and catalog.
type writeShape struct {
	db         *policy.DB
	generation uint64
	// plan is nil when such writes do not run as softfk's statement.
	plan     *policy.Plan
	stmt     *parser.Statement // the parameterized statement
	env      policy.Env        // as planned, its parameter types among it
	returns  bool              // the client's statement has a RETURNING of its own
	text     string            // the statement softfk prepares
	tokenEnd int               // where its hidden RETURNING starts
	key      string            // its key among softfk's statements (see ownStatements)
}

// maxWriteShapes bounds the parameterized texts whose shapes a session
// remembers; past it, it forgets them all.
const maxWriteShapes = 2 * maxOwnWrites

// writeShape returns how the write pz runs as softfk's statement, planned
// once per shape, configuration and catalog, or nil when it does not (see
// shapedWrite): when its plan is one softfk cannot run so (an unverifiable
// write, a refusal, a rewrite, text inserted into the statement).
func (f *frontend) writeShape(pz *parser.Parameterized) *writeShape {
	types := make([]uint32, len(pz.Constants))
	for i, c := range pz.Constants {
		types[i] = c.Type
	}
	db := f.s.rules()
	generation := db.Generation()
	shapes := f.writeShapes[pz.Text]
	i := slices.IndexFunc(shapes, func(sh *writeShape) bool { return slices.Equal(sh.env.ParamTypes, types) })
	if i >= 0 && shapes[i].db == db && shapes[i].generation == generation {
		if shapes[i].plan == nil {
			return nil
		}
		return shapes[i]
	}
	env := policy.Env{Extended: true, ParamTypes: types, StandardStrings: true, ClientEncoding: "UTF8"}
	sh := &writeShape{db: db, generation: generation, env: env}
	switch {
	case i >= 0:
		shapes[i] = sh
	case len(f.writeShapes) >= maxWriteShapes:
		clear(f.writeShapes)
		f.writeShapes[pz.Text] = []*writeShape{sh}
	default:
		f.writeShapes[pz.Text] = append(shapes, sh)
	}
	res, err := f.s.srv.parser.Analyze(pz.Text)
	if err != nil || len(res.Statements) != 1 {
		return nil
	}
	st := &res.Statements[0]
	p := db.Plan(st, env)
	if p == nil || p.Table == nil || p.Unverifiable != nil || len(p.Shadowed) > 0 || p.Rewrite != "" || len(p.Insert) > 0 || p.Copy != nil || p.Refuse != nil {
		return nil
	}
	for _, c := range pz.Constants {
		if c.Type == 0 && !c.Typed && !p.Table.StringParamExact(c) {
			return nil
		}
	}
	sh.stmt, sh.tokenEnd, sh.returns = st, st.TokenEnd, st.Returns()
	sh.text = pz.Text
	if len(p.Hidden) > 0 {
		sh.text = withHiddenReturning(pz.Text, st, p.Hidden)
	}
	sh.key = policy.StatementKey(sh.text, types)
	sh.plan = p
	return sh
}

// clientParse answers the Parse of the statement softfk prepares for a
// client's statement: its failure is the client statement's own error,
// and leaves the statement unprepared.
type clientParse struct {
	forget func()
	remap  func(int) int
}

func (c *clientParse) row([]byte)        {}
func (c *clientParse) succeeded(*router) {}
func (c *clientParse) skipped(*router)   { c.forget() }
func (c *clientParse) failed(r *router, e *pgproto3.ErrorResponse) {
	c.forget()
	out := *e
	if e.Position > 0 {
		out.Position = int32(c.remap(int(e.Position)))
	}
	r.sendError(&out)
}

// placeParamError turns the error of a Bind's parameter into the error of
// the constant it stands for: Postgres reports a constant's error at its
// position, and a parameter's with a context line naming it ("... parameter
// $n ..."), the last one, which goes. paramAt gives the position of $n.
// Errors of converting the value to the server's encoding keep no
// position: with a constant, Postgres converts the whole query string and
// points at nothing.
func placeParamError(body []byte, paramAt func(n int) int) []byte {
	var e pgproto3.ErrorResponse
	if e.Decode(body) != nil {
		return body
	}
	lines := strings.Split(e.Where, "\n")
	last := lines[len(lines)-1]
	i := strings.Index(last, "$")
	if i < 0 {
		return body
	}
	j := i + 1
	for j < len(last) && last[j] >= '0' && last[j] <= '9' {
		j++
	}
	n, err := strconv.Atoi(last[i+1 : j])
	if err != nil {
		return body
	}
	e.Where = strings.Join(lines[:len(lines)-1], "\n")
	if e.Position == 0 && e.Code != codeCharacterNotInRepertoire && e.Code != codeUntranslatableCharacter {
		e.Position = int32(paramAt(n))
	}
	out, err := e.Encode(nil)
	if err != nil {
		return body
	}
	return out[5:] // the body, without type and length
}
