package policy

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/parser"
)

// Table is what softfk needs to know about one configured table.
type Table struct {
	Name config.TableName
	Kind byte // pg_class.relkind: 'r' table, 'p' partitioned, 'v' view, ...
	// Inherited says a plain table has (or had: relhassubclass) tables
	// that inherit from it, whose rows a write through its name reaches
	// without its RI triggers firing for them.
	Inherited bool
	Columns   map[string]Column
	// UniqueKeys are the column sets of valid, non-partial, non-deferrable
	// unique indexes without expressions: what a FOREIGN KEY may reference.
	UniqueKeys [][]string
	// IndexPrefixes are, for every index, its leading plain key columns.
	IndexPrefixes [][]string
	// Indexes are its valid, non-partial indexes, in OID order.
	Indexes []Index
	// Constraints are the names of its constraints.
	Constraints []string
	// BeforeRowTriggers says which events have BEFORE ROW triggers that
	// may change the values a statement writes.
	BeforeInsertTrigger, BeforeUpdateTrigger bool
	HasRules                                 bool
	// rules are the events of its rules (other than a view's own SELECT),
	// each pg_rewrite.ev_type ('2' UPDATE, '3' INSERT, '4' DELETE)
	// followed by 'i' for a DO INSTEAD rule, 'a' for a DO ALSO one.
	rules string
	// triggers are the functions of the BEFORE ROW INSERT and UPDATE
	// triggers (see triggersMayChange).
	triggers []triggerFunc
	// PartitionOf lists, for a partition, the partitioned tables it is
	// part of, nearest first.
	PartitionOf []config.TableName
	// View, for an automatically updatable view of a guarded table (or of
	// another such view), says how writes through it reach that relation.
	View *View
	// OID is the table's pg_class OID when the catalog was read (softfk's
	// SQL names tables, never by OID; this only orders them as Postgres
	// does).
	OID uint32
}

// sameTree reports whether t and o are the same table, or one is a
// partition or a view of the other: a row written into one is then in
// both.
func (t *Table) sameTree(o *Table) bool {
	return t == o || slices.Contains(t.landsIn(), o.Name) || slices.Contains(o.landsIn(), t.Name)
}

// firstUserOID is PostgreSQL's FirstNormalObjectId: below it, the built-in
// types (no domain, enum or composite a database defines).
const firstUserOID = 16384

// intervalOID is the type OID of interval.
const intervalOID = 1186

// StringParamExact reports whether the string constant c of a write to t
// gives the same outcome, errors and their positions included, when it
// travels as a parameter of unspecified type: it is written into or
// compared with a column of a built-in type (a domain's checks meet a
// literal only when the row is built, a parameter already at Bind), and
// not an interval restricted by fields or precision, the one type whose
// input reads a literal with the column's modifier ('1' into an interval
// minute is a minute, as a parameter a second). Length and precision
// limits of other types apply to literal and parameter alike, when the
// row is built.
func (t *Table) StringParamExact(c parser.Constant) bool {
	var col Column
	var ok bool
	if c.Column != "" {
		col, ok = t.Columns[c.Column]
	} else {
		col, ok = t.columnAt(c.Index)
	}
	return ok && col.TypeOID < firstUserOID && (col.TypeOID != intervalOID || col.Type == "interval")
}

// eq is the SQL operator that compares two values of the column's type
// as a unique index on it does: "=", qualified with its schema when that
// is not pg_catalog, so that the comparison does not depend on the
// session's search_path. (Unqualified, a citext key compared while the
// search_path leaves out citext's schema would be compared as text, case
// and all; Postgres's RI checks name their operators too.)
func (c Column) eq() string {
	if c.eqSchema == "" {
		return "="
	}
	return "OPERATOR(" + c.eqSchema + ".=)"
}

// typed renders expr, a value of the column's type (the column itself,
// say), cast to that type when eq names an operator of another schema
// than pg_catalog: a no-op while the column has the type, and what keeps
// the comparison valid when DDL earlier in the same pipeline changed it
// (softfk plans with the catalog facts from before it until the Sync).
func (c Column) typed(expr string) string {
	if c.eqSchema == "" {
		return expr
	}
	return castTo(expr, c.Type)
}

// typeForgotten returns c without what says how its values compare:
// compared with a plain =, as the session resolves it.
func (c Column) typeForgotten() Column {
	c.eqSchema, c.keyType, c.collation, c.nondeterministic = "", keyType{}, "", false
	return c
}

