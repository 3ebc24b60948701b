package parser

import (
	"slices"
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// Over the simple protocol every write of constants has a new text, which
// PostgreSQL parses and plans afresh. Parameterize rewrites an INSERT ...
// VALUES, an UPDATE or a DELETE with a parameter in place of each constant
// it writes or pins its rows with, so that one prepared statement serves
// every such write of the same shape, each executed with its own
// constants.

// Type OIDs of the constants' own types, as PostgreSQL's parser gives them.
const (
	oidBool    = 16
	oidInt8    = 20
	oidInt4    = 23
	oidNumeric = 1700
)

// Parameterized is a write with a parameter in place of each of some of
// its constants.
type Parameterized struct {
	// Text is the statement with $1, $2, ... in place of the constants.
	Text      string
	Constants []Constant
	// Statement is the client's statement (its query string without a
	// final semicolon).
	Statement string
}

// Constant is one constant of the client's write, turned into a parameter.
type Constant struct {
	// Value is the constant as a text parameter value.
	Value string
	// Type is the parameter's declared type: the constant's own type for a
	// number (int4, int8 or numeric, as PostgreSQL types the literal) or
	// TRUE/FALSE, and 0 for a string, whose type PostgreSQL infers from
	// where it stands, as for the string literal.
	Type uint32
	// Typed says the statement casts the constant to a built-in type (see
	// plainCasts), which then decides how its text is read.
	Typed bool
	// Column is the column the constant is written into or compared with;
	// "" for a value of an INSERT that names no columns. Index is the
	// position of an INSERT's value in its row of VALUES.
	Column string
	Index  int
	// From and To are the byte offsets of the constant in the client's
	// text; At is that of its $n in Text, and End that of the byte after
	// it (after the blank splice puts between $n and a word that follows
	// it).
	From, To, At, End int
}

// plainCasts are the types a constant may be cast to and still become a
// parameter: built-in base types whose input reads the same text the same
// way, whether the parser reads a literal or Bind a parameter (neither a
// domain, whose checks a literal meets only when the row is built, nor an
// interval with fields, whose input a literal reads differently).
var plainCasts = map[string]bool{
	"bool": true, "int2": true, "int4": true, "int8": true, "numeric": true, "float4": true, "float8": true,
	"text": true, "varchar": true, "date": true, "time": true, "timetz": true, "timestamp": true,
	"timestamptz": true, "interval": true, "uuid": true, "json": true, "jsonb": true, "bytea": true,
	"inet": true, "cidr": true,
}

// Parameterize rewrites st, the one statement of the query string sql,
// when it is an INSERT ... VALUES, an UPDATE or a DELETE: each constant,
// perhaps cast to a plain type, among the INSERT's values, the UPDATE's
// assignments, and the conditions of a WHERE that pin the rows (see
// Write.Pinned) or list their values (column IN (constants, ...)) becomes
// a parameter. ok is false when the statement is of
// another kind, has no such constant or more than a statement may have
// parameters, or refers to parameters of its own. Strings are taken as
// standard_conforming_strings reads them.
func Parameterize(sql string, st *Statement) (*Parameterized, bool) {
	var spans []span
	if res, fast := scanInsert(sql, &spans); fast {
		return parameterizeFast(sql, res, spans)
	}
	return parameterizeTree(sql, st)
}

// parameterizeFast is Parameterize of an INSERT that scanInsert read into
// res, the values of its first row at spans.
func parameterizeFast(sql string, res *Result, spans []span) (*Parameterized, bool) {
	st := &res.Statements[0]
	found, ok := fastConstants(sql, st.Targets[0].Write, spans)
	return parameterized(sql, st, found, ok)
}

// parameterizeTree is Parameterize of a statement pg_query analysed.
func parameterizeTree(sql string, st *Statement) (*Parameterized, bool) {
	found, ok := treeConstants(sql, st)
	return parameterized(sql, st, found, ok)
}

// parameterized is sql with the constants found (ok) in its statement st
// replaced.
func parameterized(sql string, st *Statement, found []Constant, ok bool) (*Parameterized, bool) {
	if !ok || len(found) == 0 || len(found) > maxParams {
		return nil, false
	}
	byPlace := func(a, b Constant) int { return a.From - b.From }
	if !slices.IsSortedFunc(found, byPlace) {
		slices.SortFunc(found, byPlace)
	}
	return splice(sql, found, st.Text), true
}

// maxParams is the most parameters a statement of the extended protocol
// may have: Bind counts them in 16 bits.
const maxParams = 65535

// splice builds the Parameterized of sql with constants, in order, each
// replaced by its parameter. A constant may touch a word, which a string
// ends (WHERE'x'=k, SET k='x'WHERE): its $n then gets a blank on that
// side, or it would join the word ("WHERE$1" is a name, "$1WHERE" an
// error).
func splice(sql string, constants []Constant, statement string) *Parameterized {
	p := &Parameterized{Constants: constants, Statement: statement}
	var b strings.Builder
	b.Grow(len(sql))
	last := 0
	var num [20]byte
	for i := range p.Constants {
		c := &p.Constants[i]
		b.WriteString(sql[last:c.From])
		if c.From > 0 && isWordByte(sql[c.From-1]) {
			b.WriteByte(' ')
		}
		c.At = b.Len()
		b.WriteByte('$')
		b.Write(strconv.AppendInt(num[:0], int64(i+1), 10))
		if c.To < len(sql) && isWordByte(sql[c.To]) {
			b.WriteByte(' ')
		}
		c.End = b.Len()
		last = c.To
	}
	b.WriteString(sql[last:])
	p.Text = b.String()
	return p
}

// fastConstants finds the constants Parameterize replaces in an INSERT
// that fastInsert read, its values at spans.
func fastConstants(sql string, w *Write, spans []span) ([]Constant, bool) {
	found := make([]Constant, 0, len(spans))
	at := 0
	for _, row := range w.Rows {
		for i, v := range row {
			sp := spans[at]
			at++
			if v.Kind != Const {
				continue
			}
			c, ok := literalAt(sql, sp.from)
			if !ok || c.To != sp.to {
				return nil, false
			}
			if i < len(w.Columns) {
				c.Column = w.Columns[i]
			}
			c.Index = i
			found = append(found, c)
		}
	}
	return found, true
}

// treeConstants finds the constants Parameterize replaces in a statement
// pg_query analysed.
func treeConstants(sql string, st *Statement) ([]Constant, bool) {
	if len(st.Targets) != 1 || st.Targets[0].Write == nil {
		return nil, false
	}
	if UsesParams(sql) {
		return nil, false
	}
	w := st.Targets[0].Write
	var found []Constant
	add := func(v Value, column string, index int) {
		if c, ok := treeConstant(sql, v); ok {
			c.Column, c.Index = column, index
			found = append(found, c)
		}
	}
	switch {
	case st.Kind == Insert:
		for _, row := range w.Rows {
			for i, v := range row {
				column := ""
				if i < len(w.Columns) {
					column = w.Columns[i]
				}
				add(v, column, i)
			}
		}
	case st.Kind == Update || st.Kind == Delete:
		for _, a := range w.Set {
			add(a.Value, a.Column, -1)
		}
		for _, pv := range append(w.pinnedValues(), w.listedValues()...) {
			add(pv.value, pv.column, -1)
		}
	default:
		return nil, false
	}
	return found, true
}

// UsesParams reports whether sql refers to a parameter ($n), or cannot be
// scanned. Unlike ParamsUsed, it remembers nothing: it serves query
// strings, each of which may be new.
func UsesParams(sql string) bool {
	if !strings.Contains(sql, "$") {
		return false
	}
	used, err := scanParams(sql)
	return err != nil || len(used) > 0
}

// treeConstant describes the constant v stands for, when it is one a
// parameter may replace: a plain literal, perhaps cast to a plain type
// with :: or CAST.
func treeConstant(sql string, v Value) (Constant, bool) {
	if v.Kind != Const || v.node == nil {
		return Constant{}, false
	}
	lit := v.node.GetAConst()
	typed := false
	if tc := v.node.GetTypeCast(); tc != nil {
		name := strings.TrimPrefix(v.Cast, "pg_catalog.")
		if tc.Location < 0 || !plainCasts[name] { // a cast written as: date '2024-01-01'
			return Constant{}, false
		}
		lit, typed = tc.Arg.GetAConst(), true
	}
	if lit == nil || lit.Location < 0 || int(lit.Location) >= len(sql) {
		return Constant{}, false
	}
	c, ok := literalAt(sql, int(lit.Location))
	if !ok {
		return Constant{}, false
	}
	switch lit.Val.(type) {
	case *pg_query.A_Const_Sval:
		ok = c.Type == 0
	case *pg_query.A_Const_Boolval:
		ok = c.Type == oidBool
	case *pg_query.A_Const_Ival, *pg_query.A_Const_Fval:
		ok = c.Type != 0 && c.Type != oidBool
	default:
		ok = false
	}
	c.Typed = typed
	return c, ok
}

// literalAt reads the literal that starts at byte from of sql: a string in
// plain quotes (not continued on the next line), a decimal number perhaps
// negated, TRUE or FALSE.
func literalAt(sql string, from int) (Constant, bool) {
	l := lexer{s: sql, i: from}
	c := Constant{From: from}
	switch ch := sql[from]; {
	case ch == '\'':
		text, ok := l.quoted()
		if !ok || strings.HasPrefix(sql[skipBlanks(sql, l.i):], "'") {
			return Constant{}, false
		}
		c.Value = text
	case ch == '-' || ch == '.' || ch >= '0' && ch <= '9':
		digits := from
		if ch == '-' {
			digits = skipBlanks(sql, from+1)
		}
		end, ok := numberEnd(sql, digits)
		if !ok {
			return Constant{}, false
		}
		l.i = end
		c.Value = sql[digits:end]
		if ch == '-' {
			c.Value = "-" + c.Value
		}
		c.Type = numberType(c.Value)
	default:
		switch word := l.word(); word {
		case "true", "false":
			c.Value, c.Type = word, oidBool
		default:
			return Constant{}, false
		}
	}
	c.To = l.i
	return c, true
}

// numberEnd returns the end of the decimal number (digits, a point,
// digits, an exponent) that starts at i: none when anything but a blank
// or punctuation follows it (PostgreSQL 16's 0x1F or 1_000, which the
// server this proxies may not read).
func numberEnd(s string, i int) (int, bool) {
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i, n = i+1, n+1
		}
		return n
	}
	n := digits()
	if i < len(s) && s[i] == '.' {
		i++
		n += digits()
	}
	if n == 0 {
		return 0, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return 0, false
		}
	}
	if i < len(s) && (s[i] == '.' || isWordByte(s[i])) {
		return 0, false
	}
	return i, true
}

// numberType is the type PostgreSQL gives a numeric literal (optionally
// negated): int4 when it is an integer that fits, else int8 when it fits,
// else numeric.
func numberType(lit string) uint32 {
	if strings.ContainsAny(lit, ".eE") {
		return oidNumeric
	}
	n, err := strconv.ParseInt(lit, 10, 64)
	switch {
	case err != nil:
		return oidNumeric
	case n == int64(int32(n)):
		return oidInt4
	}
	return oidInt8
}

// ClientAt maps a byte offset in Text to the client's text: an offset in
// a parameter's $n, or in a blank splice put next to it, to the start of
// its constant.
func (p *Parameterized) ClientAt(at int) int {
	shift := 0 // client offset minus Text offset, past the last parameter
	for _, q := range p.Constants {
		switch {
		case at < q.At:
			return at + shift
		case at < q.End:
			return q.From
		}
		shift = q.To - q.End
	}
	return at + shift
}
