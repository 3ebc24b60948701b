package integration

import "testing"

// Write paths beyond plain INSERT, UPDATE and DELETE: upserts and
// data-modifying WITH queries, whose checks Postgres runs at the end of the
// whole statement.
var writePathScenarios = []scenario{
	{name: "upsert sets the child key", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("INSERT INTO orders VALUES (10, 2, 'moved') ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id"),
		s("INSERT INTO orders VALUES (10, 99, 'moved') ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id"),
		s("INSERT INTO orders VALUES (50, 98, 'new') ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id"),
		s("INSERT INTO orders VALUES ($1, $2, 'p') ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id RETURNING id, user_id", 11, 3),
		s("INSERT INTO orders VALUES ($1, $2, 'p') ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id RETURNING id, user_id", 11, 97),
	}},
	// A list of one key pins one row as = does: Django's
	// filter(pk__in=[...]).update(...).
	{name: "update of one child by a list of one key", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s(`UPDATE "orders" SET "user_id" = 2 WHERE "orders"."id" IN (10)`),
		s(`UPDATE "orders" SET "user_id" = $1 WHERE "orders"."id" IN ($2)`, 99, 11),
		s("UPDATE orders SET user_id = 98 WHERE id IN (12) RETURNING id, user_id"),
		s("UPDATE orders SET note = 'same key', user_id = user_id WHERE id IN (10)"),
		s("UPDATE orders SET user_id = 3 WHERE id IN (12) AND user_id = 2 RETURNING note"),
	}},
	{name: "upsert keeps the child key", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("INSERT INTO orders VALUES (10, 99, 'x') ON CONFLICT (id) DO UPDATE SET note = EXCLUDED.note"),
		s("INSERT INTO orders VALUES (10, 99, 'x') ON CONFLICT (id) DO UPDATE SET note = 'kept ' || orders.user_id WHERE orders.user_id = 1"),
		s("INSERT INTO orders VALUES (12, 99, 'y') ON CONFLICT (id) DO UPDATE SET user_id = orders.user_id + 1 RETURNING user_id"),
	}},
	{name: "upsert of a parent", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("INSERT INTO users VALUES (1, 'new@x') ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email"),
		s("INSERT INTO users VALUES (7, 'a@x') ON CONFLICT (email) DO NOTHING"),
		s("SELECT id, email FROM users ORDER BY id"),
	}},
	{name: "parent inserted by a WITH query", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("WITH p AS (INSERT INTO users VALUES (20, 'p@x') RETURNING id) INSERT INTO orders (id, user_id) SELECT 200, id FROM p"),
		s("WITH p AS (INSERT INTO users VALUES (21, 'q@x')) INSERT INTO orders VALUES (201, 21, 'literal')"),
		s("WITH p AS (INSERT INTO users VALUES ($1, 'r@x')) INSERT INTO orders VALUES ($2, $3, 'params')", 22, 202, 22),
		s("WITH p AS (INSERT INTO users VALUES (23, 's@x')) INSERT INTO orders VALUES (203, 24, 'wrong parent')"),
		s("SELECT count(*) FROM users"),
	}},
	{name: "children inserted by a WITH query", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("WITH c AS (INSERT INTO orders VALUES (300, 1, 'w'), (301, 2, 'w') RETURNING id) SELECT count(*) FROM c"),
		s("WITH c AS (INSERT INTO orders VALUES (302, 1, 'w'), (303, 88, 'w') RETURNING id) SELECT count(*) FROM c"),
		s("WITH c AS (INSERT INTO orders VALUES ($1, $2, 'w')) SELECT 1", 304, 89),
	}},
	{name: "parent deleted by a WITH query", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("WITH d AS (DELETE FROM users WHERE id = 3 RETURNING id) SELECT count(*) FROM d"),
		s("WITH d AS (DELETE FROM users WHERE id = 1 RETURNING id) SELECT count(*) FROM d"),
		s("WITH o AS (DELETE FROM orders WHERE user_id = 2), d AS (DELETE FROM users WHERE id = 2) SELECT 1"),
		s("WITH moved AS (DELETE FROM orders WHERE user_id = $1 RETURNING *) SELECT count(*) FROM moved", 1),
		s("WITH d AS (DELETE FROM users WHERE id = $1 RETURNING email) SELECT email FROM d", 1),
		s("SELECT id FROM users ORDER BY id"),
	}},
	{name: "WITH query deletes a parent with cascade and set null", schema: threeLevels, fks: []fk{
		withActions(fk{table: "orders", cols: "user_id", refTable: "users", refCols: "id"}, "CASCADE", ""),
		withActions(fk{table: "items", cols: "order_id", refTable: "orders", refCols: "id"}, "SET NULL", ""),
	}, steps: []step{
		s("WITH d AS (DELETE FROM users WHERE id = 1 RETURNING id) SELECT count(*) FROM d"),
		s("SELECT id, order_id FROM items ORDER BY id"),
		s("WITH a AS (SELECT 2 AS id), d AS (DELETE FROM users u USING a WHERE u.id = a.id) SELECT 1"),
		s("SELECT count(*) FROM orders"),
	}},
	{name: "WITH query updates keys", schema: usersOrders, fks: []fk{withActions(ordersFK, "", "CASCADE")}, steps: []step{
		s("WITH u AS (UPDATE orders SET user_id = 3 WHERE id = 10 RETURNING id) SELECT count(*) FROM u"),
		s("WITH u AS (UPDATE orders SET user_id = user_id + 100 WHERE id = 11 RETURNING id) SELECT count(*) FROM u"),
		s("WITH u AS (UPDATE users SET id = 30 WHERE id = 2 RETURNING id) SELECT id FROM u"),
		s("SELECT id, user_id FROM orders ORDER BY id"),
	}},
	{name: "WITH query in a transaction block", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("BEGIN"),
		s("WITH p AS (INSERT INTO users VALUES (40, 't@x')) INSERT INTO orders VALUES (400, 40, 'tx')"),
		s("WITH d AS (DELETE FROM users WHERE id = 40) SELECT 1"),
		s("ROLLBACK"),
		s("BEGIN"),
		s("WITH d AS (DELETE FROM users WHERE id = 3) SELECT 1"),
		s("COMMIT"),
	}},
}