// columnAt returns the column at position i (0-based) in the table's
// column order.
func (t *Table) columnAt(i int) (Column, bool) {
	nums := make([]int, 0, len(t.Columns))
	for _, c := range t.Columns {
		nums = append(nums, c.Num)
	}
	if i >= len(nums) {
		return Column{}, false
	}
	sort.Ints(nums)
	for _, c := range t.Columns {
		if c.Num == nums[i] {
			return c, true
		}
	}
	return Column{}, false
}

// Column is one column of a configured table.
type Column struct {
	Num       int
	TypeOID   uint32
	Type      string // format_type with typmod, usable in a cast
	NotNull   bool
	Default   bool // has a default (or is an identity or generated column)
	Generated bool // GENERATED ALWAYS AS (...) STORED
	// DependsOn are, for a generated column, the columns its expression
	// reads: an UPDATE that assigns one of them computes it again.
	DependsOn []string
	// eqSchema is the schema, quoted, of the btree equality operator of
	// the column's type (of a domain's base type, through domains over
	// domains) when it is not pg_catalog's: an extension's type, say
	// citext (see eq).
	eqSchema string
	// keyType is how a foreign key compares the column's values (see
	// keyType).
	keyType keyType
	// collation is the column's collation, qualified and quoted, empty
	// for a type that has none; nondeterministic says it finds strings
	// that differ equal (a case-insensitive ICU collation, say).
	collation        string
	nondeterministic bool
	// Everywhere says every other relation of the table's name (in
	// another schema, temporary ones included), which a statement's
	// unqualified name may denote instead, is a table with a column of
	// this name too: SQL naming the column through that name is valid
	// whichever it denotes.
	Everywhere bool
}

// keyType is what PostgreSQL's FOREIGN KEY consults to compare a
// referencing column with a referenced one (ATAddForeignKeyConstraint):
// the type's base type (through any domains) and its default btree
// operator class's input type and equality operators' right-hand types.
type keyType struct {
	base uint32
	// baseName is the base type's name, qualified and quoted.
	baseName string
	// opcIn is the operator class's input type, qualified and quoted
	// for a cast; empty when it is polymorphic (anyenum, anyarray) or
	// the type has no btree operator class.
	opcIn string
	// opcInOID is the operator class's input type (0 without a class).
	opcInOID uint32
	// rights are the types its equality operators take on the right.
	rights []uint32
	// typtype is the base type's pg_type.typtype ("c" for a composite
	// type).
	typtype string
	// implicit are the types the base type converts to implicitly.
	implicit []uint32
}

// Pseudo-types that default btree operator classes take as input.
const (
	anyArrayOID      = 2277
	anyEnumOID       = 3500
	anyRangeOID      = 3831
	anyMultirangeOID = 4537
	recordOID        = 2249
)

// parseKeyType reads the key type column of a catalog row: the base
// type's OID and name, opcIn, the rights' OIDs, opcInOID, typtype and the
// implicit conversions' OIDs, chr(31)-separated.
func parseKeyType(spec string) keyType {
	f := strings.Split(spec, "\x1f")
	if len(f) != 7 {
		return keyType{}
	}
	oids := func(list string) []uint32 {
		var out []uint32
		for _, r := range strings.Fields(list) {
			oid, _ := strconv.ParseUint(r, 10, 32)
			out = append(out, uint32(oid))
		}
		return out
	}
	base, _ := strconv.ParseUint(f[0], 10, 32)
	opcIn, _ := strconv.ParseUint(f[4], 10, 32)
	return keyType{base: uint32(base), baseName: f[1], opcIn: f[2], rights: oids(f[3]),
		opcInOID: uint32(opcIn), typtype: f[5], implicit: oids(f[6])}
}

// accepts reports whether PostgreSQL lets a referencing column of type
// child reference a column of this type (ATAddForeignKeyConstraint): the
// operator class has an equality operator taking child's base type on
// the right, or both types convert implicitly to the class's input type
// (can_coerce_type), which for a polymorphic one (anyenum, anyarray,
// anyrange, anymultirange) means that they are the same enum, array or
// range type. It also does when either type is unknown.
func (kt keyType) accepts(child keyType) bool {
	if kt.base == 0 || kt.opcInOID == 0 || child.base == 0 {
		return true
	}
	switch kt.opcInOID {
	case anyArrayOID, anyEnumOID, anyRangeOID, anyMultirangeOID:
		return child.base == kt.base
	case recordOID:
		return child.base == recordOID || child.typtype == "c"
	}
	return child.base == kt.opcInOID || slices.Contains(kt.rights, child.base) || slices.Contains(child.implicit, kt.opcInOID)
}

