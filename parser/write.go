package parser

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/softfk/softfk/config"
)

// ValueKind says what a statement writes into a column.
type ValueKind uint8

// The value kinds.
const (
	Computed ValueKind = iota // an expression only the server can evaluate
	Const                     // a literal
	Param                     // a bound parameter $n
	Null                      // NULL
	Default                   // DEFAULT (or a column the statement leaves out)
)

// Value is what a statement writes into one column.
type Value struct {
	Kind ValueKind
	// Literal is, for Const, SQL that denotes the same value whatever the
	// session's standard_conforming_strings.
	Literal string
	// Param is, for Param, the n of $n.
	Param int
	// Cast is the type the statement casts a Const or Param to ("" none).
	Cast string
	node *pg_query.Node
}

// SQL renders the value's expression as SQL text.
func (v Value) SQL() (string, error) {
	switch v.Kind {
	case Null:
		return "NULL", nil
	case Default:
		return "DEFAULT", nil
	}
	if v.node == nil {
		if v.Kind == Const && v.Cast == "" {
			return v.Literal, nil // read without a parse tree (fastInsert)
		}
		return "", fmt.Errorf("no expression")
	}
	return deparseExpr(v.node)
}

// Conflict is the ON CONFLICT action of an INSERT.
type Conflict uint8

// The ON CONFLICT actions.
const (
	NoConflictClause Conflict = iota
	DoNothing
	DoUpdate
)

// Assignment is one column an UPDATE (or ON CONFLICT DO UPDATE) sets.
type Assignment struct {
	Column string
	Value  Value
}

// Write describes an INSERT, UPDATE or DELETE on one table.
type Write struct {
	Kind  Kind
	Table Relation

	// Columns are an INSERT's target columns; nil when it names none (all
	// columns, in table order).
	Columns []string
	// Rows are an INSERT's VALUES rows; nil when its source is a query or
	// DEFAULT VALUES.
	Rows          [][]Value
	DefaultValues bool
	OnConflict    Conflict
	// Set are the assignments of an UPDATE, or of ON CONFLICT DO UPDATE.
	Set []Assignment
	// Merge are a MERGE's WHEN clauses.
	Merge []MergeClause

	CurrentOf bool // WHERE CURRENT OF cursor
	Returning bool // has a RETURNING list

	from     []*pg_query.Node // UPDATE ... FROM / DELETE ... USING
	where    *pg_query.Node
	conflict *pg_query.OnConflictClause // an INSERT's (see UpsertMerge)
	upsert   bool                       // the Merge an upsert is read as (see UpsertMerge)
	rel      *pg_query.RangeVar
	scope    withScope // the WITH queries the statement can read

	// companions remembers FromWhereAnd's renderings by condition: a
	// prepared write is planned again at each execution, and rendering
	// costs a parse and a deparse through pg_query.
	companions struct {
		sync.Mutex
		byCond map[string]companion
	}
}

// companion is a rendering of the rows a write reaches (see FromWhere).
type companion struct {
	with, from string
	err        error
}

// withScope is what a write can read of the WITH clause around it: the
// read-only queries, which softfk's companion statements may repeat, and
// the names of the data-modifying ones, which they must not.
type withScope struct {
	readOnly  []*pg_query.Node // CommonTableExpr nodes
	recursive bool
	modifying map[string]bool
}

// scopeOf splits a WITH clause into a scope. A read-only query that reads
// a data-modifying one counts as data-modifying itself.
func scopeOf(w *pg_query.WithClause) withScope {
	sc := withScope{modifying: map[string]bool{}}
	if w == nil {
		return sc
	}
	sc.recursive = w.Recursive
	for _, n := range w.Ctes {
		c := n.GetCommonTableExpr()
		if c == nil {
			continue
		}
		if c.Ctequery.GetSelectStmt() == nil || mentions([]*pg_query.Node{c.Ctequery}, sc.modifying) {
			sc.modifying[c.Ctename] = true
			continue
		}
		sc.readOnly = append(sc.readOnly, n)
	}
	return sc
}

// SetValue returns the value an UPDATE assigns to column, if it does.
func (w *Write) SetValue(column string) (Value, bool) { return setValue(w.Set, column) }

func setValue(set []Assignment, column string) (Value, bool) {
	for _, a := range set {
		if a.Column == column {
			return a.Value, true
		}
	}
	return Value{}, false
}

