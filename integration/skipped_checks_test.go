package integration

import "testing"

// Writes a real FOREIGN KEY lets through unchecked must pass through softfk
// unchecked too.

func TestOracleReplicationRole(t *testing.T) { runScenarios(t, replicationRoleScenarios) }
func TestOracleKeptKeys(t *testing.T)        { runScenarios(t, keptKeyScenarios) }

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
	// Writes softfk cannot verify, which enforce mode refuses otherwise.
	{name: "replica lets unverifiable writes through", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("SET session_replication_role = replica"),
		s("MERGE INTO orders o USING (VALUES (80, 99)) v(id, u) ON o.id = v.id WHEN NOT MATCHED THEN INSERT VALUES (v.id, v.u + (random() * 0)::int, 'merge')"),
		s("WITH c AS (INSERT INTO orders SELECT 81, 98, 'with' RETURNING id) SELECT count(*) FROM c"),
		s("BEGIN"),
		s("SET LOCAL session_replication_role = origin"),
		s("INSERT INTO orders VALUES (82, 1, 'checked')"),
		s("COMMIT"),
		s("WITH c AS (UPDATE orders SET user_id = 97 WHERE id = 82 RETURNING id) SELECT count(*) FROM c"),
	}},
	// An Execute with a row limit of a write whose checks need its own
	// RETURNING's results (which softfk refuses otherwise).
	{name: "replica lets a limited Execute through", schema: usersOrders, fks: []fk{withActions(ordersFK, "CASCADE", "CASCADE")}, modes: []string{"wire"}, steps: []step{
		s("SET session_replication_role = replica"),
		limited(1, "UPDATE users SET id = $1 WHERE id = $2 RETURNING id", 7, 1),
		limited(1, "DELETE FROM users WHERE id = $1 RETURNING id", 2),
	}},
	{name: "replica lets an unverifiable COPY through", schema: usersOrders, fks: []fk{ordersFK}, modes: []string{"simple", "extended"}, steps: []step{
		s("CREATE FUNCTION shift() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.user_id := NEW.user_id + 0; RETURN NEW; END$$"),
		s("CREATE TRIGGER shift BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION shift()"),
		s("SET session_replication_role = replica"),
		copyText("COPY orders FROM STDIN", "90\t1\tok\n91\t77\tunchecked\n"),
		s("BEGIN"),
		copyText("COPY orders (id, user_id) FROM STDIN", "92\t76\n"),
		s("COMMIT"),
	}},
	{name: "replica in shadow mode logs nothing", schema: usersOrders, fks: []fk{ordersFK}, shadow: true, shadowEvents: 1, steps: []step{
		s("SET session_replication_role = replica"),
		s("INSERT INTO orders VALUES (70, 42, 'not a violation while replica')"),
		s("DELETE FROM users WHERE id = 1"),
		s("RESET session_replication_role"),
		s("INSERT INTO orders VALUES (71, 42, 'a violation')"),
	}},
}

// Postgres checks an updated referencing row only when its key changed, or
// when the transaction wrote the row itself. Orphans (here written while
// session_replication_role was replica, as a real FOREIGN KEY added NOT
// VALID would leave them) stay updatable as long as their key stays: ORMs
// that write every column keep working on them.
const keptKeySchema = usersOrders + `
CREATE TABLE tags (id int PRIMARY KEY);
ALTER TABLE orders ADD COLUMN tag_id int;
INSERT INTO tags VALUES (1);`

var keptKeyFKs = []fk{ordersFK, {table: "orders", cols: "tag_id", refTable: "tags", refCols: "id"}}

