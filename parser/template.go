package parser

import (
	"strings"
	"unicode/utf8"
)

// Parsing a query string with pg_query (a cgo call and a protobuf round
// trip) costs more than the rest of softfk's work on a simple-protocol
// write. Query strings of one form, differing only in their literals,
// parameterize alike: a template remembers how Parameterize rewrote one
// of them, under the text with its literals left out, and the others are
// rewritten from their tokens alone.

// literal is where one literal token stands in a query string.
type literal struct {
	from, to int
	kind     byte // 's' a string, 'n' a number, 'b' TRUE or FALSE
}

// literals finds the literal tokens of sql, and returns its text with
// each one left out (its kind in its place) as key. ok is false when sql
// holds anything whose tokens it may read otherwise than PostgreSQL's
// lexer: a comment, a dollar quote or parameter, a string other than in
// plain quotes or continued after blanks, a number that runs into a name.
func literals(sql string) (key string, lits []literal, ok bool) {
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '\'':
			if i > 0 && (nameByte(sql[i-1]) || sql[i-1] == '&') {
				return "", nil, false // E'', B'', X'', N'', U&''
			}
			l := lexer{s: sql, i: i}
			if _, ok := l.quoted(); !ok || strings.HasPrefix(sql[skipBlanks(sql, l.i):], "'") {
				return "", nil, false
			}
			lits = append(lits, literal{i, l.i, 's'})
			i = l.i
		case c == '"':
			if i > 0 && sql[i-1] == '&' {
				return "", nil, false // U&""
			}
			l := lexer{s: sql, i: i}
			if _, ok := l.quoted(); !ok {
				return "", nil, false
			}
			i = l.i
		case c == '$' || c == 0 || strings.HasPrefix(sql[i:], "--") || strings.HasPrefix(sql[i:], "/*"):
			return "", nil, false
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(sql) && sql[i+1] >= '0' && sql[i+1] <= '9':
			end, ok := numberEnd(sql, i)
			if !ok {
				return "", nil, false
			}
			lits = append(lits, literal{i, end, 'n'})
			i = end
		case nameByte(c):
			j := i
			for j < len(sql) && nameByte(sql[j]) {
				j++
			}
			if w := sql[i:j]; strings.EqualFold(w, "true") || strings.EqualFold(w, "false") {
				lits = append(lits, literal{i, j, 'b'})
			}
			i = j
		default:
			i++
		}
	}
	var b strings.Builder
	b.Grow(len(sql))
	last := 0
	for _, l := range lits {
		b.WriteString(sql[last:l.from])
		b.WriteByte(0)
		b.WriteByte(l.kind)
		last = l.to
	}
	b.WriteString(sql[last:])
	return b.String(), lits, true
}

// nameByte reports whether c may stand in an unquoted name (or keyword)
// after its first character.
func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c >= 0x80
}

// template is how Parameterize rewrote query strings of one form.
type template struct {
	literals []templateLiteral // one per literal token, in order
	tail     int               // bytes after the statement: its semicolon, blanks
}

// templateLiteral is what became of one literal token: a parameter, or
// part of the text, which then must be the same in every query string
// the template rewrites.
type templateLiteral struct {
	param bool
	// For a parameter: how far before the token its constant starts (the
	// minus that negates a number), and the constant's Typed, Column and
	// Index.
	minus  int
	typed  bool
	column string
	index  int
	// For a token kept in the text: the token.
	text string
}

// learn makes the template of sql, of literal tokens lits, from p, what
// Parameterize made of it; ok is false when a constant of p is not one of
// the tokens (perhaps negated).
func learn(sql string, lits []literal, p *Parameterized) (*template, bool) {
	if !strings.HasPrefix(sql, p.Statement) || len(lits) > 0 && lits[len(lits)-1].to > len(p.Statement) {
		return nil, false
	}
	t := &template{literals: make([]templateLiteral, len(lits)), tail: len(sql) - len(p.Statement)}
	k := 0
	for i, l := range lits {
		if k == len(p.Constants) || p.Constants[k].To != l.to {
			t.literals[i] = templateLiteral{text: sql[l.from:l.to]}
			continue
		}
		c := p.Constants[k]
		k++
		if c.From > l.from || c.From < l.from && (sql[c.From] != '-' || skipBlanks(sql, c.From+1) != l.from) ||
			(l.kind == 's') != (c.Type == 0) || (l.kind == 'b') != (c.Type == oidBool) {
			return nil, false
		}
		t.literals[i] = templateLiteral{param: true, minus: l.from - c.From, typed: c.Typed, column: c.Column, index: c.Index}
	}
	return t, k == len(p.Constants)
}

// apply rewrites sql, of literal tokens lits and of the template's form,
// as Parameterize would; ok is false when a token the template keeps in
// the text differs.
func (t *template) apply(sql string, lits []literal) (*Parameterized, bool) {
	if len(lits) != len(t.literals) || !utf8.ValidString(sql) {
		return nil, false
	}
	var constants []Constant
	for i, l := range lits {
		tl := t.literals[i]
		token := sql[l.from:l.to]
		if !tl.param {
			if token != tl.text {
				return nil, false
			}
			continue
		}
		c := Constant{Typed: tl.typed, Column: tl.column, Index: tl.index, From: l.from - tl.minus, To: l.to}
		switch l.kind {
		case 's':
			c.Value = strings.ReplaceAll(token[1:len(token)-1], "''", "'")
		case 'b':
			c.Value, c.Type = strings.ToLower(token), oidBool
		default:
			if c.Value = token; tl.minus > 0 {
				c.Value = "-" + token
			}
			c.Type = numberType(c.Value)
		}
		constants = append(constants, c)
	}
	return splice(sql, constants, sql[:len(sql)-t.tail]), true
}