// Pinned returns the columns of the target table that an UPDATE's or
// DELETE's WHERE compares with = to a constant or a parameter, at its top
// level or in a top-level AND, when the statement reads no other table
// (FROM, USING): every row it writes has those values. nil otherwise.
func (w *Write) Pinned() []string {
	var cols []string
	for _, pv := range w.pinnedValues() {
		cols = append(cols, pv.column)
	}
	return cols
}

// Listed counts, for each column of the target table that an UPDATE's or
// DELETE's WHERE compares with IN to a list of constants or parameters
// (at its top level or in a top-level AND, when the statement reads no
// other table), the values listed for it: every row it writes has one of
// them in that column.
func (w *Write) Listed() map[string]int {
	counts := map[string]int{}
	for _, lv := range w.listedValues() {
		counts[lv.column]++
	}
	return counts
}

// pinnedValue is one condition of a WHERE that pins a column to a value.
type pinnedValue struct {
	column string
	value  Value
}

// pinnedValues are the conditions that pin the columns Pinned returns, in
// the order they are written.
func (w *Write) pinnedValues() []pinnedValue {
	var out []pinnedValue
	w.conditions(func(e *pg_query.A_Expr) {
		if !isEquality(e, pg_query.A_Expr_Kind_AEXPR_OP) {
			return
		}
		for _, side := range [][2]*pg_query.Node{{e.Lexpr, e.Rexpr}, {e.Rexpr, e.Lexpr}} {
			if c, ok := w.ownColumn(side[0]); ok {
				if v := valueOf(side[1]); v.Kind == Const || v.Kind == Param {
					out = append(out, pinnedValue{column: c, value: v})
				}
				return
			}
		}
	})
	return out
}

// listedValues are the values of the conditions column IN (value, ...) of
// the WHERE whose values are all constants or parameters, in the order
// they are written, each as a value the column is compared with.
func (w *Write) listedValues() []pinnedValue {
	var out []pinnedValue
	w.conditions(func(e *pg_query.A_Expr) {
		if !isEquality(e, pg_query.A_Expr_Kind_AEXPR_IN) {
			return
		}
		c, ok := w.ownColumn(e.Lexpr)
		list := e.Rexpr.GetList()
		if !ok || list == nil {
			return
		}
		values := make([]pinnedValue, len(list.Items))
		for i, item := range list.Items {
			if values[i] = (pinnedValue{column: c, value: valueOf(item)}); values[i].value.Kind != Const && values[i].value.Kind != Param {
				return
			}
		}
		out = append(out, values...)
	})
	return out
}

// isEquality reports whether e is an expression of kind with the operator
// = (for IN, the comparison with each value of the list).
func isEquality(e *pg_query.A_Expr, kind pg_query.A_Expr_Kind) bool {
	return e.Kind == kind && len(e.Name) == 1 && e.Name[0].GetString_().GetSval() == "="
}

// conditions calls visit with each operator expression ANDed at the top
// of an UPDATE's or DELETE's WHERE, when it reads no other table.
func (w *Write) conditions(visit func(e *pg_query.A_Expr)) {
	if len(w.from) > 0 || w.where == nil {
		return
	}
	var walk func(n *pg_query.Node)
	walk = func(n *pg_query.Node) {
		if b := n.GetBoolExpr(); b != nil && b.Boolop == pg_query.BoolExprType_AND_EXPR {
			for _, arg := range b.Args {
				walk(arg)
			}
			return
		}
		if e := n.GetAExpr(); e != nil {
			visit(e)
		}
	}
	walk(w.where)
}

// ownColumn returns the column a column reference names when it is one of
// the target table's: unqualified, or qualified by the statement's name for
// the table.
func (w *Write) ownColumn(n *pg_query.Node) (string, bool) {
	return columnOf(n, w.Table)
}

// columnOf returns the column a column reference names when it is one of
// table r's: unqualified, or qualified by the statement's name for r.
func columnOf(n *pg_query.Node, r Relation) (string, bool) {
	ref := n.GetColumnRef()
	if ref == nil {
		return "", false
	}
	var names []string
	for _, f := range ref.Fields {
		s := f.GetString_()
		if s == nil {
			return "", false // a.*
		}
		names = append(names, s.Sval)
	}
	switch {
	case len(names) == 1:
		return names[0], true
	case len(names) == 2 && names[0] == r.RefName():
		return names[1], true
	case len(names) == 3 && r.Alias == "" && names[0] == r.Schema && names[1] == r.Name:
		return names[2], true
	}
	return "", false
}

