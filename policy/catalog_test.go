package policy

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The catalog's index column lists each index with its key columns
// (INCLUDE columns are not keys, an expression ends the plain prefix),
// the owning constraint, in any order: softfk keeps them in OID order, as
// Postgres looks for the index a FOREIGN KEY depends on.
func TestParseIndexes(t *testing.T) {
	byNum := map[int]string{1: "id", 2: "email", 3: "a"}
	spec := strings.Join([]string{
		"true\x1f3 1\x1f1\x1f300\x1fusers_a_incl\x1f",
		"true\x1f1\x1f1\x1f200\x1fusers_pkey\x1fusers_pkey",
		"true\x1f2 0\x1f2\x1f400\x1fusers_expr\x1f",
		"false\x1f2 3\x1f2\x1f100\x1fusers_email_a\x1f",
	}, "\x1e")
	got := parseIndexes(spec, byNum)
	want := []Index{
		{Name: "users_email_a", OID: 100, Prefix: []string{"email", "a"}, Keys: 2},
		{Name: "users_pkey", OID: 200, Prefix: []string{"id"}, Keys: 1, Unique: true, Constraint: "users_pkey"},
		{Name: "users_a_incl", OID: 300, Prefix: []string{"a"}, Keys: 1, Unique: true},
		{Name: "users_expr", OID: 400, Prefix: []string{"email"}, Keys: 2, Unique: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parseIndexes = %+v, want %+v", got, want)
	}
	var keys []bool
	for _, idx := range got {
		keys = append(keys, idx.UniqueKey())
	}
	if !slices.Equal(keys, []bool{false, true, true, false}) {
		t.Errorf("UniqueKey = %v, want [false true true false]", keys)
	}
}
