package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/parser"
)

// parentWork is the continuation of a plan whose checks need the
// statement's results: new child keys to check, deleted or changed parent
// keys whose children need their ON DELETE / ON UPDATE action, and the
// cascades those actions cause, round after round.
type parentWork struct {
	db       *DB
	rels     []*Rel
	hidden   []hiddenUse
	captured []capture

	steps []*Step // steps of the round being built
	// checks are the round's checks of referencing keys, which run after
	// its steps: Postgres fires a row's referenced-side RI triggers (its
	// actions and NO ACTION or RESTRICT checks) before its
	// referencing-side ones, whose names sort after theirs.
	checks  []*Step
	cascade []func(rows [][]*string)
	started bool
}

// capture is a Before step whose rows (rows the statement is about to
// write, read just before it) feed apply once the statement has run; step
// is its index among the collecting Before steps.
type capture struct {
	step  int
	apply func(rows [][]*string)
}

// event is a set of parent rows whose keys went away or changed.
type event struct {
	table *Table
	guard string   // condition that the statement's table is this one ("" none)
	cols  []string // key columns in old/new
	old   [][]*string
	new   [][]*string // nil for a delete, or with updated
	// updated says the rows were updated, their new keys unknown (see
	// updateParentByTriggers): their ON UPDATE action (NO ACTION) applies,
	// each old key checked as one that went away.
	updated bool
	// inSetting says the keys are not in old: a DELETE left them in the
	// session setting deletedKeys (see afterFewRowsDelete).
	inSetting bool
	// mayRemain says the rows may still be there (a DO INSTEAD rule
	// rewrote their DELETE): only keys no row has any more went away.
	mayRemain bool
}

// Next turns what the last round collected into the next round's steps.
func (w *parentWork) Next(c Collected) []*Step {
	w.steps, w.checks = nil, nil
	if !w.started {
		w.started = true
		for _, h := range w.hidden {
			h.apply(columnsOf(c.Hidden, h.from, h.n))
		}
		for _, cp := range w.captured {
			if cp.step < len(c.Steps) {
				cp.apply(c.Steps[cp.step])
			}
		}
		return append(w.steps, w.checks...)
	}
	// What each step of the last round set off comes in that step's order,
	// as Postgres fires the events each RI action's statement queued after
	// those queued before it; among one step's, the referenced side's first.
	cascades := w.cascade
	w.cascade = nil
	var round []*Step
	for i, apply := range cascades {
		if i < len(c.Steps) {
			w.steps, w.checks = nil, nil
			apply(c.Steps[i])
			round = append(append(round, w.steps...), w.checks...)
		}
	}
	return round
}

// columnsOf slices columns [from, from+n) out of each row.
func columnsOf(rows [][]*string, from, n int) [][]*string {
	out := make([][]*string, 0, len(rows))
	for _, r := range rows {
		if from+n <= len(r) {
			out = append(out, r[from:from+n])
		}
	}
	return out
}

// add queues a step; collect, when set, receives its rows next round.
func (w *parentWork) add(s *Step, collect func([][]*string)) {
	if collect != nil {
		s.Collect = true
		w.cascade = append(w.cascade, collect)
	}
	w.steps = append(w.steps, s)
}

// childRows checks new child keys (columns cols of rows) against rels.
// With kept, each row carries after its keys one flag per relationship of
// rels, "true" when the row kept that relationship's key (see oldRows.kept):
// Postgres does not check such a row for it, and neither does softfk.
func (w *parentWork) childRows(rels []*Rel, ref parser.Relation, cols []string, colIdx map[string]int, rows [][]*string, kept bool) {
	types := make([]string, len(cols))
	for i, c := range cols {
		types[i] = rels[0].Child.Columns[c].Type
	}
	keptAt := -1
	if kept {
		rows = changedRows(rows, len(cols), len(rels))
		keptAt = len(cols)
		for range rels {
			types = append(types, "boolean")
		}
	}
	if len(rows) == 0 {
		return
	}
	args := []Arg{{Text: jsonRows(rows)}}
	w.checks = append(w.checks, childCheckSteps(rels, ref, colIdx, keptAt, jsonSource("$1", types), args)...)
}