// FromWhere renders the rows an UPDATE or DELETE reaches, for a companion
// SELECT: from is "FROM <target> [, <from list>] [WHERE <condition>]" and
// with is "" or the "WITH <read-only queries> " that must precede the
// SELECT. It fails when the rows depend on a data-modifying WITH query,
// which a companion statement cannot repeat.
func (w *Write) FromWhere() (with, from string, err error) {
	return w.FromWhereAnd("")
}

// FromWhereAnd is FromWhere with cond (an SQL condition, or "" for none)
// ANDed to the statement's own WHERE.
func (w *Write) FromWhereAnd(cond string) (with, from string, err error) {
	w.companions.Lock()
	defer w.companions.Unlock()
	c, ok := w.companions.byCond[cond]
	if !ok {
		c.with, c.from, c.err = w.renderFromWhere(cond)
		if w.companions.byCond == nil {
			w.companions.byCond = map[string]companion{}
		}
		w.companions.byCond[cond] = c
	}
	return c.with, c.from, c.err
}

// renderFromWhere renders FromWhereAnd's answer.
func (w *Write) renderFromWhere(cond string) (with, from string, err error) {
	if cond == "" {
		return w.fromWhere(w.where)
	}
	where, err := conditions.get(cond, parseCondition)
	if err != nil {
		return "", "", err
	}
	if w.where != nil {
		where = &pg_query.Node{Node: &pg_query.Node_BoolExpr{BoolExpr: &pg_query.BoolExpr{
			Boolop: pg_query.BoolExprType_AND_EXPR, Args: []*pg_query.Node{w.where, where}}}}
	}
	return w.fromWhere(where)
}

// conditions remembers the parse trees of the conditions FromWhereAnd is
// given: a handful of softfk's own, parsed once rather than for every
// statement. The trees are shared, never changed.
var conditions = newGenerations[*pg_query.Node](64)

// parseCondition parses an SQL condition.
func parseCondition(cond string) (*pg_query.Node, error) {
	tree, err := pg_query.Parse("SELECT WHERE " + cond)
	if err != nil {
		return nil, err
	}
	return tree.Stmts[0].Stmt.GetSelectStmt().WhereClause, nil
}

func (w *Write) fromWhere(where *pg_query.Node) (with, from string, err error) {
	if with, err = w.withPrefix(); err != nil {
		return "", "", err
	}
	out, err := deparseSelect(&pg_query.SelectStmt{
		FromClause:  append([]*pg_query.Node{{Node: &pg_query.Node_RangeVar{RangeVar: w.rel}}}, w.from...),
		WhereClause: where,
	})
	if err != nil {
		return "", "", err
	}
	return with, strings.TrimPrefix(out, "SELECT "), nil
}

// withPrefix renders "" or the "WITH <read-only queries> " a companion
// SELECT over the rows the write reaches must start with. It fails when
// those rows depend on a data-modifying WITH query, which a companion
// statement cannot repeat.
func (w *Write) withPrefix() (string, error) {
	if mentions(append([]*pg_query.Node{w.where}, w.from...), w.scope.modifying) {
		return "", fmt.Errorf("the rows written depend on a data-modifying WITH query")
	}
	if len(w.scope.readOnly) == 0 {
		return "", nil
	}
	out, err := deparseSelect(&pg_query.SelectStmt{WithClause: &pg_query.WithClause{Ctes: w.scope.readOnly, Recursive: w.scope.recursive}})
	return strings.TrimSuffix(out, "SELECT"), err
}

// analyzer holds the query string being analysed.
type analyzer struct {
	base int
	text string
	// outer is the scope of the WITH clause around the statement being
	// analysed, for a data-modifying WITH query.
	outer *withScope
}

// scope is the WITH scope of a write with its own clause w (usually nil
// inside a WITH query, whose scope is the clause around it).
func (a *analyzer) scope(w *pg_query.WithClause) withScope {
	if w == nil && a.outer != nil {
		return *a.outer
	}
	return scopeOf(w)
}

