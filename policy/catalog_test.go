package policy

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/softfk/softfk/config"
)

// The catalog is read catalogChunk tables per statement, each table by
// exactly one of them.
func TestCatalogQueriesChunks(t *testing.T) {
	for _, n := range []int{0, 1, catalogChunk, catalogChunk + 1, 2*catalogChunk + 50} {
		var tables []config.TableName
		for i := range n {
			tables = append(tables, config.TableName{Schema: "public", Name: fmt.Sprintf("t%d", i)})
		}
		queries := CatalogQueries(tables)
		if want := max(1, (n+catalogChunk-1)/catalogChunk); len(queries) != want {
			t.Errorf("%d tables: %d statements, want %d", n, len(queries), want)
		}
		for _, tb := range tables {
			in := 0
			for _, q := range queries {
				if strings.Contains(q, "'"+tb.Name+"')") {
					in++
				}
			}
			if in != 1 {
				t.Errorf("%d tables: %s read by %d statements", n, tb.Name, in)
			}
		}
	}
}

// A table two catalog statements reach (a partition of a table in one
// chunk, named itself in another) comes twice; the catalog is the same.
func TestParseCatalogRepeatedTable(t *testing.T) {
	rows := [][]string{
		catalogRow("public", "orders", "p", 1, "id", "23", "integer", "", 16384),
		catalogRow("public", "orders", "p", 2, "user_id", "23", "integer", "", 16384),
		catalogRow("public", "orders_1", "r", 1, "id", "23", "integer", "public\x1forders", 16390),
		catalogRow("public", "orders_1", "r", 2, "user_id", "23", "integer", "public\x1forders", 16390),
		catalogRow("public", "users", "r", 1, "id", "23", "integer", "", 16400),
	}
	rows[2][11], rows[3][11] = "insert", "insert"
	once, err := ParseCatalog(rows)
	if err != nil {
		t.Fatal(err)
	}
	twice, err := ParseCatalog(append(slices.Clone(rows), rows[3], rows[2]))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(once, twice) {
		t.Errorf("catalog with orders_1 read twice:\n%+v\nwant\n%+v", twice, once)
	}
	if !once.Tables[config.TableName{Schema: "public", Name: "orders"}].BeforeInsertTrigger {
		t.Error("orders_1's BEFORE INSERT trigger does not count for orders")
	}
}

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
