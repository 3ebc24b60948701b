package integration

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// In a pipeline, DDL on a guarded table runs before softfk can read the
// catalog again (it does at the pipeline's Sync): a write after it that
// the stale facts would check wrongly, or not at all (a partition the
// pipeline creates), is refused as unverifiable; DDL after DDL is left
// to Postgres; after the Sync everything is checked again.
func TestPipelineWritesAfterDDL(t *testing.T) {
	const unverifiable = "0A000"
	cases := []struct {
		name  string
		modes []pgx.QueryExecMode
		batch []string
		// want is the SQLSTATE the batch fails with ("" for none), and
		// orders the rows of orders afterwards (-1: orders is gone).
		want   string
		orders int
	}{
		// Unchecked before: the orphan landed in the new partition.
		{name: "write into a partition the pipeline creates", modes: []pgx.QueryExecMode{pgx.QueryExecModeExec},
			batch: []string{"CREATE TABLE zz PARTITION OF orders FOR VALUES FROM (1000) TO (2000)", "INSERT INTO zz VALUES (1001, 99)"},
			want:  unverifiable, orders: 1},
		{name: "write after its parent is dropped", batch: []string{"DROP TABLE users CASCADE", "INSERT INTO orders VALUES (5, 99)"},
			want: unverifiable, orders: 1},
		{name: "write after its key column is renamed", batch: []string{"ALTER TABLE orders RENAME COLUMN user_id TO uid", "INSERT INTO orders VALUES (6, 99)"},
			want: unverifiable, orders: 1},
		{name: "write after DDL on another table", batch: []string{"CREATE TABLE audit (id int)", "INSERT INTO orders VALUES (7, 1)"},
			orders: 2},
		{name: "unchecked write after DDL", batch: []string{"ALTER TABLE orders ADD COLUMN note text", "INSERT INTO users VALUES (2)"},
			orders: 1},
		{name: "drops in dependency order", batch: []string{"DROP TABLE orders", "DROP TABLE users"}, orders: -1},
	}
	for _, c := range cases {
		modes := c.modes
		if modes == nil {
			modes = []pgx.QueryExecMode{pgx.QueryExecModeExec, pgx.QueryExecModeCacheStatement}
		}
		for _, mode := range modes {
			t.Run(c.name+"/"+mode.String(), func(t *testing.T) {
				db := newDatabase(t)
				mustExec(t, connect(t, cluster.DSN(db)),
					"CREATE TABLE users (id int PRIMARY KEY)",
					"CREATE TABLE orders (id int PRIMARY KEY, user_id int) PARTITION BY RANGE (id)",
					"CREATE TABLE orders_a PARTITION OF orders FOR VALUES FROM (0) TO (1000)",
					"INSERT INTO users VALUES (1)",
					"INSERT INTO orders VALUES (1, 1)")
				p := startProxy(t, configFor(t, "relationships:\n  - {name: order_user, table: orders, columns: [user_id], references: {table: users, columns: [id]}}\n"))
				conn := connect(t, p.DSN(db)+"&default_query_exec_mode="+strings.ReplaceAll(mode.String(), " ", "_"))
				ctx := context.Background()
				b := &pgx.Batch{}
				for _, sql := range c.batch {
					b.Queue(sql)
				}
				err := conn.SendBatch(ctx, b).Close()
				var pe *pgconn.PgError
				switch {
				case c.want == "" && err != nil:
					t.Fatalf("batch failed: %v", err)
				case c.want != "" && !(errors.As(err, &pe) && pe.Code == c.want):
					t.Fatalf("batch: got %v, want SQLSTATE %s", err, c.want)
				case c.want == unverifiable && !strings.Contains(pe.Message, "pipeline"):
					t.Errorf("the error does not say why: %v", err)
				}
				orders := -1
				if err := conn.QueryRow(ctx, "SELECT count(*) FROM orders").Scan(&orders); err != nil && orders != -1 {
					t.Fatal(err)
				}
				if orders != c.orders {
					t.Errorf("orders has %d rows, want %d", orders, c.orders)
				}
				if c.orders < 0 {
					return
				}
				// After the Sync the catalog is read again: the same
				// writes are checked.
				_, err = conn.Exec(ctx, "INSERT INTO orders VALUES (8, 98)")
				if !errors.As(err, &pe) || pe.Code != "23503" && pe.Code != "42P01" && pe.Code != "42703" {
					t.Errorf("orphan after the pipeline: got %v, want 23503 (or the error of the DDL's effect)", err)
				}
			})
		}
	}
}
