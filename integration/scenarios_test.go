package integration

import "testing"

// The shared schemas of the scenarios.
const (
	usersOrders = `
CREATE TABLE users (id int PRIMARY KEY, email text UNIQUE);
CREATE TABLE orders (id int PRIMARY KEY, user_id int, note text);
CREATE INDEX ON orders (user_id);
INSERT INTO users VALUES (1, 'a@x'), (2, 'b@x'), (3, 'c@x');
INSERT INTO orders VALUES (10, 1, 'first'), (11, 1, 'second'), (12, 2, 'third');`

	threeLevels = `
CREATE TABLE users (id int PRIMARY KEY);
CREATE TABLE orders (id int PRIMARY KEY, user_id int);
CREATE TABLE items (id int PRIMARY KEY, order_id int, sku text);
INSERT INTO users VALUES (1), (2);
INSERT INTO orders VALUES (10, 1), (11, 1), (20, 2);
INSERT INTO items VALUES (100, 10, 'a'), (101, 10, 'b'), (110, 11, 'c'), (200, 20, 'd');`

	composite = `
CREATE TABLE parents (a int, b text, payload text, PRIMARY KEY (a, b));
CREATE TABLE kids (id int PRIMARY KEY, pa int, pb text);
INSERT INTO parents VALUES (1, 'x', 'p1'), (2, 'y', 'p2');
INSERT INTO kids VALUES (1, 1, 'x'), (2, NULL, NULL);`

	tree = `
CREATE TABLE nodes (id int PRIMARY KEY, parent_id int, label text);
INSERT INTO nodes VALUES (1, NULL, 'root'), (2, 1, 'a'), (3, 1, 'b'), (4, 2, 'a1'), (5, 4, 'a1x');`
)

var ordersFK = fk{table: "orders", cols: "user_id", refTable: "users", refCols: "id"}

func withActions(f fk, onDelete, onUpdate string) fk {
	f.onDelete, f.onUpdate = onDelete, onUpdate
	return f
}

