package integration

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/softfk/softfk/config"
)

// violates reports whether err is a foreign key violation.
func violates(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}

func TestReloadSwapsRelationshipsForOpenSessions(t *testing.T) {
	db := newDatabase(t)
	setupConn := connect(t, cluster.DSN(db))
	mustExec(t, setupConn, "CREATE TABLE users (id int PRIMARY KEY)", "CREATE TABLE orders (id int PRIMARY KEY, user_id int)",
		"INSERT INTO users VALUES (1)")
	p := startProxy(t, proxyConfig())
	conn := connect(t, p.DSN(db))
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "INSERT INTO orders VALUES (1, 99)"); err != nil {
		t.Fatalf("pass-through rejected a write: %v", err)
	}
	reload := func(yaml string) {
		p.srv.Reload(configFor(t, yaml))
	}
	reload("relationships:\n  - {table: orders, columns: [user_id], references: {table: users, columns: [id]}}\n")
	if _, err := conn.Exec(ctx, "INSERT INTO orders VALUES (2, 98)"); !violates(err) {
		t.Fatalf("after reload to enforce, the same session's orphan insert: %v", err)
	}
	reload("relationships:\n  - {table: orders, columns: [user_id], references: {table: users, columns: [id]}, mode: shadow}\n")
	if _, err := conn.Exec(ctx, "INSERT INTO orders VALUES (3, 97)"); err != nil {
		t.Fatalf("after reload to shadow: %v", err)
	}
}

func TestSchemaChangeRereadsCatalog(t *testing.T) {
	db := newDatabase(t)
	setupConn := connect(t, cluster.DSN(db))
	mustExec(t, setupConn, "CREATE TABLE users (id int PRIMARY KEY)", "CREATE TABLE orders (id int PRIMARY KEY, user_id int)",
		"INSERT INTO users VALUES (1)")
	cfg := proxyConfig()
	parsed, _ := config.Parse([]byte("relationships:\n  - {table: orders, columns: [user_id], references: {table: users, columns: [id]}}\n"))
	cfg.Relationships = parsed.Relationships
	p := startProxy(t, cfg)
	conn := connect(t, p.DSN(db))
	other := connect(t, p.DSN(db))
	ctx := context.Background()
	mustExec(t, conn, "INSERT INTO orders VALUES (1, 1)")
	// Widen both keys through softfk: the checks must now use bigint.
	mustExec(t, conn, "ALTER TABLE users ALTER id TYPE bigint", "ALTER TABLE orders ALTER user_id TYPE bigint",
		"INSERT INTO users VALUES (5000000000)")
	if _, err := other.Exec(ctx, "INSERT INTO orders VALUES (2, 5000000000)"); err != nil {
		t.Fatalf("insert after the type change: %v", err)
	}
	if _, err := other.Exec(ctx, "INSERT INTO orders VALUES (3, 5000000001)"); !violates(err) {
		t.Fatalf("orphan after the type change: %v", err)
	}
}

// A statement prepared before a reload (drivers keep them for the life of
// the connection) follows the new configuration: the rollout from shadow
// to enforce must reach it, and a relationship removed must stop
// applying.
func TestReloadReachesPreparedStatements(t *testing.T) {
	db := newDatabase(t)
	mustExec(t, connect(t, cluster.DSN(db)), "CREATE TABLE users (id int PRIMARY KEY)", "CREATE TABLE orders (id int PRIMARY KEY, user_id int)",
		"INSERT INTO users VALUES (1)")
	const rel = "relationships:\n  - {table: orders, columns: [user_id], references: {table: users, columns: [id]}%s}\n"
	p := startProxy(t, configFor(t, fmt.Sprintf(rel, ", mode: shadow")))
	conn := connect(t, p.DSN(db))
	ctx := context.Background()
	insert := func(id, user int) error {
		_, err := conn.Exec(ctx, "INSERT INTO orders VALUES ($1, $2)", id, user)
		return err
	}
	if err := insert(1, 99); err != nil {
		t.Fatalf("shadow mode rejected an orphan: %v", err)
	}
	p.srv.Reload(configFor(t, fmt.Sprintf(rel, "")))
	if err := insert(2, 98); !violates(err) {
		t.Fatalf("after the reload to enforce, the prepared insert of an orphan: %v", err)
	}
	if err := insert(3, 1); err != nil {
		t.Fatalf("after the reload to enforce, a valid insert: %v", err)
	}
	p.srv.Reload(proxyConfig())
	if err := insert(4, 97); err != nil {
		t.Fatalf("after the relationship was removed: %v", err)
	}
	// Prepared while nothing is checked, then a relationship comes.
	insertNamed := func(id, user int) error {
		_, err := conn.Exec(ctx, "INSERT INTO orders (id, user_id) VALUES ($1, $2)", id, user)
		return err
	}
	if err := insertNamed(5, 96); err != nil {
		t.Fatalf("pass-through: %v", err)
	}
	p.srv.Reload(configFor(t, fmt.Sprintf(rel, "")))
	if err := insertNamed(6, 95); !violates(err) {
		t.Fatalf("after a relationship was added, the prepared insert of an orphan: %v", err)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM orders").Scan(&n); err != nil || n != 4 {
		t.Fatalf("%d orders (%v), want 4", n, err)
	}
}
