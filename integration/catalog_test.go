package integration

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// When softfk must read the catalog again in the middle of a session (DDL
// on a guarded table invalidated it) and cannot, because the session's
// transaction is aborted, the client's statement fails as Postgres would
// fail it, the session goes on, and the catalog is read once it can be.
func TestCatalogReadInAbortedTransaction(t *testing.T) {
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		t.Run(mode.String(), func(t *testing.T) {
			db := newDatabase(t)
			mustExec(t, connect(t, cluster.DSN(db)),
				"CREATE TABLE users (id int PRIMARY KEY)",
				"CREATE TABLE orders (id int PRIMARY KEY, user_id int)",
				"INSERT INTO users VALUES (1)")
			p := startProxy(t, configFor(t, "relationships:\n  - {table: orders, columns: [user_id], references: {table: users, columns: [id]}}\n"))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			a := connect(t, p.DSN(db))
			exec := func(sql string) error {
				_, err := a.Exec(ctx, sql, mode)
				return err
			}
			if err := exec("INSERT INTO orders VALUES (1, 1)"); err != nil {
				t.Fatal(err)
			}
			if err := exec("BEGIN"); err != nil {
				t.Fatal(err)
			}
			if err := exec("SELECT 1/0"); err == nil {
				t.Fatal("1/0 succeeded")
			}
			mustExec(t, connect(t, p.DSN(db)), "ALTER TABLE orders ADD COLUMN note text")
			var pe *pgconn.PgError
			if err := exec("INSERT INTO orders VALUES (2, 1)"); !errors.As(err, &pe) || pe.Code != "25P02" {
				t.Fatalf("insert in an aborted transaction: %v, want 25P02", err)
			}
			if err := exec("ROLLBACK"); err != nil {
				t.Fatal(err)
			}
			if err := exec("INSERT INTO orders VALUES (3, 99)"); !errors.As(err, &pe) || pe.Code != "23503" {
				t.Fatalf("insert of a missing parent after the rollback: %v, want 23503", err)
			}
			if err := exec("INSERT INTO orders VALUES (4, 1)"); err != nil {
				t.Fatal(err)
			}
		})
	}
}