var childSideScenarios = []scenario{
	{name: "insert literal existing and missing", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("INSERT INTO orders VALUES (20, 2, 'ok')"),
		s("INSERT INTO orders VALUES (21, 42, 'no such user')"),
		s("INSERT INTO orders (id, user_id) VALUES (22, NULL)"),
		s("INSERT INTO orders (id) VALUES (23)"),
	}},
	{name: "insert with parameters", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("INSERT INTO orders VALUES ($1, $2, $3)", 30, 3, "param"),
		s("INSERT INTO orders VALUES ($1, $2, $3)", 31, 77, "param missing"),
		s("INSERT INTO orders VALUES ($1, $2, $3)", 32, nil, "param null"),
		s("INSERT INTO orders (user_id, id) VALUES ($2, $1)", 33, 1),
	}},
	{name: "multi-row insert reports first violating row", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("INSERT INTO orders VALUES (40, 1, 'a'), (41, 2, 'b'), (42, 3, 'c')"),
		s("INSERT INTO orders VALUES (43, 1, 'a'), (44, 97, 'b'), (45, 98, 'c')"),
		s("SELECT count(*) FROM orders"),
	}},
	{name: "insert returning", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("INSERT INTO orders VALUES (50, 1, 'r') RETURNING id, user_id, note"),
		s("INSERT INTO orders VALUES (51, 9, 'r') RETURNING *"),
		s("INSERT INTO orders VALUES ($1, $2, 'r') RETURNING user_id", 52, 2),
	}},
	{name: "insert default and typed literals", schema: `
CREATE TABLE users (id bigint PRIMARY KEY);
CREATE TABLE orders (id serial PRIMARY KEY, user_id bigint DEFAULT 1, note text);
INSERT INTO users VALUES (1), (5);`, fks: []fk{ordersFK}, steps: []step{
		s("INSERT INTO orders (note) VALUES ('default user')"),
		s("INSERT INTO orders (user_id) VALUES (DEFAULT)"),
		s("INSERT INTO orders (user_id) VALUES ('5'::bigint)"),
		s("INSERT INTO orders (user_id) VALUES ('6')"),
		s("INSERT INTO orders (user_id) VALUES (-5)"),
		s("INSERT INTO orders (user_id) VALUES (2 + 3)"),
		s("INSERT INTO orders (user_id) VALUES ((SELECT max(id) FROM users) + 1)"),
		s("INSERT INTO orders DEFAULT VALUES"),
	}},
	{name: "insert select", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("INSERT INTO orders SELECT 60 + id, id, 'copy' FROM users"),
		s("INSERT INTO orders SELECT 70 + id, id * 10, 'bad copy' FROM users"),
		s("INSERT INTO orders SELECT 80, $1::int, 'param select'", 3),
		s("INSERT INTO orders SELECT 81, NULL, 'null select'"),
		s("WITH src AS (SELECT 2 AS u) INSERT INTO orders SELECT 82, u, 'cte' FROM src RETURNING id"),
	}},
	{name: "insert on conflict do nothing", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("INSERT INTO orders VALUES (10, 99, 'conflicts, skipped') ON CONFLICT DO NOTHING"),
		s("INSERT INTO orders VALUES (90, 99, 'new, bad') ON CONFLICT DO NOTHING"),
		s("INSERT INTO orders VALUES (91, 3, 'new, good') ON CONFLICT (id) DO NOTHING RETURNING id"),
	}},
	{name: "self reference and rows of the same statement", schema: tree,
		fks: []fk{{table: "nodes", cols: "parent_id", refTable: "nodes", refCols: "id"}}, steps: []step{
			s("INSERT INTO nodes VALUES (10, 10, 'own parent')"),
			s("INSERT INTO nodes VALUES (11, NULL, 'x'), (12, 11, 'child of earlier row')"),
			s("INSERT INTO nodes VALUES (13, 14, 'child of later row'), (14, NULL, 'later')"),
			s("INSERT INTO nodes VALUES (15, 99, 'missing')"),
		}},
	{name: "composite key match simple", schema: composite,
		fks: []fk{{table: "kids", cols: "pa, pb", refTable: "parents", refCols: "a, b"}}, steps: []step{
			s("INSERT INTO kids VALUES (10, 2, 'y')"),
			s("INSERT INTO kids VALUES (11, 2, 'x')"),
			s("INSERT INTO kids VALUES (12, NULL, 'zz')"),
			s("INSERT INTO kids VALUES (13, 3, NULL)"),
			s("INSERT INTO kids VALUES ($1, $2, $3)", 14, 1, "nope"),
		}},
	{name: "composite key match full", schema: composite,
		fks: []fk{{table: "kids", cols: "pa, pb", refTable: "parents", refCols: "a, b", match: "FULL"}}, steps: []step{
			s("INSERT INTO kids VALUES (10, 1, 'x')"),
			s("INSERT INTO kids VALUES (11, NULL, NULL)"),
			s("INSERT INTO kids VALUES (12, NULL, 'x')"),
			s("INSERT INTO kids VALUES (13, 1, NULL)"),
			s("INSERT INTO kids VALUES (14, 5, 'q')"),
		}},
	{name: "update child key", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("UPDATE orders SET user_id = 3 WHERE id = 10"),
		s("UPDATE orders SET user_id = 33 WHERE id = 11"),
		s("UPDATE orders SET user_id = $1 WHERE id = $2", 44, 12),
		s("UPDATE orders SET note = 'not a key' WHERE id = 12"),
		s("UPDATE orders SET user_id = NULL WHERE id = 12 RETURNING id, user_id"),
		s("UPDATE orders SET user_id = user_id + 1 WHERE id IN (10, 11)"),
		s("UPDATE orders SET user_id = 99 WHERE id = 12345"),
	}},
	{name: "update from join", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("UPDATE orders o SET user_id = u.id FROM users u WHERE u.email = 'c@x' AND o.id = 10"),
		s("UPDATE orders o SET user_id = u.id + 100 FROM users u WHERE u.id = o.user_id"),
	}},
	{name: "two relationships on one table", schema: `
CREATE TABLE users (id int PRIMARY KEY);
CREATE TABLE shops (id int PRIMARY KEY);
CREATE TABLE orders (id int PRIMARY KEY, user_id int, shop_id int);
INSERT INTO users VALUES (1); INSERT INTO shops VALUES (7);`,
		fks: []fk{ordersFK, {table: "orders", cols: "shop_id", refTable: "shops", refCols: "id"}}, steps: []step{
			s("INSERT INTO orders VALUES (1, 1, 7)"),
			s("INSERT INTO orders VALUES (2, 1, 8)"),
			s("INSERT INTO orders VALUES (3, 2, 7)"),
			s("INSERT INTO orders VALUES (4, 2, 8)"),
			s("INSERT INTO orders VALUES (5, 1, 7), (6, 1, 9), (7, 5, 7)"),
		}},
	{name: "quoted and mixed case names", schema: `
CREATE TABLE "Users" ("Id" int PRIMARY KEY);
CREATE TABLE "Orders" (id int PRIMARY KEY, "User Id" int);
INSERT INTO "Users" VALUES (1);`,
		fks: []fk{{table: `"Orders"`, cols: `"User Id"`, refTable: `"Users"`, refCols: `"Id"`}}, steps: []step{
			s(`INSERT INTO "Orders" VALUES (1, 1)`),
			s(`INSERT INTO "Orders" VALUES (2, 2)`),
			s(`DELETE FROM "Users" WHERE "Id" = 1`),
		}},
}

