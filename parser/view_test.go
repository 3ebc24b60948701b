package parser

import (
	"slices"
	"testing"
)

func TestViewSource(t *testing.T) {
	cases := []struct {
		def     string
		base    Relation
		columns []string
		ok      bool
	}{
		{def: " SELECT o.id,\n    o.user_id AS uid,\n    (o.id + 1) AS x\n   FROM orders o\n  WHERE (o.id > 0);",
			base: Relation{Name: "orders", Inh: true, Alias: "o"}, columns: []string{"id", "user_id", ""}, ok: true},
		{def: " SELECT orders.id,\n    orders.user_id\n   FROM s.orders;",
			base: Relation{Schema: "s", Name: "orders", Inh: true}, columns: []string{"id", "user_id"}, ok: true},
		{def: "SELECT s.orders.id, other.id, id FROM ONLY s.orders",
			base: Relation{Schema: "s", Name: "orders"}, columns: []string{"id", "", "id"}, ok: true},
		{def: "SELECT \"Mixed\".\"Key\" FROM \"Mixed\"", base: Relation{Name: "Mixed", Inh: true}, columns: []string{"Key"}, ok: true},
		{def: "SELECT a.id FROM a JOIN b ON a.id = b.id"},
		{def: "SELECT id FROM a UNION SELECT id FROM b"},
		{def: "WITH w AS (SELECT 1) SELECT id FROM a"},
		{def: "SELECT id FROM (SELECT id FROM a) s"},
		{def: "not sql"},
	}
	for _, c := range cases {
		base, columns, ok := ViewSource(c.def)
		if ok != c.ok || base != c.base || !slices.Equal(columns, c.columns) {
			t.Errorf("ViewSource(%q) = %+v, %q, %v; want %+v, %q, %v", c.def, base, columns, ok, c.base, c.columns, c.ok)
		}
	}
}
