package policy

import (
	"strconv"
	"strings"
	"testing"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/parser"
)

// testDB builds a database policy from a config and a fake catalog:
// tables maps "schema.table" to "col:type" pairs (the first ones form the
// primary key when listed in pk).
func testDB(t testing.TB, yaml string, tables map[string][]string) *DB {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	db := New(cfg).Database("app")
	var rows [][]string
	for name, cols := range tables {
		schema, table, _ := strings.Cut(name, ".")
		for i, c := range cols {
			col, typ, _ := strings.Cut(c, ":")
			rows = append(rows, catalogRow(schema, table, "r", i+1, col, "23", typ, "", 16384+len(rows)))
		}
	}
	if _, err := db.SetCatalog(rows); err != nil {
		t.Fatal(err)
	}
	return db
}

// catalogRow is the catalog row (see CatalogQuery) of column num of a
// relation of kind, a partition of partitionOf (chr(31)-separated schema
// and name) when that is not empty, with a unique index on its first
// column.
func catalogRow(schema, table, kind string, num int, col, typOID, typ, partitionOf string, oid int) []string {
	return []string{schema, table, kind, strconv.Itoa(num), col, typOID, typ, "false", "false", "false",
		"true\x1f1\x1f1\x1f" + strconv.Itoa(oid+100000) + "\x1f" + table + "_pkey\x1f" + table + "_pkey", "", "false", "true", partitionOf, strconv.Itoa(oid), "", "", "", "", "", "", ""}
}

func planFor(t *testing.T, db *DB, sql string, env Env) *Plan {
	t.Helper()
	res, err := parser.Analyze(sql)
	if err != nil {
		t.Fatal(err)
	}
	return db.Plan(&res.Statements[0], env)
}

func TestPlanParentKeyUpdate(t *testing.T) {
	db := testDB(t, `relationships:
  - {table: orders, columns: [user_id], references: {table: users, columns: [id]}, on_update: cascade}
  - {table: tags, columns: [user_code], references: {table: users, columns: [code]}, on_update: set null}
`, map[string][]string{"public.users": {"id:integer", "code:text"}, "public.orders": {"id:integer", "user_id:integer"}, "public.tags": {"id:integer", "user_code:text"}})
	p := planFor(t, db, "UPDATE users SET id = 10 WHERE id = 1", Env{StandardStrings: true})
	if p == nil || len(p.Before) != 2 || p.Before[0].Check == nil || !p.Before[1].Collect {
		t.Fatalf("want a conflict check then a capture, got %+v", p)
	}
	t.Log(p.Before[1].SQL)
	one, two := "1", "10"
	a, b := "a", "a"
	steps := p.Continue.Next(Collected{Steps: [][][]*string{{{&one, &a, &two, &b}}}})
	for _, st := range steps {
		t.Log(st.SQL)
	}
}

