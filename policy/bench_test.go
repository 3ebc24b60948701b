package policy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/parser"
)

// BenchmarkPlanHundredRowInsert measures what softfk does for a 100-row
// INSERT of literals sent with the simple protocol before anything goes
// upstream: reading the statement and planning its check.
func BenchmarkPlanHundredRowInsert(b *testing.B) {
	db := testDB(b, `relationships:
  - {table: orders, columns: [user_id], references: {table: users, columns: [id]}}
`, map[string][]string{"public.users": {"id:bigint"}, "public.orders": {"id:bigint", "user_id:bigint", "amount:integer"}})
	rows := make([]string, 100)
	for i := range rows {
		rows[i] = fmt.Sprintf("(%d, 1)", 1000+i*37)
	}
	sql := "INSERT INTO orders (user_id, amount) VALUES " + strings.Join(rows, ", ")
	env := Env{StandardStrings: true}
	b.ReportAllocs()
	for b.Loop() {
		res, err := parser.Analyze(sql)
		if err != nil {
			b.Fatal(err)
		}
		if p := db.Plan(&res.Statements[0], env); p == nil || len(p.After) != 1 {
			b.Fatalf("want one check after the statement, got %+v", p)
		}
	}
}

// BenchmarkPlanOneRowInsertWithManyPartitions measures planning a one-row
// INSERT into a table whose two relationships are derived onto each of
// 365 partitions (see partitionRels): every plan looks at all of them.
func BenchmarkPlanOneRowInsertWithManyPartitions(b *testing.B) {
	for _, partitions := range []int{0, 365} {
		b.Run(fmt.Sprint(partitions), func(b *testing.B) {
			db := partitionedDB(b, partitions)
			res, err := parser.Analyze("INSERT INTO orders (id, user_id, shop_id) VALUES ($1, $2, $3)")
			if err != nil {
				b.Fatal(err)
			}
			env := Env{StandardStrings: true, Extended: true}
			b.ReportAllocs()
			for b.Loop() {
				if p := db.Plan(&res.Statements[0], env); p == nil || p.Inline == nil {
					b.Fatalf("want the row checked inside the statement, got %+v", p)
				}
			}
		})
	}
}

// partitionedDB is a database policy whose orders (id, user_id, shop_id)
// reference users and shops, with n partitions of orders.
func partitionedDB(b *testing.B, n int) *DB {
	cfg, err := config.Parse([]byte(`relationships:
  - {table: orders, columns: [user_id], references: {table: users, columns: [id]}}
  - {table: orders, columns: [shop_id], references: {table: shops, columns: [id]}}
`))
	if err != nil {
		b.Fatal(err)
	}
	db := New(cfg).Database("app")
	var rows [][]string
	add := func(table, kind, partitionOf string, cols ...string) {
		for i, col := range cols {
			rows = append(rows, catalogRow("public", table, kind, i+1, col, "20", "bigint", partitionOf, 16384+len(rows)))
		}
	}
	add("users", "r", "", "id")
	add("shops", "r", "", "id")
	add("orders", "p", "", "id", "user_id", "shop_id")
	for i := range n {
		add(fmt.Sprintf("orders_%d", i), "r", "public\x1forders", "id", "user_id", "shop_id")
	}
	if _, err := db.SetCatalog(rows); err != nil {
		b.Fatal(err)
	}
	return db
}
