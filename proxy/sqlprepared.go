package proxy

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/softfk/softfk/parser"
	"github.com/softfk/softfk/policy"
)

// SQL-level prepared statements. softfk follows each session's PREPAREs of
// writes and their DEALLOCATE or DISCARD ALL, learning from the server's
// answers whether each took effect (a PREPARE of a name in use fails, and
// so does anything in an aborted transaction). An EXECUTE of a prepared
// write then runs as the statement it stands for: the prepared text, each
// parameter replaced by its argument cast to the parameter's type as the
// server has it, checked like any other statement. An EXECUTE softfk
// cannot replace so (an argument it cannot evaluate in place, other
// statements in the same query string, EXPLAIN ANALYZE) is unverifiable.

// sqlPrepared is one change to what an SQL-level prepared statement name
// denotes on the server: a PREPARE of a write (inner set), or its end (a
// DEALLOCATE or DISCARD ALL; inner nil). Until the server's answer says
// the change happened, and if it did not, prev is what the name denotes.
type sqlPrepared struct {
	inner *parser.Statement // the prepared write, as analysed in its PREPARE
	body  string            // the prepared write's text
	// outcome learns whether the change happened; nil when softfk cannot
	// learn it (a PREPARE sent through the extended protocol).
	outcome *round
	// types are the parameter types as the server has them, read at the
	// first EXECUTE.
	types []string
	prev  *sqlPrepared
}

// sessionEffects records what a statement does to the session's prepared
// statements: SQL-level PREPARE of a write, DEALLOCATE, DISCARD ALL (which
// also drops softfk's own). With learn set, it returns the watch through
// which the statement's answer tells whether it took effect, or nil when
// there is nothing to learn; without, the outcome stays unknown.
func (f *frontend) sessionEffects(st *parser.Statement, learn bool) *watch {
	var outcome *round
	if learn {
		outcome = newRound(1)
	}
	switch {
	case st.Kind == parser.Prepare && st.Inner != nil && len(st.Inner.Targets) > 0:
		f.sqlPrepared[st.Name] = &sqlPrepared{inner: st.Inner, body: st.Body, outcome: outcome, prev: f.sqlPrepared[st.Name]}
	case st.Kind == parser.Deallocate && st.Name == "":
		f.own.reset()
		f.ownWrites.reset()
		if len(f.sqlPrepared) == 0 {
			return nil
		}
		for name, e := range f.sqlPrepared {
			f.sqlPrepared[name] = &sqlPrepared{outcome: outcome, prev: e}
		}
	case st.Kind == parser.Deallocate && f.sqlPrepared[st.Name] != nil:
		f.sqlPrepared[st.Name] = &sqlPrepared{outcome: outcome, prev: f.sqlPrepared[st.Name]}
	default:
		return nil
	}
	f.sqlGeneration++
	if !learn {
		return nil
	}
	return &watch{round: outcome}
}

// noteSessionEffects records the effects on prepared statements of a
// query string softfk does not otherwise analyse (no relationship applies
// to the database), without learning whether they took effect.
func (f *frontend) noteSessionEffects(sql []byte) {
	for _, st := range f.effectsOf(sql) {
		f.sessionEffects(st, false)
	}
}

// effectsOf returns the statements of sql that may change the session's
// prepared statements: PREPARE, DEALLOCATE, DISCARD ALL.
func (f *frontend) effectsOf(sql []byte) []*parser.Statement {
	if !parser.MayChangePrepared(unsafeString(sql)) {
		return nil
	}
	res, err := f.s.srv.parser.Analyze(string(sql))
	if err != nil {
		return nil
	}
	var out []*parser.Statement
	for i := range res.Statements {
		if k := res.Statements[i].Kind; k == parser.Prepare || k == parser.Deallocate {
			out = append(out, &res.Statements[i])
		}
	}
	return out
}

// executesPrepared reports whether sql may EXECUTE a prepared write softfk
// follows.
func (f *frontend) executesPrepared(sql string) bool {
	return len(f.sqlPrepared) > 0 && parser.MayExecute(sql)
}