// insert describes an INSERT.
func (a *analyzer) insert(s *pg_query.InsertStmt) []Target {
	w := &Write{Kind: Insert, Table: relation(s.Relation), Returning: len(s.ReturningList) > 0, rel: s.Relation, scope: a.scope(s.WithClause)}
	targets := a.withTargets(s.WithClause)
	for _, c := range s.Cols {
		rt := c.GetResTarget()
		if len(rt.Indirection) > 0 {
			return append(targets, Target{Kind: Insert, Relation: w.Table, Unsupported: "INSERT into a subfield or array element"})
		}
		w.Columns = append(w.Columns, rt.Name)
	}
	switch sel := s.SelectStmt.GetSelectStmt(); {
	case s.SelectStmt == nil:
		w.DefaultValues = true
	case isPlainValues(sel):
		for _, list := range sel.ValuesLists {
			var row []Value
			for _, item := range list.GetList().Items {
				row = append(row, valueOf(item))
			}
			w.Rows = append(w.Rows, row)
		}
	}
	if oc := s.OnConflictClause; oc != nil {
		w.OnConflict = DoNothing
		if oc.Action == pg_query.OnConflictAction_ONCONFLICT_UPDATE {
			w.OnConflict, w.conflict = DoUpdate, oc
			w.Set = assignments(oc.TargetList)
		}
	}
	return append(targets, Target{Kind: Insert, Relation: w.Table, Write: w})
}

// isPlainValues reports a bare VALUES list (no ORDER BY, LIMIT, WITH).
func isPlainValues(sel *pg_query.SelectStmt) bool {
	return sel != nil && len(sel.ValuesLists) > 0 && len(sel.SortClause) == 0 &&
		sel.LimitCount == nil && sel.LimitOffset == nil && sel.WithClause == nil && sel.Op == pg_query.SetOperation_SETOP_NONE
}

// update describes an UPDATE.
func (a *analyzer) update(s *pg_query.UpdateStmt) []Target {
	w := &Write{Kind: Update, Table: relation(s.Relation), Returning: len(s.ReturningList) > 0,
		Set: assignments(s.TargetList), from: s.FromClause, where: s.WhereClause, rel: s.Relation, scope: a.scope(s.WithClause)}
	w.CurrentOf = s.WhereClause.GetCurrentOfExpr() != nil
	return append(a.withTargets(s.WithClause), Target{Kind: Update, Relation: w.Table, Write: w})
}

// delete describes a DELETE.
func (a *analyzer) delete(s *pg_query.DeleteStmt) []Target {
	w := &Write{Kind: Delete, Table: relation(s.Relation), Returning: len(s.ReturningList) > 0,
		from: s.UsingClause, where: s.WhereClause, rel: s.Relation, scope: a.scope(s.WithClause)}
	w.CurrentOf = s.WhereClause.GetCurrentOfExpr() != nil
	return append(a.withTargets(s.WithClause), Target{Kind: Delete, Relation: w.Table, Write: w})
}

// assignments reads SET targets. A column assigned as part of (a, b) =
// ROW(x, y) gets its own element of the row; one assigned through a
// subscript or field, or from a sub-SELECT's row, counts as computed.
func assignments(list []*pg_query.Node) []Assignment {
	var out []Assignment
	for _, n := range list {
		rt := n.GetResTarget()
		if rt == nil {
			continue
		}
		v := valueOf(rt.Val)
		if m := rt.Val.GetMultiAssignRef(); m != nil {
			v = Value{Kind: Computed, node: rt.Val}
			if row := m.Source.GetRowExpr(); row != nil && len(row.Args) == int(m.Ncolumns) && m.Colno >= 1 && int(m.Colno) <= len(row.Args) {
				v = valueOf(row.Args[m.Colno-1])
			}
		}
		if len(rt.Indirection) > 0 {
			v = Value{Kind: Computed, node: rt.Val}
		}
		out = append(out, Assignment{Column: rt.Name, Value: v})
	}
	return out
}

// valueOf classifies an expression written into a column.
func valueOf(n *pg_query.Node) Value {
	switch {
	case n == nil:
		return Value{Kind: Default}
	case n.GetSetToDefault() != nil:
		return Value{Kind: Default, node: n}
	case n.GetParamRef() != nil:
		return Value{Kind: Param, Param: int(n.GetParamRef().Number), node: n}
	case n.GetAConst() != nil:
		c := n.GetAConst()
		if c.Isnull {
			return Value{Kind: Null, node: n}
		}
		if lit, ok := constLiteral(c); ok {
			return Value{Kind: Const, Literal: lit, node: n}
		}
	case n.GetTypeCast() != nil:
		tc := n.GetTypeCast()
		inner := valueOf(tc.Arg)
		typ, ok := typeNameSQL(tc.TypeName)
		if ok && (inner.Kind == Const || inner.Kind == Param) && inner.Cast == "" {
			inner.Cast, inner.node = typ, n
			return inner
		}
		if ok && inner.Kind == Null {
			return Value{Kind: Null, node: n}
		}
	}
	return Value{Kind: Computed, node: n}
}