// castFrom returns the cast a referencing value of type child needs
// before it is compared with a referenced value of this type (none when
// either is unknown, the zero keyType), as
// PostgreSQL decides it when it creates a FOREIGN KEY: none when the
// operator class has an equality operator taking child's base type on
// the right (int4 against int8), else a cast to the class's input type,
// with whose own operator the values are compared (text to bpchar,
// where an unqualified = would compare as text, trailing blanks and
// all).
func (kt keyType) castFrom(child keyType) string {
	if kt.opcIn == "" || child.base == 0 || child.base == kt.base || slices.Contains(kt.rights, child.base) {
		return ""
	}
	return "::" + kt.opcIn
}

// Catalog holds the configured tables of one database.
type Catalog struct {
	Tables map[config.TableName]*Table
}

// catalogColumns are the columns of the catalog query, in order.
const catalogColumns = 23

// baseTypeCTEs are the WITH queries (of a WITH RECURSIVE) that map each
// domain to its base type, through domains over domains:
// basetypes(typ, base).
const baseTypeCTEs = `domainchain(typ, base) AS (
  SELECT d.oid, d.typbasetype FROM pg_catalog.pg_type d WHERE d.typtype = 'd'
  UNION ALL
  SELECT dc.typ, b.typbasetype FROM domainchain dc JOIN pg_catalog.pg_type b ON b.oid = dc.base AND b.typtype = 'd'),
basetypes(typ, base) AS MATERIALIZED (
  SELECT dc.typ, dc.base FROM domainchain dc JOIN pg_catalog.pg_type b ON b.oid = dc.base AND b.typtype <> 'd'),
`

// keyTypeCTEs are the WITH queries (after baseTypeCTEs) keytypes(typ,
// spec): for each type with a default btree operator class of its own, or
// one it reaches by a binary-coercible cast, the class's input type (its
// name unless polymorphic), the right-hand types of its equality
// operators and the input type's OID, chr(31)-separated (see keyType);
// and implicits(typ, targets), the types each type converts to
// implicitly.
const keyTypeCTEs = `keytypes(typ, spec) AS MATERIALIZED (
  SELECT DISTINCT ON (c.typ) c.typ, coalesce(CASE WHEN it.typtype <> 'p' THEN quote_ident(itn.nspname) || '.' || quote_ident(it.typname) END, '') || chr(31) ||
    coalesce((SELECT string_agg(ao.amoprighttype::text, ' ') FROM pg_catalog.pg_amop ao
              WHERE ao.amopfamily = c.family AND ao.amoplefttype = c.intype AND ao.amopstrategy = 3), '') || chr(31) || c.intype::text
  FROM (
    SELECT o.opcintype, o.opcintype, o.opcfamily, 0 FROM pg_catalog.pg_opclass o
    JOIN pg_catalog.pg_am m ON m.oid = o.opcmethod AND m.amname = 'btree' WHERE o.opcdefault
    UNION ALL
    SELECT k.castsource, o.opcintype, o.opcfamily, CASE WHEN ot.typispreferred THEN 1 ELSE 2 END FROM pg_catalog.pg_cast k
    JOIN pg_catalog.pg_opclass o ON o.opcintype = k.casttarget AND o.opcdefault
    JOIN pg_catalog.pg_am m ON m.oid = o.opcmethod AND m.amname = 'btree'
    JOIN pg_catalog.pg_type ot ON ot.oid = o.opcintype
    WHERE k.castmethod = 'b') c(typ, intype, family, rank)
  JOIN pg_catalog.pg_type it ON it.oid = c.intype
  JOIN pg_catalog.pg_namespace itn ON itn.oid = it.typnamespace
  ORDER BY c.typ, c.rank),
implicits(typ, targets) AS MATERIALIZED (
  SELECT k.castsource, string_agg(k.casttarget::text, ' ') FROM pg_catalog.pg_cast k WHERE k.castcontext = 'i' GROUP BY k.castsource),
`

