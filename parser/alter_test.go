package parser

import (
	"reflect"
	"testing"
)

func TestAlter(t *testing.T) {
	rel := func(schema, name string) *Relation { return &Relation{Schema: schema, Name: name, Inh: true} }
	cases := []struct {
		sql  string
		want *Alter
	}{
		{sql: "ALTER TABLE orders ATTACH PARTITION s.old FOR VALUES FROM (1) TO (2)",
			want: &Alter{Table: Relation{Name: "orders", Inh: true}, Attach: rel("s", "old")}},
		{sql: `ALTER TABLE "Users" DETACH PARTITION u1`, want: &Alter{Table: Relation{Name: "Users", Inh: true}, Detach: rel("", "u1")}},
		{sql: "ALTER TABLE users DETACH PARTITION u1 CONCURRENTLY",
			want: &Alter{Table: Relation{Name: "users", Inh: true}, Detach: rel("", "u1"), Concurrently: true}},
		{sql: "ALTER TABLE users DETACH PARTITION u1 FINALIZE",
			want: &Alter{Table: Relation{Name: "users", Inh: true}, Detach: rel("", "u1"), Concurrently: true}},
		{sql: `ALTER TABLE ONLY s.orders ADD COLUMN x int, ALTER COLUMN user_id TYPE bigint USING user_id + 1, ALTER b SET DATA TYPE text, ALTER c TYPE "char", ALTER d TYPE varchar(3)[], ALTER e TYPE public.citext`,
			want: &Alter{Table: Relation{Schema: "s", Name: "orders"}, Retyped: []string{"user_id", "b", "c", "d", "e"},
				RetypedTo: []string{"pg_catalog.int8", `"text"`, `"char"`, "pg_catalog.varchar[]", "public.citext"}}},
		{sql: `ALTER TABLE users DROP COLUMN IF EXISTS nope, ADD COLUMN x int, DROP "Id" CASCADE, DROP COLUMN email RESTRICT`,
			want: &Alter{Table: Relation{Name: "users", Inh: true}, Drops: []AlterDrop{
				{Name: "nope", MissingOK: true}, {Name: "Id", Cascade: true}, {Name: "email"}}}},
		{sql: `ALTER TABLE users DROP CONSTRAINT IF EXISTS nope, DROP COLUMN a, DROP CONSTRAINT "Users_pkey" CASCADE`,
			want: &Alter{Table: Relation{Name: "users", Inh: true}, Drops: []AlterDrop{
				{Name: "nope", Constraint: true, MissingOK: true}, {Name: "a"}, {Name: "Users_pkey", Constraint: true, Cascade: true}}}},
		{sql: "ALTER TABLE IF EXISTS s.orders DISABLE TRIGGER ALL",
			want: &Alter{Table: Relation{Schema: "s", Name: "orders", Inh: true}, Triggers: TriggersDisabled}},
		{sql: "ALTER TABLE orders DISABLE TRIGGER ALL, ENABLE TRIGGER ALL, DROP COLUMN x",
			want: &Alter{Table: Relation{Name: "orders", Inh: true}, Triggers: TriggersEnabled, Drops: []AlterDrop{{Name: "x"}}}},
		{sql: "ALTER TABLE orders ADD COLUMN x int"},
		{sql: "ALTER TABLE orders DISABLE TRIGGER USER, ENABLE TRIGGER t, ENABLE REPLICA TRIGGER u"},
		{sql: "ALTER INDEX i ATTACH PARTITION j"},
		{sql: "ALTER TABLE orders RENAME COLUMN a TO b"},
	}
	for _, c := range cases {
		res, err := Analyze(c.sql)
		if err != nil {
			t.Fatalf("%s: %v", c.sql, err)
		}
		st := res.Statements[0]
		if got := st.Alter; !reflect.DeepEqual(got, c.want) || st.Kind != Schema && c.want != nil {
			t.Errorf("%s: %+v (kind %v), want %+v", c.sql, got, st.Kind, c.want)
		}
		if only := c.want != nil && c.want.Triggers != TriggersKept && c.want.Drops == nil; st.Alter.OnlySwitchesTriggers() != only {
			t.Errorf("%s: OnlySwitchesTriggers %v, want %v", c.sql, !only, only)
		}
	}
}

func TestCreates(t *testing.T) {
	cases := []struct {
		sql  string
		want *Creation
	}{
		{sql: "CREATE TABLE o1 PARTITION OF s.orders FOR VALUES FROM (1) TO (2)",
			want: &Creation{Name: "o1", Over: []Relation{{Schema: "s", Name: "orders", Inh: true}}}},
		{sql: "CREATE VIEW v AS SELECT id, user_id AS u FROM orders o WHERE id > 0",
			want: &Creation{Name: "v", Over: []Relation{{Name: "orders", Inh: true, Alias: "o"}}}},
		{sql: "CREATE OR REPLACE TEMP VIEW v AS SELECT 1", want: &Creation{Name: "v"}},
		{sql: "CREATE TABLE t (id int)"},
		{sql: "CREATE TABLE t AS SELECT * FROM orders"},
		{sql: "SELECT 1"},
	}
	for _, c := range cases {
		res, err := Analyze(c.sql)
		if err != nil {
			t.Fatalf("%s: %v", c.sql, err)
		}
		if got := res.Statements[0].Creates(); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, want %+v", c.sql, got, c.want)
		}
	}
}

func TestChangesWritesOf(t *testing.T) {
	cases := []struct {
		sql  string
		want *Relation
	}{
		{sql: "ALTER TABLE s.orders ALTER COLUMN user_id SET DEFAULT 99", want: &Relation{Schema: "s", Name: "orders", Inh: true}},
		{sql: "ALTER TABLE ONLY orders ADD COLUMN x int, ALTER user_id DROP DEFAULT", want: &Relation{Name: "orders"}},
		{sql: "CREATE TRIGGER t BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION f()", want: &Relation{Name: "orders", Inh: true}},
		{sql: "ALTER TABLE orders ADD COLUMN x int DEFAULT 1"},
		{sql: "ALTER TABLE orders ALTER COLUMN user_id TYPE bigint"},
		{sql: "INSERT INTO orders VALUES (1)"},
	}
	for _, c := range cases {
		res, err := Analyze(c.sql)
		if err != nil {
			t.Fatalf("%s: %v", c.sql, err)
		}
		if got := res.Statements[0].ChangesWritesOf(); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, want %+v", c.sql, got, c.want)
		}
	}
}
