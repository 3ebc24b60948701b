package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/parser"
)

// merge plans a MERGE. Postgres 15's MERGE has no RETURNING list, so softfk
// works out before the statement what each clause will write, with the
// MERGE's own source, join and conditions: the source rows no target row
// matches and the values their INSERT clause gives them; the target rows
// that do match (locked as the MERGE will lock them), and the key each
// DELETE removes or each UPDATE sets. After the statement, the new child
// keys are checked and each deleted or changed parent key gets its
// relationship's action, as after an INSERT, UPDATE or DELETE.
func (b *planBuilder) merge(w *parser.Write, asChild, asParent []*Rel) {
	b.mergeSides = map[bool]int{}
	if len(asChild) > 0 && !b.mergeChild(w, asChild) {
		return
	}
	if len(asParent) > 0 {
		b.mergeParent(w, asParent, "MERGE")
	}
	if b.plan.Unverifiable == nil {
		b.countMerge(w, append(asChild[:len(asChild):len(asChild)], asParent...))
	}
}

// countMerge guards a MERGE's captures against READ COMMITTED, where the
// MERGE, with a snapshot of its own, may act on rows its captures did not
// see: a target row another transaction committed meanwhile (or while a
// capture waited for a lock), or a source row that now matches, or no
// longer does. Each WHEN clause of a captured side (see
// planBuilder.mergeSides) counts, in a setting local to the transaction,
// the rows it acts on; after the MERGE, when a clause acted on more or
// fewer rows than the capture found for it, the statement fails as a
// serialization failure, which clients retry, instead of leaving such a
// row's children unchecked. Shadow relationships count nothing (nothing
// fails for them).
func (b *planBuilder) countMerge(w *parser.Write, rels []*Rel) {
	r := firstEnforced(rels)
	if r == nil || len(b.mergeSides) == 0 {
		return
	}
	counted := func(c int) bool {
		_, captured := b.mergeSides[w.Merge[c].Matched]
		return captured && w.Merge[c].Kind != parser.Other
	}
	var names []string
	ins, err := b.st.MergeGuards(func(c int) string {
		if !counted(c) {
			return ""
		}
		names = append(names, mergeCounter(c))
		return countedSQL(mergeCounter(c))
	})
	if err != nil {
		b.plan.Unverifiable = &Unverifiable{Reason: "a MERGE softfk cannot analyse (" + err.Error() + ")", Rel: r}
		return
	}
	b.countIn(ins, names)
	var compares []capture
	for _, matched := range []bool{false, true} {
		at, captured := b.mergeSides[matched]
		if !captured {
			continue
		}
		compares = append(compares, capture{step: b.work.captured[at].step, apply: func(rows [][]*string) {
			found := map[int]int{}
			for _, row := range rows {
				if row[0] != nil {
					if c, err := strconv.Atoi(*row[0]); err == nil {
						found[c-1]++
					}
				}
			}
			var same []string
			for c := range w.Merge {
				if w.Merge[c].Matched == matched && counted(c) {
					same = append(same, fmt.Sprintf("current_setting('%s') = '%d'", mergeCounter(c), found[c]))
				}
			}
			b.work.add(&Step{SQL: "SELECT CAST(CASE WHEN " + strings.Join(same, " AND ") + " THEN NULL ELSE " + conflictSignal(r) + " END AS int4)",
				Check: &Check{rels: map[int]*Rel{r.Index: r}, Side: ParentSide}}, nil)
		}})
	}
	b.work.captured = append(compares, b.work.captured...)
}

// mergeCounter names the setting in which a MERGE's WHEN clause c (from
// 0) counts the rows it acts on (see countMerge).
func mergeCounter(c int) string { return "softfk.merged_" + strconv.Itoa(c+1) }