// keyTypeJoins renders the joins, after baseTypeCTEs and keyTypeCTEs, that
// keyTypeSpec reads for the type typ (an SQL expression of its OID): its
// base type kb.base, bt and bn (that type and its schema), its implicit
// conversions ic, and its operator class kt, or kp, the polymorphic one
// of an enum, array, range, multirange or composite type.
func keyTypeJoins(typ string) string {
	return `LEFT JOIN basetypes db ON db.typ = ` + typ + `
CROSS JOIN LATERAL (VALUES (coalesce(db.base, ` + typ + `))) kb(base)
JOIN pg_catalog.pg_type bt ON bt.oid = kb.base
JOIN pg_catalog.pg_namespace bn ON bn.oid = bt.typnamespace
LEFT JOIN implicits ic ON ic.typ = kb.base
LEFT JOIN keytypes kt ON kt.typ = kb.base
LEFT JOIN keytypes kp ON kt.typ IS NULL AND kp.typ = CASE
  WHEN bt.typtype = 'e' THEN 'pg_catalog.anyenum'::pg_catalog.regtype WHEN bt.typcategory = 'A' THEN 'pg_catalog.anyarray'::pg_catalog.regtype
  WHEN bt.typtype = 'r' THEN 'pg_catalog.anyrange'::pg_catalog.regtype WHEN bt.typtype = 'm' THEN 'pg_catalog.anymultirange'::pg_catalog.regtype
  WHEN bt.typtype = 'c' THEN 'pg_catalog.record'::pg_catalog.regtype END`
}

// keyTypeSpec is the key type of a column as parseKeyType reads it, over
// keyTypeJoins.
const keyTypeSpec = `kb.base::text || chr(31) || quote_ident(bn.nspname) || '.' || quote_ident(bt.typname) || chr(31) || coalesce(kt.spec, kp.spec, chr(31) || chr(31) || '0') ||
    chr(31) || bt.typtype::text || chr(31) || coalesce(ic.targets, '')`

