package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/parser"
)

// SignalPrefix starts the text of the error a check raises on a violation:
// the check casts "softfk:<json>" to integer, which fails with a 22P02
// error whose message carries the JSON. A plain cast is all it takes: no
// function, no schema object.
const SignalPrefix = "softfk:"

// signalCode is the SQLSTATE of the failed cast (invalid_text_representation).
const signalCode = "22P02"

// Violation kinds carried in a signal.
const (
	kindMissing    = "missing"    // child key not present in the parent
	kindMixedNulls = "mixed"      // MATCH FULL with some but not all key columns null
	kindReferenced = "referenced" // parent key still referenced by a child
	kindConflict   = "conflict"   // a transaction snapshot cannot see what a concurrent transaction did
	kindRemoved    = "removed"    // key of a partition detached from the parent still referenced
	// key types a FOREIGN KEY cannot compare, after an ALTER ... TYPE
	kindIncompatible = "incompatible"
)

// replicaOff is the condition that the session is not a replica: RI
// triggers, like any trigger left in its default state, do not fire while
// session_replication_role is replica (as logical replication's apply
// workers and bulk loaders set it).
const replicaOff = "current_setting('session_replication_role') <> 'replica'"

// triggersOffSetting is the custom setting in which softfk keeps, for
// the session, the OIDs of the tables a superuser's ALTER TABLE ...
// DISABLE TRIGGER ALL switched the triggers of off, as ",oid,oid,"
// (empty when there are none). Postgres keeps a GUC change until the
// transaction that made it aborts, and keeps it for the session at
// COMMIT, as it does the catalog change of the ALTER TABLE itself.
const triggersOffSetting = "softfk.triggers_off"

// triggersOff is the current value of triggersOffSetting, "" when unset.
const triggersOff = "coalesce(current_setting('" + triggersOffSetting + "', true), '')"

// EnforcedOn renders the condition that a real FOREIGN KEY's RI triggers
// on table t would fire in the session now, so that the checks and
// actions of a write into t apply: the session is not a replica, and its
// superuser did not switch t's triggers off (see triggersOffSetting), nor
// those of a partitioned table t is a partition of (DISABLE TRIGGER ALL
// recurses to partitions). A view's are its table's: writes through it
// fire its table's triggers. The condition names no column: Postgres
// evaluates it once, before it reads or locks any row.
func EnforcedOn(t *Table) string {
	base, _ := t.underlying("")
	names := append([]config.TableName{base.Name}, base.PartitionOf...)
	on := make([]string, len(names))
	for i, n := range names {
		oid := "coalesce(CAST(CAST(to_regclass(" + parser.QuoteLiteral(n.String()) + ") AS oid) AS text), '')"
		on[i] = "strpos(" + triggersOff + ", ',' || " + oid + " || ',') = 0"
	}
	return replicaOff + " AND (" + triggersOff + " = '' OR " + strings.Join(on, " AND ") + ")"
}

// liveOID renders the OID of table t as the session resolves its
// qualified name when the SQL runs (NULL when there is none). softfk
// never writes an OID it read earlier into its SQL: a table rebuilt and
// renamed into place behind softfk's back, as online migration tools do,
// is still the guarded table.
func liveOID(t *Table) string {
	return "to_regclass(" + parser.QuoteLiteral(t.Name.String()) + ")"
}

// TableRef names a table in a query about its own rows: ONLY for plain
// tables (as Postgres's RI queries do), the whole tree for partitioned
// tables, whose rows all live in partitions, and for a view the rows of
// its table (see viewSource).
func TableRef(t *Table) string {
	switch {
	case t.View != nil:
		return viewSource(t)
	case t.Kind == 'p':
		return t.Name.String()
	}
	return "ONLY " + t.Name.String()
}

// qualified renders each column of cols qualified by the table name or
// alias ref.
func qualified(ref string, cols []string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = ref + "." + config.QuoteIdent(c)
	}
	return out
}

// castTo renders CAST(expr AS type).
func castTo(expr, typ string) string { return "CAST(" + expr + " AS " + typ + ")" }

// keySource is a set of key rows "k" with a row number n and key columns
// c0..cN, usable inline as a FROM item (cheapest, when one query reads it)
// or as a CTE shared by several.
type keySource struct {
	body  string // a query producing n, c0, ... in that order
	width int
	rows  int // number of rows, or -1 when known only at run time
}

