package parser

import (
	"strconv"
	"strings"
	"unicode/utf8"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// The most common write by far is a plain INSERT ... VALUES of literals,
// and over the simple protocol every one has a new text: parsing each with
// pg_query (a cgo call and a protobuf round trip) would cost more than the
// rest of softfk's work on it. fastInsert recognises exactly that shape in
// Go and describes it as Analyze would; anything else (comments, casts,
// expressions, RETURNING, ON CONFLICT, several statements, escape or
// dollar quoting, keywords used as names) is left to pg_query.

// fastInsert analyses sql when it is one plain INSERT ... VALUES of
// literals, NULL and DEFAULT; ok is false otherwise.
func fastInsert(sql string) (res *Result, ok bool) {
	return scanInsert(sql, nil)
}

// span is where a value stands in a query string: the byte offsets of its
// first character and of the one after it.
type span struct{ from, to int }

// scanInsert is fastInsert; with spans set, it also appends where each
// value stands, row after row.
func scanInsert(sql string, spans *[]span) (res *Result, ok bool) {
	if strings.Contains(sql, "--") || strings.Contains(sql, "/*") || strings.ContainsRune(sql, 0) || !utf8.ValidString(sql) {
		return nil, false
	}
	l := lexer{s: sql}
	if !l.keyword("insert") || !l.keyword("into") {
		return nil, false
	}
	var rel Relation
	name, ok := l.ident()
	if !ok {
		return nil, false
	}
	rel.Name, rel.Inh = name, true
	if l.punct('.') {
		if rel.Name, ok = l.ident(); !ok {
			return nil, false
		}
		rel.Schema = name
	}
	w := &Write{Kind: Insert, Table: rel,
		rel:   &pg_query.RangeVar{Schemaname: rel.Schema, Relname: rel.Name, Inh: true, Relpersistence: "p"},
		scope: scopeOf(nil)}
	if l.punct('(') {
		for {
			col, ok := l.ident()
			if !ok {
				return nil, false
			}
			w.Columns = append(w.Columns, col)
			if l.punct(')') {
				break
			}
			if !l.punct(',') {
				return nil, false
			}
		}
	}
	if !l.keyword("values") {
		return nil, false
	}
	// All rows' values go into one slice, each row a capped window of it,
	// sized after the first row for as many rows as the rest of the text
	// can hold: a 100-row INSERT costs a few allocations, not one per row.
	tokenEnd, values := 0, make([]Value, 0, 4)
	for {
		rowStart := l.i
		if !l.punct('(') {
			return nil, false
		}
		start := len(values)
		for {
			from := skipBlanks(l.s, l.i)
			v, ok := l.value()
			if !ok {
				return nil, false
			}
			if spans != nil {
				*spans = append(*spans, span{from, l.i})
			}
			values = append(values, v)
			if l.punct(')') {
				break
			}
			if !l.punct(',') {
				return nil, false
			}
		}
		w.Rows = append(w.Rows, values[start:len(values):len(values)])
		if start == 0 {
			more := (len(sql) - l.i) / (l.i - rowStart + 1)
			values = append(make([]Value, 0, len(values)*(1+more)), values...)
			if spans != nil {
				*spans = append(make([]span, 0, cap(values)), *spans...)
			}
			w.Rows = make([][]Value, 1, 1+more)
			w.Rows[0] = values[:len(values):len(values)]
		}
		tokenEnd = l.i
		if !l.punct(',') {
			break
		}
	}
	// The first statement of a query string starts at 0, blanks included,
	// and ends before its semicolon, as pg_query reports it.
	start, end := 0, len(sql)
	if l.punct(';') {
		end = l.i - 1
	}
	if l.space(); l.i != len(sql) {
		return nil, false
	}
	st := Statement{Kind: Insert, Text: sql[start:end], Start: start, End: end, TokenEnd: tokenEnd,
		Targets: []Target{{Kind: Insert, Relation: rel, Write: w}}, keepsNames: true}
	return &Result{Statements: []Statement{st}}, true
}

// lexer reads the few tokens of a plain INSERT.
type lexer struct {
	s string
	i int
}

func (l *lexer) space() {
	l.i = skipBlanks(l.s, l.i)
}

// skipBlanks returns the position of the first non-blank at or after i.
func skipBlanks(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\n', '\r', '\f':
			i++
		default:
			return i
		}
	}
	return i
}

// punct consumes the character c (after blanks) if it comes next.
func (l *lexer) punct(c byte) bool {
	l.space()
	if l.i < len(l.s) && l.s[l.i] == c {
		l.i++
		return true
	}
	return false
}

// word reads an unquoted word (letters, digits, _ and $, not starting with
// a digit or $), lower-cased; "" if none comes next.
func (l *lexer) word() string {
	l.space()
	j := l.i
	for j < len(l.s) {
		c := l.s[j]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || (j > l.i && (c >= '0' && c <= '9' || c == '$')) {
			j++
			continue
		}
		if c >= 0x80 {
			return "" // non-ASCII names: left to pg_query
		}
		break
	}
	w := strings.ToLower(l.s[l.i:j])
	l.i = j
	return w
}