// CatalogQuery returns the SQL that reads everything softfk needs about
// tables, their partitions and the views that write them (those without
// INSTEAD OF triggers or rules of their own), as text, one row per column
// of each. Table names travel as literals so the query runs over the
// simple protocol. The recursion joins what it found so far to all the
// partitions and views of the database rather than looking up each one's
// (LATERAL), and what is read once per table (indexes, triggers,
// constraints, partition ancestors, view definitions) comes from a
// materialized CTE, facts, costed once per table rather than once per
// column (33,197 against 137,399 for 100 tables): both keep the planner's
// estimates, and so its choices, near what the query does. It runs with
// JIT off all the same (see CatalogJITOff). The system's own views are
// left out.
func CatalogQuery(tables []config.TableName) string {
	var vals strings.Builder
	for i, t := range tables {
		if i > 0 {
			vals.WriteString(", ")
		}
		fmt.Fprintf(&vals, "(%s, %s)", parser.QuoteLiteral(t.Schema), parser.QuoteLiteral(t.Name))
	}
	if vals.Len() == 0 {
		vals.WriteString("(NULL::text, NULL::text)")
	}
	return `WITH RECURSIVE named(s, t) AS (VALUES ` + vals.String() + `),
tables(oid) AS (
  SELECT to_regclass(quote_ident(named.s) || '.' || quote_ident(named.t))::oid FROM named
  UNION
  SELECT x.child FROM tables JOIN (
    SELECT i.inhparent, i.inhrelid FROM pg_catalog.pg_inherits i
    JOIN pg_catalog.pg_class p ON p.oid = i.inhrelid AND p.relispartition
    UNION ALL
    SELECT d.refobjid, r.ev_class FROM pg_catalog.pg_depend d
    JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid AND r.rulename = '_RETURN' AND r.ev_class <> d.refobjid
    JOIN pg_catalog.pg_class v ON v.oid = r.ev_class AND v.relkind = 'v'
    WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid >= ` + strconv.Itoa(firstUserOID) + `
      AND d.refclassid = 'pg_catalog.pg_class'::regclass
      AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger t WHERE t.tgrelid = r.ev_class AND t.tgtype & 64 <> 0)
      AND NOT EXISTS (SELECT FROM pg_catalog.pg_rewrite o WHERE o.ev_class = r.ev_class AND o.rulename <> '_RETURN')
  ) x(parent, child) ON x.parent = tables.oid),
` + baseTypeCTEs + `eqs(typ, nsp) AS MATERIALIZED (
  SELECT ty.oid, min(quote_ident(eqn.nspname)) FROM pg_catalog.pg_type ty
  LEFT JOIN basetypes bt ON bt.typ = ty.oid
  JOIN pg_catalog.pg_operator eq ON eq.oprname = '=' AND eq.oprleft = eq.oprright
    AND eq.oprleft = coalesce(bt.base, ty.oid)
  JOIN pg_catalog.pg_namespace eqn ON eqn.oid = eq.oprnamespace AND eqn.nspname <> 'pg_catalog'
  WHERE ty.oid >= ` + strconv.Itoa(firstUserOID) + ` AND EXISTS (
    SELECT FROM pg_catalog.pg_amop ao JOIN pg_catalog.pg_am am ON am.oid = ao.amopmethod AND am.amname = 'btree'
    WHERE ao.amopopr = eq.oid AND ao.amopstrategy = 3)
  GROUP BY ty.oid),
` + keyTypeCTEs + `facts(oid, first, indexes, triggers, ancestors, viewdef, viewreads, trigsrc, constraints) AS MATERIALIZED (
  SELECT c.oid, (SELECT min(f.attnum) FROM pg_catalog.pg_attribute f
    WHERE f.attrelid = c.oid AND f.attnum > 0 AND NOT f.attisdropped),
  coalesce((
    SELECT string_agg(concat_ws(chr(31), (i.indisunique AND i.indimmediate)::text, array_to_string(i.indkey::int2[], ' '),
                                i.indnkeyatts::text, i.indexrelid::text, ic.relname, coalesce(k.conname, '')), chr(30))
    FROM pg_catalog.pg_index i
    JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
    LEFT JOIN pg_catalog.pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = c.oid AND k.contype IN ('p', 'u', 'x')
    WHERE i.indrelid = c.oid AND i.indisvalid AND i.indpred IS NULL), ''),
  coalesce((SELECT string_agg(DISTINCT CASE WHEN t.tgtype & 4 <> 0 THEN 'insert' ELSE '' END ||
                                       CASE WHEN t.tgtype & 16 <> 0 THEN ' update' ELSE '' END, ' ')
            FROM pg_catalog.pg_trigger t
            WHERE t.tgrelid = c.oid AND NOT t.tgisinternal AND t.tgenabled <> 'D'
              AND t.tgtype & 1 = 1 AND t.tgtype & 2 = 2), ''),
  CASE WHEN c.relispartition THEN (
    SELECT string_agg(an.nspname || chr(31) || ac.relname, chr(30) ORDER BY pa.n)
    FROM pg_catalog.pg_partition_ancestors(c.oid) WITH ORDINALITY pa(relid, n)
    JOIN pg_catalog.pg_class ac ON ac.oid = pa.relid
    JOIN pg_catalog.pg_namespace an ON an.oid = ac.relnamespace
    WHERE pa.relid <> c.oid) ELSE '' END,
  CASE WHEN c.relkind = 'v' THEN pg_catalog.pg_get_viewdef(c.oid) ELSE '' END,
  CASE WHEN c.relkind = 'v' THEN (
    SELECT string_agg(DISTINCT dn.nspname || chr(31) || dc.relname || chr(31) || pg_catalog.pg_table_is_visible(dc.oid)::text, chr(30))
    FROM pg_catalog.pg_rewrite r
    JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
      AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid <> c.oid
    JOIN pg_catalog.pg_class dc ON dc.oid = d.refobjid
    JOIN pg_catalog.pg_namespace dn ON dn.oid = dc.relnamespace
    WHERE r.ev_class = c.oid AND r.rulename = '_RETURN') ELSE '' END,
  coalesce((
    SELECT string_agg(CASE WHEN t.tgtype & 4 <> 0 THEN 'i' ELSE '' END || CASE WHEN t.tgtype & 16 <> 0 THEN 'u' ELSE '' END ||
                      chr(31) || l.lanname || chr(31) || translate(encode(convert_to(p.prosrc, 'UTF8'), 'base64'), chr(10), ''), chr(30))
    FROM pg_catalog.pg_trigger t
    JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
    JOIN pg_catalog.pg_language l ON l.oid = p.prolang
    WHERE t.tgrelid = c.oid AND NOT t.tgisinternal AND t.tgenabled <> 'D'
      AND t.tgtype & 1 = 1 AND t.tgtype & 2 = 2 AND t.tgtype & 20 <> 0), ''),
  coalesce((
    SELECT string_agg(k.conname, chr(30)) FROM pg_catalog.pg_constraint k WHERE k.conrelid = c.oid), '')
  FROM tables JOIN pg_catalog.pg_class c ON c.oid = tables.oid)
SELECT n.nspname, c.relname, c.relkind::text || CASE WHEN c.relkind = 'r' AND c.relhassubclass THEN '+' ELSE '' END,
  a.attnum::text, a.attname, a.atttypid::text, format_type(a.atttypid, a.atttypmod),
  a.attnotnull::text, (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '')::text, CASE WHEN a.attgenerated <> '' THEN 'generated:' || coalesce((
    SELECT string_agg(d.refobjsubid::text, ' ')
    FROM pg_catalog.pg_attrdef ad
    JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::regclass AND d.objid = ad.oid
      AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = c.oid AND d.refobjsubid > 0
    WHERE ad.adrelid = c.oid AND ad.adnum = a.attnum), '') ELSE '' END,
  CASE WHEN a.attnum = f.first THEN f.indexes ELSE '' END,
  f.triggers,
  CASE WHEN c.relhasrules THEN 'rules:' || coalesce((
    SELECT string_agg(DISTINCT r.ev_type::text || CASE WHEN r.is_instead THEN 'i' ELSE 'a' END, '')
    FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid AND r.rulename <> '_RETURN'), '') ELSE '' END,
  (NOT EXISTS (SELECT FROM pg_catalog.pg_class o
               WHERE o.relname = c.relname AND o.oid <> c.oid
                 AND (o.relkind NOT IN ('r', 'p', 'f') OR NOT EXISTS (
                   SELECT FROM pg_catalog.pg_attribute oa
                   WHERE oa.attrelid = o.oid AND oa.attname = a.attname AND oa.attnum > 0 AND NOT oa.attisdropped))))::text,
  f.ancestors,
  c.oid::text,
  CASE WHEN a.attnum = 1 THEN f.viewdef ELSE '' END,
  CASE WHEN a.attnum = 1 THEN f.viewreads ELSE '' END,
  CASE WHEN a.attnum = f.first THEN f.trigsrc ELSE '' END,
  CASE WHEN a.attnum = f.first THEN f.constraints ELSE '' END,
  coalesce(eqs.nsp, ''),
  ` + keyTypeSpec + `,
  coalesce(quote_ident(cn.nspname) || '.' || quote_ident(co.collname) || chr(31) || co.collisdeterministic::text, '')
FROM tables
JOIN pg_catalog.pg_class c ON c.oid = tables.oid
JOIN facts f ON f.oid = c.oid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN eqs ON eqs.typ = a.atttypid
` + keyTypeJoins("a.atttypid") + `
LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
ORDER BY 1, 2, a.attnum`
}