// columns renders "k(n, c0, ...)".
func (k keySource) columns() string {
	cols := []string{"n"}
	for i := 0; i < k.width; i++ {
		cols = append(cols, "c"+strconv.Itoa(i))
	}
	return "k(" + strings.Join(cols, ", ") + ")"
}

// cte renders the source as a WITH item named k.
func (k keySource) cte() string { return k.columns() + " AS (" + k.body + ")" }

// from renders the source as an inline FROM item named k.
func (k keySource) from() string { return "(" + k.body + ") AS " + k.columns() }

// valuesSource builds k from VALUES rows of SQL expressions (already cast).
func valuesSource(rows [][]string) keySource {
	var b strings.Builder
	b.WriteString("VALUES ")
	for i, row := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "(%d", i+1)
		for _, e := range row {
			b.WriteString(", ")
			b.WriteString(e)
		}
		b.WriteString(")")
	}
	return keySource{body: b.String(), width: len(rows[0]), rows: len(rows)}
}

// jsonSource builds k from a JSON array of rows of text values (a
// parameter or literal), cast to types.
func jsonSource(jsonExpr string, types []string) keySource {
	var cols []string
	for i, t := range types {
		cols = append(cols, castTo("e.j->>"+strconv.Itoa(i), t))
	}
	return keySource{
		body:  "SELECT e.n, " + strings.Join(cols, ", ") + " FROM json_array_elements(" + jsonExpr + "::json) WITH ORDINALITY AS e(j, n)",
		width: len(types),
		rows:  -1,
	}
}

// kColumns names k's columns at positions idx.
func kColumns(idx []int) []string {
	cols := make([]string, len(idx))
	for i, j := range idx {
		cols[i] = "k.c" + strconv.Itoa(j)
	}
	return cols
}

// nullCount renders num_nulls over the key expressions.
func nullCount(keys []string) string {
	return "num_nulls(" + strings.Join(keys, ", ") + ")"
}

// keyText renders the key expressions as text for the signal's JSON,
// through each type's output function as Postgres's DETAIL shows them (a
// cast to text would differ for some types, e.g. boolean or inet).
func keyText(keys []string) string {
	var cols []string
	for _, c := range keys {
		cols = append(cols, "CASE WHEN "+c+" IS NOT NULL THEN format('%s', "+c+") END")
	}
	return strings.Join(cols, ", ")
}

// permExpr renders whether the current user may see the key values of
// table t's columns cols, as ri_ReportViolation decides whether to show
// them: no row security in force, and SELECT on the table or on every key
// column. It runs only on a violation, in the table that has it.
func permExpr(t *Table, cols []string) string {
	if t.View != nil {
		// The key shown is the view's table's (see Rel.reported).
		base := make([]string, len(cols))
		for i, c := range cols {
			_, base[i] = t.underlying(c)
		}
		t, _ = t.underlying("")
		cols = base
	}
	name := parser.QuoteLiteral(t.Name.String())
	var colPerm []string
	for _, c := range cols {
		colPerm = append(colPerm, fmt.Sprintf("has_column_privilege(%s, %s, 'SELECT')", name, parser.QuoteLiteral(config.QuoteIdent(c))))
	}
	return fmt.Sprintf("(NOT row_security_active(%s) AND (has_table_privilege(%s, 'SELECT') OR (%s)))",
		name, name, strings.Join(colPerm, " AND "))
}

// parentAlias and oldRowAlias name the tables of softfk's subqueries that
// sit inside a client's statement, next to the names the client gave its
// own tables: they must not be names a client would choose.
const (
	parentAlias = "softfk_parent"
	oldRowAlias = "softfk_old"
)

// childViolation renders, for relationship r and the child's new key
// values keys (SQL expressions), the condition that they violate r (a key
// with no parent row, or under MATCH FULL a key mixing nulls and values)
// and the signal text that reports it. With lock, the parent row found is
// locked FOR KEY SHARE, as Postgres's RI check does, so it cannot be
// deleted before this transaction ends.
func childViolation(r *Rel, keys []string, lock bool) (violates, signal string) {
	locking := ""
	if lock {
		locking = " FOR KEY SHARE OF " + parentAlias
	}
	violates, signal = keyViolation(r, keys, TableRef(r.Parent), locking)
	return EnforcedOn(r.Child) + " AND " + violates, signal
}

