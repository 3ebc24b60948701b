package parser

import (
	"fmt"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/softfk/softfk/config"
)

// MergeClause is one WHEN clause of a MERGE.
type MergeClause struct {
	Matched bool // WHEN MATCHED; otherwise WHEN NOT MATCHED [BY TARGET]
	Kind    Kind // Insert, Update, Delete, or Other for DO NOTHING
	// Columns are an INSERT's target columns (nil: all, in table order);
	// Values its VALUES (nil with DefaultValues).
	Columns       []string
	Values        []Value
	DefaultValues bool
	// Set are an UPDATE's assignments.
	Set []Assignment

	cond *pg_query.Node
}

// InsertValue returns the value an INSERT clause gives column, whose
// position in the table is pos (from 0), when its column list is omitted.
func (c *MergeClause) InsertValue(column string, pos int) Value {
	if c.Columns == nil {
		if pos < len(c.Values) {
			return c.Values[pos]
		}
		return Value{Kind: Default}
	}
	for i, col := range c.Columns {
		if col == column && i < len(c.Values) {
			return c.Values[i]
		}
	}
	return Value{Kind: Default}
}

// SetValue returns the value an UPDATE clause assigns to column, if it does.
func (c *MergeClause) SetValue(column string) (Value, bool) { return setValue(c.Set, column) }

// merge describes a MERGE: its target is the written table, its source and
// join condition play the parts of an UPDATE's FROM and WHERE (so
// FromWhere reaches every matched row), and Merge holds its clauses.
func (a *analyzer) merge(s *pg_query.MergeStmt) []Target {
	targets := a.withTargets(s.WithClause)
	t := Target{Kind: Merge, Relation: relation(s.Relation)}
	w := &Write{Kind: Merge, Table: t.Relation, Returning: len(s.ReturningList) > 0, rel: s.Relation,
		from: []*pg_query.Node{s.SourceRelation}, where: s.JoinCondition, scope: a.scope(s.WithClause)}
	for _, n := range s.MergeWhenClauses {
		wc := n.GetMergeWhenClause()
		if wc.MatchKind == pg_query.MergeMatchKind_MERGE_WHEN_NOT_MATCHED_BY_SOURCE {
			t.Unsupported = "MERGE with WHEN NOT MATCHED BY SOURCE"
			return append(targets, t)
		}
		c := MergeClause{Matched: wc.MatchKind == pg_query.MergeMatchKind_MERGE_WHEN_MATCHED, Kind: Other, cond: wc.Condition}
		switch wc.CommandType {
		case pg_query.CmdType_CMD_INSERT:
			c.Kind = Insert
			for _, col := range wc.TargetList {
				rt := col.GetResTarget()
				if len(rt.Indirection) > 0 {
					t.Unsupported = "MERGE INSERT into a subfield or array element"
					return append(targets, t)
				}
				c.Columns = append(c.Columns, rt.Name)
			}
			c.DefaultValues = wc.Values == nil
			for _, v := range wc.Values {
				c.Values = append(c.Values, valueOf(v))
			}
		case pg_query.CmdType_CMD_UPDATE:
			c.Kind = Update
			c.Set = assignments(wc.TargetList)
		case pg_query.CmdType_CMD_DELETE:
			c.Kind = Delete
		}
		w.Merge = append(w.Merge, c)
	}
	t.Write = w
	return append(targets, t)
}

// MergeQuery renders a companion SELECT over the rows the MERGE's WHEN
// MATCHED clauses (matched) or WHEN NOT MATCHED clauses apply to: target
// rows joined with the source, locked, or source rows no target
// row matches. Its first column is the number (from 1, in the order of
// w.Merge) of the clause that applies to the row, NULL for none; then come
// width columns, each the CASE over the clauses of the expression out
// gives for that clause.
func (w *Write) MergeQuery(matched bool, width int, out func(c *MergeClause) []string) (string, error) {
	with, err := w.withPrefix()
	if err != nil {
		return "", err
	}
	target, err := fromItem(&pg_query.Node{Node: &pg_query.Node_RangeVar{RangeVar: w.rel}})
	if err != nil {
		return "", err
	}
	source, err := fromItem(w.from[0])
	if err != nil {
		return "", err
	}
	on, err := deparseExpr(w.where)
	if err != nil {
		return "", err
	}
	cases := make([]strings.Builder, width+1)
	for i := range cases {
		cases[i].WriteString("CASE")
	}
	for i := range w.Merge {
		c := &w.Merge[i]
		if c.Matched != matched {
			continue
		}
		cond := "true"
		if c.cond != nil {
			if cond, err = deparseExpr(c.cond); err != nil {
				return "", err
			}
		}
		fmt.Fprintf(&cases[0], " WHEN %s THEN %d", cond, i+1)
		for j, e := range out(c) {
			fmt.Fprintf(&cases[j+1], " WHEN %s THEN %s", cond, e)
		}
	}
	cols := make([]string, len(cases))
	for i := range cases {
		cols[i] = cases[i].String() + " END"
	}
	sel := with + "SELECT " + strings.Join(cols, ", ")
	if matched {
		// Locked no harder than the MERGE locks them: FOR UPDATE where a
		// clause may delete a row, FOR NO KEY UPDATE where they only update
		// (the update then takes FOR UPDATE of a row whose key it changes).
		// An upsert locks its conflicting row before it updates it, FOR
		// UPDATE when it assigns a column of a unique index, as softfk's
		// upserts do (it reads them only when they assign a referenced
		// key).
		lock := " FOR NO KEY UPDATE OF "
		if w.upsert || slices.ContainsFunc(w.Merge, func(c MergeClause) bool { return c.Matched && c.Kind == Delete }) {
			lock = " FOR UPDATE OF "
		}
		return sel + " FROM " + target + " JOIN " + source + " ON " + on + lock + config.QuoteIdent(w.Table.RefName()), nil
	}
	return sel + " FROM " + source + " WHERE NOT EXISTS (SELECT FROM " + target + " WHERE " + on + ")", nil
}

// fromItem renders one FROM item.
func fromItem(n *pg_query.Node) (string, error) {
	out, err := deparseSelect(&pg_query.SelectStmt{FromClause: []*pg_query.Node{n}})
	if err != nil {
		return "", err
	}
	return strings.TrimPrefix(out, "SELECT FROM "), nil
}
