package policy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/parser"
)

// alter plans what PostgreSQL validates of a FOREIGN KEY after an ALTER
// TABLE, in the statement's transaction right after it:
//   - a partition attached to a referencing table: each of its rows has
//     its parent (the error names the partition);
//   - a partition detached from a referenced table: no referencing row
//     keeps a key that was in it;
//   - a key column whose type changes, on either side: each referencing
//     row has its parent.
//
// A DETACH ... CONCURRENTLY of a referenced table's partition runs in
// transactions of its own, where no check can follow it: unverifiable.
// Columns and constraints it drops go first (see alterDrops), and with
// them the relationships that need them.
func (b *planBuilder) alter(a *parser.Alter) {
	dropped := b.alterDrops(a)
	if b.plan.Refuse != nil {
		return
	}
	if a.Triggers != parser.TriggersKept {
		b.plan.After = append(b.plan.After, &Step{SQL: triggerSwitchSQL(a)})
	}
	for _, r := range b.rels {
		if !r.usable() || r.reported != nil || dropped[r] {
			continue // views are not altered as tables
		}
		if matches(a.Table, r.Table) && r.childSide() {
			cond := guard(a.Table, r.Child)
			switch {
			case a.Attach != nil:
				partition := config.TableName{Schema: cmp.Or(a.Attach.Schema, r.Table.Schema), Name: a.Attach.Name}
				as := *r.reportedAs()
				as.Table = partition
				named := *r
				named.reported = &as
				b.validate(&named, relationSQL(*a.Attach), cond, true)
			case retypes(a, r.Columns):
				b.validate(r.retyped(a), TableRef(r.Child), cond, true)
			}
		}
		if matches(a.Table, r.RefTable) && r.parentSide() {
			cond := guard(a.Table, r.Parent)
			switch {
			case a.Detach != nil && a.Concurrently:
				b.plan.Unverifiable = &Unverifiable{Reason: "DETACH PARTITION CONCURRENTLY of a referenced table", Rel: r}
				return
			case a.Detach != nil:
				b.removal(r, *a.Detach, cond)
			case retypes(a, r.RefColumns):
				// The ALTER locks the referenced table: no parent can go.
				b.validate(r.retyped(a), TableRef(r.Child), cond, false)
			}
		}
	}
}

// triggerSwitchSQL renders the statement that records, after a
// superuser's ALTER TABLE ... DISABLE (or ENABLE) TRIGGER ALL, that the
// RI triggers of the table it names no longer (or again) fire, so that
// softfk's checks of writes into it do not (or do) apply (see
// EnforcedOn). The record is a setting of the session's, which Postgres
// drops if the transaction aborts, as it drops the ALTER's own change. For any other user
// Postgres refuses to switch a real FOREIGN KEY's triggers (they are
// system triggers): nothing is recorded, and softfk goes on checking.
func triggerSwitchSQL(a *parser.Alter) string {
	value := "CASE WHEN s = ',' || o || ',' THEN '' ELSE replace(s, ',' || o || ',', ',') END"
	if a.Triggers == parser.TriggersDisabled {
		value = "CASE WHEN strpos(s, ',' || o || ',') > 0 THEN s WHEN s = '' THEN ',' || o || ',' ELSE s || o || ',' END"
	}
	where := "o IS NOT NULL AND (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)"
	if !a.Table.Inh {
		// ALTER TABLE ONLY of a partitioned table switches only its own
		// triggers, not those of its partitions, where its rows are.
		where += " AND (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = CAST(o AS oid)) <> 'p'"
	}
	return fmt.Sprintf("SELECT set_config('%s', %s, false) FROM (SELECT %s AS s, CAST(CAST(to_regclass(%s) AS oid) AS text) AS o) t WHERE %s",
		triggersOffSetting, value, triggersOff, parser.QuoteLiteral(relationSQL(a.Table)), where)
}