// keyViolation renders what childViolation does, whether or not foreign
// keys are enforced in the session, looking the parent row up in parents
// (a FROM item with r's referenced columns), with locking after it.
func keyViolation(r *Rel, keys []string, parents, locking string) (violates, signal string) {
	missing := fmt.Sprintf("NOT EXISTS (SELECT FROM %s %s WHERE %s%s)", parents, parentAlias, parentMatch(r, qualified(parentAlias, r.RefColumns), keys), locking)
	nulls := nullCount(keys)
	kind := "'" + kindMissing + "'"
	violates = nulls + " = 0 AND " + missing
	if r.Match == config.MatchFull && len(keys) > 1 {
		kind = fmt.Sprintf("CASE WHEN %s = 0 THEN '%s' ELSE '%s' END", nulls, kindMissing, kindMixedNulls)
		violates = fmt.Sprintf("((%s) OR %s BETWEEN 1 AND %d)", violates, nulls, len(keys)-1)
	}
	signal = fmt.Sprintf("'%s' || json_build_array(%d, %s, %s, %s)::text", SignalPrefix, r.Index, permExpr(r.Child, r.Columns), kind, keyText(keys))
	return violates, signal
}

// parentMatch renders the condition that the referenced key expressions
// parent and the referencing ones child (one per column of r's key) are
// equal, as PostgreSQL compares them to find the referenced row of a
// referencing key (RI_FKey_check, and the validation of existing rows):
// under the referenced column's collation.
func parentMatch(r *Rel, parent, child []string) string {
	return keysEqual(r, parent, child, func(p, _ Column) string { return p.collation })
}

// childMatch renders the same condition as PostgreSQL compares them to
// find the referencing rows of a referenced key (its NO ACTION, RESTRICT
// and action queries): under the referencing column's collation, unless
// the referenced one is nondeterministic and another.
func childMatch(r *Rel, parent, child []string) string {
	return keysEqual(r, parent, child, func(p, c Column) string {
		if p.nondeterministic && p.collation != c.collation {
			return p.collation
		}
		return c.collation
	})
}

// keysEqual renders parentMatch and childMatch, whose collation picks
// the collation of a pair of columns: with the referenced column's
// operators, a referencing value cast first when the types call for it
// (see keyType.castFrom). When collation picks none because the
// referenced column's type is unknown (retyped by the ALTER a validation
// follows, see Rel.retyped), the referencing value is read back from its
// text form as its base type, which leaves it the default collation, and
// so the referenced column's collation, whichever it is now, decides, as
// it does in PostgreSQL's validation.
func keysEqual(r *Rel, parent, child []string, collation func(p, c Column) string) string {
	eq := make([]string, len(parent))
	for j := range parent {
		p, c := r.ParentCols[j], r.ChildCols[j]
		value := c.typed(child[j])
		if cast := p.keyType.castFrom(c.keyType); cast != "" {
			value = "(" + value + ")" + cast
		}
		switch coll := collation(p, c); {
		case coll != "":
			value += " COLLATE " + coll
		case p.keyType.base == 0 && c.collation != "" && c.keyType.baseName != "":
			value = "CAST(CAST(" + value + " AS cstring) AS " + c.keyType.baseName + ")"
		}
		eq[j] = p.typed(parent[j]) + " " + p.eq() + " " + value
	}
	return strings.Join(eq, " AND ")
}

// refKeysEqual renders the condition that two referenced key
// expressions of r are equal, column by column.
func refKeysEqual(r *Rel, a, b []string) string {
	eq := make([]string, len(a))
	for j := range a {
		p := r.ParentCols[j]
		eq[j] = p.typed(a[j]) + " " + p.eq() + " " + p.typed(b[j])
	}
	return strings.Join(eq, " AND ")
}

// childViolations renders, for relationship r, the rows of k (holding the
// child's new key values at positions idx) that violate r.
func childViolations(r *Rel, from string, idx []int, cond string, lock bool) string {
	violates, signal := childViolation(r, kColumns(idx), lock)
	return fmt.Sprintf("SELECT k.n, %d AS r, %s AS v FROM %s WHERE %s", r.Index, signal, from, joinNonEmpty(" AND ", cond, violates))
}

