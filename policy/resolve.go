package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/parser"
)

// What a table or constraint name denotes depends on the session's
// search_path, which only the session knows: statements planned by name
// (TRUNCATE, DROP TABLE, DROP INDEX, SET CONSTRAINTS) have their names
// resolved on the session's connection first.

// ResolveQuery returns the query that resolves the names the statement
// must have resolved before it can be planned, "" when there are none. Its
// rows make Env.Resolved: each name as a key, and the schema it denotes
// (NULL when none). Table names are as tablesToResolve lists them, the
// indexes a DROP INDEX names as indexKey says (when one of those names
// may denote an index a relationship relies on); for a
// SET CONSTRAINTS that env lets softfk plan (CatalogKeys), each name that
// may denote a relationship is resolved as constraintResolution says.
func (db *DB) ResolveQuery(st *parser.Statement, env Env) string {
	var rows []string
	names := db.tablesToResolve(st)
	for _, n := range names {
		rows = append(rows, fmt.Sprintf("SELECT %s, (SELECT s.nspname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace s ON s.oid = c.relnamespace WHERE c.oid = to_regclass(%s))",
			parser.QuoteLiteral(n), parser.QuoteLiteral(n)))
	}
	if d := st.Drop; d != nil && d.Indexes && names != nil {
		for _, ref := range d.Tables {
			rows = append(rows, indexResolution(ref))
		}
	}
	if sc := st.SetConstraints; sc != nil && env.CatalogKeys {
		rels, _ := db.relationships()
		for _, c := range sc.Names {
			if soft := softSchemas(rels, c); len(soft) > 0 {
				rows = append(rows, constraintResolution(c, soft, sc.Deferred))
			}
		}
	}
	return strings.Join(rows, " UNION ALL ")
}

// indexResolution returns the row of ResolveQuery for an index name a
// DROP INDEX names (see indexKey): the schema of the index it denotes
// when Postgres would drop that index alone, an empty one when the name
// denotes another relation, or an index that a constraint or a
// partitioned index owns.
func indexResolution(ref parser.Relation) string {
	return fmt.Sprintf("SELECT %s, (SELECT CASE WHEN c.relkind IN ('i', 'I') AND NOT c.relispartition AND NOT EXISTS ("+
		"SELECT FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('i', 'P', 'S')) "+
		"THEN s.nspname ELSE '' END FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace s ON s.oid = c.relnamespace WHERE c.oid = to_regclass(%s))",
		parser.QuoteLiteral(indexKey(ref)), parser.QuoteLiteral(regclassText(ref.Schema, ref.Name)))
}

// tablesToResolve lists the relation names, as regclass text, that the
// session must resolve (through its search_path) before the statement can
// be planned: the unqualified names of a TRUNCATE that match a guarded
// table; for a DROP TABLE, a DROP INDEX, or an ALTER TABLE that drops
// columns or constraints, those of dependencyNames. (The index names a
// DROP INDEX names are resolved as indexKey says.)
func (db *DB) tablesToResolve(st *parser.Statement) []string {
	switch {
	case st.Kind == parser.Truncate:
		var names regclassTexts
		for _, t := range st.Targets {
			if t.Relation.Schema == "" && contains(db.names.Load().all, t.Relation.Name) {
				names.add("", t.Relation.Name)
			}
		}
		return names
	case st.Drop != nil && st.Drop.Indexes:
		return db.dependencyNames(nil, st.Drop.Tables)
	case st.Drop != nil:
		return db.dependencyNames(st.Drop.Tables, nil)
	case st.Alter != nil && st.Alter.Drops != nil:
		return db.dependencyNames([]parser.Relation{st.Alter.Table}, nil)
	}
	return nil
}

// regclassTexts are table names as regclassText writes them, each once.
type regclassTexts []string

// add adds schema.name (name alone when schema is empty) unless it is there.
func (l *regclassTexts) add(schema, name string) {
	if text := regclassText(schema, name); !contains(*l, text) {
		*l = append(*l, text)
	}
}

// dependencyNames lists, for a statement that drops tables (or their
// columns or constraints) or indexes, the tables it names, which must
// exist for Postgres to get as far as the foreign keys that depend on
// them, and the guarded tables and indexes its errors would name; nil when
// it names no referenced table, nor a unique index of one. (The indexes
// a DROP INDEX names are resolved apart, see indexResolution.)
func (db *DB) dependencyNames(tables, indexes []parser.Relation) []string {
	var names regclassTexts
	rels, _ := db.relationships()
	for _, r := range rels {
		if !r.usable() {
			continue
		}
		named := slices.ContainsFunc(tables, func(t parser.Relation) bool { return r.Parent.Name.Name == t.Name })
		for _, idx := range r.Parent.Indexes {
			if idx.UniqueKey() && (named || slices.ContainsFunc(indexes, func(i parser.Relation) bool {
				return matches(i, config.TableName{Schema: r.Parent.Name.Schema, Name: idx.Name})
			})) {
				named = true
				names.add("", idx.Name)
			}
		}
		if named {
			names.add("", r.Child.Name.Name)
			names.add("", r.Parent.Name.Name)
		}
	}
	if names == nil {
		return nil
	}
	for _, t := range tables {
		names.add(t.Schema, t.Name)
	}
	return names
}

// regclassText is how a table name is written for to_regclass: qualified
// when schema is set, each part quoted as needed.
func regclassText(schema, name string) string {
	if schema == "" {
		return config.QuoteIdent(name)
	}
	return config.QuoteIdent(schema) + "." + config.QuoteIdent(name)
}

// resolvedTable finds the guarded table a statement's reference denotes:
// by name when qualified, through the session's resolution otherwise.
func (b *planBuilder) resolvedTable(ref parser.Relation) *Table {
	for _, r := range b.rels {
		if !r.usable() {
			continue
		}
		for _, t := range []*Table{r.Child, r.Parent} {
			if ref.Schema != "" && matches(ref, t.Name) || ref.Schema == "" && t.Name.Name == ref.Name && b.visible(t) {
				return t
			}
		}
	}
	return nil
}

// visible reports whether t is the table its unqualified name denotes in
// the session.
func (b *planBuilder) visible(t *Table) bool {
	schema, ok := b.env.Resolved[config.QuoteIdent(t.Name.Name)]
	return ok && schema == t.Name.Schema
}