// changedRows keeps the rows whose flags, n of them from position at, do
// not all say "true": rows that changed some relationship's key.
func changedRows(rows [][]*string, at, n int) [][]*string {
	var out [][]*string
	for _, row := range rows {
		for _, f := range row[at : at+n] {
			if f == nil || *f != "true" {
				out = append(out, row)
				break
			}
		}
	}
	return out
}

// childCheckSteps builds the checks of new child keys read from src (whose
// columns are placed by colIdx) against rels: one enforced and one shadow
// step, as needed. args are the values of src's parameters. When keptAt is
// not negative, src's column keptAt+i says whether a row kept the key of
// relationship rels[i], and such rows are not checked for it.
func childCheckSteps(rels []*Rel, ref parser.Relation, colIdx map[string]int, keptAt int, src keySource, args []Arg) []*Step {
	var steps []*Step
	for _, shadow := range []bool{false, true} {
		check := &Check{rels: map[int]*Rel{}, Shadow: shadow, Side: ChildSide}
		var violations []violationQuery
		for i, r := range rels {
			if (r.Mode == config.Shadow) != shadow {
				continue
			}
			idx := make([]int, len(r.Columns))
			for j, c := range r.Columns {
				idx[j] = colIdx[c]
			}
			r, g := r, guard(ref, r.Child)
			if keptAt >= 0 {
				g = joinNonEmpty(" AND ", g, "k.c"+strconv.Itoa(keptAt+i)+" IS NOT TRUE")
			}
			violations = append(violations, func(from string) string { return childViolations(r, from, idx, g, !shadow) })
			check.rels[r.Index] = r
		}
		if len(violations) > 0 {
			types := make([]uint32, len(args))
			steps = append(steps, &Step{SQL: checkSQL(src, violations, shadow), Args: args, Types: types, Check: check})
		}
	}
	return steps
}

// deleted handles parent rows a DELETE removed.
func (w *parentWork) deleted(t *Table, ref parser.Relation, cols []string, rows [][]*string) {
	w.changed(event{table: t, guard: guard(ref, t), cols: cols, old: rows})
}

// changed runs, in relationship order, each action for rows of e.table
// whose key went away (delete) or changed (update).
func (w *parentWork) changed(e event) {
	if len(e.old) == 0 && !e.inSetting {
		return
	}
	isUpdate := e.new != nil
	types := make([]string, len(e.cols))
	for i, c := range e.cols {
		types[i] = e.table.Columns[c].Type
	}
	width := len(e.cols)
	srcTypes := types
	if isUpdate {
		srcTypes = append(append([]string(nil), types...), types...)
	}
	var keys keyFeed
	if e.inSetting {
		keys.src = jsonSource(deletedKeysRead, srcTypes)
	} else {
		rows := e.old
		if isUpdate {
			rows = make([][]*string, len(e.old))
			for i := range e.old {
				rows[i] = append(append([]*string(nil), e.old[i]...), e.new[i]...)
			}
		}
		keys = keyFeed{src: jsonSource("$1", srcTypes), args: []Arg{{Text: jsonRows(rows)}}}
	}
	src := keys.src
	colIdx := indexOf(e.cols)
	for _, r := range w.rels {
		if !r.usable() || r.Parent != e.table || !r.parentSide() {
			continue
		}
		action := r.OnDelete
		if isUpdate || e.updated {
			action = r.OnUpdate
		}
		idx := make([]int, len(r.RefColumns))
		newIdx := make([]int, len(r.RefColumns))
		affected := true
		for j, c := range r.RefColumns {
			i, ok := colIdx[c]
			affected = affected && ok
			idx[j], newIdx[j] = i, i+width
		}
		if !affected {
			continue // the statement left this relationship's key alone
		}
		cond := e.guard
		if e.mayRemain {
			cond = joinNonEmpty(" AND ", cond, fmt.Sprintf("NOT EXISTS (SELECT FROM %s p WHERE %s)", TableRef(r.Parent), refKeysEqual(r, qualified("p", r.RefColumns), kColumns(idx))))
		}
		if isUpdate {
			// As Postgres does on the referenced side, a key changed when
			// its value looks different, even if it compares equal: 1 set
			// to 1.0 cascades the new scale, and RESTRICT refuses it. The
			// text of a value tells its looks apart.
			cond = joinNonEmpty(" AND ", cond, "ROW("+textCols(idx)+") IS DISTINCT FROM ROW("+textCols(newIdx)+")")
		}
		shadow := r.Mode == config.Shadow
		check := &Check{rels: map[int]*Rel{r.Index: r}, Shadow: shadow, Side: ParentSide}
		switch {
		case action == config.NoAction || action == config.Restrict:
			w.add(keys.step(checkSQL(src, []violationQuery{parentCheck(r, idx, cond, action == config.NoAction)}, shadow), check), nil)
		case shadow:
			// Shadow mode never changes data: it reports the rows the action
			// would touch.
			w.add(keys.step(actionReportSQL(src, r, idx, cond, action), check), nil)
		default:
			w.action(r, keys, idx, newIdx, cond, action, isUpdate)
		}
	}
}