var parentSideScenarios = []scenario{
	{name: "delete no action", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("DELETE FROM users WHERE id = 3"),
		s("DELETE FROM users WHERE id = 1"),
		s("DELETE FROM users WHERE id = $1", 2),
		s("DELETE FROM users WHERE id > 100"),
		s("DELETE FROM orders WHERE user_id = 2"),
		s("DELETE FROM users WHERE id = 2 RETURNING email"),
	}},
	{name: "delete restrict", schema: usersOrders, fks: []fk{withActions(ordersFK, "RESTRICT", "")}, steps: []step{
		s("DELETE FROM users WHERE id = 1"),
		s("DELETE FROM users WHERE id = 3"),
	}},
	{name: "delete cascade chain", schema: threeLevels, fks: []fk{
		withActions(fk{table: "orders", cols: "user_id", refTable: "users", refCols: "id"}, "CASCADE", ""),
		withActions(fk{table: "items", cols: "order_id", refTable: "orders", refCols: "id"}, "CASCADE", ""),
	}, steps: []step{
		s("DELETE FROM users WHERE id = 1"),
		s("SELECT count(*) FROM items"),
		s("DELETE FROM orders WHERE id = 20 RETURNING id"),
	}},
	{name: "cascade then restrict below", schema: threeLevels, fks: []fk{
		withActions(fk{table: "orders", cols: "user_id", refTable: "users", refCols: "id"}, "CASCADE", ""),
		withActions(fk{table: "items", cols: "order_id", refTable: "orders", refCols: "id"}, "RESTRICT", ""),
	}, steps: []step{
		s("DELETE FROM users WHERE id = 1"),
		s("DELETE FROM items WHERE order_id = 20"),
		s("DELETE FROM users WHERE id = 2"),
	}},
	{name: "delete set null and set default", schema: `
CREATE TABLE users (id int PRIMARY KEY);
CREATE TABLE orders (id int PRIMARY KEY, user_id int DEFAULT 0);
CREATE TABLE carts (id int PRIMARY KEY, user_id int DEFAULT 0);
INSERT INTO users VALUES (0), (1), (2);
INSERT INTO orders VALUES (1, 1), (2, 2);
INSERT INTO carts VALUES (1, 1), (2, 2);`, fks: []fk{
		withActions(ordersFK, "SET NULL", ""),
		withActions(fk{table: "carts", cols: "user_id", refTable: "users", refCols: "id"}, "SET DEFAULT", ""),
	}, steps: []step{
		s("DELETE FROM users WHERE id = 1"),
		s("DELETE FROM users WHERE id = 0"),
		s("DELETE FROM users WHERE id = 2"),
	}},
	{name: "self-referencing cascade deletes a subtree", schema: tree,
		fks: []fk{{table: "nodes", cols: "parent_id", refTable: "nodes", refCols: "id", onDelete: "CASCADE"}}, steps: []step{
			s("DELETE FROM nodes WHERE id = 2"),
			s("SELECT id FROM nodes ORDER BY id"),
			s("DELETE FROM nodes WHERE id = 1"),
		}},
	{name: "update parent key no action", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("UPDATE users SET id = 30 WHERE id = 3"),
		s("UPDATE users SET id = 40 WHERE id = 1"),
		s("UPDATE users SET email = 'changed' WHERE id = 1"),
		s("UPDATE users SET id = id WHERE id = 2"),
		s("UPDATE users SET id = $1 WHERE id = $2", 50, 2),
	}},
	{name: "update parent key restrict", schema: usersOrders, fks: []fk{withActions(ordersFK, "", "RESTRICT")}, steps: []step{
		s("UPDATE users SET id = 40 WHERE id = 1"),
		s("UPDATE users SET id = 2 + 0 WHERE id = 2"),
		s("UPDATE users SET id = 33 WHERE id = 3"),
	}},
	{name: "update parent key cascade and set null", schema: `
CREATE TABLE users (id int PRIMARY KEY, code text UNIQUE);
CREATE TABLE orders (id int PRIMARY KEY, user_id int);
CREATE TABLE tags (id int PRIMARY KEY, user_code text);
INSERT INTO users VALUES (1, 'a'), (2, 'b');
INSERT INTO orders VALUES (1, 1), (2, 2);
INSERT INTO tags VALUES (1, 'a'), (2, 'b');`, fks: []fk{
		withActions(ordersFK, "", "CASCADE"),
		withActions(fk{table: "tags", cols: "user_code", refTable: "users", refCols: "code"}, "", "SET NULL"),
	}, steps: []step{
		s("UPDATE users SET id = 10 WHERE id = 1"),
		s("UPDATE users SET code = upper(code)"),
		s("UPDATE users SET id = id + 100, code = code || '!' WHERE id = 2"),
	}},
	{name: "delete using join", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("DELETE FROM users u USING orders o WHERE o.user_id = u.id AND o.note = 'third'"),
		s("DELETE FROM users u USING (VALUES (3)) v(id) WHERE u.id = v.id"),
	}},
}

