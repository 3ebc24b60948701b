package parser

import (
	"reflect"
	"testing"
)

func TestDrop(t *testing.T) {
	cases := []struct {
		sql  string
		want *Drop
	}{
		{sql: "DROP TABLE users", want: &Drop{Tables: []Relation{{Name: "users", Inh: true}}}},
		{sql: `DROP TABLE IF EXISTS s."Users", orders CASCADE`,
			want: &Drop{Tables: []Relation{{Schema: "s", Name: "Users", Inh: true}, {Name: "orders", Inh: true}}, Cascade: true, MissingOK: true}},
		{sql: "DROP TABLE db.s.users RESTRICT", want: &Drop{Tables: []Relation{{Schema: "s", Name: "users", Inh: true}}}},
		{sql: "DROP VIEW users"},
		{sql: "DROP INDEX users_pkey", want: &Drop{Tables: []Relation{{Name: "users_pkey", Inh: true}}, Indexes: true}},
		{sql: "DROP INDEX CONCURRENTLY IF EXISTS s.users_email_key CASCADE",
			want: &Drop{Tables: []Relation{{Schema: "s", Name: "users_email_key", Inh: true}}, Indexes: true, Cascade: true, MissingOK: true, Concurrently: true}},
		{sql: "DROP SCHEMA s CASCADE"},
	}
	for _, c := range cases {
		res, err := Analyze(c.sql)
		if err != nil {
			t.Fatalf("%s: %v", c.sql, err)
		}
		st := res.Statements[0]
		if got := st.Drop; !reflect.DeepEqual(got, c.want) || st.Kind != Schema {
			t.Errorf("%s: %+v (kind %v), want %+v", c.sql, got, st.Kind, c.want)
		}
	}
}
