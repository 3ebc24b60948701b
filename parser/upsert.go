package parser

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/softfk/softfk/config"
)

// Upsert is what softfk reads of an INSERT ... VALUES ... ON CONFLICT DO
// UPDATE to find the rows it will find in conflict (see UpsertMerge).
type Upsert struct {
	// Merge is the MERGE the upsert amounts to for those rows: its VALUES
	// rows as the source, named excluded (so the assignments' EXCLUDED
	// references read them), each value cast to its column's type as the
	// INSERT assigns it (a parameter so takes the type the INSERT gives
	// it); the arbiter's columns equal as the join condition; and one WHEN
	// MATCHED clause with the DO UPDATE's assignments and condition.
	Merge *Write
	// Arbiter are the columns of the unique key the upsert finds
	// conflicts on.
	Arbiter []string
	source  string // the FROM item of the VALUES rows, named excluded
	on      string // the join condition, over excluded and the target
}

// Unmatched renders a SELECT of the arbiter's values (as text) of the
// VALUES rows no row of the table matches now.
func (u *Upsert) Unmatched() (string, error) {
	target, err := fromItem(&pg_query.Node{Node: &pg_query.Node_RangeVar{RangeVar: u.Merge.rel}})
	if err != nil {
		return "", err
	}
	cols := make([]string, len(u.Arbiter))
	for i, c := range u.Arbiter {
		cols[i] = "CAST(excluded." + config.QuoteIdent(c) + " AS text)"
	}
	return "SELECT " + strings.Join(cols, ", ") + " FROM " + u.source + " WHERE NOT EXISTS (SELECT FROM " + target + " WHERE " + u.on + ")", nil
}

// UpsertTable is what UpsertMerge needs to know of an upsert's table.
type UpsertTable struct {
	// Columns are the table's columns in order (the INSERT's targets when
	// it names none).
	Columns []string
	// Type gives a column's type, for a cast.
	Type func(column string) string
	// Eq gives the operator a unique index on a column compares its
	// values with, qualified when its schema may be off the session's
	// search_path (citext's, say): as the arbiter finds rows in conflict.
	Eq func(column string) string
	// ConstraintColumns gives the columns of a constraint of the table (nil
	// when it has none of that name), for ON CONFLICT ON CONSTRAINT.
	ConstraintColumns func(name string) []string
}

