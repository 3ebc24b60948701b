package integration

import "testing"

// Writes a real FOREIGN KEY lets through unchecked must pass through softfk
// unchecked too.

func TestOracleReplicationRole(t *testing.T) { runScenarios(t, replicationRoleScenarios) }

// While session_replication_role is replica (logical replication's apply
// workers and bulk loaders set it), Postgres fires no RI trigger: no check,
// no action, on either side. TRUNCATE is refused all the same.
var replicationRoleScenarios = []scenario{
	{name: "replica skips child checks", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("SET session_replication_role = replica"),
		s("INSERT INTO orders VALUES (20, 42, 'orphan while replica')"),
		s("INSERT INTO orders VALUES (21, 43, 'a'), (22, 1, 'b')"),
		s("INSERT INTO orders VALUES ($1, $2, 'param')", 23, 44),
		s("INSERT INTO orders SELECT 24, 45, 'select'"),
		s("UPDATE orders SET user_id = 77 WHERE id = 10"),
		s("INSERT INTO orders VALUES (11, 46, 'upsert') ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id"),
		s("RESET session_replication_role"),
		s("INSERT INTO orders VALUES (25, 42, 'checked again')"),
		s("UPDATE orders SET user_id = 78 WHERE id = 12"),
		s("SET session_replication_role = local"),
		s("INSERT INTO orders VALUES (26, 42, 'local checks')"),
	}},
	{name: "replica skips parent checks and actions", schema: usersOrders, fks: []fk{withActions(ordersFK, "CASCADE", "CASCADE")}, steps: []step{
		s("SET session_replication_role = replica"),
		s("DELETE FROM users WHERE id = 1"),
		s("UPDATE users SET id = 20 WHERE id = 2"),
		s("TRUNCATE users"),
		s("SET session_replication_role = origin"),
		s("DELETE FROM users WHERE id = 3"),
		s("INSERT INTO users VALUES (4, 'd@x')"),
		s("INSERT INTO orders VALUES (40, 4, 'child of 4')"),
		s("DELETE FROM users WHERE id = 4"),
		s("SELECT count(*) FROM orders WHERE user_id = 4"),
	}},
	{name: "replica no action and restrict", schema: usersOrders, fks: []fk{withActions(ordersFK, "RESTRICT", "NO ACTION")}, steps: []step{
		s("BEGIN"),
		s("SET LOCAL session_replication_role = replica"),
		s("DELETE FROM users WHERE id = 1"),
		s("UPDATE users SET id = 22 WHERE id = 2"),
		s("COMMIT"),
		s("DELETE FROM users WHERE id = 22"),
		s("SELECT current_setting('session_replication_role')"),
	}},
	{name: "replica set for a transaction that rolls back", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("BEGIN"),
		s("SET session_replication_role = replica"),
		s("INSERT INTO orders VALUES (50, 42, 'orphan, rolled back')"),
		s("ROLLBACK"),
		s("INSERT INTO orders VALUES (51, 42, 'checked after the rollback')"),
		s("BEGIN"),
		s("SAVEPOINT a"),
		s("SET session_replication_role = replica"),
		s("ROLLBACK TO SAVEPOINT a"),
		s("INSERT INTO orders VALUES (52, 42, 'checked after the savepoint')"),
		s("ROLLBACK"),
	}},
	{name: "replica copy", schema: usersOrders, fks: []fk{ordersFK}, modes: []string{"simple", "extended"}, steps: []step{
		s("SET session_replication_role = replica"),
		copyText("COPY orders FROM STDIN", "60\t1\tok\n61\t77\tunchecked\n"),
		s("SET session_replication_role = DEFAULT"),
		copyText("COPY orders FROM STDIN", "62\t1\tok\n63\t77\tchecked\n"),
	}},
	{name: "replica in shadow mode logs nothing", schema: usersOrders, fks: []fk{ordersFK}, shadow: true, shadowEvents: 1, steps: []step{
		s("SET session_replication_role = replica"),
		s("INSERT INTO orders VALUES (70, 42, 'not a violation while replica')"),
		s("DELETE FROM users WHERE id = 1"),
		s("RESET session_replication_role"),
		s("INSERT INTO orders VALUES (71, 42, 'a violation')"),
	}},
}
