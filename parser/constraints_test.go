package parser

import (
	"reflect"
	"testing"
)

func TestSetConstraints(t *testing.T) {
	cases := []struct {
		sql  string
		want *SetConstraints
	}{
		{sql: "SET CONSTRAINTS orders_user_id_fkey IMMEDIATE", want: &SetConstraints{Names: []ConstraintName{{Name: "orders_user_id_fkey"}}}},
		{sql: `SET CONSTRAINTS s."Order Items", db.s.fk, X DEFERRED`, want: &SetConstraints{Deferred: true,
			Names: []ConstraintName{{Schema: "s", Name: "Order Items"}, {Catalog: "db", Schema: "s", Name: "fk"}, {Name: "x"}}}},
		{sql: "SET CONSTRAINTS ALL DEFERRED"},
		{sql: "SET search_path = constraints"},
	}
	for _, c := range cases {
		res, err := Analyze(c.sql)
		if err != nil {
			t.Fatalf("%s: %v", c.sql, err)
		}
		if got := res.Statements[0].SetConstraints; !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, want %+v", c.sql, got, c.want)
		}
	}
}

func TestMaySetConstraints(t *testing.T) {
	for sql, want := range map[string]bool{
		"set constraints fk immediate":             true,
		"SET CONSTRAINTS ALL DEFERRED":             true,
		"ALTER TABLE t ADD CONSTRAINT c CHECK (1)": false,
		"SELECT constraints_count FROM t":          false,
	} {
		if got := MaySetConstraints(sql); got != want {
			t.Errorf("MaySetConstraints(%q) = %v, want %v", sql, got, want)
		}
	}
}