// UpsertMerge reads an INSERT ... VALUES ... ON CONFLICT DO UPDATE as an
// Upsert: softfk reads with its Merge, just before the statement, the
// keys the upsert is about to change (see MergeQuery). An upsert whose
// conflicting rows cannot be found so fails: one without VALUES, with
// DEFAULT or a value that may differ from one evaluation to the next, an
// arbiter that is an expression or has a predicate, a sub-SELECT in the
// DO UPDATE, an EXCLUDED column the INSERT does not write.
func (w *Write) UpsertMerge(tbl UpsertTable) (*Upsert, error) {
	oc := w.conflict
	if w.OnConflict != DoUpdate || oc == nil {
		return nil, errors.New("not an ON CONFLICT DO UPDATE")
	}
	arbiter, err := arbiterColumns(oc.Infer, tbl.ConstraintColumns)
	if err != nil {
		return nil, err
	}
	if w.Rows == nil {
		return nil, errors.New("an upsert of other rows than VALUES")
	}
	targets := w.Columns
	if targets == nil {
		if len(w.Rows[0]) > len(tbl.Columns) {
			return nil, errors.New("more values than columns")
		}
		targets = tbl.Columns[:len(w.Rows[0])]
	}
	quoted := make([]string, len(targets))
	for i, c := range targets {
		quoted[i] = config.QuoteIdent(c)
	}
	rows := make([]string, len(w.Rows))
	for i, row := range w.Rows {
		if len(row) != len(targets) {
			return nil, errors.New("VALUES rows of another width than the INSERT's columns") // the INSERT fails itself
		}
		items := make([]string, len(row))
		for j, v := range row {
			if v.Kind == Default || !v.Deterministic() {
				return nil, errors.New("an upsert of DEFAULT or of values that may change from one evaluation to the next")
			}
			if items[j], err = v.SQL(); err != nil {
				return nil, err
			}
			items[j] = "CAST(" + items[j] + " AS " + tbl.Type(targets[j]) + ")"
		}
		rows[i] = "(" + strings.Join(items, ", ") + ")"
	}
	source := fmt.Sprintf("(VALUES %s) AS excluded(%s)", strings.Join(rows, ", "), strings.Join(quoted, ", "))
	tree, err := pg_query.Parse("SELECT FROM " + source)
	if err != nil {
		return nil, err
	}
	target := config.QuoteIdent(w.Table.RefName())
	on := make([]string, len(arbiter))
	for i, c := range arbiter {
		if !slices.Contains(targets, c) {
			return nil, fmt.Errorf("the arbiter's column %s is not written", c)
		}
		on[i] = target + "." + config.QuoteIdent(c) + " " + tbl.Eq(c) + " excluded." + config.QuoteIdent(c)
	}
	join, err := parseCondition(strings.Join(on, " AND "))
	if err != nil {
		return nil, err
	}
	set := proto.Clone(&pg_query.OnConflictClause{TargetList: oc.TargetList, WhereClause: oc.WhereClause}).(*pg_query.OnConflictClause)
	if err := qualifyColumns(set.ProtoReflect(), w.Table.RefName(), targets); err != nil {
		return nil, err
	}
	m := &Write{Kind: Merge, Table: w.Table, rel: w.rel, scope: w.scope, upsert: true,
		from:  tree.Stmts[0].Stmt.GetSelectStmt().FromClause,
		where: join,
		Merge: []MergeClause{{Matched: true, Kind: Update, Set: assignments(set.TargetList), cond: set.WhereClause}}}
	return &Upsert{Merge: m, Arbiter: arbiter, source: source, on: strings.Join(on, " AND ")}, nil
}

// arbiterColumns returns the columns of an ON CONFLICT's arbiter.
func arbiterColumns(infer *pg_query.InferClause, constraintColumns func(name string) []string) ([]string, error) {
	if infer == nil {
		return nil, errors.New("ON CONFLICT without an arbiter")
	}
	if infer.Conname != "" {
		cols := constraintColumns(infer.Conname)
		if cols == nil {
			return nil, fmt.Errorf("no constraint %s of plain columns", infer.Conname)
		}
		return cols, nil
	}
	if infer.WhereClause != nil {
		return nil, errors.New("an arbiter with a predicate")
	}
	var cols []string
	for _, n := range infer.IndexElems {
		e := n.GetIndexElem()
		if e == nil || e.Name == "" || len(e.Collation) > 0 || len(e.Opclass) > 0 {
			return nil, errors.New("an arbiter of expressions, collations or operator classes")
		}
		cols = append(cols, e.Name)
	}
	return cols, nil
}

// qualifyColumns names the table ref in every unqualified column
// reference of m, as the DO UPDATE of an upsert reads them, so that they
// stay the target's beside excluded's columns of the same names. A
// sub-SELECT, whose own tables may own such names, fails, and so does an
// EXCLUDED column other than the targets (the INSERT gives it its
// default, which the source does not hold).
func qualifyColumns(m protoreflect.Message, ref string, targets []string) error {
	var err error
	walk(m, func(n protoreflect.Message) {
		switch x := n.Interface().(type) {
		case *pg_query.SubLink:
			err = errors.New("a sub-SELECT in ON CONFLICT DO UPDATE")
		case *pg_query.ColumnRef:
			switch {
			case len(x.Fields) > 0 && x.Fields[0].GetString_().GetSval() == "excluded" &&
				(len(x.Fields) != 2 || !slices.Contains(targets, x.Fields[1].GetString_().GetSval())):
				err = errors.New("EXCLUDED of a column the INSERT leaves to its default, or of its whole row")
			case len(x.Fields) == 1 && x.Fields[0].GetString_() != nil:
				x.Fields = append([]*pg_query.Node{pg_query.MakeStrNode(ref)}, x.Fields...)
			}
		}
	})
	return err
}