// rowViolation renders an expression over a row a statement writes (its
// columns named through ref): the signal of its violation of relationship
// r, or NULL. The parent is looked up (and locked) only for a row that
// meets cond: CASE decides that first, where the planner would order the
// conditions of one WHERE by their cost (a row that kept its key would
// lock its parent, which Postgres leaves alone). A missing parent of a
// row that meets stale (when not "") is a serialization failure instead:
// the lookup could not see what a transaction the statement waited for
// committed (see oldRows.stale).
func rowViolation(r *Rel, ref, cond, stale string, lock bool) string {
	violates, signal := childViolation(r, qualified(ref, r.Columns), lock)
	if stale != "" {
		signal = "CASE WHEN " + stale + " THEN " + conflictSignal(r) + " ELSE " + signal + " END"
	}
	lookup := "(SELECT " + signal + " WHERE " + violates + ")"
	if cond == "" {
		return lookup
	}
	return "CASE WHEN " + cond + " THEN " + lookup + " END"
}

// oldRows reads, for a row an UPDATE (or ON CONFLICT DO UPDATE) wrote
// through ref into table t, the version it replaced, as the statement's
// own snapshot still shows it: by unique, a unique key the statement
// leaves alone. Values are read as text and cast back, so the SQL stays
// valid whichever table of its name the statement reaches (see rowText),
// and every table it may reach has xmin (see onlyTables); the guard, when
// the name is unqualified, keeps other tables from being looked at.
type oldRows struct {
	t          *Table
	ref, guard string
	unique     []string
	upsert     bool // the statement is an INSERT ... ON CONFLICT DO UPDATE
}

// lookup renders whether the snapshot shows a version of the row meeting
// conds (over oldRowAlias and ref).
func (o *oldRows) lookup(conds ...string) string {
	for _, c := range o.unique {
		col := o.t.Columns[c]
		conds = append(conds, fmt.Sprintf("%s %s %s", col.typed(oldRowAlias+"."+config.QuoteIdent(c)), col.eq(), castTo(rowText(o.ref, o.t, c), col.Type)))
	}
	found := fmt.Sprintf("EXISTS (SELECT FROM %s %s WHERE %s)", TableRef(o.t), oldRowAlias, strings.Join(conds, " AND "))
	if o.guard != "" {
		found = "CASE WHEN " + o.guard + " THEN " + found + " END"
	}
	return found
}

// kept renders whether the row kept relationship r's key: Postgres checks
// an updated referencing row only when its key changed (by the key type's
// =) or when the transaction wrote the row itself. The old row counts
// only if it is the very version the statement replaced: its xmax is the
// new row's xmin. Anything else counts as changed and is checked: a row
// the statement inserted, one locked by another transaction meanwhile,
// one READ COMMITTED updated in a newer version than the snapshot's.
func (o *oldRows) kept(r *Rel) string {
	a, written := oldRowAlias, o.ref+".xmin"
	return o.lookup(replacedBy(a, written), a+".xmin <> "+written,
		keyKept(r, a, func(c string) string { return castTo(rowText(o.ref, o.t, c), o.t.Columns[c].Type) }))
}

// stale renders whether the statement updated the row in a version newer
// than its snapshot: under READ COMMITTED it waited for the transaction
// that wrote that version, then updated it, while its snapshot shows no
// version it replaced (the one before, or none at all). Postgres's RI
// check, which runs after the statement, sees what that transaction
// committed, a parent it inserted included; the statement's own lookup
// does not. An upsert's row is an update where it carries the lock the
// upsert took on the row in conflict (its xmax is set; a new row's is 0).
func (o *oldRows) stale() string {
	stale := "NOT " + o.lookup(replacedBy(oldRowAlias, o.ref+".xmin"))
	if o.upsert {
		return "NOT (" + o.ref + ".xmax = '0'::xid) AND " + stale
	}
	return stale
}

// replacedBy renders whether the row version a was replaced by the
// transaction written (the new version's xmin): its xmax is that id, or,
// where a transaction still held a lock on the row, a MultiXact of which
// it is a member.
func replacedBy(a, written string) string {
	return "(" + a + ".xmax = " + written + " OR " + recentMember(a+".xmax", "m.xid = "+written) + ")"
}

