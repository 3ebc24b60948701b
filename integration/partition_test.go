package integration

import (
	"regexp"
	"testing"
)

// Postgres derives a constraint for each partition of a partitioned
// referenced table, named after the configured one with a number
// (orders_user_id_fkey1); softfk's errors name the configured relationship
// (see README, Known limits).
var (
	derivedOrdersFK = regexp.MustCompile(`orders_user_id_fkey[0-9]+`)
	derivedCatsFK   = regexp.MustCompile(`cats_parent_id_fkey[0-9]+`)
	// A write through a partitioned table: Postgres's error names the
	// partition that holds the row, softfk's the table.
	ordersPartition = regexp.MustCompile(`\borders_b\b`)
)

// A relationship of a partitioned table holds for its partitions too, as
// Postgres clones a FOREIGN KEY onto them: writes that name a partition
// directly, on either side, partitions made or attached through softfk,
// sub-partitions, self-references across partitions and TRUNCATE's
// cascades.
var partitionScenarios = []scenario{
	{name: "drop partitions", schema: `
CREATE TABLE users (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE users_low PARTITION OF users FOR VALUES FROM (0) TO (100);
CREATE TABLE users_high PARTITION OF users FOR VALUES FROM (100) TO (1000);
CREATE TABLE orders (id int PRIMARY KEY, user_id int) PARTITION BY RANGE (id);
CREATE TABLE orders_a PARTITION OF orders FOR VALUES FROM (0) TO (50);
INSERT INTO users VALUES (1), (150);
INSERT INTO orders VALUES (10, 1);`, fks: []fk{ordersFK},
		steps: []step{
			s("DROP INDEX users_low_pkey"),
			s("ALTER TABLE users_low DROP CONSTRAINT users_low_pkey"),
			s("DROP TABLE users_high"),
			s("DROP TABLE users"),
			s("DROP TABLE orders_a"),
			s("DROP TABLE users_high, orders"),
			s("DROP TABLE users"),
		}},
	{name: "writes into partitions", schema: `
CREATE TABLE users (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE users_low PARTITION OF users FOR VALUES FROM (0) TO (100);
CREATE TABLE users_high PARTITION OF users FOR VALUES FROM (100) TO (1000);
CREATE TABLE orders (id int PRIMARY KEY, user_id int) PARTITION BY RANGE (id);
CREATE TABLE orders_a PARTITION OF orders FOR VALUES FROM (0) TO (50);
CREATE TABLE o_b (user_id int, id int PRIMARY KEY);
ALTER TABLE orders ATTACH PARTITION o_b FOR VALUES FROM (50) TO (1000);
INSERT INTO users VALUES (1), (2), (3), (150);
INSERT INTO orders VALUES (10, 1), (60, 150), (20, 3);`, fks: []fk{ordersFK},
		normalize: func(s string) string { return derivedOrdersFK.ReplaceAllString(s, "orders_user_id_fkey") },
		steps: []step{
			s("INSERT INTO orders_a VALUES (11, 2)"),
			s("INSERT INTO orders_a VALUES (12, 99)"),
			s("INSERT INTO o_b VALUES (150, 61)"),
			s("INSERT INTO o_b VALUES (99, 62)"),
			s("INSERT INTO o_b (id, user_id) VALUES ($1, $2)", 63, 98),
			s("INSERT INTO orders_a VALUES (13, 2), (14, 97)"),
			s("INSERT INTO orders VALUES (11, 3) ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id"),
			s("INSERT INTO orders VALUES (18, 2) ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id"),
			s("UPDATE orders_a SET user_id = 96 WHERE id = 10"),
			s("UPDATE o_b SET user_id = 2 WHERE id = 60"),
			s("UPDATE o_b SET user_id = user_id + 1000"),
			s("DELETE FROM users_low WHERE id = 1"),
			s("DELETE FROM users_high WHERE id = 150"),
			s("UPDATE users_low SET id = 5 WHERE id = 3"),
			s("TRUNCATE users_low"),
			s("MERGE INTO orders_a o USING (VALUES (15, 95)) v(id, u) ON o.id = v.id WHEN NOT MATCHED THEN INSERT VALUES (v.id, v.u)"),
			s("WITH x AS (INSERT INTO orders_a VALUES (16, 94) RETURNING id) SELECT * FROM x"),
			copyText("COPY orders_a FROM STDIN", "17\t93\n"),
			s("DELETE FROM orders_a WHERE id = 20"),
			s("DELETE FROM users_low WHERE id = 3"),
			s("CREATE TABLE zz PARTITION OF orders FOR VALUES FROM (1000) TO (2000)"),
			s("INSERT INTO zz VALUES (1001, 99)"),
			s("INSERT INTO zz VALUES (1002, 2)"),
			s("CREATE TABLE yy (id int PRIMARY KEY, user_id int)"),
			s("ALTER TABLE orders ATTACH PARTITION yy FOR VALUES FROM (2000) TO (3000)"),
			s("INSERT INTO yy VALUES (2001, 98)"),
			s("TRUNCATE users CASCADE"),
		}},

	{name: "self-referencing partitioned table", schema: `
CREATE TABLE cats (id int PRIMARY KEY, parent_id int) PARTITION BY RANGE (id);
CREATE TABLE cats_a PARTITION OF cats FOR VALUES FROM (0) TO (100);
CREATE TABLE cats_b PARTITION OF cats FOR VALUES FROM (100) TO (1000) PARTITION BY RANGE (id);
CREATE TABLE cats_b1 PARTITION OF cats_b FOR VALUES FROM (100) TO (500);
CREATE TABLE cats_b2 PARTITION OF cats_b FOR VALUES FROM (500) TO (1000);
INSERT INTO cats VALUES (1, NULL), (2, 1), (150, 2), (600, 150);`,
		fks:       []fk{withActions(fk{table: "cats", cols: "parent_id", refTable: "cats", refCols: "id"}, "CASCADE", "")},
		normalize: func(s string) string { return derivedCatsFK.ReplaceAllString(s, "cats_parent_id_fkey") },
		steps: []step{
			s("INSERT INTO cats_a VALUES (3, 3)"),
			s("INSERT INTO cats_a VALUES (4, 5), (5, 4)"),
			s("INSERT INTO cats_b1 VALUES (160, 161), (161, 999)"),
			s("INSERT INTO cats_b1 VALUES ($1, $2)", 162, 600),
			s("INSERT INTO cats_b2 VALUES (601, 3)"),
			s("UPDATE cats_b2 SET parent_id = 77 WHERE id = 600"),
			s("UPDATE cats_b SET parent_id = 1 WHERE id = 150"),
			s("DELETE FROM cats_b1 WHERE id = 150"),
			s("SELECT count(*) FROM cats"),
			s("DELETE FROM cats_a WHERE id = 2"),
			s("TRUNCATE cats_b2"),
			s("TRUNCATE cats_a CASCADE"),
		}},
	{name: "partitions of a referenced table with set null", schema: `
CREATE TABLE users (id int PRIMARY KEY) PARTITION BY LIST (id);
CREATE TABLE users_1 PARTITION OF users FOR VALUES IN (1, 2);
CREATE TABLE users_3 PARTITION OF users FOR VALUES IN (3, 4);
CREATE TABLE orders (id int PRIMARY KEY, user_id int);
INSERT INTO users VALUES (1), (2), (3);
INSERT INTO orders VALUES (10, 1), (11, 3);`,
		fks:       []fk{withActions(ordersFK, "SET NULL", "")},
		normalize: func(s string) string { return derivedOrdersFK.ReplaceAllString(s, "orders_user_id_fkey") },
		steps: []step{
			s("DELETE FROM users_1 WHERE id = 1"),
			s("DELETE FROM users_1 WHERE id = 2"),
			s("UPDATE users_3 SET id = 4 WHERE id = 3"),
			s("INSERT INTO orders VALUES (12, 4)"),
			s("INSERT INTO orders VALUES (13, 3)"),
			s("BEGIN"),
			s("DELETE FROM users_3 WHERE id IN (4)"),
			s("SELECT * FROM orders ORDER BY id"),
			s("ROLLBACK"),
		}},
	// A partition's BEFORE triggers change the rows a write of its
	// partitioned table routes to it: softfk reads those keys from the
	// rows, not from the statement.
	{name: "triggers of a partition", schema: `
CREATE TABLE users (id int PRIMARY KEY);
CREATE TABLE orders (id int PRIMARY KEY, user_id int DEFAULT 1) PARTITION BY RANGE (id);
CREATE TABLE orders_a PARTITION OF orders (user_id DEFAULT 99) FOR VALUES FROM (0) TO (50);
CREATE TABLE orders_b PARTITION OF orders FOR VALUES FROM (50) TO (100);
CREATE OR REPLACE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.user_id := NEW.user_id + 100; RETURN NEW; END $$;
CREATE TRIGGER bump BEFORE INSERT OR UPDATE ON orders_b FOR EACH ROW EXECUTE FUNCTION bump();
INSERT INTO users VALUES (1), (2), (102);`, fks: []fk{ordersFK},
		normalize: func(s string) string { return ordersPartition.ReplaceAllString(s, "orders") },
		steps: []step{
			s("INSERT INTO orders (id) VALUES (1)"),
			s("INSERT INTO orders_a (id) VALUES (2)"),
			s("INSERT INTO orders_a VALUES (3, DEFAULT)"),
			s("INSERT INTO orders_b VALUES (51, 2)"),
			s("INSERT INTO orders_b VALUES (52, 1)"),
			s("INSERT INTO orders VALUES (53, 2)"),
			s("INSERT INTO orders VALUES (54, 1)"),
			s("INSERT INTO orders_b VALUES ($1, $2)", 55, 2),
			s("INSERT INTO orders VALUES (58, 1), (59, 2)"),
			s("INSERT INTO orders VALUES (60, 2), (61, 2)"),
			s("UPDATE orders SET user_id = 1 WHERE id = 51"),
			s("UPDATE orders SET user_id = 1 WHERE id IN (51, 55)"),
			s("UPDATE orders SET user_id = 2 WHERE id IN (51, 55)"),
		}},
	// MERGE, WITH, ON CONFLICT and a key change that moves a row to
	// another partition, on either side.
	{name: "more writes that name partitions", schema: `
CREATE TABLE users (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE users_low PARTITION OF users FOR VALUES FROM (0) TO (100);
CREATE TABLE users_high PARTITION OF users FOR VALUES FROM (100) TO (1000);
CREATE TABLE orders (id int PRIMARY KEY, user_id int) PARTITION BY LIST (id);
CREATE TABLE orders_x PARTITION OF orders DEFAULT;
INSERT INTO users VALUES (1), (2), (3), (150);
INSERT INTO orders VALUES (10, 1), (11, 150);`, fks: []fk{withActions(ordersFK, "CASCADE", "CASCADE")},
		normalize: func(s string) string { return derivedOrdersFK.ReplaceAllString(s, "orders_user_id_fkey") },
		steps: []step{
			s("MERGE INTO users_low u USING (VALUES (1)) v(id) ON u.id = v.id WHEN MATCHED THEN DELETE"),
			s("MERGE INTO users_high u USING (VALUES (150, 160)) v(id, n) ON u.id = v.id WHEN MATCHED THEN UPDATE SET id = v.n"),
			s("SELECT * FROM orders ORDER BY id"),
			s("WITH d AS (DELETE FROM users_high WHERE id = 160 RETURNING id) SELECT count(*) FROM d"),
			s("SELECT * FROM orders ORDER BY id"),
			s("INSERT INTO orders_x VALUES (20, 99) ON CONFLICT (id) DO NOTHING"),
			s("INSERT INTO orders_x VALUES (21, 2) ON CONFLICT (id) DO UPDATE SET user_id = 98"),
			s("INSERT INTO orders_x VALUES (21, 2) ON CONFLICT (id) DO UPDATE SET user_id = 97"),
			s("UPDATE users_low SET id = 5 WHERE id = 2"),
			s("SELECT * FROM orders ORDER BY id"),
			s("UPDATE users SET id = 200 WHERE id = 5"),
			s("SELECT * FROM orders ORDER BY id"),
			s("TRUNCATE users_high, orders"),
			s("TRUNCATE users_low CASCADE"),
		}},
	{name: "partitions in shadow mode", shadow: true, shadowEvents: 2, schema: `
CREATE TABLE users (id int PRIMARY KEY);
CREATE TABLE orders (id int PRIMARY KEY, user_id int) PARTITION BY RANGE (id);
CREATE TABLE orders_a PARTITION OF orders FOR VALUES FROM (0) TO (50);
INSERT INTO users VALUES (1);`, fks: []fk{ordersFK}, steps: []step{
		s("INSERT INTO orders_a VALUES (10, 1)"),
		s("INSERT INTO orders_a VALUES (11, 99)"),
		s("UPDATE orders_a SET user_id = 98 WHERE id = 10"),
	}},
}

func TestOraclePartitions(t *testing.T) { runScenarios(t, partitionScenarios) }