// action applies CASCADE, SET NULL or SET DEFAULT to the children of the
// changed parent keys, collecting what the next round must look at.
func (w *parentWork) action(r *Rel, keys keyFeed, idx, newIdx []int, cond string, action config.Action, isUpdate bool) {
	where := joinNonEmpty(" AND ", EnforcedOn(r.Parent), cond, childMatch(r, kColumns(idx), qualified("c", r.Columns)))
	if action == config.Cascade && !isUpdate {
		// The children go too; if they are parents themselves, their keys
		// start the next round.
		grand := w.parentRelsOf(r.Child)
		sql := fmt.Sprintf("DELETE FROM %s c USING %s WHERE %s", TableRef(r.Child), keys.src.from(), where)
		if len(grand) == 0 {
			w.add(keys.step(sql, nil), nil)
			return
		}
		cols := refColumnsOf(grand)
		w.lockerCheck(r.Child, grand[0], keys, where)
		if r.Child.rewritesInstead(parser.Delete) {
			// Postgres takes no RETURNING there: the keys are read, and
			// locked, just before, and those no row has afterwards go on
			// (see underRules).
			w.add(keys.step(fmt.Sprintf("SELECT %s FROM %s c, %s WHERE %s FOR UPDATE OF c", textColumns("c", cols), TableRef(r.Child), keys.src.from(), where), nil),
				func(rows [][]*string) { w.changed(event{table: r.Child, cols: cols, old: rows, mayRemain: true}) })
			w.add(keys.step(sql, nil), nil)
			return
		}
		w.add(keys.step(sql+" RETURNING "+textColumns("c", cols), nil), func(rows [][]*string) {
			w.changed(event{table: r.Child, cols: cols, old: rows})
		})
		return
	}
	set := make([]string, len(r.Columns))
	for j, c := range r.Columns {
		value := "NULL"
		switch action {
		case config.Cascade:
			value = "k.c" + strconv.Itoa(newIdx[j])
		case config.SetDefault:
			value = "DEFAULT"
		}
		set[j] = config.QuoteIdent(c) + " = " + value
	}
	// A default, or a BEFORE UPDATE trigger's value, must itself satisfy
	// the relationship: Postgres checks it after its update.
	w.updateChildren(r, keys, where, set, action == config.SetDefault || r.Child.updateTriggersMayChange(r.Columns))
	if action == config.SetDefault {
		// A child whose default is the key that just went away still
		// references it: Postgres runs its NO ACTION check right away,
		// before the checks of the children's new keys, which its update
		// queued.
		check := &Check{rels: map[int]*Rel{r.Index: r}, Side: ParentSide}
		w.add(keys.step(checkSQL(keys.src, []violationQuery{parentCheck(r, idx, cond, true)}, false), check), nil)
	}
}

