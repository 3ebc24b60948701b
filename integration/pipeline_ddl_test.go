package integration

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DDL in a pipeline (or a query string) runs before softfk reads the
// catalog again, at the Sync: a write into a relation it created or
// attached, which the catalog facts do not know, or into a table whose
// defaults or triggers it changed, is refused as unverifiable instead of
// going through unchecked; DDL after DDL is left to Postgres; after the
// Sync everything is checked again.
func TestWritesAfterDDLInOneBatch(t *testing.T) {
	const unverifiable, anyError = "0A000", "error"
	simple := pgx.QueryExecModeSimpleProtocol
	pipelines := []pgx.QueryExecMode{pgx.QueryExecModeExec, pgx.QueryExecModeCacheStatement}
	cases := []struct {
		name  string
		modes []pgx.QueryExecMode // simple sends the batch as one query string
		batch []string
		// want is how the batch fails ("" for not at all), and orders
		// the rows of orders afterwards (-1: orders is gone).
		want   string
		orders int
	}{
		// In cache_statement mode pgx prepares every statement first,
		// and Postgres itself refuses to prepare a write into a table
		// that does not exist yet.
		{name: "write into a partition created before", modes: []pgx.QueryExecMode{pgx.QueryExecModeExec, simple},
			batch: []string{"CREATE TABLE zz PARTITION OF orders FOR VALUES FROM (1000) TO (2000)", "INSERT INTO zz VALUES (1001, 99)"},
			want:  unverifiable, orders: 1},
		// While session_replication_role is replica a real FOREIGN KEY
		// checks nothing: the write goes through.
		{name: "write into a partition created before, as a replica", modes: []pgx.QueryExecMode{pgx.QueryExecModeExec, simple},
			batch: []string{"SET session_replication_role = replica", "CREATE TABLE zz PARTITION OF orders FOR VALUES FROM (1000) TO (2000)",
				"INSERT INTO zz VALUES (1001, 99)", "RESET session_replication_role"},
			orders: 2},
		{name: "write into a table attached before", modes: []pgx.QueryExecMode{pgx.QueryExecModeExec, simple},
			batch: []string{"CREATE TABLE yy (id int PRIMARY KEY, user_id int)",
				"ALTER TABLE orders ATTACH PARTITION yy FOR VALUES FROM (2000) TO (3000)", "INSERT INTO yy VALUES (2001, 99)"},
			want: unverifiable, orders: 1},
		// The facts from before do not know the rows the table's new
		// default or trigger writes.
		{name: "write after its key default changes",
			batch: []string{"ALTER TABLE orders ALTER COLUMN user_id SET DEFAULT 99", "INSERT INTO orders (id) VALUES (9)"},
			want:  unverifiable, orders: 1},
		{name: "write after a trigger is created",
			batch: []string{"CREATE FUNCTION to_99() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.user_id := 99; RETURN NEW; END$$",
				"CREATE TRIGGER t BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION to_99()", "INSERT INTO orders VALUES (9, 1)"},
			want: unverifiable, orders: 1},
		// The stale facts make the check fail: the orphan does not land
		// (softfk's own error in a query string, the server's about the
		// missing table or column in a pipeline).
		{name: "write after its parent is dropped", batch: []string{"DROP TABLE users CASCADE", "INSERT INTO orders VALUES (5, 99)"},
			want: anyError, orders: 1},
		{name: "write after its key column is renamed", batch: []string{"ALTER TABLE orders RENAME COLUMN user_id TO uid", "INSERT INTO orders VALUES (6, 99)"},
			want: anyError, orders: 1},
		{name: "write after DDL on another table", batch: []string{"CREATE TABLE audit (id int)", "INSERT INTO orders VALUES (7, 1)"},
			orders: 2},
		{name: "write after DDL on a temporary namesake", batch: []string{"CREATE TEMP TABLE users (id int)", "DROP TABLE pg_temp.users", "INSERT INTO orders VALUES (7, 1)"},
			orders: 2},
		{name: "drops in dependency order", batch: []string{"DROP TABLE orders", "DROP TABLE users"}, orders: -1},
	}
	for _, c := range cases {
		modes := c.modes
		if modes == nil {
			modes = append(pipelines, simple)
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
				var err error
				if mode == simple {
					_, err = conn.Exec(ctx, strings.Join(c.batch, "; "))
				} else {
					b := &pgx.Batch{}
					for _, sql := range c.batch {
						b.Queue(sql)
					}
					err = conn.SendBatch(ctx, b).Close()
				}
				var pe *pgconn.PgError
				switch {
				case c.want == "" && err != nil:
					t.Fatalf("batch failed: %v", err)
				case c.want == anyError && err == nil:
					t.Fatal("batch did not fail")
				case c.want == unverifiable && !(errors.As(err, &pe) && pe.Code == c.want):
					t.Fatalf("batch: got %v, want SQLSTATE %s", err, c.want)
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
				// After the Sync the catalog is read again: an orphan is
				// refused.
				_, err = conn.Exec(ctx, "INSERT INTO orders VALUES (8, 98)")
				if !errors.As(err, &pe) || pe.Code != "23503" {
					t.Errorf("orphan after the batch: got %v, want 23503", err)
				}
			})
		}
	}
}

