package integration

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/softfk/softfk/pgcluster"
)

// Writes a real FOREIGN KEY lets through unchecked must pass through softfk
// unchecked too.

func TestOracleReplicationRole(t *testing.T)  { runScenarios(t, replicationRoleScenarios) }
func TestOracleKeptKeys(t *testing.T)         { runScenarios(t, keptKeyScenarios) }
func TestOracleDisabledTriggers(t *testing.T) { runScenarios(t, disabledTriggerScenarios) }

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

// ALTER TABLE ... DISABLE TRIGGER ALL, run by a superuser (as Rails does
// to load fixtures and pg_dump --disable-triggers to restore data),
// switches off the RI triggers of a real FOREIGN KEY on that table: the
// child's checks live on the referencing table, the parent's checks and
// actions on the referenced one. ENABLE TRIGGER ALL switches them on
// again, and a transaction that rolls back takes the switch back.
// TRUNCATE of a referenced table is refused all the same.
var disabledTriggerScenarios = []scenario{
	{name: "disabled triggers skip the child's checks", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("ALTER TABLE orders DISABLE TRIGGER ALL"),
		s("INSERT INTO orders VALUES (20, 42, 'orphan while disabled')"),
		s("INSERT INTO orders VALUES (21, 43, 'a'), (22, 1, 'b')"),
		s("INSERT INTO orders VALUES ($1, $2, 'param')", 23, 44),
		s("INSERT INTO orders SELECT 24, 45, 'select'"),
		s("UPDATE orders SET user_id = 77 WHERE id = 10"),
		s("INSERT INTO orders VALUES (11, 46, 'upsert') ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id"),
		s("MERGE INTO orders o USING (VALUES (25, 99)) v(id, u) ON o.id = v.id WHEN NOT MATCHED THEN INSERT VALUES (v.id, v.u + (random() * 0)::int, 'merge')"),
		s("DELETE FROM users WHERE id = 3"),
		s("DELETE FROM users WHERE id = 2"),
		s("ALTER TABLE orders ENABLE TRIGGER ALL"),
		s("INSERT INTO orders VALUES (26, 42, 'checked again')"),
		s("UPDATE orders SET user_id = 78 WHERE id = 12"),
		s("SELECT id, user_id FROM orders ORDER BY id"),
	}},
	{name: "disabled triggers skip the parent's checks and actions", schema: threeLevels, fks: []fk{
		withActions(ordersFK, "CASCADE", "CASCADE"),
		withActions(fk{table: "items", cols: "order_id", refTable: "orders", refCols: "id"}, "CASCADE", "NO ACTION"),
	}, steps: []step{
		s("ALTER TABLE users DISABLE TRIGGER ALL"),
		s("DELETE FROM users WHERE id = 1"),
		s("INSERT INTO users VALUES (1)"),
		s("UPDATE users SET id = 5 WHERE id = 2"),
		s("INSERT INTO orders VALUES (30, 9)"),
		s("ALTER TABLE users ENABLE TRIGGER ALL"),
		s("INSERT INTO orders VALUES (31, 1), (32, 1)"),
		s("INSERT INTO items VALUES (300, 31, 'x')"),
		s("ALTER TABLE orders DISABLE TRIGGER ALL"),
		s("DELETE FROM users WHERE id = 1"),
		s("SELECT id, order_id FROM items ORDER BY id"),
		s("INSERT INTO orders VALUES (33, 8)"),
		s("UPDATE orders SET id = 34 WHERE id = 20"),
		s("ALTER TABLE orders ENABLE TRIGGER ALL"),
		s("DELETE FROM orders WHERE id = 31"),
		s("TRUNCATE users"),
		s("SELECT id, user_id FROM orders ORDER BY id"),
	}},
	{name: "disabled triggers restrict and no action", schema: usersOrders, fks: []fk{withActions(ordersFK, "RESTRICT", "NO ACTION")}, steps: []step{
		s("ALTER TABLE users DISABLE TRIGGER ALL"),
		s("DELETE FROM users WHERE id = 1"),
		s("UPDATE users SET id = 22 WHERE id = 2"),
		s("TRUNCATE users"),
		s("ALTER TABLE users ENABLE TRIGGER ALL"),
		s("INSERT INTO orders VALUES (40, 3, 'x')"),
		s("DELETE FROM users WHERE id = 3"),
	}},
	{name: "disabled triggers taken back by a rollback", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("BEGIN"),
		s("ALTER TABLE orders DISABLE TRIGGER ALL"),
		s("INSERT INTO orders VALUES (50, 42, 'orphan, rolled back')"),
		s("ROLLBACK"),
		s("INSERT INTO orders VALUES (51, 42, 'checked after the rollback')"),
		s("BEGIN"),
		s("SAVEPOINT a"),
		s("ALTER TABLE orders DISABLE TRIGGER ALL"),
		s("ROLLBACK TO SAVEPOINT a"),
		s("INSERT INTO orders VALUES (52, 42, 'checked after the savepoint')"),
		s("ROLLBACK"),
		s("BEGIN"),
		s("ALTER TABLE orders DISABLE TRIGGER ALL"),
		s("COMMIT"),
		s("INSERT INTO orders VALUES (53, 42, 'unchecked after the commit')"),
		s("ALTER TABLE IF EXISTS orders ENABLE TRIGGER ALL, ALTER COLUMN note SET DEFAULT 'n'"),
		s("INSERT INTO orders VALUES (54, 42)"),
		s("ALTER TABLE IF EXISTS nosuchtable DISABLE TRIGGER ALL"),
		s("ALTER TABLE orders DISABLE TRIGGER USER"),
		s("INSERT INTO orders VALUES (55, 42)"),
	}},
	{name: "disabled triggers of both tables while loading fixtures", schema: usersOrders, fks: []fk{ordersFK}, modes: []string{"simple"}, steps: []step{
		s("ALTER TABLE orders DISABLE TRIGGER ALL;ALTER TABLE users DISABLE TRIGGER ALL"),
		s("BEGIN"),
		s("DELETE FROM users;\nDELETE FROM orders;\nINSERT INTO orders VALUES (60, 6, 'before its user');\nINSERT INTO users VALUES (6, 'f@x')"),
		s("COMMIT"),
		s("ALTER TABLE orders ENABLE TRIGGER ALL;ALTER TABLE users ENABLE TRIGGER ALL"),
		s("INSERT INTO orders VALUES (61, 7, 'checked')"),
		s("ALTER TABLE orders DISABLE TRIGGER ALL; INSERT INTO orders VALUES (62, 8, 'same string')"),
		s("ALTER TABLE orders ENABLE TRIGGER ALL"),
		s("INSERT INTO orders VALUES (63, 8, 'checked')"),
		s("BEGIN; ALTER TABLE orders DISABLE TRIGGER ALL; INSERT INTO orders VALUES (64, 9, 'one block'); COMMIT"),
		s("INSERT INTO orders VALUES (65, 9, 'still unchecked')"),
		s("BEGIN; ALTER TABLE orders ENABLE TRIGGER ALL; ROLLBACK"),
		s("INSERT INTO orders VALUES (66, 9, 'unchecked after the rollback')"),
		s("BEGIN; ALTER TABLE orders ENABLE TRIGGER ALL; COMMIT"),
		s("INSERT INTO orders VALUES (67, 9, 'checked')"),
		s("ALTER TABLE orders DISABLE TRIGGER ALL; DELETE FROM users WHERE id = 6"),
		s("INSERT INTO users VALUES (7, 'g@x'); ALTER TABLE orders DISABLE TRIGGER ALL; DELETE FROM users WHERE id = 7; INSERT INTO orders VALUES (68, 7, 'x')"),
		s("ALTER TABLE orders ENABLE TRIGGER ALL"),
	}},
	{name: "disabled triggers and a statement prepared before", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("INSERT INTO orders VALUES ($1, $2, 'prepared')", 90, 1),
		s("DELETE FROM users WHERE id = $1", 3),
		s("ALTER TABLE orders DISABLE TRIGGER ALL"),
		s("INSERT INTO orders VALUES ($1, $2, 'prepared')", 91, 42),
		s("ALTER TABLE users DISABLE TRIGGER ALL"),
		s("DELETE FROM users WHERE id = $1", 1),
		s("ALTER TABLE orders ENABLE TRIGGER ALL"),
		s("ALTER TABLE users ENABLE TRIGGER ALL"),
		s("INSERT INTO orders VALUES ($1, $2, 'prepared')", 92, 43),
		s("DELETE FROM users WHERE id = $1", 2),
	}},
	{name: "disabled triggers of a partitioned table", schema: `
CREATE TABLE users (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE users_low PARTITION OF users FOR VALUES FROM (0) TO (100);
INSERT INTO users VALUES (1), (2);
CREATE TABLE orders (id int, user_id int) PARTITION BY RANGE (id);
CREATE TABLE orders_a PARTITION OF orders FOR VALUES FROM (0) TO (100);
INSERT INTO orders VALUES (10, 1);`, fks: []fk{ordersFK},
		// softfk's error names the table the statement names (see Known
		// limits), a real FOREIGN KEY's the partition.
		normalize: func(s string) string {
			return strings.NewReplacer("orders_a", "orders", "users_low", "users").Replace(derivedOrdersFK.ReplaceAllString(s, "orders_user_id_fkey"))
		},
		steps: []step{
			s("ALTER TABLE orders DISABLE TRIGGER ALL"),
			s("INSERT INTO orders VALUES (11, 42)"),
			s("INSERT INTO orders_a VALUES (12, 43)"),
			s("ALTER TABLE orders ENABLE TRIGGER ALL"),
			s("INSERT INTO orders VALUES (13, 44)"),
			s("INSERT INTO orders_a VALUES (14, 45)"),
			s("ALTER TABLE users DISABLE TRIGGER ALL"),
			s("DELETE FROM users WHERE id = 1"),
			s("ALTER TABLE users ENABLE TRIGGER ALL"),
			s("INSERT INTO users VALUES (1)"),
			s("DELETE FROM users_low WHERE id = 1"),
			s("ALTER TABLE ONLY orders DISABLE TRIGGER ALL"),
			s("INSERT INTO orders VALUES (15, 46)"),
			s("INSERT INTO orders_a VALUES (16, 47)"),
			s("ALTER TABLE orders DISABLE TRIGGER ALL"),
			s("ALTER TABLE ONLY orders ENABLE TRIGGER ALL"),
			s("INSERT INTO orders VALUES (17, 48)"),
			s("ALTER TABLE orders ENABLE TRIGGER ALL"),
			s("ALTER TABLE ONLY users DISABLE TRIGGER ALL"),
			s("DELETE FROM users WHERE id = 1"),
			s("ALTER TABLE users ENABLE TRIGGER ALL"),
			s("SELECT * FROM orders ORDER BY id"),
		}},
	{name: "disabled triggers copy", schema: usersOrders, fks: []fk{ordersFK}, modes: []string{"simple", "extended"}, steps: []step{
		s("ALTER TABLE orders DISABLE TRIGGER ALL"),
		copyText("COPY orders FROM STDIN", "70\t1\tok\n71\t77\tunchecked\n"),
		s("ALTER TABLE orders ENABLE TRIGGER ALL"),
		copyText("COPY orders FROM STDIN", "72\t1\tok\n73\t77\tchecked\n"),
	}},
	{name: "disabled triggers in shadow mode log nothing", schema: usersOrders, fks: []fk{ordersFK}, shadow: true, shadowEvents: 1, steps: []step{
		s("ALTER TABLE orders DISABLE TRIGGER ALL"),
		s("INSERT INTO orders VALUES (80, 42, 'not a violation while disabled')"),
		s("ALTER TABLE orders ENABLE TRIGGER ALL"),
		s("INSERT INTO orders VALUES (81, 42, 'a violation')"),
	}},
}