// lockerCheck queues, before an action deletes or re-keys rows of child
// (those matching where) that grand references, the transaction-snapshot look
// for lockers of them the snapshot cannot see (see conflictCheckSQL).
func (w *parentWork) lockerCheck(child *Table, grand *Rel, keys keyFeed, where string) {
	check := &Check{rels: map[int]*Rel{grand.Index: grand}, Side: ParentSide, LockWaitConflicts: true}
	w.add(keys.step(conflictCheckSQL(grand, "c", "", fmt.Sprintf("FROM %s c, %s WHERE %s AND %s", TableRef(child), keys.src.from(), where, transactionSnapshot)), check), nil)
}

// updateChildren runs an action that updates r's children, those matching
// where (ON UPDATE CASCADE, SET NULL, SET DEFAULT), with the assignments
// set. With checkNew, the keys the children end up with are checked
// against r next round (those that changed, see oldRows.kept). Children
// that are parents too, referenced through a column the action sets, have
// their keys changed in turn: Postgres applies those relationships' ON
// UPDATE actions and checks to them, and so does the next round. Their old keys come from the update's
// own view of the rows (o, joined by row address), which is the version
// the update replaces because the rows are locked just before (under
// REPEATABLE READ, after a look for lockers the snapshot cannot see).
func (w *parentWork) updateChildren(r *Rel, keys keyFeed, where string, set []string, checkNew bool) {
	child, from := TableRef(r.Child), keys.src.from()
	var grand []*Rel
	for _, g := range w.parentRelsOf(r.Child) {
		if slices.ContainsFunc(g.RefColumns, func(c string) bool { return contains(r.Columns, c) }) {
			grand = append(grand, g)
		}
	}
	sql := fmt.Sprintf("UPDATE %s c SET %s FROM %s", child, strings.Join(set, ", "), from)
	keyCols := refColumnsOf(grand)
	var returned []string
	if len(grand) > 0 || checkNew {
		lock := "FOR NO KEY UPDATE"
		if len(grand) > 0 {
			w.lockerCheck(r.Child, grand[0], keys, where)
			lock = "FOR UPDATE" // the action changes keys others reference
		}
		w.add(keys.step(fmt.Sprintf("SELECT count(*) FROM (SELECT FROM %s c, %s WHERE %s %s OF c) l", child, from, where, lock), nil), nil)
		sql += ", " + child + " o"
		where += " AND o.tableoid = c.tableoid AND o.ctid = c.ctid"
		returned = append(columnTexts("o", keyCols), columnTexts("c", keyCols)...)
	}
	if checkNew {
		// As after any update, Postgres checks a row only where its key
		// changed or the transaction wrote the version it replaced.
		kept := keyKept(r, "o", func(c string) string { return "c." + config.QuoteIdent(c) })
		returned = append(append(returned, columnTexts("c", r.Columns)...), "("+kept+")::text")
	}
	sql += " WHERE " + where
	if len(returned) == 0 {
		w.add(keys.step(sql, nil), nil)
		return
	}
	w.add(keys.step(sql+" RETURNING "+strings.Join(returned, ", "), nil), func(rows [][]*string) {
		n := len(keyCols)
		if n > 0 {
			w.changed(event{table: r.Child, cols: keyCols, old: columnsOf(rows, 0, n), new: columnsOf(rows, n, n)})
		}
		if checkNew {
			w.childRows([]*Rel{r}, parser.Relation{Schema: r.Table.Schema, Name: r.Table.Name}, r.Columns, indexOf(r.Columns), columnsOf(rows, 2*n, len(r.Columns)+1), true)
		}
	})
}

