package parser

import (
	"fmt"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// An SQL-level EXECUTE runs a PREPAREd statement with the values of its
// arguments for the statement's parameters. softfk checks it as the
// statement it stands for: the prepared text with each parameter replaced
// by its argument, cast to the parameter's type (BindParams).

// preparedBody returns the text of the statement a PREPARE prepares: what
// follows its first AS outside parentheses.
func preparedBody(text string) string {
	scan, err := pg_query.Scan(text)
	if err != nil {
		return ""
	}
	depth := 0
	for _, t := range scan.Tokens {
		switch t.Token {
		case pg_query.Token_ASCII_40: // (
			depth++
		case pg_query.Token_ASCII_41: // )
			depth--
		case pg_query.Token_AS:
			if depth == 0 {
				return strings.TrimSpace(text[t.End:])
			}
		}
	}
	return ""
}

// executeArgs finds the arguments of an EXECUTE in its text (which starts
// at offset base of the query string): their source text, "" for one
// softfk may not evaluate in its stead (see Statement.Args), and where each
// starts in the query string.
func executeArgs(e *pg_query.ExecuteStmt, text string, base int) (args []string, at []int) {
	spans := argSpans(text)
	if len(spans) != len(e.Params) {
		return make([]string, len(e.Params)), make([]int, len(e.Params))
	}
	args, at = make([]string, len(spans)), make([]int, len(spans))
	for i, sp := range spans {
		at[i] = base + sp[0]
		if constantArg(e.Params[i]) {
			args[i] = text[sp[0]:sp[1]]
		}
	}
	return args, at
}

// argSpans returns where each argument of an EXECUTE's parenthesised list
// starts and ends in its text (comments around it excluded).
func argSpans(text string) [][2]int {
	scan, err := pg_query.Scan(text)
	if err != nil {
		return nil
	}
	var spans [][2]int
	depth, start, end := 0, -1, -1
	for _, t := range scan.Tokens {
		switch {
		case t.Token == pg_query.Token_SQL_COMMENT || t.Token == pg_query.Token_C_COMMENT:
			continue
		case t.Token == pg_query.Token_ASCII_40: // (
			depth++
			if depth == 1 {
				continue
			}
		case t.Token == pg_query.Token_ASCII_41: // )
			depth--
			if depth == 0 {
				return append(spans, [2]int{start, end})
			}
		case t.Token == pg_query.Token_ASCII_44 && depth == 1: // ,
			spans = append(spans, [2]int{start, end})
			start = -1
			continue
		}
		if depth == 0 {
			continue
		}
		if start < 0 {
			start = int(t.Start)
		}
		end = int(t.End)
	}
	return nil
}

// constantArg reports whether an EXECUTE argument is a constant, perhaps
// cast, or a parameter: something softfk may evaluate where the parameter
// stands, as often as it stands there, with the same result.
func constantArg(n *pg_query.Node) bool {
	switch {
	case n.GetAConst() != nil:
		return n.GetAConst().GetBsval() == nil
	case n.GetTypeCast() != nil:
		return constantArg(n.GetTypeCast().Arg)
	case n.GetParamRef() != nil:
		return true
	}
	return false
}

// Bound is where a parameter's expression stands in a text BindParams
// returned.
type Bound struct {
	Param int // n of $n
	At    int // byte offset of the expression
}

// BindParams returns the statement text with each parameter $n replaced by
// exprs[n-1], parenthesised, and where each expression stands in it. It
// fails when the text does not parse as one statement or names a
// parameter beyond exprs.
func BindParams(text string, exprs []string) (string, []Bound, error) {
	tree, err := pg_query.Parse(text)
	if err != nil {
		return "", nil, err
	}
	if len(tree.Stmts) != 1 {
		return "", nil, fmt.Errorf("not one statement")
	}
	var refs []*pg_query.ParamRef
	walk(tree.ProtoReflect(), func(m protoreflect.Message) {
		if p, ok := m.Interface().(*pg_query.ParamRef); ok {
			refs = append(refs, p)
		}
	})
	var b strings.Builder
	var bounds []Bound
	prev := 0
	slices.SortFunc(refs, func(a, b *pg_query.ParamRef) int { return int(a.Location - b.Location) })
	for _, p := range refs {
		n, at := int(p.Number), int(p.Location)
		if n < 1 || n > len(exprs) {
			return "", nil, fmt.Errorf("no value for parameter $%d", n)
		}
		end := at + 1
		for end < len(text) && text[end] >= '0' && text[end] <= '9' {
			end++
		}
		b.WriteString(text[prev:at])
		b.WriteString("(")
		bounds = append(bounds, Bound{Param: n, At: b.Len()})
		b.WriteString(exprs[n-1] + ")")
		prev = end
	}
	b.WriteString(text[prev:])
	return b.String(), bounds, nil
}