// constLiteral renders a constant as SQL.
func constLiteral(c *pg_query.A_Const) (string, bool) {
	switch v := c.Val.(type) {
	case *pg_query.A_Const_Ival:
		return strconv.Itoa(int(v.Ival.Ival)), true
	case *pg_query.A_Const_Fval:
		return v.Fval.Fval, true
	case *pg_query.A_Const_Boolval:
		return strconv.FormatBool(v.Boolval.Boolval), true
	case *pg_query.A_Const_Sval:
		return QuoteLiteral(v.Sval.Sval), true
	case *pg_query.A_Const_Bsval:
		s := v.Bsval.Bsval
		if len(s) > 0 && (s[0] == 'b' || s[0] == 'x') {
			return strings.ToUpper(s[:1]) + "'" + s[1:] + "'", true
		}
	}
	return "", false
}

// typeNameSQL renders a plain type name (qualified names, constant type
// modifiers, array bounds); anything fancier is not rendered.
func typeNameSQL(t *pg_query.TypeName) (string, bool) {
	if t == nil || t.Setof || t.PctType || len(t.Names) == 0 {
		return "", false
	}
	var parts []string
	for _, n := range t.Names {
		s := n.GetString_()
		if s == nil {
			return "", false
		}
		parts = append(parts, config.QuoteIdent(s.Sval))
	}
	out := strings.Join(parts, ".")
	if len(t.Typmods) > 0 {
		var mods []string
		for _, m := range t.Typmods {
			c := m.GetAConst()
			if c == nil {
				return "", false
			}
			lit, ok := constLiteral(c)
			if !ok {
				return "", false
			}
			mods = append(mods, lit)
		}
		out += "(" + strings.Join(mods, ",") + ")"
	}
	for range t.ArrayBounds {
		out += "[]"
	}
	return out, true
}

// escapeLiteral doubles what an E” literal must escape; unescapeLiteral
// undoes it.
var (
	escapeLiteral   = strings.NewReplacer(`\`, `\\`, `'`, `''`)
	unescapeLiteral = strings.NewReplacer(`\\`, `\`, `''`, `'`)
)

// QuoteLiteral renders s as a string literal that means the same whatever
// standard_conforming_strings says.
func QuoteLiteral(s string) string {
	if !strings.ContainsAny(s, `'\`) {
		return "'" + s + "'"
	}
	return "E'" + escapeLiteral.Replace(s) + "'"
}

// LiteralText returns the text a type's input function reads for a
// constant the parser rendered (Value.Literal): a string literal (as
// QuoteLiteral renders it), an integer or a boolean. ok is false for
// anything else (a decimal, which an integer column would round where its
// input function fails; a bit string), and for NULL.
func LiteralText(lit string) (text string, ok bool) {
	switch {
	case strings.HasPrefix(lit, "E'") && strings.HasSuffix(lit, "'") && len(lit) >= 3:
		return unescapeLiteral.Replace(lit[2 : len(lit)-1]), true
	case strings.HasPrefix(lit, "'") && strings.HasSuffix(lit, "'") && len(lit) >= 2:
		body := lit[1 : len(lit)-1]
		return body, !strings.ContainsAny(body, `'\`)
	case lit == "true" || lit == "false":
		return lit, true
	}
	digits := strings.TrimPrefix(lit, "-")
	if digits == "" {
		return "", false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return "", false
		}
	}
	return lit, true
}

// treeVersion is the parse tree version of the linked libpg_query, which
// the deparser requires on the trees it is given.
var treeVersion = func() int32 {
	tree, err := pg_query.Parse("SELECT")
	if err != nil {
		return 0
	}
	return tree.Version
}()

// deparseSelect renders a SELECT statement built from parsed pieces.
func deparseSelect(sel *pg_query.SelectStmt) (string, error) {
	sel.LimitOption = pg_query.LimitOption_LIMIT_OPTION_DEFAULT
	sel.Op = pg_query.SetOperation_SETOP_NONE
	tree := &pg_query.ParseResult{Version: treeVersion, Stmts: []*pg_query.RawStmt{{Stmt: &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: sel}}}}}
	return pg_query.Deparse(tree)
}

// deparseExpr renders one expression.
func deparseExpr(n *pg_query.Node) (string, error) {
	out, err := deparseSelect(&pg_query.SelectStmt{TargetList: []*pg_query.Node{{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{Val: n}}}}})
	if err != nil {
		return "", err
	}
	return strings.TrimPrefix(out, "SELECT "), nil
}