// Only a superuser may switch a real FOREIGN KEY's RI triggers off: for
// anyone else Postgres refuses DISABLE TRIGGER ALL (42501, a system
// trigger). Without a real FOREIGN KEY the table has no such trigger, so
// the ALTER TABLE goes through, but softfk must go on checking.
func TestDisabledTriggersNeedASuperuser(t *testing.T) {
	ctx := context.Background()
	schema := []string{
		"CREATE TABLE users (id int PRIMARY KEY)",
		"CREATE TABLE orders (id int PRIMARY KEY, user_id int)",
		"INSERT INTO users VALUES (1)",
		"ALTER TABLE users OWNER TO " + plainUser,
		"ALTER TABLE orders OWNER TO " + plainUser,
	}
	codeOf := func(err error) string {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			return pgErr.Code
		}
		return ""
	}

	real := newDatabase(t)
	mustExec(t, connect(t, cluster.DSN(real)), append(schema, "ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users (id)")...)
	direct := connect(t, pgcluster.DSN(cluster.Addr(), plainUser, rolePassword, real))
	if _, err := direct.Exec(ctx, "ALTER TABLE orders DISABLE TRIGGER ALL"); codeOf(err) != "42501" {
		t.Fatalf("directly, a plain user's DISABLE TRIGGER ALL: %v, want 42501", err)
	}

	soft := newDatabase(t)
	mustExec(t, connect(t, cluster.DSN(soft)), schema...)
	p := startProxy(t, configFor(t, "relationships:\n  - {name: orders_user_id_fkey, table: orders, columns: [user_id], references: {table: users, columns: [id]}}\n"))
	conn := connect(t, pgcluster.DSN(p.Addr, plainUser, rolePassword, soft))
	mustExec(t, conn, "ALTER TABLE orders DISABLE TRIGGER ALL", "ALTER TABLE users DISABLE TRIGGER ALL")
	for _, w := range []struct{ sql, code string }{
		{"INSERT INTO orders VALUES (1, 42)", "23503"},
		{"INSERT INTO orders VALUES (2, 1)", ""},
		{"DELETE FROM users WHERE id = 1", "23503"},
	} {
		if _, err := conn.Exec(ctx, w.sql); codeOf(err) != w.code || w.code == "" && err != nil {
			t.Errorf("%s after a plain user's DISABLE TRIGGER ALL: %v, want %q", w.sql, err, w.code)
		}
	}
}