// mergeChild plans the checks of the child keys a MERGE writes; it reports
// false when the MERGE is unverifiable.
func (b *planBuilder) mergeChild(w *parser.Write, rels []*Rel) bool {
	t := rels[0].Child
	cols := unionColumns(rels, func(r *Rel) []string { return r.Columns })
	colIdx := indexOf(cols)
	order := columnsInOrder(t)
	ref := config.QuoteIdent(w.Table.RefName())
	inserts, updates := false, false
	reason := ""
	// Each row's new keys, then whether it keeps each relationship's key.
	width := len(cols) + len(rels)
	keys := func(c *parser.MergeClause) []string {
		out := make([]string, width)
		for i := range out {
			out[i] = "NULL"
		}
		switch {
		case c.Kind == parser.Insert && t.insertTriggersMayChange(cols),
			c.Kind == parser.Update && t.updateTriggersMayChange(cols):
			// A key they are about to get is not the one they get.
			reason = "keys that BEFORE " + c.Kind.String() + " triggers may change"
		case c.Kind == parser.Insert:
			inserts = true
			for i, col := range cols {
				v := c.InsertValue(col, position(order, col))
				if v.Kind == parser.Default && !t.Columns[col].Default {
					continue // no default: NULL
				}
				if out[i], reason = assignedText(v, t, col, true); reason != "" {
					return out
				}
			}
		case c.Kind == parser.Update && setsAnyOf(t.assignments(c.SetValue), cols):
			updates = true
			var exprs []string
			if exprs, reason = newKeyExprs(ref, c.SetValue, t, cols, true); reason == "" {
				copy(out, exprs)
				copy(out[len(cols):], keepsKeys(w, rels, cols, exprs))
			}
		}
		return out
	}
	for _, matched := range []bool{false, true} {
		inserts, updates = false, false
		sql, err := w.MergeQuery(matched, width, keys)
		if err != nil && reason == "" {
			reason = "a MERGE softfk cannot analyse (" + err.Error() + ")"
		}
		if reason != "" {
			b.plan.Unverifiable = &Unverifiable{Reason: "MERGE writing " + reason, Rel: rels[0]}
			return false
		}
		if !inserts && !updates {
			continue
		}
		step := &Step{SQL: sql, Source: w, Command: b.command()}
		if b.env.Extended {
			b.bindClientParams(step)
		}
		b.capture(step, func(rows [][]*string) {
			b.work.childRows(rels, w.Table, cols, colIdx, columnsOf(rows, 1, width), true)
		})
		b.mergeSides[matched] = len(b.work.captured) - 1
	}
	return true
}

// mergeParent plans the actions for the parent keys a MERGE deletes or
// changes; what names the statement in the reason of a refusal.
func (b *planBuilder) mergeParent(w *parser.Write, rels []*Rel, what string) {
	t := rels[0].Parent
	cols := refColumnsOf(rels)
	ref := config.QuoteIdent(w.Table.RefName())
	touches := false
	reason := ""
	out := func(c *parser.MergeClause) []string {
		row := make([]string, 2*len(cols))
		for i := range row {
			row[i] = "NULL"
		}
		if c.Kind == parser.Update && t.updateTriggersMayOverride(cols, setsAnyOf(t.assignments(c.SetValue), cols)) {
			reason = "rows whose referenced keys BEFORE UPDATE triggers may change"
			return row
		}
		if c.Kind != parser.Delete && (c.Kind != parser.Update || !setsAnyOf(t.assignments(c.SetValue), cols)) {
			return row
		}
		touches = true
		copy(row, rowTexts(ref, t, cols))
		if c.Kind == parser.Update {
			newKeys, why := newKeyExprs(ref, c.SetValue, t, cols, needsNewKey(rels))
			if why != "" {
				reason = why
				return row
			}
			copy(row[len(cols):], newKeys)
		}
		return row
	}
	sql, err := w.MergeQuery(true, 2*len(cols), out)
	if err != nil && reason == "" {
		reason = "a statement softfk cannot analyse (" + err.Error() + ")"
	}
	if reason != "" {
		b.plan.Unverifiable = &Unverifiable{Reason: what + " changing " + reason, Rel: rels[0]}
		return
	}
	if !touches || !b.conflictCheck(w, rels) {
		return
	}
	step := &Step{SQL: sql, Source: w, Command: b.command()}
	if b.env.Extended {
		b.bindClientParams(step)
	}
	kinds := make([]parser.Kind, len(w.Merge))
	for i, c := range w.Merge {
		kinds[i] = c.Kind
	}
	n := len(cols)
	b.capture(step, func(rows [][]*string) {
		var deleted, updated [][]*string
		for _, r := range rows {
			if r[0] == nil {
				continue
			}
			clause, err := strconv.Atoi(*r[0])
			if err != nil || clause < 1 || clause > len(kinds) {
				continue
			}
			switch kinds[clause-1] {
			case parser.Delete:
				deleted = append(deleted, r[1:1+n])
			case parser.Update:
				updated = append(updated, r[1:])
			}
		}
		b.work.deleted(t, w.Table, cols, deleted)
		b.work.changed(event{table: t, guard: guard(w.Table, t), cols: cols,
			old: columnsOf(updated, 0, n), new: columnsOf(updated, n, n)})
	})
	if b.mergeSides != nil { // a MERGE's capture, not an upsert's (see upsertRace)
		b.mergeSides[true] = len(b.work.captured) - 1
	}
}

