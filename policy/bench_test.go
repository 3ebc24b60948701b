package policy

import (
	"fmt"
	"strings"
	"testing"

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
