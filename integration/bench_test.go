package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Benchmarks of checked writes over one connection (per-statement latency;
// bench/fk.sh measures throughput with many clients). Each runs against a
// fresh database with 10000 users and compares a real FOREIGN KEY, no
// constraint at all, and the soft relationship through softfk.

// benchDB creates the benchmark's tables, then runs extra.
func benchDB(b *testing.B, realFK bool, extra ...string) string {
	db := newDatabase(b)
	conn := connect(b, cluster.DSN(db))
	fk := ""
	if realFK {
		fk = " REFERENCES users (id)"
	}
	mustExec(b, conn, append([]string{"CREATE TABLE users (id bigint PRIMARY KEY)",
		"INSERT INTO users SELECT generate_series(1, 10000)",
		"CREATE TABLE orders (id bigserial PRIMARY KEY, user_id bigint NOT NULL" + fk + ", amount int)",
		"CREATE INDEX ON orders (user_id)"}, extra...)...)
	return db
}

func benchTarget(b *testing.B, target string, extra ...string) *pgx.Conn {
	switch target {
	case "real-fk":
		return connect(b, cluster.DSN(benchDB(b, true, extra...)))
	case "no-fk":
		return connect(b, cluster.DSN(benchDB(b, false, extra...)))
	default:
		p := startProxy(b, configFor(b, "relationships:\n  - {table: orders, columns: [user_id], references: {table: users, columns: [id]}}\n"))
		return connect(b, p.DSN(benchDB(b, false, extra...)))
	}
}

var benchTargets = []string{"real-fk", "no-fk", "softfk"}

// benchInserts runs, against each target, b.N executions of the statement
// and arguments that insert gives for iteration i.
func benchInserts(b *testing.B, insert func(i int) (string, []any)) {
	benchWrites(b, nil, insert)
}

// benchWrites runs, against each target whose database extra has
// prepared, b.N executions of the statement and arguments that write
// gives for iteration i.
func benchWrites(b *testing.B, extra []string, write func(i int) (string, []any)) {
	for _, target := range benchTargets {
		b.Run(target, func(b *testing.B) {
			conn := benchTarget(b, target, extra...)
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				sql, args := write(i)
				if _, err := conn.Exec(ctx, sql, args...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// tenThousandOrders gives the update benchmarks orders 1 to 10000.
var tenThousandOrders = []string{"INSERT INTO orders (user_id, amount) SELECT 1 + g % 10000, 1 FROM generate_series(1, 10000) g"}

// BenchmarkSingleRowUpdate moves an order to another user by its primary
// key, as an ORM saves a row: the RI trigger checks the new key, softfk
// checks it inside the statement.
func BenchmarkSingleRowUpdate(b *testing.B) {
	benchWrites(b, tenThousandOrders, func(i int) (string, []any) {
		return "UPDATE orders SET user_id = $1, amount = amount + 1 WHERE id = $2", []any{1 + (i*7)%10000, 1 + i%10000}
	})
}

// BenchmarkSingleRowUpdateKeepingKey saves an order writing every column,
// its key unchanged: neither Postgres nor softfk checks anything.
func BenchmarkSingleRowUpdateKeepingKey(b *testing.B) {
	benchWrites(b, tenThousandOrders, func(i int) (string, []any) {
		return "UPDATE orders SET user_id = user_id, amount = amount + 1 WHERE id = $1", []any{1 + i%10000}
	})
}

// BenchmarkSingleRowUpdateLiterals is BenchmarkSingleRowUpdate with the
// values as literals over the simple protocol.
func BenchmarkSingleRowUpdateLiterals(b *testing.B) {
	simple := []any{pgx.QueryExecModeSimpleProtocol}
	benchWrites(b, tenThousandOrders, func(i int) (string, []any) {
		return fmt.Sprintf("UPDATE orders SET user_id = %d, amount = amount + 1 WHERE id = %d", 1+(i*7)%10000, 1+i%10000), simple
	})
}

func BenchmarkSingleRowInsert(b *testing.B) {
	benchInserts(b, func(i int) (string, []any) {
		return "INSERT INTO orders (user_id, amount) VALUES ($1, 1)", []any{1 + i%10000}
	})
}

func BenchmarkHundredRowInsert(b *testing.B) {
	var sql strings.Builder
	sql.WriteString("INSERT INTO orders (user_id, amount) VALUES ")
	args := make([]any, 100)
	for i := range args {
		if i > 0 {
			sql.WriteString(", ")
		}
		fmt.Fprintf(&sql, "($%d, 1)", i+1)
	}
	benchInserts(b, func(i int) (string, []any) {
		for j := range args {
			args[j] = 1 + (i*100+j)%10000
		}
		return sql.String(), args
	})
}

// BenchmarkHundredRowInsertLiterals sends the keys as literals over the
// simple protocol, as pgbench -M simple and many ORMs do: every statement
// text is new to softfk's parser cache.
func BenchmarkHundredRowInsertLiterals(b *testing.B) {
	var sql strings.Builder
	simple := []any{pgx.QueryExecModeSimpleProtocol}
	benchInserts(b, func(i int) (string, []any) {
		sql.Reset()
		sql.WriteString("INSERT INTO orders (user_id, amount) VALUES ")
		for j := 0; j < 100; j++ {
			if j > 0 {
				sql.WriteString(", ")
			}
			fmt.Fprintf(&sql, "(%d, 1)", 1+(i*100+j)%10000)
		}
		return sql.String(), simple
	})
}

// BenchmarkSingleRowInsertLiterals is BenchmarkSingleRowInsert with the key
// as a literal over the simple protocol.
func BenchmarkSingleRowInsertLiterals(b *testing.B) {
	simple := []any{pgx.QueryExecModeSimpleProtocol}
	benchInserts(b, func(i int) (string, []any) {
		return fmt.Sprintf("INSERT INTO orders (user_id, amount) VALUES (%d, 1)", 1+i%10000), simple
	})
}

// BenchmarkDeleteUnreferencedParent deletes users no order references, one
// per statement by primary key: the RI trigger looks for children and finds
// none; softfk plans the statement again (a fresh continuation), deletes,
// and looks for children of what the DELETE returned.
func BenchmarkDeleteUnreferencedParent(b *testing.B) {
	if b.N > 200000 {
		b.Skip("deletes at most 200000 users")
	}
	benchWrites(b, []string{"INSERT INTO users SELECT generate_series(10001, 210000)"}, func(i int) (string, []any) {
		return "DELETE FROM users WHERE id = $1", []any{10001 + i}
	})
}

// BenchmarkDeleteUnreferencedParentLiterals is
// BenchmarkDeleteUnreferencedParent with the key as a literal over the
// simple protocol.
func BenchmarkDeleteUnreferencedParentLiterals(b *testing.B) {
	if b.N > 200000 {
		b.Skip("deletes at most 200000 users")
	}
	simple := []any{pgx.QueryExecModeSimpleProtocol}
	benchWrites(b, []string{"INSERT INTO users SELECT generate_series(10001, 210000)"}, func(i int) (string, []any) {
		return fmt.Sprintf("DELETE FROM users WHERE id = %d", 10001+i), simple
	})
}