// recentMember renders whether xmax, read as the number of a recent
// MultiXact, has a member m meeting cond. Nothing in SQL tells whether
// xmax holds a transaction id or a MultiXact's number: a number no recent
// MultiXact has (the last 2^24) is taken for a transaction id.
func recentMember(xmax, cond string) string {
	return fmt.Sprintf("CASE WHEN mxid_age(%[1]s) BETWEEN 1 AND 16777216 THEN EXISTS (SELECT FROM pg_get_multixact_members(%[1]s) m WHERE %[2]s) ELSE false END", xmax, cond)
}

// keyKept renders whether an update kept a row's key of relationship r
// as Postgres's check decides it: the transaction did not write the
// version old (an alias) that the update replaced, and the new version's
// key (each column c as newKey renders it) equals old's. Postgres checks
// an updated referencing row only when its key changed or the transaction
// wrote the version it replaced.
func keyKept(r *Rel, old string, newKey func(c string) string) string {
	conds := []string{old + ".xmin <> xid(pg_current_xact_id())"}
	for j, c := range r.Columns {
		conds = append(conds, sameKey(r, j, old+"."+config.QuoteIdent(c), newKey(c)))
	}
	return strings.Join(conds, " AND ")
}

// keepsKeys renders, for a capture of the rows an UPDATE or a MERGE's
// update (w) is about to write, whether each row keeps each of rels' keys,
// as text: Postgres checks an updated referencing row only when its key
// changes (see sameKey) or the transaction wrote the row itself (see
// oldRows.kept). newKeys are the texts of the keys (columns cols) the row is
// about to get. Where the name w writes through may denote a relation
// without xmin (see onlyTables), it renders NULL: the row is checked.
func keepsKeys(w *parser.Write, rels []*Rel, cols, newKeys []string) []string {
	out := make([]string, len(rels))
	ref := config.QuoteIdent(w.Table.RefName())
	for i, r := range rels {
		if !onlyTables(w, r.Child) {
			out[i] = "NULL"
			continue
		}
		out[i] = "(" + keyKept(r, ref, func(c string) string { return castTo(newKeys[slices.Index(cols, c)], r.Child.Columns[c].Type) }) + ")::text"
	}
	return out
}

// sameKey renders whether the referencing values old and new of r's key
// column j are the same as PostgreSQL decides whether an update changed
// a referencing key (ri_KeysEqual): by the equality of the referencing
// type, or of the referenced one after the cast the comparison of the
// two needs (see keyType.castFrom), under the database's default
// collation.
func sameKey(r *Rel, j int, old, new string) string {
	p, c := r.ParentCols[j], r.ChildCols[j]
	old, eq := c.typed(old), c.eq()
	if cast := p.keyType.castFrom(c.keyType); cast != "" {
		old, new, eq = "("+old+")"+cast, "("+new+")"+cast, p.eq()
	}
	if c.collation != "" {
		new += ` COLLATE pg_catalog."default"`
	}
	return old + " " + eq + " " + new
}

// parentViolations renders, for relationship r, the rows of k (holding the
// parent's old key values at positions idx) still referenced by a child.
// Under NO ACTION a key that exists again after the statement (another row
// took it) is fine; RESTRICT does not allow even that. The child rows found
// are locked FOR KEY SHARE, as Postgres's RI check does.
func parentViolations(r *Rel, from string, idx []int, cond string, noAction bool) string {
	violates := fmt.Sprintf("EXISTS (SELECT FROM (SELECT 1 FROM %s c WHERE %s LIMIT 1 FOR KEY SHARE OF c) s)",
		TableRef(r.Child), childMatch(r, kColumns(idx), qualified("c", r.Columns)))
	if noAction {
		violates = fmt.Sprintf("NOT EXISTS (SELECT FROM %s p WHERE %s) AND %s", TableRef(r.Parent), refKeysEqual(r, qualified("p", r.RefColumns), kColumns(idx)), violates)
	}
	return fmt.Sprintf("SELECT k.n, %d AS r, '%s' || json_build_array(%d, %s, '%s', %s)::text AS v FROM %s WHERE %s",
		r.Index, SignalPrefix, r.Index, permExpr(r.Parent, r.RefColumns), kindReferenced, keyText(kColumns(idx)), from,
		joinNonEmpty(" AND ", EnforcedOn(r.Parent), cond, nullCount(kColumns(idx))+" = 0", violates))
}

