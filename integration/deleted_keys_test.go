package integration

import "testing"

// A DELETE of few referenced rows (its WHERE gives a unique key a value,
// or one of a short IN list) whose relationships' actions read nothing
// back hands its deleted keys to the checks and actions after it through
// a setting local to the transaction, in the same batch. These scenarios aim at what that could get wrong: a
// DELETE that removes nothing after one that removed a key, savepoints,
// a unique key other than the referenced one, each action, composite keys
// and shadow mode.
func TestOracleParentDeletesOfFewRows(t *testing.T) { runScenarios(t, parentDeletesOfFewRows) }

var parentDeletesOfFewRows = []scenario{
	{name: "one-row deletes of parents in transactions", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("BEGIN"),
		s("DELETE FROM users WHERE id = 3"),
		s("DELETE FROM users WHERE id = 3"),
		s("DELETE FROM users WHERE id = $1", 3),
		s("DELETE FROM users WHERE id = 1"),
		s("ROLLBACK"),
		s("BEGIN"),
		s("SAVEPOINT a"),
		s("DELETE FROM users WHERE id = 3 RETURNING email"),
		s("ROLLBACK TO a"),
		s("DELETE FROM orders WHERE user_id = 2"),
		s("DELETE FROM users WHERE id = 2"),
		s("DELETE FROM users WHERE id = 2"),
		s("SELECT id FROM users ORDER BY id"),
		s("COMMIT"),
		s("DELETE FROM users WHERE email = 'c@x'"),
		s("DELETE FROM users WHERE email = $1", "a@x"),
		s("DELETE FROM users WHERE id = 1 RETURNING email"),
		s("DELETE FROM users WHERE id = 4 AND email = 'nobody'"),
	}},
	// Django deletes by lists of primary keys.
	{name: "deletes of parents by short lists of keys", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s(`DELETE FROM "users" WHERE "users"."id" IN (1, 3)`),
		s(`DELETE FROM "users" WHERE "users"."id" IN ($1, $2)`, 4, 3),
		s("BEGIN"),
		s("DELETE FROM orders WHERE id IN (10, 11)"),
		s("DELETE FROM users WHERE id IN (1, 2, 5)"),
		s("ROLLBACK"),
		s("DELETE FROM users WHERE id IN (1) RETURNING id"),
		s("DELETE FROM orders WHERE id IN (10, 11, 12)"),
		s("DELETE FROM users WHERE id IN (2, 1) RETURNING email"),
		s("SELECT count(*) FROM users"),
	}},
	{name: "one-row deletes of parents with actions", schema: threeLevels, fks: []fk{
		withActions(fk{table: "orders", cols: "user_id", refTable: "users", refCols: "id"}, "SET NULL", ""),
		withActions(fk{table: "items", cols: "order_id", refTable: "orders", refCols: "id"}, "CASCADE", ""),
	}, steps: []step{
		s("DELETE FROM orders WHERE id = 10"),
		s("SELECT id FROM items ORDER BY id"),
		s("DELETE FROM users WHERE id = $1", 2),
		s("SELECT id, user_id FROM orders ORDER BY id"),
		s("BEGIN"),
		s("DELETE FROM orders WHERE id = $1", 20),
		s("DELETE FROM orders WHERE id = 20"),
		s("INSERT INTO items VALUES (300, 20, 'late')"),
		s("ROLLBACK"),
		s("DELETE FROM orders WHERE id = 11 RETURNING id"),
	}},
	{name: "one-row deletes of composite parents under RESTRICT", schema: composite, fks: []fk{
		withActions(fk{table: "kids", cols: "pa, pb", refTable: "parents", refCols: "a, b"}, "RESTRICT", ""),
	}, steps: []step{
		s("DELETE FROM parents WHERE a = 1 AND b = 'x'"),
		s("DELETE FROM parents WHERE a = $1 AND b = $2", 2, "y"),
		s("DELETE FROM parents WHERE b = 'x' AND a = 1"),
		s("DELETE FROM kids WHERE id = 1"),
		s("DELETE FROM parents WHERE a = 1 AND b = 'x'"),
	}},
	{name: "one-row deletes of parents in shadow mode", schema: usersOrders, fks: []fk{ordersFK}, shadow: true, shadowEvents: 2, steps: []step{
		s("BEGIN"),
		s("DELETE FROM users WHERE id = 1"),
		// Removes nothing: the key the first DELETE kept is not checked
		// (and reported) again.
		s("DELETE FROM users WHERE id = 1"),
		s("COMMIT"),
		s("DELETE FROM users WHERE id = 3"),
		s("DELETE FROM users WHERE id IN ($1, 4)", 2),
	}},
}
