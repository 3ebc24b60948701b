package parser

import (
	"errors"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Copy describes a COPY ... FROM statement: where the data goes and the
// options that shape it, as written (defaults are the reader's business).
type Copy struct {
	Columns []string // the column list; nil means all columns in table order
	Stdin   bool     // FROM STDIN (not a server file or program)
	// Where is the condition of a WHERE clause filtering rows, rendered
	// with every column reference unqualified (see copyWhere), and
	// WhereColumns are the columns it reads, in order of first reference.
	// WhereUnsupported, when set, says why a WHERE clause could not be
	// rendered so (Where is then empty).
	Where            string
	WhereColumns     []string
	WhereUnsupported string
	Format           string // text, csv or binary
	// Options holds the other options by name (delimiter, null, header,
	// quote, escape, encoding, default...) with their values as text;
	// boolean options given bare are "true".
	Options map[string]string
	// ForceNull and ForceNotNull list the columns of those CSV options
	// ("*" for all).
	ForceNull, ForceNotNull []string
}

// copyInfo describes a COPY FROM statement.
func copyInfo(c *pg_query.CopyStmt) *Copy {
	info := &Copy{Stdin: !c.IsProgram && c.Filename == "", Format: "text", Options: map[string]string{}}
	if c.WhereClause != nil {
		var err error
		if info.Where, info.WhereColumns, err = copyWhere(c.WhereClause, relation(c.Relation)); err != nil {
			info.WhereUnsupported = err.Error()
		}
	}
	for _, a := range c.Attlist {
		if s := a.GetString_(); s != nil {
			info.Columns = append(info.Columns, s.Sval)
		}
	}
	for _, o := range c.Options {
		d := o.GetDefElem()
		if d == nil {
			continue
		}
		switch d.Defname {
		case "format":
			info.Format = strings.ToLower(defString(d.Arg))
		case "force_null", "force_not_null":
			cols := defList(d.Arg)
			if d.Defname == "force_null" {
				info.ForceNull = cols
			} else {
				info.ForceNotNull = cols
			}
		default:
			info.Options[d.Defname] = defString(d.Arg)
		}
	}
	return info
}

// defString renders an option value as text ("true" when absent).
func defString(n *pg_query.Node) string {
	switch {
	case n == nil:
		return "true"
	case n.GetString_() != nil:
		return n.GetString_().Sval
	case n.GetBoolean() != nil:
		if n.GetBoolean().Boolval {
			return "true"
		}
		return "false"
	case n.GetInteger() != nil:
		if n.GetInteger().Ival != 0 {
			return "true"
		}
		return "false"
	}
	return ""
}

// defList renders a column-list option value ("*" for all columns).
func defList(n *pg_query.Node) []string {
	if n.GetAStar() != nil {
		return []string{"*"}
	}
	var cols []string
	if l := n.GetList(); l != nil {
		for _, item := range l.Items {
			if s := item.GetString_(); s != nil {
				cols = append(cols, s.Sval)
			}
		}
	}
	return cols
}

// copyWhere renders the WHERE condition of a COPY FROM into table r so
// that another statement can evaluate it again over the same rows, under
// names that are r's columns: each column reference unqualified. It fails
// for a condition whose value may change between evaluations (a volatile
// function, see deterministic) and for references to anything but r's
// columns by name.
func copyWhere(cond *pg_query.Node, r Relation) (where string, columns []string, err error) {
	if !deterministic(cond) {
		return "", nil, errors.New("a WHERE softfk cannot evaluate again (a function it does not know to be immutable)")
	}
	cond = proto.Clone(cond).(*pg_query.Node) // the statement's own tree stays as parsed
	walk(cond.ProtoReflect(), func(m protoreflect.Message) {
		ref, ok := m.Interface().(*pg_query.ColumnRef)
		if !ok || err != nil {
			return
		}
		col, ok := columnOf(&pg_query.Node{Node: &pg_query.Node_ColumnRef{ColumnRef: ref}}, r)
		if !ok {
			err = errors.New("a WHERE that names its columns otherwise than by the table's name")
			return
		}
		ref.Fields = []*pg_query.Node{pg_query.MakeStrNode(col)}
		if !slices.Contains(columns, col) {
			columns = append(columns, col)
		}
	})
	if err != nil {
		return "", nil, err
	}
	where, err = deparseExpr(cond)
	return where, columns, err
}