// preparedWrite returns the write the server holds under name (nil for
// none), once the answers to the changes still in flight are in. When
// softfk cannot know (certain is false), e is the newest change it cannot
// confirm: the name denotes what it or one of its predecessors made it.
func (f *frontend) preparedWrite(name string) (e *sqlPrepared, certain bool, err error) {
	e, certain, settled := f.settledPrepared(name)
	if settled {
		return e, certain, nil
	}
	if err := f.awaitAnswers(); err != nil {
		return nil, false, err
	}
	e, certain, _ = f.settledPrepared(name)
	return e, certain, nil
}

// settledPrepared walks name's changes from the newest to the last that
// took effect. When one's outcome is unknown, or still to come (settled is
// false), it stops there and returns it, not certain. Changes that cannot
// matter any more are dropped.
func (f *frontend) settledPrepared(name string) (e *sqlPrepared, certain, settled bool) {
	for e = f.sqlPrepared[name]; e != nil; e = e.prev {
		if e.outcome == nil {
			return e, false, true
		}
		done, ok := e.outcome.state()
		if !done {
			return e, false, false
		}
		if ok {
			break
		}
	}
	if e == nil || e.inner == nil {
		delete(f.sqlPrepared, name)
		return nil, true, true
	}
	e.prev = nil
	f.sqlPrepared[name] = e
	return e, true, true
}

// executeText decides what becomes of an EXECUTE st of the query string
// sql: text is the statement it stands for, arguments in place, when
// softfk checks it that way (remap maps error positions in text back to
// sql); u is set when it runs a prepared write softfk cannot check;
// neither when it runs no write softfk guards (or runs nothing: the server
// says why).
func (f *frontend) executeText(sql string, st *parser.Statement) (text string, remap func(int) int, u *policy.Unverifiable, err error) {
	e, certain, err := f.preparedWrite(st.Name)
	if err != nil || e == nil {
		return "", nil, nil, err
	}
	if !certain {
		// It denotes what e or one of its predecessors made it.
		reason := "EXECUTE of a statement PREPAREd through the extended protocol"
		if e.outcome != nil {
			reason = "EXECUTE of a statement PREPAREd in the same query string"
		}
		for ; e != nil; e = e.prev {
			if u = f.unverifiable(e, reason); u != nil {
				return "", nil, u, nil
			}
		}
		return "", nil, nil, nil
	}
	if f.s.rules().Plan(e.inner, f.preparedEnv()) == nil {
		return "", nil, nil, nil
	}
	switch {
	case st.Wrapper == parser.CreateTableAs && e.inner.Kind != parser.Other:
		return "", nil, nil, nil // not a SELECT: the server refuses it itself
	case st.Wrapper != "":
		return "", nil, f.unverifiable(e, st.Wrapper+" of EXECUTE of a prepared "+e.inner.Kind.String()), nil
	case slices.Contains(st.Args, ""):
		return "", nil, f.unverifiable(e, "EXECUTE of a prepared write with an argument other than a constant"), nil
	case !f.s.standardStrings.Load() && slices.ContainsFunc(st.Args, func(a string) bool { return strings.Contains(a, "'") }):
		return "", nil, f.unverifiable(e, "EXECUTE of a prepared write with a string argument while standard_conforming_strings is off"), nil
	}
	if e.types == nil {
		types, found, err := f.preparedParamTypes(st.Name)
		if err != nil || !found {
			return "", nil, nil, err // none on the server: it says so itself
		}
		e.types = types
	}
	if len(e.types) != len(st.Args) {
		return "", nil, nil, nil // the server refuses it itself
	}
	exprs := make([]string, len(st.Args))
	for i, a := range st.Args {
		exprs[i] = argCast + a + " AS " + e.types[i] + ")"
	}
	text, bounds, err := parser.BindParams(e.body, exprs)
	if err != nil {
		return "", nil, f.unverifiable(e, "EXECUTE of a prepared write softfk cannot analyse ("+err.Error()+")"), nil
	}
	return text, argPositions(sql, text, st, bounds), nil, nil
}

