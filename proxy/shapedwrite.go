package proxy

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/softfk/softfk/parser"
	"github.com/softfk/softfk/policy"
)

// Over the simple protocol, PostgreSQL parses and plans each write's text
// afresh, and a check of its row inside the statement (see policy.Inline)
// would be planned with it every time. A one-row INSERT or an UPDATE of
// one row that writes or pins constants runs instead as a statement
// softfk prepares once per session for its shape: the write with a
// parameter in place of each constant (parser.Parameterize) and the check
// of its row, executed with the query's constants. The client sees what
// its Query gives.

// shapedWrite runs a simple Query sql of one statement as softfk's
// prepared statement of its shape, pz, and reports whether it did. It
// does not when the statement's row is not checked inside it, or when a
// parameter could answer differently from the constant it stands for (see
// policy.Table.StringParamExact). The session must read parameters as
// Parameterize reads literals (see paramsReadAsLiterals).
func (f *frontend) shapedWrite(sql string, pz *parser.Parameterized, ready func(byte)) bool {
	sh := f.writeShape(pz)
	if sh == nil {
		return false
	}
	f.s.srv.metrics.StatementChecked()
	remap := func(pos int) int {
		at := byteOffset(sh.text, pos-1)
		if at >= sh.tokenEnd {
			return 0 // softfk's hidden RETURNING
		}
		return utf8.RuneCountInString(sql[:pz.ClientAt(at)]) + 1
	}
	stmtPart := part{simple: true, hidden: len(sh.plan.Hidden), noRows: !sh.returns, rows: f.newRowCheck(sh.plan.Inline, pz.Statement), remap: remap,
		paramAt: func(n int) int {
			if n < 1 || n > len(pz.Constants) {
				return 0
			}
			return utf8.RuneCountInString(sh.text[:pz.Constants[n-1].At]) + 1
		}}
	if sh.returns {
		// A Query that fails shows nothing but its error, not even the
		// RowDescription softfk's Describe brings first.
		stmtPart.hold = &hold{waiting: 1}
	}
	send := func(kind requestKind, msg pgproto3.FrontendMessage) {
		f.pending = append(f.pending, pending{kind: kind, part: stmtPart})
		f.sendMsg(msg)
	}

	f.closeUnnamed('S') // a Query leaves no unnamed statement behind
	name, prepared, oneOff := f.ownWrites.claim(sh.key)
	if !prepared {
		parse := &clientParse{forget: f.ownWrites.forget(sh.key, name), remap: remap}
		f.pending = append(f.pending, pending{kind: reqParse, part: part{proxy: parse}})
		f.sendMsg(&pgproto3.Parse{Name: name, Query: sh.text, ParameterOIDs: sh.types})
	}
	values := make([][]byte, len(pz.Constants))
	for i, c := range pz.Constants {
		values[i] = []byte(c.Value)
	}
	send(reqBind, &pgproto3.Bind{PreparedStatement: name, Parameters: values})
	if sh.returns {
		send(reqDescribe, &pgproto3.Describe{ObjectType: 'P'})
	}
	send(reqExecute, &pgproto3.Execute{})
	f.closeUnnamed('P')
	if oneOff {
		f.pending = append(f.pending, pending{kind: reqClose, part: part{proxy: &stepResponder{}}})
		f.sendMsg(&pgproto3.Close{ObjectType: 'S', Name: ownOneOff})
	}
	f.pending = append(f.pending, pending{kind: reqSync, ready: ready})
	f.sendMsg(&pgproto3.Sync{})
	return true
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
	types    []uint32
	returns  bool   // the client's statement has a RETURNING of its own
	text     string // the statement softfk prepares
	tokenEnd int    // where its hidden RETURNING starts
	key      string // its key among softfk's statements (see ownStatements)
}

// maxWriteShapes bounds the shapes a session remembers; past it, it
// forgets them all.
const maxWriteShapes = 2 * maxOwnWrites

// writeShape returns how the write pz runs as softfk's statement, planned
// once per shape, configuration and catalog, or nil when it does not (see
// shapedWrite).
func (f *frontend) writeShape(pz *parser.Parameterized) *writeShape {
	types := make([]uint32, len(pz.Constants))
	shapeKey := make([]byte, 0, len(pz.Text)+4*len(types))
	for i, c := range pz.Constants {
		types[i] = c.Type
		shapeKey = strconv.AppendUint(shapeKey, uint64(c.Type), 10)
		shapeKey = append(shapeKey, ' ')
	}
	shapeKey = append(shapeKey, pz.Text...)
	db := f.s.rules()
	generation := db.Generation()
	if sh, ok := f.writeShapes[string(shapeKey)]; ok && sh.db == db && sh.generation == generation {
		if sh.plan == nil {
			return nil
		}
		return sh
	}
	if len(f.writeShapes) >= maxWriteShapes {
		clear(f.writeShapes)
	}
	sh := &writeShape{db: db, generation: generation}
	f.writeShapes[string(shapeKey)] = sh
	res, err := f.s.srv.parser.Analyze(pz.Text)
	if err != nil || len(res.Statements) != 1 {
		return nil
	}
	st := &res.Statements[0]
	p := db.Plan(st, policy.Env{Extended: true, ParamTypes: types, StandardStrings: true, ClientEncoding: "UTF8"})
	if p == nil || p.Inline == nil || p.Unverifiable != nil || len(p.Shadowed) > 0 || len(p.Before) > 0 || len(p.After) > 0 ||
		p.Rewrite != "" || p.Copy != nil {
		return nil
	}
	for _, c := range pz.Constants {
		if c.Type == 0 && !c.Typed && !p.Inline.Table.StringParamExact(c) {
			return nil
		}
	}
	sh.types, sh.tokenEnd, sh.returns = types, st.TokenEnd, st.Returns()
	sh.text = withHiddenReturning(pz.Text, st, p.Hidden)
	sh.key = string(shapeKey[:len(shapeKey)-len(pz.Text)]) + sh.text
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