// violationQuery renders one relationship's violation query over k, given
// how k is referenced in FROM.
type violationQuery func(from string) string

// checkSQL combines violation queries over one key source into a check.
// Enforced, it raises the first violation (in row order, then
// relationship order, as Postgres fires its RI triggers) and, like them,
// looks no further: the rows after it look up, and lock, nothing. In
// shadow mode it returns one row per violated relationship instead, and
// never raises. A single query reads k inline, which plans and runs
// fastest; several read each row of k in turn.
func checkSQL(src keySource, violations []violationQuery, shadow bool) string {
	parts := func(from string) string {
		out := make([]string, len(violations))
		for i, v := range violations {
			out[i] = v(from)
		}
		return strings.Join(out, " UNION ALL ")
	}
	with := "WITH " + src.cte() + " "
	switch {
	case shadow && len(violations) == 1:
		return "SELECT DISTINCT ON (x.r) x.v FROM (" + parts(src.from()) + ") x ORDER BY x.r, x.n"
	case shadow:
		return with + "SELECT DISTINCT ON (x.r) x.v FROM (" + parts("k") + ") x ORDER BY x.r, x.n"
	case len(violations) == 1:
		// k's rows come in order, and so are they filtered.
		return "SELECT CAST((SELECT x.v FROM (" + parts(src.from()) + ") x LIMIT 1) AS int4)"
	}
	// Each row of k reaches the queries, which name it k, in turn.
	return with + "SELECT CAST((SELECT x.v FROM k, LATERAL (" + parts("(SELECT) AS softfk_row") + ") x LIMIT 1) AS int4)"
}

// keyExpr renders what a statement writes into column c as an SQL
// expression (to be cast to c's type); ok is false for values only the
// server can compute.
func keyExpr(v parser.Value, c Column) (string, bool) {
	var expr string
	switch v.Kind {
	case parser.Null:
		expr = "NULL"
	case parser.Default:
		if c.Default {
			return "", false
		}
		expr = "NULL"
	case parser.Const:
		expr = v.Literal
	case parser.Param:
		expr = "$" + strconv.Itoa(v.Param)
	default:
		return "", false
	}
	if v.Cast != "" {
		expr = castTo(expr, v.Cast)
	}
	return expr, true
}

// Under REPEATABLE READ and SERIALIZABLE a statement cannot see children
// inserted by transactions that committed after the transaction's
// snapshot; Postgres's RI check notices them through a second, current
// snapshot and raises a serialization failure. softfk has no second
// snapshot, but every child insert locks its parent row FOR KEY SHARE,
// which leaves the locker in the row's xmax. So before a parent row is
// deleted or its key changed, a locker the snapshot cannot see (one still
// running fails the lock) means a child may exist unseen: the statement
// fails with a serialization failure, to be retried like any other. A
// locker that rolled back counts too: its lock may have replaced that of
// one that committed. Lockers still in progress once the row is locked
// are our own savepoints (subtransactions), which do not count.

// fullXid renders the 64-bit id of the 32-bit xid expression x: the one
// nearest our own transaction id (which it assigns: the statement is about
// to write), within 2^31 before or after it, as Postgres relates xids. A
// child's inserter that began after us holds a newer id than ours.
func fullXid(x string) string {
	cur := "pg_current_xact_id()::text::bigint"
	return fmt.Sprintf("(%[1]s + ((%[2]s::text::bigint - (%[1]s & 4294967295) + 6442450944) %% 4294967296) - 2147483648)", cur, x)
}

// xidVisible renders whether the xid expression x is visible in the
// transaction's snapshot. A value that would precede the first
// transaction id cannot name a transaction (it is a MultiXact's, see
// xmaxConflict).
func xidVisible(x string) string {
	return fmt.Sprintf("(CASE WHEN %[1]s < 0 THEN true ELSE pg_visible_in_snapshot(%[1]s::text::xid8, pg_current_snapshot()) END)", fullXid(x))
}