// keyword consumes kw (lower case) if it is the next word.
func (l *lexer) keyword(kw string) bool {
	save := l.i
	if l.word() == kw {
		return true
	}
	l.i = save
	return false
}

// reserved lists the keywords that cannot be a name without quotes (and a
// few that pg_query would read as something else here).
var reserved = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`all analyse analyze and any array as asc asymmetric authorization binary both case cast check
		collate collation column concurrently constraint create cross current_catalog current_date current_role current_schema
		current_time current_timestamp current_user default deferrable desc distinct do else end except false fetch for foreign
		freeze from full grant group having ilike in initially inner intersect into is isnull join lateral leading left like
		limit localtime localtimestamp natural not notnull null offset on only or order outer overlaps placing primary
		references returning right select session_user similar some symmetric system_user table tablesample then to trailing
		true union unique user using variadic verbose when where window with values overriding insert`) {
		reserved[w] = true
	}
}

// quoted reads the text between the quote character at l.i and its match,
// a doubled quote standing for one.
func (l *lexer) quoted() (string, bool) {
	q := l.s[l.i]
	var b strings.Builder
	for j := l.i + 1; j < len(l.s); j++ {
		if l.s[j] != q {
			b.WriteByte(l.s[j])
			continue
		}
		if j+1 < len(l.s) && l.s[j+1] == q {
			b.WriteByte(q)
			j++
			continue
		}
		l.i = j + 1
		return b.String(), true
	}
	return "", false
}

// maxIdentifier is NAMEDATALEN: longer names are truncated (with a notice),
// which fastInsert leaves to pg_query.
const maxIdentifier = 64

// ident reads a name: an unquoted word that is not reserved (folded to
// lower case) or a double-quoted name.
func (l *lexer) ident() (string, bool) {
	l.space()
	if l.i < len(l.s) && l.s[l.i] == '"' {
		name, ok := l.quoted()
		return name, ok && name != "" && len(name) < maxIdentifier
	}
	w := l.word()
	if w == "" || reserved[w] || len(w) >= maxIdentifier {
		return "", false
	}
	return w, true
}

// value reads a literal as Analyze describes it: an integer or decimal
// (optionally negative), a standard string, TRUE, FALSE, NULL or DEFAULT.
func (l *lexer) value() (Value, bool) {
	l.space()
	if l.i >= len(l.s) {
		return Value{}, false
	}
	switch c := l.s[l.i]; {
	case c == '\'':
		text, ok := l.quoted()
		// A string continued on the next line, or cast: not this shape.
		if rest := l.s[skipBlanks(l.s, l.i):]; !ok || strings.HasPrefix(rest, "'") || strings.HasPrefix(rest, "::") {
			return Value{}, false
		}
		return Value{Kind: Const, Literal: QuoteLiteral(text)}, true
	case c == '-' || c >= '0' && c <= '9':
		return l.number()
	}
	switch l.word() {
	case "null":
		return Value{Kind: Null}, true
	case "default":
		return Value{Kind: Default}, true
	case "true":
		return Value{Kind: Const, Literal: "true"}, true
	case "false":
		return Value{Kind: Const, Literal: "false"}, true
	}
	return Value{}, false
}

// number reads [-]digits[.digits] followed by "," or ")". pg_query keeps an
// integer that fits in 32 bits as a number (so "007" reads 7) and anything
// else as its text.
func (l *lexer) number() (Value, bool) {
	j := l.i
	if l.s[j] == '-' {
		j++
	}
	digits := j
	for j < len(l.s) && l.s[j] >= '0' && l.s[j] <= '9' {
		j++
	}
	if j == digits {
		return Value{}, false
	}
	integer := true
	if j < len(l.s) && l.s[j] == '.' {
		integer = false
		j++
		frac := j
		for j < len(l.s) && l.s[j] >= '0' && l.s[j] <= '9' {
			j++
		}
		if j == frac {
			return Value{}, false
		}
	}
	text := l.s[l.i:j]
	l.i = j
	if k := skipBlanks(l.s, j); k == len(l.s) || l.s[k] != ',' && l.s[k] != ')' {
		return Value{}, false // an exponent, an operator, a cast...
	}
	if integer {
		if n, err := strconv.ParseInt(text, 10, 32); err == nil {
			if d := strings.TrimPrefix(text, "-"); (d[0] != '0' || len(d) == 1) && text != "-0" {
				return Value{Kind: Const, Literal: text}, true // already as pg_query renders it
			}
			return Value{Kind: Const, Literal: strconv.Itoa(int(n))}, true
		}
	}
	return Value{Kind: Const, Literal: text}, true
}
