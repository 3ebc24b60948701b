package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// A simple-protocol INSERT, UPDATE or DELETE of constants runs through
// softfk as a statement it prepares once per session for the write's
// shape, with parameters in place of the constants, and its checks as
// softfk's prepared statements with the same values: what the client sees,
// errors and their positions included, must stay what Postgres gives for
// the constants.
func TestOracleShapedWrites(t *testing.T) {
	runScenarios(t, append(shapedWriteScenarios, pastTheStatementLimits()))
}

// pastTheStatementLimits fills a session with more shapes of writes (64)
// and more checks (256) than it keeps prepared: past them, each runs as a
// statement prepared for one use and closed, a write's and its checks'
// side by side.
func pastTheStatementLimits() scenario {
	steps := []step{s("INSERT INTO users VALUES (4, 'd@x'), (5, 'e@x'), (6, 'f@x')")}
	id := 100
	for rows := 1; rows <= 260; rows++ {
		var values []string
		for range rows {
			values = append(values, fmt.Sprintf("(%d, %d, 'n')", id, 1+id%3))
			id++
		}
		steps = append(steps, s("INSERT INTO orders VALUES "+strings.Join(values, ", ")))
	}
	return scenario{name: "past the session's statement limits", schema: usersOrders, fks: []fk{ordersFK}, steps: append(steps,
		s("INSERT INTO orders VALUES (1, 1, 'a'), (2, 42, 'orphan'), (3, 2, 'b')"),
		s("UPDATE orders SET user_id = 43 WHERE id IN (100, 101)"),
		s("UPDATE orders SET user_id = 3 WHERE id IN (100, 101) RETURNING id"),
		s("DELETE FROM users WHERE id = 1"),
		s("DELETE FROM users WHERE id = 4"),
		s("DELETE FROM users WHERE id IN (5, 6)"),
		s("DELETE FROM users WHERE id IN (3, 6)"),
		s("INSERT INTO orders VALUES (4, 44, 'x'), (5, 1, 'y'); INSERT INTO orders VALUES (6, 1, 'z')"),
		s("INSERT INTO orders VALUES (7, 2, 'x'), (8, 1, 'y'); INSERT INTO orders VALUES (9, 45, 'z')"),
		s("INSERT INTO orders VALUES (10, 2, 'x'), (11, 1, 'y'); INSERT INTO orders VALUES (12, 1, 'z'), (13, 2, 'w')"),
	)}
}

