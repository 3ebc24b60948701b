package integration

import "testing"

// A simple-protocol INSERT of one row of constants runs through softfk as a
// statement it prepares once per session for the INSERT's shape, with
// parameters in place of the constants: what the client sees, errors and
// their positions included, must stay what Postgres gives for the
// constants.
func TestOraclePreparedInserts(t *testing.T) { runScenarios(t, preparedInsertScenarios) }

const typedOrders = `
CREATE TABLE users (id int PRIMARY KEY, email text UNIQUE);
CREATE TABLE orders (id int PRIMARY KEY, user_id int, note varchar(5), amount numeric(6,2), paid bool DEFAULT false,
  placed date, label text, big bigint, code char(2));
INSERT INTO users VALUES (1, 'a@x'), (2, 'b@x');`

var preparedInsertScenarios = []scenario{
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