func TestPlanOneRowInsertChecksItsOwnRow(t *testing.T) {
	db := testDB(t, `relationships:
  - {table: orders, columns: [user_id], references: {table: users, columns: [id]}}
  - {table: orders, columns: [tag_id], references: {table: tags, columns: [id]}, mode: shadow}
  - {table: users, columns: [boss_id], references: {table: users, columns: [id]}}
`, map[string][]string{"public.users": {"id:integer", "boss_id:integer"}, "public.orders": {"id:integer", "user_id:integer", "tag_id:integer"}, "public.tags": {"id:integer"}})
	env := Env{StandardStrings: true, Extended: true}

	p := planFor(t, db, "INSERT INTO orders AS o VALUES (1, 2, 3)", env)
	if p == nil || p.Inline == nil || p.Inline.Enforced == nil || p.Inline.Shadow == nil || p.Inline.Shadows != 1 || len(p.Hidden) != 2 || len(p.After) != 0 {
		t.Fatalf("want the row checked inside the statement, got %+v", p)
	}
	enforced, shadow := p.Hidden[0], p.Hidden[1]
	for _, want := range []string{"CAST(CASE WHEN o.tableoid = ", " THEN (SELECT ", "softfk_parent.id = o.user_id FOR KEY SHARE OF softfk_parent"} {
		if !strings.Contains(enforced, want) {
			t.Errorf("enforced check %q lacks %q", enforced, want)
		}
	}
	if !strings.Contains(shadow, "softfk_parent.id = o.tag_id") || strings.Contains(shadow, "FOR KEY SHARE") || strings.HasPrefix(shadow, "CAST") {
		t.Errorf("shadow check %q should return the violation without locking", shadow)
	}

	if p := planFor(t, db, "INSERT INTO public.orders VALUES (1, 2, 3)", env); p == nil || p.Inline == nil || strings.Contains(p.Hidden[0], "tableoid") {
		t.Errorf("a schema-qualified table needs no guard: %+v", p)
	}
	// Another table named orders, without user_id, may be what an
	// unqualified name denotes: SQL naming o.user_id would then fail.
	col := db.rels[0].ChildCols[0]
	col.Everywhere = false
	db.rels[0].ChildCols[0] = col
	if p := planFor(t, db, "INSERT INTO orders VALUES (1, 2, 3)", env); p == nil || p.Inline != nil {
		t.Errorf("a namesake without the key column: want a check after the statement, got %+v", p)
	}
	if p := planFor(t, db, "INSERT INTO public.orders VALUES (1, 2, 3)", env); p == nil || p.Inline == nil {
		t.Errorf("a qualified name denotes the table itself: want the row checked inside the statement, got %+v", p)
	}
	col.Everywhere = true
	db.rels[0].ChildCols[0] = col

	simple := Env{StandardStrings: true}
	if p := planFor(t, db, "INSERT INTO orders VALUES (1, 2, 3)", simple); p == nil || p.Inline != nil || len(p.After) == 0 {
		t.Errorf("simple protocol, known keys: want a prepared check after the statement, got %+v", p)
	}
	if p := planFor(t, db, "INSERT INTO orders VALUES (1, (SELECT 2), 3)", simple); p == nil || p.Inline == nil {
		t.Errorf("simple protocol, computed keys: want the row checked inside the statement, got %+v", p)
	}
	for _, sql := range []string{
		"INSERT INTO orders VALUES (1, 2, 3), (2, 2, 3)", // another row may fail otherwise first
		"INSERT INTO orders SELECT 1, 2, 3",              // idem
		"INSERT INTO users VALUES (1, 1)",                // the row references itself
	} {
		if p := planFor(t, db, sql, env); p == nil || p.Inline != nil {
			t.Errorf("%s: want a check after the statement, got %+v", sql, p)
		}
	}
	for _, sql := range []string{
		"INSERT INTO orders VALUES (1, 2, 3) ON CONFLICT (id) DO UPDATE SET user_id = 2",
		"UPDATE orders SET user_id = $1 WHERE id = $2",
		"UPDATE orders o SET user_id = 2, tag_id = NULL WHERE o.id = 7 AND o.user_id > 1",
	} {
		p := planFor(t, db, sql, env)
		if p == nil || p.Inline == nil || !strings.Contains(p.Hidden[0], "softfk_old.user_id = ") {
			t.Errorf("%s: want the row checked inside the statement where its key changed, got %+v", sql, p)
		}
	}
	for _, sql := range []string{
		"UPDATE orders SET user_id = 2 WHERE id IN (1, 2)",
		"UPDATE orders SET user_id = 2 FROM users u WHERE orders.id = 1 AND u.id = 2",
	} {
		p := planFor(t, db, sql, env)
		if p == nil || p.Inline != nil || p.Continue == nil || !strings.Contains(strings.Join(p.Hidden, " "), "softfk_old.user_id = ") {
			t.Errorf("%s: want new keys and kept flags returned and checked after the statement, got %+v", sql, p)
		}
	}
}

// Plans depend on the catalog's content only: a catalog read again
// unchanged (every 30 s) must give the same SQL, or every prepared
// statement would be prepared again each time.
func TestPlansDoNotChangeWithAnUnchangedCatalog(t *testing.T) {
	yaml := `relationships:
  - {table: orders, columns: [user_id], references: {table: users, columns: [id]}, on_delete: cascade}
  - {table: orders, columns: [tag_id, tag_kind], references: {table: tags, columns: [id, kind]}, mode: shadow}
  - {table: users, columns: [boss_id], references: {table: users, columns: [id]}, on_update: set null}
`
	tables := map[string][]string{"public.users": {"id:integer", "boss_id:integer", "name:text"},
		"public.orders": {"id:integer", "user_id:integer", "tag_id:integer", "tag_kind:text"},
		"public.tags":   {"id:integer", "kind:text"}}
	render := func(p *Plan) string {
		if p == nil {
			return "<nil>"
		}
		out := strings.Join(p.Hidden, "|")
		for _, steps := range [][]*Step{p.Before, p.After} {
			for _, s := range steps {
				out += "|" + s.SQL
			}
		}
		return out
	}
	statements := []string{
		"INSERT INTO orders VALUES ($1, $2, $3, $4)",
		"INSERT INTO orders VALUES (1, 2, 3, 'a'), (2, 2, 3, 'b')",
		"UPDATE users SET id = $1 WHERE id = $2",
		"DELETE FROM users WHERE id = $1",
		"UPDATE orders SET user_id = $1, tag_id = $2 WHERE id = $3",
	}
	first := testDB(t, yaml, tables)
	for i := 0; i < 5; i++ {
		again := testDB(t, yaml, tables) // rows in another map order
		for _, sql := range statements {
			for _, env := range []Env{{StandardStrings: true, Extended: true}, {StandardStrings: true}} {
				if a, b := render(planFor(t, first, sql, env)), render(planFor(t, again, sql, env)); a != b {
					t.Fatalf("%s (extended %v): plans differ:\n%s\n%s", sql, env.Extended, a, b)
				}
			}
		}
	}
}