var transactionScenarios = []scenario{
	// softfk locks the rows a parent write is about to change before the
	// write runs; refused first, that lock must name the client's command.
	{name: "writes refused in read-only transactions", schema: usersOrders, fks: []fk{withActions(ordersFK, "", "CASCADE")}, steps: []step{
		s("BEGIN READ ONLY"),
		s("DELETE FROM users WHERE id = 3"),
		s("ROLLBACK"),
		s("BEGIN READ ONLY"),
		s("DELETE FROM users WHERE id > $1", 2),
		s("ROLLBACK"),
		s("BEGIN READ ONLY"),
		s("UPDATE users SET id = 9 WHERE id = 3"),
		s("ROLLBACK"),
		s("BEGIN READ ONLY"),
		s("MERGE INTO users u USING (SELECT 3 AS id) v ON u.id = v.id WHEN MATCHED THEN DELETE"),
		s("ROLLBACK"),
		s("BEGIN READ ONLY"),
		s("WITH d AS (DELETE FROM users WHERE id = 3 RETURNING id) SELECT * FROM d"),
		s("ROLLBACK"),
		s("BEGIN READ ONLY"),
		s("INSERT INTO orders VALUES (50, 1, 'x')"),
		s("ROLLBACK"),
		s("SET default_transaction_read_only = on"),
		s("DELETE FROM users WHERE id = 2"),
		s("RESET default_transaction_read_only"),
		s("DELETE FROM users WHERE id = 3"),
	}},
	{name: "parent created earlier in the transaction", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("BEGIN"),
		s("INSERT INTO users VALUES (5, 'e@x')"),
		s("INSERT INTO orders VALUES (50, 5, 'new user')"),
		s("COMMIT"),
	}},
	{name: "parent deleted earlier in the transaction", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("BEGIN"),
		s("DELETE FROM users WHERE id = 3"),
		s("INSERT INTO orders VALUES (50, 3, 'gone user')"),
		s("ROLLBACK"),
		s("SELECT count(*) FROM users"),
	}},
	{name: "violation aborts the transaction", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("BEGIN"),
		s("INSERT INTO orders VALUES (50, 1, 'ok')"),
		s("INSERT INTO orders VALUES (51, 77, 'bad')"),
		s("INSERT INTO orders VALUES (52, 1, 'after error')"),
		s("COMMIT"),
	}},
	{name: "savepoints", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("BEGIN"),
		s("INSERT INTO orders VALUES (50, 1, 'kept')"),
		s("SAVEPOINT a"),
		s("INSERT INTO orders VALUES (51, 77, 'bad')"),
		s("ROLLBACK TO SAVEPOINT a"),
		s("INSERT INTO orders VALUES (52, 2, 'after rollback to')"),
		s("SAVEPOINT b"),
		s("DELETE FROM users WHERE id = 1"),
		s("ROLLBACK TO SAVEPOINT b"),
		s("RELEASE SAVEPOINT a"),
		s("COMMIT"),
	}},
	{name: "other errors keep their place", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("INSERT INTO orders VALUES (10, 99, 'duplicate id and bad user')"),
		s("INSERT INTO orders VALUES (60, 'x', 'bad type')"),
		s("INSERT INTO orders (id, user_id, nope) VALUES (61, 1, 2)"),
		s("INSERT INTO orders VALUES (62, 1/0, 'division')"),
	}},
	{name: "search_path decides the table", schema: usersOrders + `
CREATE SCHEMA IF NOT EXISTS other_side;`, fks: []fk{ordersFK}, modes: []string{"simple", "extended"}, steps: []step{
		s("INSERT INTO orders VALUES (70, 99, 'guarded')"),
		s("CREATE TABLE pg_temp.orders (id int, user_id int, note text)"),
		s("SET search_path = pg_temp, public"),
		s("INSERT INTO orders VALUES (71, 99, 'temp table, not guarded')"),
		s("RESET search_path"),
	}},
}