// The catalog query's estimated cost grows with the tables it reads and
// with the partitions and views of the whole database (its recursion is
// estimated from them): 33,000 for 100 tables, 175,000 for 400, 540,000
// for 13 tables in a database of 9,000 relations, where PostgreSQL, with
// JIT on (its default where built with LLVM), spent about 3 s compiling
// a query that otherwise ran in 0.4 s. JIT never pays for a query run
// once, so softfk turns it off for the catalog read, in its transaction
// only. CatalogJITOff does it for a read in a transaction of its own; in
// the middle of a session, inside whatever transaction is open,
// CatalogJITSave does it and keeps the session's value in the
// transaction-local placeholder softfk.jit, and CatalogJITRestore puts
// that value back.
const (
	CatalogJITOff     = "SET LOCAL jit = off"
	CatalogJITSave    = "SELECT set_config('softfk.jit', current_setting('jit'), true), set_config('jit', 'off', true)"
	CatalogJITRestore = "SELECT set_config('jit', current_setting('softfk.jit'), true)"
)

// ParseCatalog builds a Catalog from the rows of CatalogQuery.
func ParseCatalog(rows [][]string) (*Catalog, error) {
	cat := &Catalog{Tables: map[config.TableName]*Table{}}
	byNum := map[*Table]map[int]string{}
	indexes := map[*Table]string{}
	// The attnums each generated column is computed from, by table.
	generated := map[*Table]map[string]string{}
	views := map[*Table]*viewDef{}
	for _, r := range rows {
		if len(r) != catalogColumns {
			return nil, fmt.Errorf("catalog row has %d columns, want %d", len(r), catalogColumns)
		}
		name := config.TableName{Schema: r[0], Name: r[1]}
		t := cat.Tables[name]
		if t == nil {
			rules, hasRules := strings.CutPrefix(r[12], "rules:")
			t = &Table{Name: name, Columns: map[string]Column{}, HasRules: hasRules, rules: rules}
			if r[2] != "" {
				t.Kind, t.Inherited = r[2][0], strings.HasSuffix(r[2], "+")
			}
			for _, a := range strings.Split(r[14], "\x1e") {
				if schema, name, ok := strings.Cut(a, "\x1f"); ok {
					t.PartitionOf = append(t.PartitionOf, config.TableName{Schema: schema, Name: name})
				}
			}
			oid, _ := strconv.ParseUint(r[15], 10, 32)
			t.OID = uint32(oid)
			t.BeforeInsertTrigger = strings.Contains(r[11], "insert")
			t.BeforeUpdateTrigger = strings.Contains(r[11], "update")
			cat.Tables[name] = t
			byNum[t] = map[int]string{}
			if t.Kind == 'v' {
				views[t] = &viewDef{def: r[16], reads: parseViewReads(r[17])}
			}
		}
		if r[18] != "" {
			t.triggers = parseTriggerFuncs(r[18])
		}
		if r[19] != "" {
			t.Constraints = strings.Split(r[19], "\x1e")
		}
		num, _ := strconv.Atoi(r[3])
		typOID, _ := strconv.ParseUint(r[5], 10, 32)
		col := Column{Num: num, TypeOID: uint32(typOID), Type: r[6], NotNull: r[7] == "true",
			Default: r[8] == "true", Everywhere: r[13] == "true", eqSchema: r[20]}
		col.keyType = parseKeyType(r[21])
		collation, deterministic, _ := strings.Cut(r[22], "\x1f")
		col.collation, col.nondeterministic = collation, deterministic == "false"

		t.Columns[r[4]] = col
		byNum[t][num] = r[4]
		if deps, ok := strings.CutPrefix(r[9], "generated:"); ok {
			if generated[t] == nil {
				generated[t] = map[string]string{}
			}
			generated[t][r[4]] = deps
		}
		if r[10] != "" {
			indexes[t] = r[10]
		}
	}
	// A partition's BEFORE ROW triggers fire for the rows a write of its
	// partitioned table routes to it: they count for that table too.
	for _, t := range cat.Tables {
		for _, a := range t.PartitionOf {
			if anc := cat.Tables[a]; anc != nil {
				anc.BeforeInsertTrigger = anc.BeforeInsertTrigger || t.BeforeInsertTrigger
				anc.BeforeUpdateTrigger = anc.BeforeUpdateTrigger || t.BeforeUpdateTrigger
				anc.triggers = append(anc.triggers, t.triggers...)
			}
		}
	}
	for t, cols := range generated {
		for name, deps := range cols {
			c := t.Columns[name]
			c.Generated = true
			for _, k := range strings.Fields(deps) {
				n, _ := strconv.Atoi(k)
				c.DependsOn = append(c.DependsOn, byNum[t][n])
			}
			t.Columns[name] = c
		}
	}
	for t, spec := range indexes {
		t.Indexes = parseIndexes(spec, byNum[t])
		for _, idx := range t.Indexes {
			if len(idx.Prefix) == 0 {
				continue
			}
			t.IndexPrefixes = append(t.IndexPrefixes, idx.Prefix)
			if idx.UniqueKey() {
				t.UniqueKeys = append(t.UniqueKeys, idx.Prefix)
			}
		}
	}
	resolveViews(cat, views)
	return cat, nil
}

