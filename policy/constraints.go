package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/parser"
)

// SET CONSTRAINTS looks its names up one by one, in order, along the
// session's search_path (or in the schema given), and takes every
// constraint of the name in the first schema that has one. A
// relationship's name denotes no constraint in the database, so Postgres
// would fail with 42704 (no such constraint) where, with a real FOREIGN
// KEY, it would report 42809 (not deferrable) for DEFERRED and do nothing
// for IMMEDIATE. softfk sends instead the name of a constraint that exists
// in every database and is never deferrable, standInConstraint, and
// Postgres's error names the relationship again (see Rename).

// standInConstraint is the primary key of pg_catalog.pg_class, a NOT
// DEFERRABLE constraint since PostgreSQL 14.
const standInConstraint = "pg_class_oid_index"

// Rename says how Postgres's error for a statement softfk rewrote names
// one of the client's objects: From, the stand-in softfk sent, is To, the
// name the client wrote.
type Rename struct {
	From, To string
}

// constraintKey is the Env.Resolved key of a constraint name.
func constraintKey(c parser.ConstraintName) string {
	return "constraint " + regclassText(c.Schema, c.Name)
}

// softSchemas lists the schemas where c can denote an enforced
// relationship, as the constraint Postgres would have made of it (a
// referencing partition's is in the partition's schema).
func softSchemas(rels []*Rel, c parser.ConstraintName) []string {
	var schemas []string
	if c.Catalog != "" {
		return nil // Postgres refuses a cross-database reference
	}
	for _, r := range rels {
		if r.usable() && r.reported == nil && r.Mode == config.Enforce && r.Name == c.Name &&
			(c.Schema == "" || c.Schema == r.Child.Name.Schema) && !slices.Contains(schemas, r.Child.Name.Schema) {
			schemas = append(schemas, r.Child.Name.Schema)
		}
	}
	return schemas
}

// constraintResolution returns the row of ResolveQuery for c: the schema
// whose relationship c denotes in the session, or NULL when c denotes no
// relationship there, or denotes a real constraint as well and, the
// statement being IMMEDIATE, may be sent as written.
func constraintResolution(c parser.ConstraintName, soft []string, deferred bool) string {
	path := "pg_catalog.current_schemas(true)"
	if c.Schema != "" {
		path = "ARRAY[" + parser.QuoteLiteral(c.Schema) + "]::name[]"
	}
	literals := make([]string, len(soft))
	for i, s := range soft {
		literals[i] = parser.QuoteLiteral(s)
	}
	softSet := "ARRAY[" + strings.Join(literals, ", ") + "]::name[]"
	real := "EXISTS (SELECT FROM pg_catalog.pg_constraint c JOIN pg_catalog.pg_namespace n ON n.oid = c.connamespace WHERE c.conname = " +
		parser.QuoteLiteral(c.Name) + " AND n.nspname = s.nsp)"
	keep := real
	if deferred {
		keep = "false" // a real one changes nothing: the relationship is not deferrable
	}
	return fmt.Sprintf("SELECT %s, (SELECT CASE WHEN s.nsp = ANY (%s) AND NOT %s THEN s.nsp END FROM unnest(%s) WITH ORDINALITY AS s(nsp, i) WHERE s.nsp = ANY (%s) OR %s ORDER BY s.i LIMIT 1)",
		parser.QuoteLiteral(constraintKey(c)), softSet, keep, path, softSet, real)
}

// setConstraints plans a SET CONSTRAINTS: each name that denotes a
// relationship (Env.Resolved; by its name alone when the names may move)
// becomes standInConstraint, and an error about that stand-in names the
// relationship.
func (b *planBuilder) setConstraints(sc *parser.SetConstraints) {
	if !b.env.CatalogKeys {
		return // no stand-in: Postgres's 42704 it is
	}
	names := make([]string, len(sc.Names))
	var rename *Rename
	changed := false
	standInSeen := false // an error about the stand-in may be about the client's own name
	for i, c := range sc.Names {
		names[i] = constraintText(c)
		_, resolved := b.env.Resolved[constraintKey(c)]
		if len(softSchemas(b.rels, c)) == 0 || !resolved && !b.env.NamesMayMove {
			standInSeen = standInSeen || c.Name == standInConstraint
			continue
		}
		names[i], changed = "pg_catalog."+standInConstraint, true
		if !standInSeen {
			rename = &Rename{From: standInConstraint, To: c.Name}
		}
		standInSeen = true
	}
	if !changed {
		return
	}
	mode := " IMMEDIATE"
	if sc.Deferred {
		mode = " DEFERRED"
		b.plan.Rename = rename
	}
	b.plan.Rewrite = "SET CONSTRAINTS " + strings.Join(names, ", ") + mode
}

// constraintText writes a constraint name as SQL.
func constraintText(c parser.ConstraintName) string {
	text := config.QuoteIdent(c.Name)
	if c.Schema != "" {
		text = config.QuoteIdent(c.Schema) + "." + text
	}
	if c.Catalog != "" {
		text = config.QuoteIdent(c.Catalog) + "." + text
	}
	return text
}