// actionReportSQL renders, for shadow mode, a query returning one signal
// row when some child would be affected by the action.
func actionReportSQL(src keySource, r *Rel, idx []int, cond string, action config.Action) string {
	return fmt.Sprintf("SELECT '%s' || json_build_array(%d, %s, %s, %s)::text FROM %s WHERE %s LIMIT 1",
		SignalPrefix, r.Index, permExpr(r.Parent, r.RefColumns), parser.QuoteLiteral(string(action)), keyText(kColumns(idx)), src.from(),
		joinNonEmpty(" AND ", EnforcedOn(r.Parent), cond, fmt.Sprintf("EXISTS (SELECT FROM %s c WHERE %s)", TableRef(r.Child), childMatch(r, kColumns(idx), qualified("c", r.Columns)))))
}

// parentRelsOf lists the relationships in which t is the parent.
func (w *parentWork) parentRelsOf(t *Table) []*Rel {
	var out []*Rel
	for _, r := range w.rels {
		if r.usable() && r.Parent == t && r.parentSide() {
			out = append(out, r)
		}
	}
	return out
}

// parentCheck is the violation query of a parent-side check.
func parentCheck(r *Rel, idx []int, cond string, noAction bool) violationQuery {
	return func(from string) string { return parentViolations(r, from, idx, cond, noAction) }
}

// keyFeed is where the steps of an event read its keys (as k, see
// keySource): from the JSON rows they get as their one parameter, or from
// what src reads on the server, with no parameter.
type keyFeed struct {
	src  keySource
	args []Arg
}

// step is a step of sql reading the keys.
func (f keyFeed) step(sql string, check *Check) *Step {
	return &Step{SQL: sql, Args: f.args, Types: make([]uint32, len(f.args)), Check: check}
}

// jsonRows encodes rows of text values (nil for NULL) as a JSON array.
func jsonRows(rows [][]*string) string {
	b, _ := json.Marshal(rows)
	return string(b)
}

// textCols renders k's columns at positions idx as their text.
func textCols(idx []int) string {
	out := make([]string, len(idx))
	for j, i := range idx {
		out[j] = "k.c" + strconv.Itoa(i) + "::text"
	}
	return strings.Join(out, ", ")
}

// textColumns renders (alias.col)::text for each column, as a list.
func textColumns(alias string, columns []string) string {
	return strings.Join(columnTexts(alias, columns), ", ")
}

// columnTexts renders (alias.col)::text for each column.
func columnTexts(alias string, columns []string) []string {
	out := make([]string, len(columns))
	for i, c := range columns {
		out[i] = columnText(alias, c)
	}
	return out
}

// columnText renders (alias.column)::text.
func columnText(alias, column string) string {
	return "(" + alias + "." + config.QuoteIdent(column) + ")::text"
}

// rowTexts renders as text the columns cols of the rows that ref names in
// a statement on table t (see rowText).
func rowTexts(ref string, t *Table, cols []string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = rowText(ref, t, c)
	}
	return out
}

// rowText renders as text column c of the row that ref names in a
// statement on table t. When another table of t's name, which the
// statement's name may denote instead, may lack the column (see
// Column.Everywhere), the value is read from the whole row, where a missing
// column is NULL: softfk's additions must not make the statement invalid
// whichever table it reaches. A row of a table that inherits from t gives
// NULL.
func rowText(ref string, t *Table, c string) string {
	text := columnText(ref, c)
	if !t.Columns[c].Everywhere {
		text = "(to_jsonb(" + ref + ") ->> " + parser.QuoteLiteral(c) + ")"
	}
	return ownRows(ref, t, text)
}

// ownRows renders expr, a value of the row that ref names in a statement
// on table t, as NULL for a row of a table that inherits from t: t's
// foreign keys do not hold for such a row (its RI triggers do not fire),
// and a NULL key is checked by nothing.
func ownRows(ref string, t *Table, expr string) string {
	if !t.Inherited || t.View != nil {
		return expr
	}
	return "CASE WHEN " + ref + ".tableoid = " + liveOID(t) + " THEN " + expr + " END"
}
