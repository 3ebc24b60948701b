package parser

import (
	"reflect"
	"strings"
	"testing"
)

// variant returns sql with the literal tokens that t turns into
// parameters (all of them when t is nil) replaced by others of the same
// kind, drawn from seed.
func variant(sql string, t *template, seed uint64) string {
	_, lits, ok := literals(sql)
	if !ok {
		return sql
	}
	pools := map[byte][]string{
		's': {`'x'`, `''''`, `'é'`, `'1'`, `'--'`, `'$1'`, `''`, `'a''b'`},
		'n': {"0", "2147483648", "1.5", "1e3", "007", "99999999999999999999", ".5", "42"},
		'b': {"TRUE", "false"},
	}
	var b strings.Builder
	last := 0
	for i, l := range lits {
		if t != nil && (len(t.literals) != len(lits) || !t.literals[i].param) {
			continue
		}
		pool := pools[l.kind]
		b.WriteString(sql[last:l.from])
		b.WriteString(pool[seed%uint64(len(pool))])
		seed = seed/uint64(len(pool)) + seed*2654435761
		last = l.to
	}
	b.WriteString(sql[last:])
	return b.String()
}

// checkTemplate checks that a query string of the form of sql is
// parameterized from sql's template exactly as Parameterize does it from
// a parse, and reports whether the template served (a plain INSERT that
// fastInsert reads needs none).
func checkTemplate(t *testing.T, sql string, seed uint64) bool {
	t.Helper()
	c := NewCache(16)
	if _, _, err := c.Parameterize(sql); err != nil {
		return false
	}
	var tmpl *template
	if key, _, ok := literals(sql); ok {
		tmpl, _ = c.templates.lookup(key)
	}
	other := variant(sql, tmpl, seed)
	got, res, err := c.Parameterize(other)
	var want *Parameterized
	if parsed, err2 := analyzeTree(other); err2 == nil && len(parsed.Statements) == 1 {
		want, _ = Parameterize(other, &parsed.Statements[0])
	}
	if err != nil {
		if want != nil {
			t.Errorf("%q: error %v, want %+v", other, err, want)
		}
		return false
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%q (the form of %q):\n got %+v\nwant %+v", other, sql, got, want)
	}
	return res == nil
}

func TestTemplates(t *testing.T) {
	for _, sql := range []string{
		"INSERT INTO orders (id, user_id, note) VALUES (1, 2, 'a') RETURNING id",
		`INSERT INTO "orders" ("user_id", "placed") VALUES (42, '2024-01-01'::date) RETURNING "orders"."id"`,
		"UPDATE orders SET user_id = 7, note = 'x', amount = amount + 1 WHERE id = 9 AND 'b' = code;  ",
		"update t set a = - 5, b = true where id = -1",
		"INSERT INTO t VALUES (CAST('1' AS int4), 1.5)",
	} {
		for seed := uint64(0); seed < 20; seed++ {
			if !checkTemplate(t, sql, seed) {
				t.Errorf("%q: no template served its variant %d", sql, seed)
			}
		}
	}
	// A token kept in the text must be the same: another LIMIT, another
	// type modifier is another statement.
	c := NewCache(16)
	c.Parameterize("UPDATE t SET a = 1, b = 'x'::varchar(5) WHERE id = 2")
	if p, res, _ := c.Parameterize("UPDATE t SET a = 3, b = 'y'::varchar(6) WHERE id = 4"); res == nil {
		t.Errorf("a kept token that differs: %+v from a template", p)
	}
	for _, sql := range []string{
		"INSERT INTO t VALUES (E'x')", "INSERT INTO t VALUES (U&'x')", "INSERT INTO t VALUES ($$x$$)",
		"INSERT INTO t VALUES (1) -- c", "INSERT INTO t VALUES (1) /* c */", "INSERT INTO t VALUES ('a'\n'b')",
		"INSERT INTO t VALUES (1x)", "INSERT INTO t VALUES ($1)", `INSERT INTO U&"t" VALUES (1)`, "INSERT INTO t VALUES (0x1F)",
	} {
		if key, _, ok := literals(sql); ok {
			t.Errorf("%q: read as %q", sql, key)
		}
	}
}

func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"INSERT INTO t VALUES (1)", "insert into s.t (a, b, c) values (-1, 'x', NULL);",
		`INSERT INTO "q""t" VALUES (1.5, true, 'é''', DEFAULT) RETURNING *`,
		"UPDATE t SET a = 1, b = 'x'::date WHERE id = -2 AND k = 'z' RETURNING *",
		"INSERT INTO t (a, b) VALUES (CAST('1' AS int4), - 1e-3) ON CONFLICT (a) DO UPDATE SET b = 2"} {
		f.Add(s, uint64(1))
	}
	f.Fuzz(func(t *testing.T, sql string, seed uint64) { checkTemplate(t, sql, seed) })
}