// Index is one valid, non-partial index of a table.
type Index struct {
	Name string
	OID  uint32
	// Prefix are its leading plain key columns, up to the first
	// expression; Keys says how many key columns it has (INCLUDE
	// columns are not keys).
	Prefix []string
	Keys   int
	// Unique says it is unique and not deferrable.
	Unique bool
	// Constraint is the primary key, unique or exclusion constraint that
	// owns it, if any.
	Constraint string
}

// UniqueKey reports whether the index makes its key columns unique, as a
// FOREIGN KEY needs of what it references: unique, not deferrable,
// without expressions.
func (i Index) UniqueKey() bool {
	return i.Unique && len(i.Prefix) == i.Keys
}

// parseIndexes reads the index column of a catalog row (see
// CatalogQuery), with byNum naming the table's columns by number.
func parseIndexes(spec string, byNum map[int]string) []Index {
	var indexes []Index
	for _, rec := range strings.Split(spec, "\x1e") {
		f := strings.Split(rec, "\x1f")
		if len(f) != 6 {
			continue
		}
		idx := Index{Unique: f[0] == "true", Name: f[4], Constraint: f[5]}
		idx.Keys, _ = strconv.Atoi(f[2])
		oid, _ := strconv.ParseUint(f[3], 10, 32)
		idx.OID = uint32(oid)
		for i, k := range strings.Fields(f[1]) {
			n, _ := strconv.Atoi(k)
			name, ok := byNum[n]
			if i == idx.Keys || !ok {
				break // an expression column ends the usable prefix
			}
			idx.Prefix = append(idx.Prefix, name)
		}
		indexes = append(indexes, idx)
	}
	slices.SortFunc(indexes, func(a, b Index) int { return cmp.Compare(a.OID, b.OID) })
	return indexes
}