var keptKeyScenarios = []scenario{
	{name: "update keeping an orphan's key", schema: keptKeySchema, fks: keptKeyFKs, steps: []step{
		s("SET session_replication_role = replica"),
		s("INSERT INTO orders VALUES (20, 42, 'orphan', 1), (21, 43, 'orphan', 5), (22, 2, 'tag orphan', 6)"),
		s("RESET session_replication_role"),
		s("UPDATE orders SET note = 'kept', user_id = user_id WHERE id = 20"),
		s("UPDATE orders SET user_id = 42 WHERE id = 20"),
		s("UPDATE orders SET user_id = $1, note = $2, tag_id = $3 WHERE id = $4", 42, "orm writes every column", 1, 20),
		s("UPDATE orders SET user_id = 44 WHERE id = 20"),
		s("UPDATE orders SET user_id = user_id, tag_id = tag_id WHERE id IN (10, 20, 21, 22)"),
		s("UPDATE orders SET user_id = CASE WHEN id = 21 THEN 45 ELSE user_id END WHERE id IN (20, 21)"),
		s("UPDATE orders SET user_id = 2, tag_id = tag_id WHERE id = 21"),
		s("UPDATE orders SET user_id = 2, tag_id = 1 WHERE id = 21"),
		s("UPDATE orders SET tag_id = tag_id + 0, user_id = 3 WHERE id = 22"),
		s("UPDATE orders o SET user_id = o.user_id FROM users u WHERE o.id = 20 AND u.id = 1"),
		s("UPDATE orders SET id = id + 100, user_id = user_id WHERE id = 10"), // no unique key left alone: checked
	}},
	{name: "upsert keeping an orphan's key", schema: keptKeySchema, fks: keptKeyFKs, steps: []step{
		s("SET session_replication_role = replica"),
		s("INSERT INTO orders VALUES (20, 42, 'orphan'), (21, 43, 'orphan')"),
		s("RESET session_replication_role"),
		s("INSERT INTO orders VALUES (20, 42, 'upsert') ON CONFLICT (id) DO UPDATE SET note = excluded.note"),
		s("INSERT INTO orders VALUES (20, 42, 'upsert') ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id"),
		s("INSERT INTO orders VALUES (21, 46, 'upsert') ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id"),
		s("INSERT INTO orders VALUES (23, 47, 'new') ON CONFLICT (id) DO UPDATE SET note = 'x'"),
		s("INSERT INTO orders VALUES (20, 42, 'a'), (24, 1, 'b') ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id RETURNING id, user_id"),
	}},
	{name: "rows the transaction wrote itself are checked", schema: keptKeySchema, fks: keptKeyFKs, steps: []step{
		s("SET session_replication_role = replica"),
		s("INSERT INTO orders VALUES (20, 42, 'orphan')"),
		s("RESET session_replication_role"),
		s("BEGIN"),
		s("SET LOCAL session_replication_role = replica"),
		s("INSERT INTO orders VALUES (30, 50, 'written by this transaction')"),
		s("SET LOCAL session_replication_role = origin"),
		s("UPDATE orders SET user_id = 50 WHERE id = 30"),
		s("ROLLBACK"),
		s("BEGIN"),
		s("UPDATE orders SET note = 'first' WHERE id = 20"),
		s("UPDATE orders SET user_id = 42 WHERE id = 20"),
		s("ROLLBACK"),
		s("BEGIN"),
		s("SAVEPOINT a"),
		s("UPDATE orders SET user_id = 42 WHERE id = 20"),
		s("UPDATE orders SET user_id = 42, note = 'again' WHERE id = 20"),
		s("ROLLBACK TO SAVEPOINT a"),
		s("UPDATE orders SET user_id = 42 WHERE id = 20"),
		s("COMMIT"),
	}},
	// Not in a pipeline: there the three statements share one transaction,
	// which wrote the row itself, so each is a violation.
	{name: "kept keys in shadow mode log nothing", schema: keptKeySchema, fks: keptKeyFKs, shadow: true, shadowEvents: 1,
		modes: []string{"simple", "extended", "exec", "wire"}, steps: []step{
			s("INSERT INTO orders VALUES (20, 42, 'orphan')"),
			s("UPDATE orders SET user_id = 42, note = 'kept' WHERE id = 20"),
			s("UPDATE orders SET user_id = 42, note = 'kept' WHERE id = 20"),
		}},
}