func TestOracleWritePaths(t *testing.T) { runScenarios(t, writePathScenarios) }

// MERGE (Postgres 15 grammar): every clause kind on child and parent
// tables, with conditions, parameters and several clauses of one kind.
var mergeScenarios = []scenario{
	{name: "merge into the child", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("MERGE INTO orders o USING (VALUES (10, 2), (60, 3)) s(id, u) ON o.id = s.id " +
			"WHEN MATCHED THEN UPDATE SET user_id = s.u WHEN NOT MATCHED THEN INSERT (id, user_id, note) VALUES (s.id, s.u, 'merged')"),
		s("MERGE INTO orders o USING (VALUES (61, 99)) s(id, u) ON o.id = s.id WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.u, 'bad')"),
		s("MERGE INTO orders o USING (VALUES (11, 98)) s(id, u) ON o.id = s.id WHEN MATCHED THEN UPDATE SET user_id = s.u"),
		s("MERGE INTO orders o USING (VALUES (11, 98), (62, 1)) s(id, u) ON o.id = s.id " +
			"WHEN MATCHED AND s.u > 50 THEN DO NOTHING WHEN MATCHED THEN DELETE " +
			"WHEN NOT MATCHED AND s.u > 50 THEN DO NOTHING WHEN NOT MATCHED THEN INSERT (id, user_id) VALUES (s.id, s.u)"),
		s("MERGE INTO orders o USING (SELECT $1::int AS id, $2::int AS u) s ON o.id = s.id "+
			"WHEN MATCHED THEN UPDATE SET note = 'kept' WHEN NOT MATCHED THEN INSERT (id, user_id) VALUES (s.id, s.u)", 63, 97),
		s("MERGE INTO orders o USING (SELECT $1::int AS id, $2::int AS u) s ON o.id = s.id "+
			"WHEN MATCHED THEN UPDATE SET note = 'kept' WHEN NOT MATCHED THEN INSERT (id, user_id) VALUES (s.id, s.u)", 12, 97),
		s("MERGE INTO orders o USING users u ON o.user_id = u.id AND u.id = 3 WHEN NOT MATCHED THEN INSERT (id, user_id) VALUES (70 + u.id, u.id)"),
		s("SELECT id, user_id, note FROM orders ORDER BY id"),
	}},
	{name: "merge into the parent", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("MERGE INTO users t USING (VALUES (3), (9)) s(id) ON t.id = s.id WHEN MATCHED THEN DELETE WHEN NOT MATCHED THEN INSERT VALUES (s.id, 'n@x')"),
		s("MERGE INTO users t USING (VALUES (1)) s(id) ON t.id = s.id WHEN MATCHED THEN DELETE"),
		s("MERGE INTO users t USING (VALUES (2, 20)) s(id, nid) ON t.id = s.id WHEN MATCHED THEN UPDATE SET id = s.nid"),
		s("MERGE INTO users t USING (VALUES (1, 'z@x')) s(id, e) ON t.id = s.id WHEN MATCHED THEN UPDATE SET email = s.e"),
		s("SELECT id, email FROM users ORDER BY id"),
	}},
	{name: "merge deleting parents with cascade", schema: threeLevels, fks: []fk{
		withActions(fk{table: "orders", cols: "user_id", refTable: "users", refCols: "id"}, "CASCADE", "CASCADE"),
		withActions(fk{table: "items", cols: "order_id", refTable: "orders", refCols: "id"}, "SET NULL", ""),
	}, steps: []step{
		s("MERGE INTO users t USING (VALUES (1)) s(id) ON t.id = s.id WHEN MATCHED THEN DELETE"),
		s("MERGE INTO users t USING (VALUES (2, 5)) s(id, n) ON t.id = s.id WHEN MATCHED THEN UPDATE SET id = s.n"),
		s("SELECT id, user_id FROM orders ORDER BY id"),
		s("SELECT id, order_id FROM items ORDER BY id"),
	}},
	{name: "merge in a transaction with a savepoint", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("BEGIN"),
		s("INSERT INTO users VALUES (50, 'new@x')"),
		s("MERGE INTO orders o USING (VALUES (80, 50)) s(id, u) ON o.id = s.id WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.u, 'tx')"),
		s("SAVEPOINT a"),
		s("MERGE INTO users t USING (VALUES (50)) s(id) ON t.id = s.id WHEN MATCHED THEN DELETE"),
		s("ROLLBACK TO SAVEPOINT a"),
		s("COMMIT"),
	}},
}

func TestOracleMerge(t *testing.T) { runScenarios(t, mergeScenarios) }
