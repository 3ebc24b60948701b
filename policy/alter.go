package policy

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
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
		retyped := false
		if matches(a.Table, r.Table) && r.childSide() {
			cond := guard(a.Table, r.Child)
			switch {
			case a.Attach != nil:
				partition := config.TableName{Schema: cmp.Or(a.Attach.Schema, r.Table.Schema), Name: a.Attach.Name}
				as := *r.reportedAs()
				as.Table = partition
				named := *r
				named.reported = &as
				b.plan.After = append(b.plan.After, validation(&named, relationSQL(*a.Attach), cond, true))
			case retypes(a, r.Columns):
				b.retypedValidation(r, a, cond, true)
				retyped = true
			}
		}
		if matches(a.Table, r.RefTable) && r.parentSide() {
			cond := guard(a.Table, r.Parent)
			switch {
			case a.Detach != nil && a.Concurrently:
				b.plan.Unverifiable = &Unverifiable{Reason: "DETACH PARTITION CONCURRENTLY of a referenced table", Rel: r}
				return
			case a.Detach != nil:
				b.plan.After = append(b.plan.After, removal(r, *a.Detach, cond))
			case retypes(a, r.RefColumns) && !retyped:
				// The ALTER locks the referenced table: no parent can go.
				b.retypedValidation(r, a, cond, false)
			}
		}
	}
}

// retypedValidation validates relationship r after an ALTER that changes
// the type of one of its key columns, as Postgres adds its FOREIGN KEY
// again: it refuses key types it cannot compare (42804), then validates
// the rows (see validation). The key types the ALTER leaves are read just
// before it, the new ones named as it names them (see keyTypesProbe);
// after it, either the refusal follows, where the ALTER names r's table
// (cond), or the validation. A shadow relationship reports the refusal
// and validates nothing: its keys cannot be compared.
func (b *planBuilder) retypedValidation(r *Rel, a *parser.Alter, cond string, lock bool) {
	b.capture(&Step{SQL: keyTypesProbe(r, a)}, func(rows [][]*string) {
		specs := map[string][2]string{}
		for _, row := range rows {
			if len(row) == 3 && row[0] != nil && row[1] != nil && row[2] != nil {
				specs[*row[0]] = [2]string{*row[1], *row[2]}
			}
		}
		for j := range r.Columns {
			child, parent := specs[strconv.Itoa(2*j)], specs[strconv.Itoa(2*j+1)]
			if parseKeyType(parent[0]).accepts(parseKeyType(child[0])) {
				continue
			}
			signal := fmt.Sprintf("'%s' || json_build_array(%d, true, '%s', %s, %s, %s, %s)::text", SignalPrefix, r.Index, kindIncompatible,
				parser.QuoteLiteral(r.Columns[j]), parser.QuoteLiteral(r.RefColumns[j]), parser.QuoteLiteral(child[1]), parser.QuoteLiteral(parent[1]))
			b.work.add(validationStep(r, "", "", "SELECT "+joinNonEmpty(" WHERE ", signal, cond)), nil)
			return
		}
		b.work.add(validation(r.retyped(a), TableRef(r.Child), cond, lock), nil)
	})
}

// keyTypesProbe renders the query that reads the key types of r's column
// pairs as they are once the ALTER a has run, each as CatalogQuery
// describes a column's (see keyTypeSpec) with the name Postgres's errors
// give it: one row per column, numbered 2j for the referencing column of
// pair j, 2j+1 for the referenced one. A column a retypes has the type a
// names (none, when the name does not resolve), the others the type they
// have.
func keyTypesProbe(r *Rel, a *parser.Alter) string {
	typeOf := func(table config.TableName, col string) string {
		if matches(a.Table, table) {
			if i := slices.Index(a.Retyped, col); i >= 0 {
				return "CAST(to_regtype(" + parser.QuoteLiteral(a.RetypedTo[i]) + ") AS oid)"
			}
		}
		return "(SELECT t.atttypid FROM pg_catalog.pg_attribute t WHERE t.attrelid = to_regclass(" + parser.QuoteLiteral(table.String()) +
			") AND t.attname = " + parser.QuoteLiteral(col) + ")"
	}
	var rows []string
	for j := range r.Columns {
		rows = append(rows, fmt.Sprintf("(%d, %s)", 2*j, typeOf(r.Table, r.Columns[j])), fmt.Sprintf("(%d, %s)", 2*j+1, typeOf(r.RefTable, r.RefColumns[j])))
	}
	return "WITH RECURSIVE " + baseTypeCTEs + strings.TrimSuffix(keyTypeCTEs, ",\n") + "\nSELECT x.n, " + keyTypeSpec +
		", format_type(x.t, NULL) FROM (VALUES " + strings.Join(rows, ", ") + ") x(n, t)\n" + keyTypeJoins("x.t")
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

// validation renders a check that every row of rows (a FROM item with r's
// referencing columns) has its parent under r, as PostgreSQL validates a
// foreign key (whatever session_replication_role says). With lock, the
// parents are locked FOR KEY SHARE in the same statement, before they are
// looked for, so that none can be deleted before the transaction ends.
func validation(r *Rel, rows, cond string, lock bool) *Step {
	keys := qualified("c", r.Columns)
	parents, with := TableRef(r.Parent), ""
	if lock {
		refs := qualified("p", r.RefColumns)
		with = fmt.Sprintf("WITH softfk_locked AS MATERIALIZED (SELECT %s FROM %s p WHERE EXISTS (SELECT FROM %s c WHERE %s) FOR KEY SHARE OF p) ",
			strings.Join(refs, ", "), TableRef(r.Parent), rows, parentMatch(r, refs, keys))
		parents = "softfk_locked"
	}
	violates, signal := keyViolation(r, keys, parents, "")
	return validationStep(r, "", with, fmt.Sprintf("SELECT %s FROM %s c WHERE %s LIMIT 1", signal, rows, joinNonEmpty(" AND ", cond, violates)))
}

// removal renders a check that no row of r's referencing table references
// a key of partition, just detached from r's referenced table, as
// PostgreSQL checks before it detaches one. (The DETACH locks the
// partition: no referencing row can take one of its keys meanwhile.)
func removal(r *Rel, partition parser.Relation, cond string) *Step {
	keys, refs := qualified("c", r.Columns), qualified("d", r.RefColumns)
	referenced := fmt.Sprintf("EXISTS (SELECT FROM %s d WHERE %s)", relationSQL(partition), parentMatch(r, refs, keys))
	signal := fmt.Sprintf("'%s' || json_build_array(%d, true, '%s', %s)::text", SignalPrefix, r.Index, kindRemoved, keyText(keys))
	return validationStep(r, partition.Name, "", fmt.Sprintf("SELECT %s FROM %s c WHERE %s LIMIT 1", signal, TableRef(r.Child),
		joinNonEmpty(" AND ", cond, nullCount(keys)+" = 0", referenced)))
}

// validationStep renders the check whose query (after with) returns the
// signal of the first violation of r, if any: an enforced check raises
// it, a shadow check returns it.
func validationStep(r *Rel, removed, with, query string) *Step {
	check := &Check{rels: map[int]*Rel{r.Index: r}, Shadow: r.Mode == config.Shadow, Side: ChildSide, removed: removed}
	if removed != "" {
		check.Side = ParentSide
	}
	sql := with + query
	if !check.Shadow {
		sql = with + "SELECT CAST((" + query + ") AS int4)"
	}
	return &Step{SQL: sql, Check: check}
}