// upsertParent plans the actions for the parent keys an INSERT ... ON
// CONFLICT DO UPDATE changes in the rows it finds in conflict, as for
// the MERGE it amounts to (see parser.Write.UpsertMerge), when its
// arbiter holds every referenced key (so that a row in conflict has the
// key the INSERT proposes; see upsertRace).
func (b *planBuilder) upsertParent(w *parser.Write, rels []*Rel) {
	t := rels[0].Parent
	unverifiable := func(why string) {
		b.plan.Unverifiable = &Unverifiable{Reason: "ON CONFLICT DO UPDATE of a referenced key" + why, Rel: rels[0]}
	}
	if t.View != nil {
		unverifiable(" through a view")
		return
	}
	u, err := w.UpsertMerge(parser.UpsertTable{
		Columns: columnsInOrder(t),
		Type:    func(c string) string { return t.Columns[c].Type },
		Eq:      func(c string) string { return t.Columns[c].eq() },
		ConstraintColumns: func(name string) []string {
			for _, idx := range t.Indexes {
				if idx.Constraint == name && idx.UniqueKey() {
					return idx.Prefix
				}
			}
			return nil
		},
	})
	if err != nil {
		unverifiable(" (" + err.Error() + ")")
		return
	}
	for _, r := range rels {
		for _, c := range r.RefColumns {
			if !slices.Contains(u.Arbiter, c) {
				unverifiable(" with an arbiter other than the key")
				return
			}
		}
	}
	b.upsertRace(u, rels)
	b.mergeParent(u.Merge, rels, "ON CONFLICT DO UPDATE")
}

// upsertRace guards an upsert's capture against what READ COMMITTED lets
// an upsert do: find in conflict, and update, a row that another
// transaction inserted and had not committed when softfk read the rows in
// conflict, which the capture therefore missed. The arbiter holds the key,
// so such a row had the key the INSERT proposed: before the capture, the
// proposed keys no row matches are read, and after the statement, if one
// of them is gone (the upsert changed it after all, its ON UPDATE action
// perhaps unseen), the statement fails as a serialization failure, which
// clients retry. This also covers a row committed between the capture and
// the statement. (Under REPEATABLE READ and SERIALIZABLE Postgres itself
// refuses to update a row its snapshot does not show.)
func (b *planBuilder) upsertRace(u *parser.Upsert, rels []*Rel) {
	var enforced *Rel
	for _, r := range rels {
		if r.Mode == config.Enforce {
			enforced = r
			break
		}
	}
	if enforced == nil {
		return
	}
	sql, err := u.Unmatched()
	if err != nil {
		b.plan.Unverifiable = &Unverifiable{Reason: "ON CONFLICT DO UPDATE softfk cannot analyse (" + err.Error() + ")", Rel: enforced}
		return
	}
	step := &Step{SQL: sql, Source: u.Merge, Command: b.command()}
	if b.env.Extended {
		b.bindClientParams(step)
	}
	t := enforced.Parent
	types := make([]string, len(u.Arbiter))
	eq := make([]string, len(u.Arbiter))
	for i, c := range u.Arbiter {
		types[i] = t.Columns[c].Type
		eq[i] = "p." + config.QuoteIdent(c) + " " + t.Columns[c].eq() + " k.c" + strconv.Itoa(i)
	}
	cond := joinNonEmpty(" AND ", readCommitted, EnforcedOn(t), guard(u.Merge.Table, t))
	b.capture(step, func(rows [][]*string) {
		if len(rows) == 0 {
			return
		}
		src := jsonSource("$1", types)
		check := &Check{rels: map[int]*Rel{enforced.Index: enforced}, Side: ParentSide}
		b.work.add(&Step{SQL: fmt.Sprintf("SELECT CAST((SELECT %s FROM (%s) %s WHERE %s AND NOT EXISTS (SELECT FROM %s p WHERE %s) LIMIT 1) AS int4)",
			conflictSignal(enforced), src.body, src.columns(), cond, TableRef(t), strings.Join(eq, " AND ")),
			Args: []Arg{{Text: jsonRows(rows)}}, Types: []uint32{0}, Check: check}, nil)
	})
}

// setsAnyOf reports whether set assigns any of cols.
func setsAnyOf(set func(string) (parser.Value, bool), cols []string) bool {
	for _, c := range cols {
		if _, ok := set(c); ok {
			return true
		}
	}
	return false
}

// position returns where name is in names, or -1.
func position(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}