// The writes the oracle compares above really run as softfk's prepared
// statements, one per shape, and those it must not parameterize do not.
func TestShapedWritesArePrepared(t *testing.T) {
	db := newDatabase(t)
	p := startProxy(t, configFor(t, "relationships:\n  - {table: orders, columns: [user_id], references: {table: users, columns: [id]}}\n"))
	conn := connect(t, p.DSN(db))
	mustExec(t, conn, `CREATE TABLE users (id int PRIMARY KEY);
CREATE TABLE orders (id int PRIMARY KEY, user_id int, note text, placed date, span interval minute);
INSERT INTO users VALUES (1), (2), (3), (4), (5), (6)`)
	ctx := context.Background()
	for _, sql := range []string{
		"INSERT INTO orders (id, user_id, note) VALUES (1, 1, 'a')",
		"INSERT INTO orders (id, user_id, note) VALUES (2, 2, 'b')",
		`INSERT INTO "orders" ("id", "user_id") VALUES (3, 1) RETURNING "orders"."id"`,
		`INSERT INTO "orders" ("id", "user_id") VALUES (4, 2) RETURNING "orders"."id"`,
		"UPDATE orders SET user_id = 2, note = 'x' WHERE id = 1",
		"UPDATE orders SET user_id = 1, note = 'y' WHERE id = 2",
		"INSERT INTO orders (id, user_id, placed) VALUES (5, 1, '2024-01-01'::date)",
		"INSERT INTO orders (id, user_id, span) VALUES (6, 1, '1')", // an interval minute reads '1' as a literal only
		"UPDATE orders SET note = 'z' WHERE id = 1",                 // no key written: nothing to check
		"INSERT INTO orders (id, user_id) VALUES (7, 1), (8, 2)",
		"INSERT INTO orders (id, user_id) VALUES (9, 2), (10, 1)",
		"DELETE FROM users WHERE id = 3",
		"DELETE FROM users WHERE id = 4",
		"DELETE FROM users WHERE id IN (5, 6)",
	} {
		if _, err := conn.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	rows, err := conn.Query(ctx, "SELECT statement FROM pg_prepared_statements WHERE name LIKE 'softfk_write_%' ORDER BY prepare_time",
		pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"INSERT INTO orders (id, user_id, note) VALUES ($1, $2, $3)",
		`INSERT INTO "orders" ("id", "user_id") VALUES ($1, $2) RETURNING "orders"."id"`,
		"UPDATE orders SET user_id = $1, note = $2 WHERE id = $3",
		"INSERT INTO orders (id, user_id, placed) VALUES ($1, $2, $3::date)",
		"INSERT INTO orders (id, user_id) VALUES ($1, $2), ($3, $4)",
		"DELETE FROM users WHERE id = $1 RETURNING",
		"DELETE FROM users WHERE id IN ($1, $2) RETURNING",
	}
	if !slices.EqualFunc(got, want, strings.HasPrefix) {
		t.Errorf("softfk's prepared writes:\n%s\nwant them to start with:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The checks before the DELETE take its constant as a parameter, so
	// they too are prepared once.
	var before int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_prepared_statements
WHERE name LIKE 'softfk_stmt_%' AND statement LIKE '%users%' AND statement LIKE '%id = $1%'`, pgx.QueryExecModeSimpleProtocol).Scan(&before)
	if err != nil || before == 0 {
		t.Errorf("no check of softfk's before the DELETE is prepared with its parameter (%d, %v)", before, err)
	}
}

const typedOrders = `
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TABLE users (id int PRIMARY KEY, email text UNIQUE);
CREATE TABLE orders (id int PRIMARY KEY, user_id int, note varchar(5), amount numeric(6,2), paid bool DEFAULT false,
  placed date, label text, big bigint, code char(2), span interval minute, qty posint);
INSERT INTO users VALUES (1, 'a@x'), (2, 'b@x');`

var shapedWriteScenarios = []scenario{
	{name: "one shape, many rows", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("INSERT INTO orders VALUES (20, 1, 'a')"),
		s("INSERT INTO orders VALUES (21, 2, 'b')"),
		s("INSERT INTO orders VALUES (22, 42, 'orphan')"),
		s("INSERT INTO orders VALUES (23, 1, 'it''s')"),
		s("INSERT INTO orders VALUES (24, NULL, NULL)"),
		s("INSERT INTO orders (id, user_id) VALUES (25, '2')"),
		s("INSERT INTO orders (id, user_id) VALUES (26, '42')"),
		s("INSERT INTO orders VALUES (27, 1.4, 'rounded')"),
		s("INSERT INTO orders VALUES (28, 41.6, 'rounds to 42')"),
		s("INSERT INTO orders VALUES (29, 2147483648, 'too big')"),
		s("insert into orders values (30 , -1 ,'negative');"),
		s("INSERT INTO orders VALUES (20, 1, 'duplicate')"),
	}},
	{name: "constants touching a keyword", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("INSERT INTO orders VALUES (20, 1, 'a')"),
		s("UPDATE orders SET note='b'WHERE id=20 RETURNING note"),
		s("UPDATE orders SET user_id='42'WHERE id=20"),
		s("UPDATE orders SET user_id='2'WHERE id=20"),
		s("DELETE FROM users WHERE'2'=id"),
		s("DELETE FROM users WHERE'3'=id"),
		s("DELETE FROM users WHERE id='1'OR id='2'"),
		s("SELECT id, user_id, note FROM orders ORDER BY id"),
	}},
	{name: "comments around the statement", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("INSERT INTO orders VALUES (20, 42, 'x') -- orphan"),
		s("INSERT INTO orders VALUES (21, 1, 'x') -- fine"),
		s("/* lead */ INSERT INTO orders VALUES (22, 42, 'y') /* trail */"),
		s("UPDATE orders SET user_id = 42 WHERE id = 21 -- orphan"),
		s("UPDATE orders SET user_id = 2 WHERE id = 21 RETURNING user_id -- fine"),
		s("DELETE FROM users WHERE id = 2 -- referenced"),
		s("DELETE FROM users WHERE id = 3 -- free"),
		s("DELETE FROM users WHERE id = 1; -- referenced"),
		s("UPDATE users SET id = 9 WHERE id = 1 -- referenced"),
		s("INSERT INTO orders VALUES (23, 1, 'z') -- one\n; INSERT INTO orders VALUES (24, 42, 'w') -- two"),
		s("INSERT INTO orders VALUES (25, 1, 'z') /* one */; DELETE FROM users WHERE id = 1 /* two */"),
		s("BEGIN; INSERT INTO orders VALUES (26, 2, 'z') -- in a block\n; COMMIT"),
		s("SELECT id, user_id, note FROM orders ORDER BY id"),
	}},
	{name: "errors in constants point at them", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("INSERT INTO orders VALUES (20, 'x', 'bad key')"),
		s("INSERT INTO orders VALUES ('é', 1, 'bad id')"),
		s("INSERT INTO orders (id, user_id, note) VALUES (21, 1, 'n', 'extra')"),
		s("INSERT INTO orders (id, nosuch) VALUES (22, 1)"),
		s("INSERT INTO orders VALUES (23, 99999999999, 'out of range')"),
		s("INSERT INTO orders VALUES (24, true, 'bool key')"),
		s("INSERT INTO orders VALUES (25, 1, 'fine')"),
	}},
	{name: "typed columns", schema: typedOrders, fks: []fk{ordersFK}, steps: []step{
		s("INSERT INTO orders VALUES (1, 1, 'short', '12.345', 'yes', '2024-02-29', 'x', '9000000000', 'ab')"),
		s("INSERT INTO orders VALUES (2, 1, 'too long!', 1, true, '2024-01-01', 'x', 1, 'a')"),
		s("INSERT INTO orders VALUES (3, 1, 'ok', '123456.7', true, '2024-01-01', 'x', 1, 'a')"),
		s("INSERT INTO orders VALUES (4, 1, 'ok', 1, 'maybe', '2024-01-01', 'x', 1, 'a')"),
		s("INSERT INTO orders VALUES (5, 1, 'ok', 1, true, '2023-02-29', 'x', 1, 'a')"),
		s("INSERT INTO orders VALUES (6, 1, 'ok', 1, true, '2024-01-01', 'x', 'big', 'a')"),
		s("INSERT INTO orders VALUES (7, 1, 'ok', 1, true, '2024-01-01', 'x', 1, 'abc')"),
		s("INSERT INTO orders VALUES (8, 3, 'ok', 1, DEFAULT, '2024-01-01', 'é', 1, 'a')"),
		s("INSERT INTO orders (id, user_id, placed) VALUES (9, 2, 'not a date')"),
		s("INSERT INTO orders (id, user_id, amount) VALUES (10, 2, 12345.678)"),
	}},
	{name: "typed columns of updates, casts, domains, intervals", schema: typedOrders, fks: []fk{ordersFK}, steps: []step{
		s("INSERT INTO orders (id, user_id, placed) VALUES (1, 1, '2024-02-29'::date) RETURNING placed"),
		s("INSERT INTO orders (id, user_id, placed) VALUES (2, 1, CAST('2023-02-29' AS date))"),
		s("INSERT INTO orders (id, user_id, big) VALUES (3, CAST('2' AS int4), '7'::int8) RETURNING user_id, big"),
		s("INSERT INTO orders (id, user_id, big) VALUES (4, '9'::int4, 1)"),
		s("INSERT INTO orders (id, user_id, span) VALUES (5, 1, '1') RETURNING span"),
		s("UPDATE orders SET span = '2' WHERE id = 5 RETURNING span"),
		s("INSERT INTO orders (id, user_id, qty) VALUES (6, 1, '-1')"),
		s("INSERT INTO orders (id, user_id, qty) VALUES (6, 1, -1)"),
		s("INSERT INTO orders (id, user_id, qty) VALUES (6, 1, '4') RETURNING qty"),
		s("UPDATE orders SET user_id = 2, qty = 0 WHERE id = 6"),
		s("UPDATE orders SET user_id = 2, note = 'too long!' WHERE id = 6"),
		s("UPDATE orders SET user_id = 2, note = 'fits', amount = '9999.999' WHERE id = 6"),
		s("UPDATE orders SET user_id = 2, amount = 1.5, placed = 'tomorrow'::date - 1 WHERE id = 6 RETURNING amount"),
		s("UPDATE orders SET user_id = 3, code = 'zz' WHERE id = 6 AND code IS NULL"),
		s("UPDATE orders SET user_id = 2, placed = 'nope'::date WHERE id = 6"),
		s("UPDATE orders SET user_id = 2 WHERE id = 'six'"),
		s("INSERT INTO orders (id, user_id, placed) VALUES (7, 1, date '2024-03-01') RETURNING placed"),
	}},
	{name: "one-row updates", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("UPDATE orders SET user_id = 2 WHERE id = 10"),
		s("UPDATE orders SET user_id = 42 WHERE id = 11"),
		s("UPDATE orders SET user_id = '3', note = 'it''s' WHERE id = '12' RETURNING id, note"),
		s("UPDATE orders SET user_id = 'x' WHERE id = 10"),
		s("UPDATE orders SET user_id = 43 WHERE id = 999"),
		s("UPDATE orders SET user_id = 1 WHERE id = 10 AND user_id = 2 RETURNING *"),
		s("UPDATE orders SET user_id = NULL, note = 'none' WHERE id = 11"),
		s("update orders set user_id = 2 , note = 'spaced'  where 12 = id ;"),
		s("UPDATE orders SET id = 10, user_id = 1 WHERE id = 12"),
		s("UPDATE orders SET note = $1 WHERE id = 10"),
		s("UPDATE orders SET user_id = 44 WHERE id = 10 -- a comment"),
		s("UPDATE orders SET user_id = 3 /* a comment */ WHERE id = 10 RETURNING note"),
		s("BEGIN"),
		s("UPDATE orders SET user_id = 2 WHERE id = 10"),
		s("UPDATE orders SET user_id = 45 WHERE id = 11"),
		s("UPDATE orders SET user_id = 2 WHERE id = 11"),
		s("ROLLBACK"),
	}},
	{name: "inserts as ORMs write them", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s(`INSERT INTO "orders" ("id", "user_id", "note") VALUES (30, 1, 'x') RETURNING "orders"."id"`),
		s(`INSERT INTO "orders" ("id", "user_id", "note") VALUES (31, 42, 'x') RETURNING "orders"."id"`),
		s(`INSERT INTO "orders" ("id", "user_id", "note") VALUES (30, 2, 'y') RETURNING "orders"."id"`),
		s("INSERT INTO orders (id, user_id, note) VALUES (30, 2, 'z') ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id RETURNING user_id"),
		s("INSERT INTO orders (id, user_id, note) VALUES (30, 46, 'z') ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id"),
		s("INSERT INTO orders (id, user_id, note) VALUES (32, 3, 'n') ON CONFLICT DO NOTHING RETURNING id"),
		s("INSERT INTO orders VALUES (33, 1, 'commented') -- trailing"),
		s("INSERT INTO orders VALUES (34, 47, upper('computed'))"),
		s("INSERT INTO orders VALUES (35, 2, upper('computed')) RETURNING note"),
		s("INSERT INTO orders VALUES (36, 2, $1)"),
	}},
	{name: "transactions, savepoints and session changes", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("BEGIN"),
		s("INSERT INTO orders VALUES (20, 1, 'in a block')"),
		s("SAVEPOINT a"),
		s("INSERT INTO orders VALUES (21, 42, 'orphan')"),
		s("INSERT INTO orders VALUES (22, 1, 'aborted')"),
		s("ROLLBACK TO SAVEPOINT a"),
		s("INSERT INTO users VALUES (42, 'new@x')"),
		s("INSERT INTO orders VALUES (21, 42, 'parent now here')"),
		s("COMMIT"),
		s("DISCARD ALL"),
		s("INSERT INTO orders VALUES (23, 2, 'after discard')"),
		s("DEALLOCATE ALL"),
		s("INSERT INTO orders VALUES (24, 43, 'after deallocate')"),
		s("SET standard_conforming_strings = off"),
		s(`INSERT INTO orders VALUES (25, 2, 'back\\slash')`),
		s("RESET standard_conforming_strings"),
		s("SET client_encoding = 'LATIN1'"),
		s("INSERT INTO orders VALUES (26, 2, 'latin')"),
		s("RESET client_encoding"),
		s("INSERT INTO orders VALUES (27, 2, 'utf8 again')"),
	}},
	{name: "multi-row inserts", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("INSERT INTO orders VALUES (20, 1, 'a'), (21, 2, 'b')"),
		s("INSERT INTO orders VALUES (22, 1, 'c'), (23, 42, 'orphan'), (24, 43, 'another')"),
		s("INSERT INTO orders VALUES (25, 1.4, 'rounds'), (26, '2', 'text key')"),
		s("INSERT INTO orders VALUES (27, 1, 'a'), (28, 'x', 'bad key')"),
		s("INSERT INTO orders VALUES (29, 1, 'a'), (29, 2, 'duplicate')"),
		s("INSERT INTO orders VALUES (30, 1, 'a'), (31, 2)"),
		s("INSERT INTO orders (id, user_id) VALUES (32, NULL), (33, DEFAULT), (34, 3) RETURNING id, user_id"),
		s("INSERT INTO orders (id, user_id) VALUES (35, 3), (36, 44) RETURNING id"),
		s("INSERT INTO orders VALUES (37, 2, 'x'), (38, 2, upper('y')), (39, 45, 'z')"),
		s("BEGIN"),
		s("INSERT INTO users VALUES (46, 'new@x')"),
		s("INSERT INTO orders VALUES (40, 46, 'new parent'), (41, 1, 'old parent')"),
		s("INSERT INTO orders VALUES (42, 47, 'none'), (43, 1, 'aborted')"),
		s("INSERT INTO orders VALUES (44, 1, 'in an aborted block'), (45, 2, 'x')"),
		s("ROLLBACK"),
	}},
	{name: "deletes and key updates of parents", schema: threeLevels, fks: []fk{
		withActions(fk{table: "orders", cols: "user_id", refTable: "users", refCols: "id"}, "", "CASCADE"),
		withActions(fk{table: "items", cols: "order_id", refTable: "orders", refCols: "id"}, "CASCADE", "SET NULL"),
	}, steps: []step{
		s("DELETE FROM users WHERE id = 1"),
		s("DELETE FROM users WHERE id = 3"),
		s("DELETE FROM orders WHERE id = 10 RETURNING id"),
		s("DELETE FROM orders WHERE id = '11' AND user_id = 1"),
		s("DELETE FROM orders WHERE id = 'x'"),
		s("DELETE FROM users WHERE id = 99999999999"),
		s(`DELETE FROM "users" WHERE "users"."id" = 2`),
		s("UPDATE users SET id = 5 WHERE id = 1"),
		s("UPDATE users SET id = '6' WHERE id = 5 RETURNING id"),
		s("UPDATE orders SET id = 21 WHERE id = 20"),
		s("UPDATE orders SET id = 'y' WHERE id = 21"),
		s("BEGIN"),
		s("DELETE FROM users WHERE id = 6"),
		s("DELETE FROM users WHERE id = 2"),
		s("DELETE FROM users WHERE id = 6"),
		s("ROLLBACK"),
		s("DELETE FROM users WHERE id = 2"),
		s("DELETE FROM orders WHERE id = 21"),
		s("DELETE FROM users WHERE id = 2"),
	}},
	{name: "writes of listed rows, as Django's delete() and update() send them", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s(`UPDATE "orders" SET "user_id" = 2 WHERE "orders"."id" IN (10, 11)`),
		s(`UPDATE "orders" SET "user_id" = 42 WHERE "orders"."id" IN (10, 12)`),
		s(`UPDATE "orders" SET "user_id" = 3 WHERE "orders"."id" IN (10, 'x')`),
		s(`UPDATE "orders" SET "user_id" = 3 WHERE "orders"."id" IN ('11', 12, 99999999999) RETURNING id`),
		s(`DELETE FROM "users" WHERE "users"."id" IN (1)`),
		s(`DELETE FROM "users" WHERE "users"."id" IN (1, 2)`),
		s(`DELETE FROM "users" WHERE "users"."id" IN (2, 3)`),
		s(`DELETE FROM "orders" WHERE "orders"."id" IN (10, 11, 12)`),
		s(`DELETE FROM "users" WHERE "users"."id" IN (2, 3) AND email IN ('b@x', 'c@x') RETURNING id`),
		s(`DELETE FROM "users" WHERE "users"."id" IN (1, 2, 3)`),
	}},
	{name: "deletes restricted", schema: usersOrders, fks: []fk{withActions(ordersFK, "RESTRICT", "")}, steps: []step{
		s("DELETE FROM users WHERE id = 3"),
		s("DELETE FROM users WHERE id = 1"),
		s("delete from users where id = 2 returning email ;"),
		s("DELETE FROM users WHERE id = 2 AND email = 'b@x' -- trailing"),
		s("DELETE FROM orders WHERE id = 12"),
		s("DELETE FROM users WHERE id = 2 AND email = 'b@x'"),
	}},
	{name: "schema changes under a prepared shape", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("INSERT INTO orders VALUES (20, 1, 'a')"),
		s("ALTER TABLE orders ADD COLUMN extra int DEFAULT 7"),
		s("INSERT INTO orders VALUES (21, 1, 'b')"),
		s("INSERT INTO orders VALUES (22, 1, 'c', 8)"),
		s("ALTER TABLE orders ALTER COLUMN note TYPE varchar(3)"),
		s("INSERT INTO orders VALUES (23, 1, 'long')"),
		s("INSERT INTO orders VALUES (24, 2, 'ok')"),
		s("ALTER TABLE orders DROP COLUMN extra"),
		s("INSERT INTO orders VALUES (25, 42, 'no')"),
		s("INSERT INTO orders VALUES (26, 2, 'yes')"),
	}},
}
