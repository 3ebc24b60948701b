package integration

import "testing"

// Table inheritance (the partitioning before PARTITION BY): a write through
// a table's name reaches the tables that inherit from it, whose rows its
// foreign keys do not cover (a real FOREIGN KEY's triggers are the
// table's own, and its lookups read ONLY the referenced table). orders_old
// rows may reference anything, users_old rows are nobody's parents.
const inheritance = `
CREATE TABLE users (id int PRIMARY KEY);
CREATE TABLE users_old () INHERITS (users);
CREATE TABLE orders (id int PRIMARY KEY, user_id int);
CREATE TABLE orders_old () INHERITS (orders);
INSERT INTO users VALUES (1), (2), (3);
INSERT INTO users_old VALUES (7), (8);
INSERT INTO orders VALUES (10, 1), (11, 2);
INSERT INTO orders_old VALUES (20, 7), (21, 99);`

var inheritanceSteps = []step{
	s("INSERT INTO orders VALUES (12, 7)"),
	s("INSERT INTO orders VALUES (13, 3), (14, 8)"),
	s("UPDATE orders SET user_id = 98 WHERE id = 20"),
	s("UPDATE orders SET user_id = user_id WHERE id >= 20"),
	s("UPDATE orders SET user_id = 97"),
	s("UPDATE orders SET user_id = 3 WHERE id >= 20"),
	s("MERGE INTO orders o USING (VALUES (20, 96)) v(id, u) ON o.id = v.id WHEN MATCHED THEN UPDATE SET user_id = v.u"),
	s("WITH u AS (UPDATE orders SET user_id = 95 WHERE id = 21 RETURNING id) SELECT count(*) FROM u"),
	s("DELETE FROM users WHERE id = 7"),
	s("UPDATE users SET id = 9 WHERE id = 8"),
	s("DELETE FROM users WHERE id >= 3"),
	s("DELETE FROM users WHERE id = 1"),
	s("UPDATE users SET id = id + 100"),
	s("TABLE orders"), s("TABLE users"),
	s("WITH d AS (DELETE FROM users WHERE id = 102 RETURNING id) SELECT count(*) FROM d"),
	// CASCADE adds orders, but not orders_old.
	s("TRUNCATE users CASCADE"),
}

func inheritanceScenario(action string) scenario {
	return scenario{name: "inheritance " + action, schema: inheritance, steps: inheritanceSteps,
		fks: []fk{withActions(fk{table: "orders", cols: "user_id", refTable: "users", refCols: "id"}, action, action)}}
}

func TestOracleInheritance(t *testing.T) {
	runScenarios(t, []scenario{inheritanceScenario(""), inheritanceScenario("CASCADE"), inheritanceScenario("SET NULL"),
		inShadowMode(inheritanceScenario(""))})
}