func TestPlanFewRowsParentDeleteKeepsItsKeysForTheStepsAfterIt(t *testing.T) {
	db := testDB(t, `relationships:
  - {table: orders, columns: [user_id], references: {table: users, columns: [id]}, on_delete: cascade}
  - {table: items, columns: [order_id], references: {table: orders, columns: [id]}, on_delete: cascade}
`, map[string][]string{"public.users": {"id:integer"}, "public.orders": {"id:integer", "user_id:integer"}, "public.items": {"id:integer", "order_id:integer"}})
	env := Env{StandardStrings: true, Extended: true}

	// One order at most: its items go in a step of the same batch, which
	// reads the deleted key from the setting the DELETE's RETURNING fills.
	p := planFor(t, db, "DELETE FROM orders WHERE id = $1", env)
	if p == nil || p.Continue != nil || len(p.Hidden) != 1 || len(p.After) != 1 {
		t.Fatalf("want the deleted key kept on the server and one step after, got %+v", p)
	}
	if !strings.Contains(p.Hidden[0], "set_config('"+deletedKeys+"'") {
		t.Errorf("hidden column %q does not keep the key", p.Hidden[0])
	}
	if len(p.Before) != 1 || p.Before[0].Check == nil || !strings.HasSuffix(p.Before[0].SQL, ", "+clearDeletedKeys) {
		t.Errorf("want the conflict check emptying the setting before the DELETE, got %+v", p.Before)
	}
	if after := p.After[0]; !strings.HasPrefix(after.SQL, "DELETE FROM") || !strings.Contains(after.SQL, deletedKeysRead) || len(after.Args) != 0 {
		t.Errorf("want the cascade reading the setting, got %q with %d args", after.SQL, len(after.Args))
	}

	// A short IN list of keys too.
	if p := planFor(t, db, "DELETE FROM orders WHERE id IN ($1, $2) AND user_id = 3", env); p == nil || p.Continue != nil || len(p.After) != 1 {
		t.Errorf("want a short list of keys kept on the server, got %+v", p)
	}

	// Cascaded orders are parents themselves: their keys must come back
	// first. Many rows would grow the setting row after row.
	many := "DELETE FROM orders WHERE id IN (" + strings.Repeat("1, ", fewRows) + "1)"
	for _, sql := range []string{"DELETE FROM users WHERE id = $1", "DELETE FROM orders WHERE user_id = $1", many} {
		if p := planFor(t, db, sql, env); p == nil || p.Continue == nil || len(p.After) != 0 {
			t.Errorf("%s: want the keys collected through RETURNING, got %+v", sql, p)
		}
	}
}

func TestPlanUpdateOfOneRowByAListOfOneChecksItsRow(t *testing.T) {
	db := testDB(t, `relationships:
  - {table: orders, columns: [user_id], references: {table: users, columns: [id]}}
`, map[string][]string{"public.users": {"id:integer"}, "public.orders": {"id:integer", "user_id:integer"}})
	env := Env{StandardStrings: true, Extended: true}
	if p := planFor(t, db, "UPDATE orders SET user_id = $1 WHERE id IN ($2)", env); p == nil || p.Inline == nil {
		t.Errorf("a list of one key: want the row checked inside the statement, got %+v", p)
	}
	if p := planFor(t, db, "UPDATE orders SET user_id = $1 WHERE id IN ($2, $3)", env); p == nil || p.Inline != nil {
		t.Errorf("a list of two keys: want the rows checked after the statement, got %+v", p)
	}
}

// check-config warns of a relationship that names a partition: writes
// through its partitioned table are not checked for it.
func TestCheckWarnsOfAPartition(t *testing.T) {
	row := func(table, col, partitionOf string) []string {
		return catalogRow("public", table, "r", 1, col, "23", "integer", partitionOf, 16400)
	}
	cat, err := ParseCatalog([][]string{row("users_low", "id", "public\x1fusers"), row("orders", "user_id", "")})
	if err != nil {
		t.Fatal(err)
	}
	r := config.Relationship{Table: config.TableName{Schema: "public", Name: "orders"}, Columns: []string{"user_id"},
		RefTable: config.TableName{Schema: "public", Name: "users_low"}, RefColumns: []string{"id"}, Match: config.MatchSimple}
	var warned bool
	for _, p := range cat.Check(r) {
		if p.Warning && p.Field == "references.table" && strings.Contains(p.Msg, "partition of public.users") {
			warned = true
		} else if !p.Warning {
			t.Errorf("unexpected problem %+v", p)
		}
	}
	if !warned {
		t.Errorf("no warning that users_low is a partition: %+v", cat.Check(r))
	}
}