// retyped returns r as its validation after ALTER a compares the keys:
// the catalog facts read before the ALTER describe a retyped column's old
// type, so how to compare its values (operator, cast, collation) is left
// to PostgreSQL's resolution of a plain = for the new types.
func (r *Rel) retyped(a *parser.Alter) *Rel {
	cp := *r
	cp.ChildCols, cp.ParentCols = slices.Clone(r.ChildCols), slices.Clone(r.ParentCols)
	for j := range r.Columns {
		if matches(a.Table, r.Table) && slices.Contains(a.Retyped, r.Columns[j]) {
			cp.ChildCols[j] = cp.ChildCols[j].typeForgotten()
		}
		if matches(a.Table, r.RefTable) && slices.Contains(a.Retyped, r.RefColumns[j]) {
			cp.ParentCols[j] = cp.ParentCols[j].typeForgotten()
		}
	}
	return &cp
}

// retypes reports whether the ALTER changes the type of one of cols.
func retypes(a *parser.Alter, cols []string) bool {
	return slices.ContainsFunc(a.Retyped, func(c string) bool { return slices.Contains(cols, c) })
}

// relationSQL renders a relation as the statement named it.
func relationSQL(rel parser.Relation) string {
	if rel.Schema == "" {
		return config.QuoteIdent(rel.Name)
	}
	return config.TableName{Schema: rel.Schema, Name: rel.Name}.String()
}

// validate adds a check that every row of rows (a FROM item with r's
// referencing columns) has its parent under r, as PostgreSQL validates a
// foreign key (whatever session_replication_role says). With lock, the
// parents are locked FOR KEY SHARE in the same statement, before they are
// looked for, so that none can be deleted before the transaction ends.
func (b *planBuilder) validate(r *Rel, rows, cond string, lock bool) {
	keys := qualified("c", r.Columns)
	parents, with := TableRef(r.Parent), ""
	if lock {
		refs := qualified("p", r.RefColumns)
		with = fmt.Sprintf("WITH softfk_locked AS MATERIALIZED (SELECT %s FROM %s p WHERE EXISTS (SELECT FROM %s c WHERE %s) FOR KEY SHARE OF p) ",
			strings.Join(refs, ", "), TableRef(r.Parent), rows, parentMatch(r, refs, keys))
		parents = "softfk_locked"
	}
	violates, signal := keyViolation(r, keys, parents, "")
	b.addValidation(r, "", with, fmt.Sprintf("SELECT %s FROM %s c WHERE %s LIMIT 1", signal, rows, joinNonEmpty(" AND ", cond, violates)))
}

// removal adds a check that no row of r's referencing table references a
// key of partition, just detached from r's referenced table, as
// PostgreSQL checks before it detaches one. (The DETACH locks the
// partition: no referencing row can take one of its keys meanwhile.)
func (b *planBuilder) removal(r *Rel, partition parser.Relation, cond string) {
	keys, refs := qualified("c", r.Columns), qualified("d", r.RefColumns)
	referenced := fmt.Sprintf("EXISTS (SELECT FROM %s d WHERE %s)", relationSQL(partition), parentMatch(r, refs, keys))
	signal := fmt.Sprintf("'%s' || json_build_array(%d, true, '%s', %s)::text", SignalPrefix, r.Index, kindRemoved, keyText(keys))
	b.addValidation(r, partition.Name, "", fmt.Sprintf("SELECT %s FROM %s c WHERE %s LIMIT 1", signal, TableRef(r.Child),
		joinNonEmpty(" AND ", cond, nullCount(keys)+" = 0", referenced)))
}

// addValidation adds the check whose query (after with) returns the
// signal of the first violation of r, if any: an enforced check raises
// it, a shadow check returns it.
func (b *planBuilder) addValidation(r *Rel, removed, with, query string) {
	check := &Check{rels: map[int]*Rel{r.Index: r}, Shadow: r.Mode == config.Shadow, Side: ChildSide, removed: removed}
	if removed != "" {
		check.Side = ParentSide
	}
	sql := with + query
	if !check.Shadow {
		sql = with + "SELECT CAST((" + query + ") AS int4)"
	}
	b.plan.After = append(b.plan.After, &Step{SQL: sql, Check: check})
}
