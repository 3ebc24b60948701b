package policy

import (
	"strings"
	"testing"

	"github.com/softfk/softfk/parser"
)

func TestPlanSetConstraints(t *testing.T) {
	db := testDB(t, `mode: enforce
relationships:
  - {table: orders, columns: [user_id], references: {table: users, columns: [id]}}
  - {name: "Audit", table: app.audit, columns: [user_id], references: {table: users, columns: [id]}}
  - {name: watched, table: orders, columns: [id], references: {table: users, columns: [id]}, mode: shadow}
`, map[string][]string{"public.users": {"id:integer"}, "public.orders": {"id:integer", "user_id:integer"}, "app.audit": {"id:integer", "user_id:integer"}})
	resolved := Env{CatalogKeys: true, Resolved: map[string]string{`constraint orders_user_id_fkey`: "public", `constraint app."Audit"`: "app"}}
	cases := []struct {
		sql          string
		env          Env
		rewrite      string // "": no plan
		renamed      string // the name Postgres's error gets back
		resolvedRows int    // rows of ResolveQuery
	}{
		{sql: "SET CONSTRAINTS orders_user_id_fkey IMMEDIATE", env: resolved, resolvedRows: 1,
			rewrite: "SET CONSTRAINTS pg_catalog.pg_class_oid_index IMMEDIATE"},
		{sql: `SET CONSTRAINTS real_fk, orders_user_id_fkey, app."Audit" DEFERRED`, env: resolved, resolvedRows: 2,
			rewrite: "SET CONSTRAINTS real_fk, pg_catalog.pg_class_oid_index, pg_catalog.pg_class_oid_index DEFERRED", renamed: "orders_user_id_fkey"},
		{sql: "SET CONSTRAINTS pg_class_oid_index, orders_user_id_fkey DEFERRED", env: resolved, resolvedRows: 1,
			rewrite: "SET CONSTRAINTS pg_class_oid_index, pg_catalog.pg_class_oid_index DEFERRED"},
		// Not found on the session's search_path, or a real constraint.
		{sql: "SET CONSTRAINTS orders_user_id_fkey IMMEDIATE", env: Env{CatalogKeys: true}, resolvedRows: 1},
		// Before PostgreSQL 14 there is no stand-in, and nothing to resolve.
		{sql: "SET CONSTRAINTS orders_user_id_fkey IMMEDIATE", env: Env{Resolved: resolved.Resolved}},
		// After a statement that may change the search_path.
		{sql: "SET CONSTRAINTS orders_user_id_fkey DEFERRED", env: Env{CatalogKeys: true, NamesMayMove: true}, resolvedRows: 1,
			rewrite: "SET CONSTRAINTS pg_catalog.pg_class_oid_index DEFERRED", renamed: "orders_user_id_fkey"},
		// Wrong schema, wrong case, another database, shadow mode, ALL.
		{sql: `SET CONSTRAINTS app.orders_user_id_fkey, "Orders_user_id_fkey", db.public.orders_user_id_fkey, watched DEFERRED`, env: resolved},
		{sql: "SET CONSTRAINTS ALL DEFERRED", env: resolved},
	}
	for _, c := range cases {
		p := planFor(t, db, c.sql, c.env)
		switch {
		case c.rewrite == "" && p != nil:
			t.Errorf("%s: plan %+v, want none", c.sql, p)
		case c.rewrite != "" && (p == nil || p.Rewrite != c.rewrite):
			t.Errorf("%s: plan %+v, want rewrite %q", c.sql, p, c.rewrite)
		case p != nil && c.renamed == "" && p.Rename != nil,
			p != nil && c.renamed != "" && (p.Rename == nil || *p.Rename != Rename{From: "pg_class_oid_index", To: c.renamed}):
			t.Errorf("%s: rename %+v, want %q", c.sql, p.Rename, c.renamed)
		}
		res, err := parser.Analyze(c.sql)
		if err != nil {
			t.Fatal(err)
		}
		if q := db.ResolveQuery(&res.Statements[0], c.env); strings.Count(q, "WITH ORDINALITY") != c.resolvedRows {
			t.Errorf("%s: resolve query %q, want %d rows", c.sql, q, c.resolvedRows)
		}
	}
}