// DDL inside a transaction block is the session's own until it commits:
// the catalog facts softfk reads after it in that transaction (they see
// the DDL) serve that session alone, other sessions go on checking with
// the committed schema's, and when the transaction ends every session
// reads the catalog again. Facts read inside a transaction that rolled
// back its rename of the key column used to stay in force, for every
// session, with the relationship unresolved and so unchecked.
func TestDDLInsideTransactionStaysPrivate(t *testing.T) {
	db := newDatabase(t)
	mustExec(t, connect(t, cluster.DSN(db)),
		"CREATE TABLE users (id int PRIMARY KEY)",
		"CREATE TABLE orders (id int PRIMARY KEY, user_id int)",
		"INSERT INTO users VALUES (1)")
	p := startProxy(t, configFor(t, "relationships:\n  - {name: order_user, table: orders, columns: [user_id], references: {table: users, columns: [id]}}\n"))
	ctx := context.Background()
	ddl, other := connect(t, p.DSN(db)), connect(t, p.DSN(db))
	orphan := func(conn *pgx.Conn, sql, when string) {
		t.Helper()
		var pe *pgconn.PgError
		if _, err := conn.Exec(ctx, sql); !errors.As(err, &pe) || pe.Code != "23503" {
			t.Errorf("orphan %s: got %v, want 23503", when, err)
		}
	}
	mustExec(t, ddl, "BEGIN",
		"ALTER TABLE orders ADD COLUMN note text",
		// Checked with facts that know the new column.
		"INSERT INTO orders (id, user_id, note) VALUES (1, 1, 'x')")
	orphan(ddl, "INSERT INTO orders (id, user_id, note) VALUES (2, 99, 'x')", "inside the transaction")
	mustExec(t, ddl, "ROLLBACK", "BEGIN", "ALTER TABLE orders RENAME COLUMN user_id TO uid",
		// The facts read now do not resolve the relationship.
		"INSERT INTO orders (id, uid) VALUES (3, 1)")
	// Another session checks with the committed schema: its orphan
	// waits for the ALTER's lock, then fails.
	otherDone := make(chan struct{})
	go func() {
		defer close(otherDone)
		orphan(other, "INSERT INTO orders VALUES (4, 98)", "from another session")
	}()
	mustExec(t, ddl, "ROLLBACK")
	<-otherDone
	orphan(ddl, "INSERT INTO orders VALUES (5, 97)", "after the rollback")
	orphan(other, "INSERT INTO orders VALUES (6, 96)", "from another session after the rollback")
	// A rollback to a savepoint undoes the DDL inside the transaction.
	mustExec(t, ddl, "BEGIN", "SAVEPOINT a", "ALTER TABLE orders RENAME COLUMN user_id TO uid",
		"INSERT INTO orders (id, uid) VALUES (7, 1)", "ROLLBACK TO a")
	orphan(ddl, "INSERT INTO orders VALUES (8, 95)", "after a rollback to a savepoint")
	mustExec(t, ddl, "ROLLBACK")
}
