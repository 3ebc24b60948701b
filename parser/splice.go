package parser

import (
	"fmt"
	"strings"
	"unicode/utf8"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// Insertion is text softfk inserts into a client statement before sending
// it: Text goes at byte offset At of the statement's own text
// (Statement.Text).
type Insertion struct {
	At   int
	Text string
}

// Spliced returns text with the insertions made; ins is in increasing
// order of At, each within text.
func Spliced(text string, ins []Insertion) string {
	var b strings.Builder
	prev := 0
	for _, in := range ins {
		b.WriteString(text[prev:in.At])
		b.WriteString(in.Text)
		prev = in.At
	}
	b.WriteString(text[prev:])
	return b.String()
}

// SplicedPositions maps an error position (in characters, from 1) in
// Spliced(text, ins) back to text: a position inside inserted text maps
// to the character it was inserted before.
func SplicedPositions(text string, ins []Insertion) func(int) int {
	type shift struct{ at, n int } // in characters of text
	shifts := make([]shift, len(ins))
	for i, in := range ins {
		shifts[i] = shift{utf8.RuneCountInString(text[:in.At]), utf8.RuneCountInString(in.Text)}
	}
	return func(pos int) int {
		moved := 0
		for _, s := range shifts {
			switch {
			case pos-moved <= s.at:
				return pos - moved
			case pos-moved <= s.at+s.n:
				return s.at + 1
			}
			moved += s.n
		}
		return pos - moved
	}
}

// MergeGuards returns the insertions that make each WHEN clause of the
// MERGE st for which guard returns an expression evaluate it for every
// row the clause acts on, and for no other row: the clause's condition
// c becomes (CASE WHEN (c) THEN guard ELSE false END), a clause without
// one gets AND guard. guard's argument is the clause's index in
// Write.Merge; its expression must be true. It fails when the clauses it
// finds in the text are not the statement's.
func (st *Statement) MergeGuards(guard func(clause int) string) ([]Insertion, error) {
	w := st.Main()
	if w == nil || w.Kind != Merge {
		return nil, fmt.Errorf("not a MERGE")
	}
	spans, err := mergeConditions(st.Text)
	if err != nil {
		return nil, err
	}
	if len(spans) != len(w.Merge) {
		return nil, fmt.Errorf("found %d WHEN clauses of %d", len(spans), len(w.Merge))
	}
	var ins []Insertion
	for i, sp := range spans {
		g := guard(i)
		switch {
		case g == "":
		case sp.cond:
			ins = append(ins, Insertion{sp.start, "(CASE WHEN ("}, Insertion{sp.end, ") THEN " + g + " ELSE false END)"})
		default:
			ins = append(ins, Insertion{sp.start, "AND " + g + " "})
		}
	}
	return ins, nil
}

// conditionSpan is where a MERGE's WHEN clause has its condition in the
// statement's text, [start, end), when cond; otherwise start is where its
// THEN stands.
type conditionSpan struct {
	start, end int
	cond       bool
}

// mergeConditions finds the WHEN clauses of a MERGE in its text: each
// WHEN outside parentheses and CASE expressions starts one, and its
// condition, if any, runs from the token after the AND that follows
// MATCHED to the last token before its THEN.
func mergeConditions(text string) ([]conditionSpan, error) {
	scan, err := pg_query.Scan(text)
	if err != nil {
		return nil, err
	}
	var spans []conditionSpan
	depth, cases := 0, 0
	inHead, inCond := false, false // between a clause's WHEN and its THEN; after its AND
	lastEnd := 0
	for i, t := range scan.Tokens {
		if t.Token == pg_query.Token_SQL_COMMENT || t.Token == pg_query.Token_C_COMMENT {
			continue
		}
		top := depth == 0 && cases == 0
		switch keyword(scan.Tokens, i) {
		case pg_query.Token_ASCII_40: // (
			depth++
		case pg_query.Token_ASCII_41: // )
			depth--
		case pg_query.Token_CASE:
			cases++
		case pg_query.Token_END_P:
			if cases > 0 {
				cases--
			}
		case pg_query.Token_WHEN:
			if top {
				inHead, inCond = true, false
			}
		case pg_query.Token_AND:
			if top && inHead && !inCond {
				inCond = true
				spans = append(spans, conditionSpan{start: -1, cond: true})
			}
		case pg_query.Token_THEN:
			if top && inHead {
				if inCond {
					spans[len(spans)-1].end = lastEnd
				} else {
					spans = append(spans, conditionSpan{start: int(t.Start)})
				}
				inHead, inCond = false, false
			}
		}
		if inCond && spans[len(spans)-1].start < 0 && t.Token != pg_query.Token_AND {
			spans[len(spans)-1].start = int(t.Start)
		}
		lastEnd = int(t.End)
	}
	return spans, nil
}

// WhereGuard returns the insertions that make w, an UPDATE or DELETE
// written as a WITH query of st, evaluate guard for every row its WHERE
// lets through, and for no other: WHERE c becomes WHERE (c) AND (CASE
// WHEN (c) THEN guard ELSE false END), which keeps c's own conditions for
// the planner (c is evaluated twice), and a query without a WHERE gets
// WHERE guard. guard must be true.
func (st *Statement) WhereGuard(w *Write, guard string) ([]Insertion, error) {
	if w.rel == nil || (w.Kind != Update && w.Kind != Delete) || w.CurrentOf || w.rel.Location < int32(st.Start) {
		return nil, fmt.Errorf("not an UPDATE or DELETE found in the statement")
	}
	from := int(w.rel.Location) - st.Start
	scan, err := pg_query.Scan(st.Text)
	if err != nil {
		return nil, err
	}
	depth, lastEnd := 0, -1
	where, cond := false, -1 // a WHERE was met; where its condition starts
	for i, t := range scan.Tokens {
		if int(t.Start) < from || t.Token == pg_query.Token_SQL_COMMENT || t.Token == pg_query.Token_C_COMMENT {
			continue
		}
		k := keyword(scan.Tokens, i)
		if k == pg_query.Token_ASCII_41 && depth == 0 || k == pg_query.Token_RETURNING && depth == 0 {
			break // the end of the WITH query
		}
		switch {
		case k == pg_query.Token_ASCII_40: // (
			depth++
		case k == pg_query.Token_ASCII_41: // )
			depth--
		case k == pg_query.Token_WHERE && depth == 0:
			where = true
			lastEnd = int(t.End)
			continue
		}
		if where && cond < 0 {
			cond = int(t.Start)
		}
		lastEnd = int(t.End)
	}
	switch {
	case lastEnd < 0 || where && cond < 0:
		return nil, fmt.Errorf("no end of the WITH query found")
	case !where:
		return []Insertion{{lastEnd, " WHERE " + guard}}, nil
	}
	text := st.Text[cond:lastEnd]
	return []Insertion{{cond, "("}, {lastEnd, ") AND (CASE WHEN (" + text + ") THEN " + guard + " ELSE false END)"}}, nil
}

// keyword is the token i of tokens, read as IDENT when it is a keyword
// after a dot, where it names a column (t.returning, s.end).
func keyword(tokens []*pg_query.ScanToken, i int) pg_query.Token {
	t := tokens[i]
	if t.KeywordKind == pg_query.KeywordKind_NO_KEYWORD {
		return t.Token
	}
	for j := i - 1; j >= 0; j-- {
		if p := tokens[j].Token; p != pg_query.Token_SQL_COMMENT && p != pg_query.Token_C_COMMENT {
			if p == pg_query.Token_ASCII_46 { // .
				return pg_query.Token_IDENT
			}
			break
		}
	}
	return t.Token
}
