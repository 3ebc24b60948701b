package parser

import pg_query "github.com/pganalyze/pg_query_go/v6"

// ViewSource reads a view's definition (as pg_get_viewdef prints it) the
// way PostgreSQL reads an automatically updatable view: a SELECT from one
// relation, whose writes go to that relation. Columns lists, for each
// column of the view in order, the column of the relation it shows, or ""
// when it shows an expression (which no write can assign). ok is false
// for any other definition: a join, a set operation, a WITH query, or
// anything that does not parse.
func ViewSource(def string) (base Relation, columns []string, ok bool) {
	tree, err := pg_query.Parse(def)
	if err != nil || len(tree.Stmts) != 1 {
		return Relation{}, nil, false
	}
	sel := tree.Stmts[0].Stmt.GetSelectStmt()
	if sel == nil || sel.Op != pg_query.SetOperation_SETOP_NONE || sel.WithClause != nil || len(sel.FromClause) != 1 {
		return Relation{}, nil, false
	}
	rv := sel.FromClause[0].GetRangeVar()
	if rv == nil {
		return Relation{}, nil, false
	}
	base = relation(rv)
	for _, t := range sel.TargetList {
		col, _ := columnOf(t.GetResTarget().GetVal(), base)
		columns = append(columns, col)
	}
	return base, columns, true
}