// argCast opens the expression that stands for a parameter: its argument,
// cast to the parameter's type.
const argCast = "CAST("

// argPositions maps an error position in the statement an EXECUTE stands
// for (text) back to the client's query string sql, which holds the
// EXECUTE st: a position inside an argument to the same place in the argument as
// the client wrote it, any other to none. Postgres reports errors in an
// EXECUTE's arguments at the argument, and others without a position.
func argPositions(sql, text string, st *parser.Statement, bounds []parser.Bound) func(int) int {
	return func(pos int) int {
		at := byteOffset(text, pos-1)
		for _, b := range bounds {
			arg := st.Args[b.Param-1]
			from := b.At + len(argCast)
			if at >= from && at < from+len(arg) {
				client := st.ArgsAt[b.Param-1] + at - from
				return utf8.RuneCountInString(sql[:client]) + 1
			}
		}
		return 0
	}
}

// byteOffset returns the byte offset of character n (0-based) of s.
func byteOffset(s string, n int) int {
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}

// preparedEnv is the environment prepared writes are planned in: their
// parameters are the EXECUTE's arguments.
func (f *frontend) preparedEnv() policy.Env {
	return policy.Env{Extended: true, StandardStrings: f.s.standardStrings.Load()}
}

// unverifiable describes the write a PREPARE prepared as unverifiable for
// reason, naming a relationship that guards it; nil when none does.
func (f *frontend) unverifiable(e *sqlPrepared, reason string) *policy.Unverifiable {
	if e.inner == nil {
		return nil
	}
	st := *e.inner
	st.Targets = slices.Clone(st.Targets)
	for i := range st.Targets {
		st.Targets[i].Unsupported = reason
	}
	if p := f.s.rules().Plan(&st, f.preparedEnv()); p != nil {
		return p.Unverifiable
	}
	return nil
}

// planExecute plans an EXECUTE that was not replaced by the statement it
// stands for: unverifiable when it runs a guarded write.
func (f *frontend) planExecute(st *parser.Statement) (*policy.Plan, error) {
	text, _, u, err := f.executeText(st.Text, st)
	if err != nil {
		return nil, err
	}
	if text != "" {
		e, _, _ := f.preparedWrite(st.Name)
		u = f.unverifiable(e, "EXECUTE of a prepared write together with other statements in one query string; send it alone")
	}
	if u == nil || !f.reject(u, st.Text) {
		return nil, nil
	}
	return &policy.Plan{Unverifiable: u}, nil
}

// preparedParamTypes reads the parameter types of the session's prepared
// statement name as the server has them; found is false when there is no
// such statement.
func (f *frontend) preparedParamTypes(name string) (types []string, found bool, err error) {
	rd := newRound(1)
	resp := &stepResponder{round: rd, collect: true}
	f.sendStep(&policy.Step{SQL: preparedTypesQuery, Args: []policy.Arg{{Text: name}}, Collect: true}, resp, nil)
	if ok, err := f.await(rd); err != nil || !ok {
		return nil, false, errCatalogUnavailable
	}
	types = []string{}
	for _, row := range resp.rows {
		if len(row) == 1 && row[0] != nil {
			types = append(types, *row[0])
		}
	}
	return types, len(resp.rows) > 0, nil
}

// preparedTypesQuery lists a prepared statement's parameter types in
// order, as SQL type names; one NULL row for a statement without
// parameters, no row for no statement. The names are the types' own,
// schema-qualified (pg_catalog.bpchar), not their SQL spellings
// (character), which, written without a length, mean one character (or
// bit): a parameter's type has no length, and its argument keeps its own.
const preparedTypesQuery = `SELECT quote_ident(n.nspname) || '.' || quote_ident(ty.typname) FROM pg_catalog.pg_prepared_statements p
LEFT JOIN LATERAL unnest(p.parameter_types) WITH ORDINALITY AS t(t, i) ON true
LEFT JOIN pg_catalog.pg_type ty ON ty.oid = t.t LEFT JOIN pg_catalog.pg_namespace n ON n.oid = ty.typnamespace
WHERE p.name = $1 ORDER BY t.i`