var multiStatementScenarios = []scenario{
	{name: "several statements in one query", schema: usersOrders, fks: []fk{ordersFK}, modes: []string{"simple"}, steps: []step{
		s("INSERT INTO orders VALUES (50, 1, 'a'); INSERT INTO orders VALUES (51, 2, 'b'); SELECT count(*) FROM orders"),
		s("INSERT INTO orders VALUES (52, 1, 'a'); INSERT INTO orders VALUES (53, 66, 'b'); INSERT INTO orders VALUES (54, 1, 'c')"),
		s("SELECT 1; DELETE FROM users WHERE id = 3; DELETE FROM users WHERE id = 1; SELECT 2"),
		s("INSERT INTO orders SELECT 55, 1, 'sel'; INSERT INTO orders VALUES (56, 2, 'lit') -- trailing comment"),
		s("INSERT INTO orders SELECT 57, 1, 'x'; INSERT INTO orders SELECT 58, 88, 'y'; SELECT 'not reached'"),
		s("BEGIN; INSERT INTO orders VALUES (59, 2, 'in tx'); COMMIT"),
		s("INSERT INTO orders VALUES (60, 1, 'syntax'); SELEC oops"),
	}},
}

func TestOracleChildSide(t *testing.T)      { runScenarios(t, childSideScenarios) }
func TestOracleParentSide(t *testing.T)     { runScenarios(t, parentSideScenarios) }
func TestOracleTransactions(t *testing.T)   { runScenarios(t, transactionScenarios) }
func TestOracleMultiStatement(t *testing.T) { runScenarios(t, multiStatementScenarios) }

var shadowScenarios = []scenario{
	{name: "shadow insert and delete change nothing", schema: usersOrders, fks: []fk{ordersFK}, shadow: true, shadowEvents: 5, steps: []step{
		s("INSERT INTO orders VALUES (50, 99, 'orphan allowed')"),
		s("INSERT INTO orders VALUES (54, 96, 'orphan returned') RETURNING id"),
		s("INSERT INTO orders VALUES ($1, $2, 'param orphan')", 51, 98),
		s("INSERT INTO orders VALUES (52, 1, 'fine')"),
		s("DELETE FROM users WHERE id = 1"),
		s("INSERT INTO orders SELECT 53, 97, 'computed orphan'"),
		// Last: in a pipeline, the error skips what follows.
		s("INSERT INTO orders VALUES (50, 1, 'duplicate id') RETURNING id"),
	}},
	{name: "shadow cascade is reported not applied", schema: threeLevels, shadow: true, shadowEvents: 1, fks: []fk{
		withActions(fk{table: "orders", cols: "user_id", refTable: "users", refCols: "id"}, "CASCADE", ""),
	}, steps: []step{
		s("DELETE FROM users WHERE id = 1"),
		s("DELETE FROM users WHERE id = 42"),
	}},
}

func TestOracleShadow(t *testing.T) { runScenarios(t, shadowScenarios) }
