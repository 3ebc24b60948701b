package integration

import "testing"

// SQL-level PREPARE and EXECUTE of writes: an EXECUTE is checked as the
// statement it stands for, with every outcome of its PREPARE and
// DEALLOCATE followed (a PREPARE of a name in use and anything in an
// aborted transaction fail; the name keeps what it denoted).
var sqlPreparedScenarios = []scenario{
	{name: "execute of a prepared insert", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("PREPARE ins (int, int) AS INSERT INTO orders VALUES ($1, $2, 'prepared')"),
		s("EXECUTE ins(20, 1)"),
		s("EXECUTE ins(21, 42)"),
		s("EXECUTE ins(22, NULL)"),
		s("EXECUTE ins('23', '2')"),
		s("EXECUTE ins(24, 'x')"),
		s("EXECUTE ins(25)"),
		s("EXECUTE ins(26.4, 2.6)"),
		s("EXECUTE ins(27, '1' :: bigint)"),
		s("EXECUTE ins(/* id */ 28, CAST('é' AS int))"),
		s("PREPARE ins AS INSERT INTO orders VALUES ($1, $2)"),
		s("EXECUTE ins(29, 99)"),
		s("EXECUTE nosuch(1)"),
	}},
	{name: "execute with inferred types and returning", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("PREPARE ret AS INSERT INTO orders (id, user_id) VALUES ($1, $2) RETURNING id, user_id, note"),
		s("EXECUTE ret(30, 3)"),
		s("EXECUTE ret(31, 77)"),
		s("EXECUTE ret(32, 1)"),
		s("DEALLOCATE ret"),
		s("EXECUTE ret(33, 1)"),
		s("PREPARE ret AS INSERT INTO orders (id, user_id) VALUES ($1 + 1, $2 * 10) RETURNING id, user_id, note"),
		s("EXECUTE ret(32, 1)"),
		s("EXECUTE ret(40, 0.3)"),
	}},
	// A parameter's type has no length: an argument for a char(3) or
	// bit(3) column keeps all of its characters (cast to character, or
	// bit, it would keep one).
	{name: "execute with arguments for columns of types with lengths", schema: `
CREATE TABLE tp (code text PRIMARY KEY, flags bit(3));
CREATE TABLE tc (id int PRIMARY KEY, code char(3), flags bit(3), tags char(2)[]);
INSERT INTO tp VALUES ('ab', B'101'), ('b\', B'011');`, fks: []fk{{table: "tc", cols: "code", refTable: "tp", refCols: "code"}}, steps: []step{
		s("PREPARE q AS INSERT INTO tc (id, code, flags, tags) VALUES ($1, $2, $3, $4)"),
		s(`EXECUTE q(1, 'ab', '101', '{xy,z}')`),
		s(`EXECUTE q(2, 'b\', '011', NULL)`),
		s(`EXECUTE q(3, 'c\', '11', NULL)`),
		s(`EXECUTE q(4, E'ab ', '111', '{uv}')`),
		s(`EXECUTE q(5, 'abcd', NULL, NULL)`),
		s(`PREPARE r (int, char) AS INSERT INTO tc (id, code) VALUES ($1, $2)`),
		s(`EXECUTE r(6, 'ab')`),
	}},
	{name: "execute of prepared deletes and updates", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("PREPARE del (int) AS DELETE FROM users WHERE id = $1"),
		s("EXECUTE del(2)"),
		s("EXECUTE del(3)"),
		s("EXECUTE del(4)"),
		s("PREPARE upd AS UPDATE orders SET user_id = $2 WHERE id = $1 RETURNING *"),
		s("EXECUTE upd(10, 2)"),
		s("EXECUTE upd(11, 55)"),
		s("EXECUTE upd(99, 55)"),
		s("PREPARE upkey (int, int) AS UPDATE users SET id = $2 WHERE id = $1"),
		s("EXECUTE upkey(1, 7)"),
		s("EXECUTE upkey(2, 8)"),
	}},
	{name: "execute after a deallocate that failed", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("PREPARE ins (int, int) AS INSERT INTO orders VALUES ($1, $2)"),
		s("BEGIN"),
		s("SELECT 1/0"),
		s("DEALLOCATE ins"),
		s("PREPARE ins AS SELECT 1"),
		s("ROLLBACK"),
		s("EXECUTE ins(50, 66)"),
		s("BEGIN"),
		s("DISCARD ALL"),
		s("ROLLBACK"),
		s("EXECUTE ins(55, 69)"),
		s("BEGIN"),
		s("EXECUTE ins(51, 1)"),
		s("EXECUTE ins(52, 67)"),
		s("EXECUTE ins(53, 1)"),
		s("ROLLBACK"),
		s("DEALLOCATE ins"),
		s("PREPARE ins AS SELECT $1::int + $2::int"),
		s("EXECUTE ins(54, 68)"),
	}},
	{name: "execute of a prepared write in shadow mode", schema: usersOrders, fks: []fk{ordersFK}, shadow: true, shadowEvents: 2, steps: []step{
		s("PREPARE ins (int, int) AS INSERT INTO orders VALUES ($1, $2, 'prepared')"),
		s("EXECUTE ins(60, 1)"),
		s("EXECUTE ins(61, 42)"),
		s("PREPARE del (int) AS DELETE FROM users WHERE id = $1"),
		s("EXECUTE del(1)"),
	}},
	// CREATE TABLE AS runs its query, unless WITH NO DATA; an EXECUTE it
	// runs (refused, see TestUnverifiableWrites) must prepare a SELECT.
	{name: "create table as", schema: usersOrders, fks: []fk{ordersFK}, steps: []step{
		s("PREPARE sel (int, int) AS WITH c AS (INSERT INTO orders VALUES ($1, $2, 'with') RETURNING id) SELECT * FROM c"),
		s("PREPARE ins (int, int) AS INSERT INTO orders VALUES ($1, $2, 'plain')"),
		s("EXECUTE sel(20, 1)"),
		s("EXECUTE sel(21, 42)"),
		s("CREATE TEMP TABLE made AS EXECUTE ins(22, 42)"),
		s("CREATE TEMP TABLE none AS WITH d AS (DELETE FROM users WHERE id = 1 RETURNING id) SELECT * FROM d WITH NO DATA"),
		s("CREATE TEMP TABLE none2 AS WITH c AS (INSERT INTO orders VALUES (23, 42) RETURNING id) SELECT * FROM c WITH NO DATA"),
		s("CREATE TEMP TABLE gone AS WITH d AS (DELETE FROM users WHERE id = 1 RETURNING id) SELECT * FROM d"),
		s("CREATE TEMP TABLE gone2 AS WITH d AS (DELETE FROM users WHERE id = 3 RETURNING id) SELECT * FROM d"),
		s("SELECT count(*) FROM gone2"),
	}},
}

func TestOracleSQLPrepared(t *testing.T) { runScenarios(t, sqlPreparedScenarios) }

// DISCARD ALL drops every prepared statement, unless it fails (inside a
// transaction block); pgx's own statements go with it, hence the modes.
var discardScenarios = []scenario{
	{name: "execute after discard all", schema: usersOrders, fks: []fk{ordersFK}, modes: []string{"simple", "exec"}, steps: []step{
		s("PREPARE ins (int, int) AS INSERT INTO orders VALUES ($1, $2)"),
		s("BEGIN"),
		s("DISCARD ALL"),
		s("ROLLBACK"),
		s("EXECUTE ins(20, 66)"),
		s("DISCARD ALL"),
		s("EXECUTE ins(21, 66)"),
		s("PREPARE ins (int, int) AS INSERT INTO orders VALUES ($1, $2)"),
		s("EXECUTE ins(22, 67)"),
		s("EXECUTE ins(23, 1)"),
	}},
}

func TestOracleSQLPreparedDiscard(t *testing.T) { runScenarios(t, discardScenarios) }
