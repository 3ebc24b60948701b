package parser

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// Copy describes a COPY ... FROM statement: where the data goes and the
// options that shape it, as written (defaults are the reader's business).
type Copy struct {
	Columns []string // the column list; nil means all columns in table order
	Stdin   bool     // FROM STDIN (not a server file or program)
	Where   bool     // has a WHERE clause filtering rows
	Format  string   // text, csv or binary
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
	info := &Copy{Stdin: !c.IsProgram && c.Filename == "", Where: c.WhereClause != nil, Format: "text", Options: map[string]string{}}
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