// unseenLocker renders whether the xid expression x, known to name a
// transaction (not in the future, where pg_xact_status fails), names a
// locker that counts (see above): one the snapshot cannot see, not in
// progress. The snapshot lists the transactions running when it was taken,
// not their subtransactions: an id between its bounds that it does not
// list may be a subtransaction of one it lists, so it counts as unseen too
// when one of the listed, older than it, has committed since.
func unseenLocker(x string) string {
	full := fullXid(x) + "::text::xid8"
	snap := "pg_current_snapshot()"
	return fmt.Sprintf(`(CASE WHEN %[1]s < 0 THEN false
 WHEN pg_visible_in_snapshot(%[2]s, %[3]s) AND (%[2]s < pg_snapshot_xmin(%[3]s) OR NOT EXISTS (SELECT FROM pg_snapshot_xip(%[3]s) p
  WHERE p < %[2]s AND pg_xact_status(p) = 'committed')) THEN false
 ELSE pg_xact_status(%[2]s) IS DISTINCT FROM 'in progress' END)`, fullXid(x), full, snap)
}

// xmaxConflict renders the condition that the row's xmax names a locker
// other than our transaction, directly or as a member of a recent
// MultiXact, that counts (see unseenLocker). Nothing in SQL tells whether
// xmax holds a transaction id or a MultiXact's number, so it is read both
// ways. As a transaction id, its status can be asked only when it is
// surely not in the future: it is no MultiXact's number in use, or not
// newer than ours. Otherwise (a cluster whose MultiXacts outnumber its
// transactions) any locker the snapshot cannot see counts.
func xmaxConflict(xmax string) string {
	own := "pg_current_xact_id_if_assigned()::text"
	return fmt.Sprintf(`(%[1]s <> '0'::xid AND %[1]s::text IS DISTINCT FROM %[2]s AND (
 (CASE WHEN mxid_age(%[1]s) <= 0 OR %[3]s <= pg_current_xact_id()::text::bigint THEN %[4]s ELSE NOT %[5]s END) OR
 (%[6]s)))`,
		xmax, own, fullXid(xmax), unseenLocker(xmax), xidVisible(xmax),
		recentMember(xmax, "m.xid::text IS DISTINCT FROM "+own+" AND "+unseenLocker("m.xid")))
}

// transactionSnapshot is the condition that the transaction keeps one
// snapshot (REPEATABLE READ or SERIALIZABLE), where the conflict check
// applies: READ COMMITTED sees concurrent children itself, and
// SERIALIZABLE's own predicate locks catch them only when the child's
// writer runs SERIALIZABLE too.
const transactionSnapshot = "current_setting('transaction_isolation') IN ('repeatable read', 'serializable')"

// readCommitted is the condition that the transaction runs under READ
// COMMITTED, where a statement may write rows its snapshot does not show.
const readCommitted = "current_setting('transaction_isolation') = 'read committed'"

// conflictsMatter renders the condition that the conflict check of a
// write into t applies: under a transaction snapshot, while the RI
// triggers of t would fire.
func conflictsMatter(t *Table) string { return transactionSnapshot + " AND " + EnforcedOn(t) }

// conflictCheckSQL renders a check for relationship r that, under a
// transaction snapshot, locks the rows about to be deleted or re-keyed (reached
// through alias by fromWhere, which includes the isolation condition, after
// the WITH queries with)
// FOR UPDATE NOWAIT and raises a serialization-failure signal when one's
// xmax names a transaction the snapshot cannot see. A row still locked by
// a running transaction fails the NOWAIT (see Check.LockWaitConflicts).
// Scanning and locking in one statement leaves no gap for a locker to
// come and go unseen, short of the scan-to-lock instant. OFFSET 0 keeps the
// planner from pushing the xmax test below the lock, which would lock only
// the rows that already conflict and let a new locker in before the write.
func conflictCheckSQL(r *Rel, alias, with, fromWhere string) string {
	return fmt.Sprintf(`SELECT CAST((SELECT %s FROM (%sSELECT %s.xmax AS x %s OFFSET 0 FOR UPDATE OF %s NOWAIT) s
WHERE %s LIMIT 1) AS int4)`,
		conflictSignal(r), with, alias, fromWhere, alias, xmaxConflict("s.x"))
}

// conflictSignal renders the signal of a serialization failure about
// relationship r (see Violation.Conflict).
func conflictSignal(r *Rel) string {
	return fmt.Sprintf("'%s' || json_build_array(%d, true, '%s')::text", SignalPrefix, r.Index, kindConflict)
}
