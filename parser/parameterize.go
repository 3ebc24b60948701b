package parser

import (
	"strconv"
	"strings"
)

// Over the simple protocol every INSERT of constants has a new text, which
// PostgreSQL parses and plans afresh. Parameterize rewrites a one-row
// INSERT ... VALUES of constants with a parameter in place of each
// constant, so that one prepared statement serves every such INSERT of
// the same shape, each executed with its own constants.

// Type OIDs of the constants' own types, as PostgreSQL's parser gives them.
const (
	oidBool    = 16
	oidInt8    = 20
	oidInt4    = 23
	oidNumeric = 1700
)

// Parameterized is a one-row INSERT ... VALUES with a parameter in place of
// each constant (NULL and DEFAULT stay as they are).
type Parameterized struct {
	// Text is the statement with $1, $2, ... in place of the constants.
	Text      string
	Constants []Constant
}

// Constant is one constant of the client's INSERT, turned into a parameter.
type Constant struct {
	// Value is the constant as a text parameter value.
	Value string
	// Type is the parameter's declared type: the constant's own type for a
	// number (int4, int8 or numeric, as PostgreSQL types the literal) or
	// TRUE/FALSE, and 0 for a string, whose type PostgreSQL infers from
	// the column it goes into, as for the string literal.
	Type uint32
	// Column is the constant's position in its row of VALUES.
	Column int
	// From and To are the byte offsets of the constant in the client's
	// text; At is that of its $n in Text.
	From, To, At int
}

// Parameterize rewrites sql when it is one plain INSERT ... VALUES of one
// row with at least one constant (the shape fastInsert reads); ok is false
// otherwise. Strings are taken as standard_conforming_strings reads them.
func Parameterize(sql string) (p *Parameterized, ok bool) {
	var spans []span
	res, ok := scanInsert(sql, &spans)
	if !ok || len(res.Statements[0].Targets[0].Write.Rows) != 1 {
		return nil, false
	}
	p = &Parameterized{}
	var b strings.Builder
	b.Grow(len(sql))
	last := 0
	for i, v := range res.Statements[0].Targets[0].Write.Rows[0] {
		if v.Kind != Const {
			continue
		}
		sp := spans[i]
		lit := sql[sp.from:sp.to]
		param := Constant{Column: i, From: sp.from, To: sp.to}
		switch {
		case lit[0] == '\'':
			param.Value = strings.ReplaceAll(lit[1:len(lit)-1], "''", "'")
		case v.Literal == "true" || v.Literal == "false":
			param.Value, param.Type = v.Literal, oidBool
		default:
			param.Value, param.Type = lit, numberType(lit)
		}
		b.WriteString(sql[last:sp.from])
		param.At = b.Len()
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(len(p.Constants) + 1))
		last = sp.to
		p.Constants = append(p.Constants, param)
	}
	if len(p.Constants) == 0 {
		return nil, false
	}
	b.WriteString(sql[last:])
	p.Text = b.String()
	return p, true
}

// numberType is the type PostgreSQL gives a numeric literal (optionally
// negated): int4 when it is an integer that fits, else int8 when it fits,
// else numeric.
func numberType(lit string) uint32 {
	if strings.Contains(lit, ".") {
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
// a parameter's $n to the start of its constant.
func (p *Parameterized) ClientAt(at int) int {
	shift := 0 // client offset minus Text offset, past the last parameter
	for i, q := range p.Constants {
		end := q.At + 1 + len(strconv.Itoa(i+1))
		switch {
		case at < q.At:
			return at + shift
		case at < end:
			return q.From
		}
		shift = q.To - end
	}
	return at + shift
}