// Problem is something wrong (or worth a warning) about a relationship
// against a real schema.
type Problem struct {
	Warning bool
	Field   string // the config field it concerns, e.g. "references.columns"
	Msg     string
}

// Check validates a relationship against the catalog: tables and columns
// exist, referenced columns carry a unique index, and (as a warning) the
// referencing columns are indexed.
func (c *Catalog) Check(r config.Relationship) []Problem {
	var probs []Problem
	child, parent := c.Tables[r.Table], c.Tables[r.RefTable]
	if child == nil {
		probs = append(probs, Problem{Field: "table", Msg: fmt.Sprintf("table %s does not exist", r.Table)})
	}
	if parent == nil {
		probs = append(probs, Problem{Field: "references.table", Msg: fmt.Sprintf("table %s does not exist", r.RefTable)})
	}
	for _, t := range []*Table{child, parent} {
		if t != nil && t.Kind != 'r' && t.Kind != 'p' {
			field := "table"
			if t == parent {
				field = "references.table"
			}
			probs = append(probs, Problem{Field: field, Msg: fmt.Sprintf("%s is not a table (relkind %q)", t.Name, t.Kind)})
		}
	}
	if len(probs) > 0 {
		return probs
	}
	probs = append(probs, missingColumns(child, r.Columns, "columns")...)
	probs = append(probs, missingColumns(parent, r.RefColumns, "references.columns")...)
	if len(probs) > 0 {
		return probs
	}
	if !hasKey(parent.UniqueKeys, r.RefColumns, true) {
		probs = append(probs, Problem{Field: "references.columns", Msg: fmt.Sprintf(
			"there is no unique index on %s (%s): without one, a key may match several parent rows (Postgres requires it for a real FOREIGN KEY)",
			parent.Name, strings.Join(r.RefColumns, ", "))})
	}
	for _, t := range []*Table{child, parent} {
		if len(t.PartitionOf) > 0 {
			field := "table"
			if t == parent {
				field = "references.table"
			}
			probs = append(probs, Problem{Warning: true, Field: field, Msg: fmt.Sprintf(
				"%s is a partition of %s: writes through %s are not checked for this relationship (name the partitioned table to cover all its partitions)",
				t.Name, t.PartitionOf[len(t.PartitionOf)-1], t.PartitionOf[len(t.PartitionOf)-1])})
		}
	}
	if r.Match == config.MatchSimple || r.Match == config.MatchFull {
		if !hasKey(child.IndexPrefixes, r.Columns, false) {
			probs = append(probs, Problem{Warning: true, Field: "columns", Msg: fmt.Sprintf(
				"no index on %s (%s): deleting or changing a referenced key must scan the whole table",
				child.Name, strings.Join(r.Columns, ", "))})
		}
	}
	return probs
}

func missingColumns(t *Table, cols []string, field string) []Problem {
	var probs []Problem
	for _, col := range cols {
		if _, ok := t.Columns[col]; !ok {
			probs = append(probs, Problem{Field: field, Msg: fmt.Sprintf("column %q does not exist in %s", col, t.Name)})
		}
	}
	return probs
}

// hasKey reports whether some index's columns match cols: exactly (as a set)
// when exact, or as a leading prefix (in any order) otherwise.
func hasKey(indexes [][]string, cols []string, exact bool) bool {
	want := append([]string(nil), cols...)
	sort.Strings(want)
	for _, idx := range indexes {
		if exact && len(idx) != len(cols) || len(idx) < len(cols) {
			continue
		}
		got := append([]string(nil), idx[:len(cols)]...)
		sort.Strings(got)
		if strings.Join(got, "\x00") == strings.Join(want, "\x00") {
			return true
		}
	}
	return false
}

// TablesOf lists each table the relationships name, once, in order.
func TablesOf(rels []config.Relationship) []config.TableName {
	seen := map[config.TableName]bool{}
	var out []config.TableName
	for _, r := range rels {
		for _, t := range []config.TableName{r.Table, r.RefTable} {
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out
}
