package policy

import (
	"strconv"
	"strings"
	"testing"

	"github.com/softfk/softfk/config"
)

// viewDB is a database policy where orders references users, with views
// of orders: ov renames the key, hv hides it, vv is a view of ov, and bad
// selects from a table softfk does not know.
func viewDB(t *testing.T) *DB {
	t.Helper()
	cfg, err := config.Parse([]byte(`relationships:
  - {table: orders, columns: [user_id], references: {table: users, columns: [id]}}
`))
	if err != nil {
		t.Fatal(err)
	}
	db := New(cfg).Database("app")
	reads := func(names ...string) string {
		var out []string
		for _, n := range names {
			out = append(out, "public\x1f"+n+"\x1ftrue")
		}
		return strings.Join(out, "\x1e")
	}
	view := func(name, def, read string, cols ...string) [][]string {
		var rows [][]string
		for i, c := range cols {
			r := catalogRow("public", name, "v", i+1, c, "23", "integer", "", 17000)
			if i == 0 {
				r[16], r[17] = def, read
			}
			rows = append(rows, r)
		}
		return rows
	}
	rows := [][]string{
		catalogRow("public", "users", "r", 1, "id", "23", "integer", "", 16384),
		catalogRow("public", "orders", "r", 1, "id", "23", "integer", "", 16385),
		catalogRow("public", "orders", "r", 2, "user_id", "23", "integer", "", 16385),
	}
	rows = append(rows, view("ov", "SELECT o.id, o.user_id AS uid FROM orders o", reads("orders"), "id", "uid")...)
	rows = append(rows, view("hv", "SELECT id, id + 1 AS user_id FROM orders", reads("orders"), "id", "user_id")...)
	rows = append(rows, view("vv", "SELECT uid AS who FROM ov WHERE id > (SELECT min(id) FROM users)", reads("ov", "users"), "who")...)
	rows = append(rows, view("bad", "SELECT id AS user_id FROM elsewhere", reads("elsewhere"), "user_id")...)
	if _, err := db.SetCatalog(rows); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestViewsAreCheckedAsTheirTables(t *testing.T) {
	db := viewDB(t)
	env := Env{StandardStrings: true}
	for _, sql := range []string{
		"INSERT INTO ov (id, uid) VALUES (1, 2)",
		"UPDATE ov SET uid = 3 WHERE id = 1",
		"INSERT INTO vv VALUES (4)",
	} {
		p := planFor(t, db, sql, env)
		if p == nil || p.Unverifiable != nil {
			t.Errorf("%s: want checks, got %+v", sql, p)
		}
	}
	for _, sql := range []string{
		"UPDATE ov SET id = 3",
		"DELETE FROM ov",
		"UPDATE hv SET id = 3",
		"DELETE FROM hv",
		"INSERT INTO bad VALUES (1)",
	} {
		if p := planFor(t, db, sql, env); p != nil {
			t.Errorf("%s: want nothing to check, got %+v", sql, p)
		}
	}
	if p := planFor(t, db, "INSERT INTO hv (id) VALUES (1)", env); p == nil || p.Unverifiable == nil {
		t.Errorf("an INSERT through a view hiding the key: want unverifiable, got %+v", p)
	}
	if names := db.MentionNames(); !strings.Contains(strings.Join(names, " "), "vv") || strings.Contains(strings.Join(names, " "), "bad") {
		t.Errorf("guarded names %q: want the views of guarded tables, and no other", names)
	}
}

// A violation through a view carries the names of the view's table, as
// PostgreSQL's error does.
func TestViewViolationsNameTheTable(t *testing.T) {
	db := viewDB(t)
	p := planFor(t, db, "INSERT INTO ov (id, uid) VALUES (1, 2)", Env{StandardStrings: true})
	if p == nil {
		t.Fatal("no plan")
	}
	for _, step := range p.After {
		if step.Check == nil {
			continue
		}
		var idx int
		for i := range step.Check.rels {
			idx = i
		}
		v, err := step.Check.decode(`[` + strconv.Itoa(idx) + `, true, "` + kindMissing + `", "2"]`)
		if err != nil {
			t.Fatal(err)
		}
		want := `insert or update on table "orders" violates foreign key constraint "orders_user_id_fkey"`
		if v.Message != want || v.Detail != `Key (user_id)=(2) is not present in table "users".` || v.Table != "orders" {
			t.Errorf("got %q / %q on %q; want %q", v.Message, v.Detail, v.Table, want)
		}
		return
	}
	t.Fatalf("no check in %+v", p)
}