// Deterministic reports whether evaluating the value twice surely gives the
// same result: constants, parameters, column references, operators and a
// few well-known immutable functions. softfk re-evaluates such values in
// its own companion statements; anything else it must not.
func (v Value) Deterministic() bool {
	switch v.Kind {
	case Const, Param, Null:
		return true
	case Default:
		return false
	}
	return deterministic(v.node)
}

// immutableFuncs are functions softfk may evaluate again on its own.
var immutableFuncs = map[string]bool{
	"lower": true, "upper": true, "btrim": true, "ltrim": true, "rtrim": true, "concat": true,
	"nullif": true, "abs": true, "substr": true, "substring": true, "replace": true, "left": true,
	"right": true, "md5": true, "lpad": true, "rpad": true, "round": true, "trunc": true,
}

func deterministic(n *pg_query.Node) bool {
	switch {
	case n == nil:
		return true
	case n.GetAConst() != nil, n.GetParamRef() != nil, n.GetColumnRef() != nil:
		return true
	case n.GetTypeCast() != nil:
		return deterministic(n.GetTypeCast().Arg)
	case n.GetAExpr() != nil:
		e := n.GetAExpr()
		return deterministic(e.Lexpr) && deterministic(e.Rexpr)
	case n.GetBoolExpr() != nil:
		return allDeterministic(n.GetBoolExpr().Args)
	case n.GetNullTest() != nil:
		return deterministic(n.GetNullTest().Arg)
	case n.GetCoalesceExpr() != nil:
		return allDeterministic(n.GetCoalesceExpr().Args)
	case n.GetCaseExpr() != nil:
		c := n.GetCaseExpr()
		return deterministic(c.Arg) && deterministic(c.Defresult) && allDeterministic(c.Args)
	case n.GetCaseWhen() != nil:
		return deterministic(n.GetCaseWhen().Expr) && deterministic(n.GetCaseWhen().Result)
	case n.GetList() != nil:
		return allDeterministic(n.GetList().Items)
	case n.GetFuncCall() != nil:
		f := n.GetFuncCall()
		name := f.Funcname[len(f.Funcname)-1].GetString_()
		return name != nil && immutableFuncs[name.Sval] && !f.AggStar && f.Over == nil && allDeterministic(f.Args)
	}
	return false
}

func allDeterministic(ns []*pg_query.Node) bool {
	for _, n := range ns {
		if !deterministic(n) {
			return false
		}
	}
	return true
}

// ParamsUsed lists the parameter numbers an SQL text references, in order
// of first appearance. softfk asks it about its own statements, a
// kilobyte and more, each time it plans a prepared write: results are
// remembered by text, and computed from the tokens, not from a parse tree
// (every $n token is a parameter reference; parsing and walking such a
// statement costs a millisecond, scanning it a fifth of that). The caller
// must not change the slice.
func ParamsUsed(sql string) ([]int, error) {
	return paramsUsed.get(sql, scanParams)
}

// paramsUsed remembers ParamsUsed's answers.
var paramsUsed = newGenerations[[]int](256)

// scanParams lists the parameters of sql from its tokens.
func scanParams(sql string) ([]int, error) {
	scan, err := pg_query.Scan(sql)
	if err != nil {
		return nil, err
	}
	seen := map[int]bool{}
	var out []int
	for _, t := range scan.Tokens {
		if t.Token != pg_query.Token_PARAM {
			continue
		}
		n, err := strconv.Atoi(sql[t.Start+1 : t.End])
		if err != nil {
			return nil, fmt.Errorf("parameter %q: %w", sql[t.Start:t.End], err)
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// walk calls visit on m and on every message nested in it.
func walk(m protoreflect.Message, visit func(protoreflect.Message)) {
	visit(m)
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Kind() != protoreflect.MessageKind:
		case fd.IsList():
			for i := 0; i < v.List().Len(); i++ {
				walk(v.List().Get(i).Message(), visit)
			}
		case !fd.IsMap():
			walk(v.Message(), visit)
		}
		return true
	})
}

// mentions reports whether any of the nodes names, as an unqualified
// table, one of names.
func mentions(nodes []*pg_query.Node, names map[string]bool) bool {
	found := false
	for _, n := range nodes {
		if n == nil {
			continue
		}
		walk(n.ProtoReflect(), func(m protoreflect.Message) {
			if rv, ok := m.Interface().(*pg_query.RangeVar); ok && rv.Schemaname == "" && names[rv.Relname] {
				found = true
			}
		})
	}
	return found
}
