package integration

import (
	"context"
	"errors"
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
