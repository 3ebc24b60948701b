package integration

import "testing"

// viewSchema has a referencing and a referenced table, each with views
// that rename the key columns and hide rows, and a view of a view.
const viewSchema = `
CREATE TABLE users (id int PRIMARY KEY, name text);
CREATE TABLE orders (id int PRIMARY KEY, user_id int DEFAULT 7, note text);
CREATE VIEW ov AS SELECT o.id, o.user_id AS uid, o.note, o.id + 1 AS x FROM orders o WHERE o.id < 1000;
CREATE VIEW ov2 AS SELECT x, uid, id FROM ov WHERE note IS DISTINCT FROM 'hidden';
CREATE VIEW uv AS SELECT name, id AS uid FROM users WHERE id < 100;
INSERT INTO users VALUES (1, 'a'), (2, 'b'), (3, 'c'), (7, 'g'), (200, 'h');
INSERT INTO orders VALUES (10, 1, 'x'), (20, 2, 'y'), (2000, 3, 'z'), (30, 200, 'hidden');`

// PostgreSQL turns a write of an automatically updatable view into a write
// of its table, where a real FOREIGN KEY checks it: softfk checks writes
// through such views (and views of them) the same way, whatever the
// views call the key columns and whichever rows they hide.
var viewScenarios = []scenario{
	{name: "writes through views of a referencing table", schema: viewSchema, fks: []fk{ordersFK}, steps: []step{
		s("INSERT INTO ov (id, uid) VALUES (11, 2)"),
		s("INSERT INTO ov (id, uid) VALUES (12, 99)"),
		s("INSERT INTO ov (id, uid) VALUES ($1, $2)", 13, 98),
		s("INSERT INTO ov (id) VALUES (14)"),
		s("INSERT INTO ov VALUES (15, 97, 'n')"),
		s("INSERT INTO ov VALUES (16, 3, 'n'), (17, 96, 'n')"),
		s("INSERT INTO ov (id, uid) VALUES (3000, 95)"),
		s("INSERT INTO ov2 (id, uid) VALUES (18, 94)"),
		s("INSERT INTO ov2 (uid, id) VALUES (1, 19) RETURNING x, uid"),
		s("INSERT INTO ov (id, uid) SELECT id + 40, id FROM users WHERE id < 5"),
		s("INSERT INTO ov (id, uid) SELECT 50, 93"),
		s("UPDATE ov SET uid = 92 WHERE id = 10"),
		s("UPDATE ov SET note = 'q' WHERE id = 10"),
		s("UPDATE ov SET uid = $1 WHERE id = $2", 2, 10),
		s("UPDATE ov2 SET uid = uid + 1000"),
		s("UPDATE ov2 SET uid = uid WHERE id = 20"),
		s("UPDATE ov SET uid = 91 WHERE id = 2000"),
		s("INSERT INTO ov (id, uid) VALUES (10, 1) ON CONFLICT (id) DO UPDATE SET uid = 90"),
		s("INSERT INTO ov (id, uid) VALUES (10, 1) ON CONFLICT (id) DO UPDATE SET uid = 3"),
		s("INSERT INTO ov (id, uid) VALUES (60, 89) ON CONFLICT DO NOTHING"),
		s("WITH w AS (INSERT INTO ov (id, uid) VALUES (61, 88) RETURNING id) SELECT * FROM w"),
		s("WITH w AS (UPDATE ov SET uid = 87 WHERE id = 20 RETURNING id) SELECT * FROM w"),
		s("DELETE FROM ov WHERE id = 20"),
		// PostgreSQL 15 refuses a MERGE of a view before anything else,
		// a read-only transaction's refusal included.
		s("MERGE INTO ov USING (VALUES (10, 2)) v(id, u) ON ov.id = v.id WHEN MATCHED THEN UPDATE SET uid = v.u"),
		s("BEGIN READ ONLY"),
		s("MERGE INTO ov USING (VALUES (10, 2)) v(id, u) ON ov.id = v.id WHEN MATCHED THEN UPDATE SET uid = v.u"),
		s("ROLLBACK"),
	}},

	{name: "writes through views of a referenced table", schema: viewSchema, fks: []fk{ordersFK}, steps: []step{
		s("DELETE FROM uv WHERE uid = 1"),
		s("DELETE FROM uv WHERE uid = $1", 2),
		s("UPDATE uv SET uid = 50 WHERE uid = 2"),
		s("UPDATE uv SET name = 'z' WHERE uid = 2"),
		s("INSERT INTO uv VALUES ('n', 60)"),
		s("DELETE FROM uv WHERE uid = 60"),
		s("DELETE FROM uv WHERE uid = 7"),
		s("DELETE FROM uv WHERE uid IN (3, 7)"),
		s("WITH d AS (DELETE FROM uv WHERE uid = 3 RETURNING uid) SELECT * FROM d"),
		s("DELETE FROM uv WHERE uid = 200"),
		s("BEGIN"),
		s("DELETE FROM ov WHERE uid = 3 OR id = 2000"),
		s("DELETE FROM uv WHERE uid = 3"),
		s("COMMIT"),
	}},

	{name: "actions through views of a referenced table", schema: viewSchema,
		fks: []fk{withActions(ordersFK, "CASCADE", "CASCADE")}, steps: []step{
			s("UPDATE uv SET uid = 50 WHERE uid = 2"),
			s("DELETE FROM uv WHERE uid = 1"),
			s("SELECT * FROM orders ORDER BY id"),
		}},

	{name: "self-reference through a view", schema: `
CREATE TABLE emp (id int PRIMARY KEY, boss int);
CREATE VIEW ev AS SELECT id, boss AS manager FROM emp;
INSERT INTO emp VALUES (1, NULL), (2, 1), (3, 2);`,
		fks: []fk{{table: "emp", cols: "boss", refTable: "emp", refCols: "id"}}, steps: []step{
			s("INSERT INTO ev VALUES (5, 5)"),
			s("INSERT INTO ev VALUES (6, 99)"),
			s("INSERT INTO ev VALUES (7, 8), (8, 7)"),
			s("DELETE FROM ev WHERE id = 1"),
			s("UPDATE ev SET id = 100 WHERE id = 3"),
			s("UPDATE ev SET manager = 100 WHERE id = 2"),
			s("DELETE FROM ev WHERE id IN (7, 8)"),
		}},

	{name: "views made, dropped and replaced through softfk", schema: viewSchema, fks: []fk{ordersFK}, steps: []step{
		s("CREATE VIEW nv AS SELECT user_id AS who, id FROM orders"),
		s("INSERT INTO nv VALUES (99, 70)"),
		s("INSERT INTO nv VALUES (1, 71)"),
		s("CREATE VIEW nnv AS SELECT * FROM nv"),
		s("INSERT INTO nnv VALUES (98, 72)"),
		s("DROP VIEW nnv"),
		s("CREATE TABLE nnv (who int, id int)"),
		s("INSERT INTO nnv VALUES (98, 72)"),
		s("CREATE OR REPLACE VIEW ov AS SELECT o.id, o.user_id AS uid, o.note, o.id + 2 AS x FROM orders o"),
		s("INSERT INTO ov (id, uid) VALUES (73, 97)"),
	}},

	{name: "statements PostgreSQL refuses on views", schema: viewSchema, fks: []fk{ordersFK}, steps: []step{
		copyText("COPY ov (id, uid) FROM STDIN", "80\t99\n"),
		s("MERGE INTO ov USING (VALUES (81, 99)) v(id, u) ON ov.id = v.id WHEN NOT MATCHED THEN INSERT (id, uid) VALUES (v.id, v.u)"),
		s("TRUNCATE uv"),
		s("INSERT INTO ov (id, uid, x) VALUES (82, 99, 1)"),
		s("UPDATE ov SET x = 3, uid = 99 WHERE id = 10"),
	}},

	{name: "views with check options, triggers and composite keys", schema: `
CREATE TABLE parents (a int, b text, label text, PRIMARY KEY (a, b));
CREATE TABLE kids (id int PRIMARY KEY, pb text, pa int, n int);
CREATE VIEW pv AS SELECT b AS pb, a AS pa FROM parents;
CREATE VIEW kv AS SELECT id, pa AS x, pb AS y, n FROM kids WHERE n > 0 WITH CHECK OPTION;
CREATE VIEW kv_sb WITH (security_barrier) AS SELECT * FROM kids WHERE id < 100;
CREATE FUNCTION fix() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN IF NEW.n = 99 THEN NEW.pa := 99; END IF; RETURN NEW; END $$;
CREATE TRIGGER fix BEFORE INSERT OR UPDATE ON kids FOR EACH ROW EXECUTE FUNCTION fix();
INSERT INTO parents VALUES (1, 'a', 'one'), (2, 'b', 'two');
INSERT INTO kids VALUES (1, 'a', 1, 1), (2, 'b', 2, 1);`,
		fks: []fk{{table: "kids", cols: "pa, pb", refTable: "parents", refCols: "a, b"}}, steps: []step{
			s("INSERT INTO kv VALUES (3, 1, 'a', 1)"),
			s("INSERT INTO kv VALUES (4, 1, 'b', 1)"),
			s("INSERT INTO kv VALUES (5, 1, 'b', 0)"),
			s("INSERT INTO kv VALUES (6, 1, 'a', 99)"),
			s("INSERT INTO kv VALUES (7, NULL, 'zz', 1)"),
			s("UPDATE kv SET y = 'b' WHERE id = 1"),
			s("UPDATE kv_sb SET pa = 2, pb = 'b' WHERE id = 1"),
			s("INSERT INTO kv_sb VALUES (8, 'c', 2, 1)"),
			s("DELETE FROM pv WHERE pa = 2"),
			s("DELETE FROM pv WHERE pa = 1 AND pb = 'a'"),
			s("UPDATE pv SET pb = 'c' WHERE pa = 2"),
			s("INSERT INTO pv VALUES ('c', 3)"),
			s("DELETE FROM pv WHERE pa = 3"),
		}},

	{name: "views of partitioned tables and of partitions", schema: `
CREATE TABLE users (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE users_low PARTITION OF users FOR VALUES FROM (0) TO (100);
CREATE TABLE users_high PARTITION OF users FOR VALUES FROM (100) TO (1000);
CREATE TABLE orders (id int PRIMARY KEY, user_id int) PARTITION BY RANGE (id);
CREATE TABLE orders_a PARTITION OF orders FOR VALUES FROM (0) TO (50);
CREATE TABLE orders_b PARTITION OF orders FOR VALUES FROM (50) TO (1000);
CREATE VIEW ov AS SELECT user_id AS u, id FROM orders;
CREATE VIEW oav AS SELECT user_id AS u, id FROM orders_a;
CREATE VIEW uhv AS SELECT id AS k FROM users_high;
INSERT INTO users VALUES (1), (2), (150), (160);
INSERT INTO orders VALUES (10, 1), (60, 150), (20, 2);`, fks: []fk{ordersFK},
		normalize: func(s string) string {
			return ordersPartition.ReplaceAllString(derivedOrdersFK.ReplaceAllString(s, "orders_user_id_fkey"), "orders")
		},
		steps: []step{
			s("INSERT INTO ov VALUES (160, 61)"),
			s("INSERT INTO ov VALUES (99, 62)"),
			s("INSERT INTO oav VALUES (2, 11)"),
			s("INSERT INTO oav VALUES (98, 12)"),
			s("UPDATE oav SET u = 97 WHERE id = 10"),
			s("DELETE FROM uhv WHERE k = 160"),
			s("DELETE FROM uhv WHERE k = 150"),
			s("UPDATE uhv SET k = 170 WHERE k = 150"),
		}},

	{name: "views in shadow mode", schema: viewSchema, fks: []fk{ordersFK}, shadow: true, shadowEvents: 3, steps: []step{
		s("INSERT INTO ov (id, uid) VALUES (12, 99)"),
		s("UPDATE ov SET uid = 92 WHERE id = 10"),
		s("DELETE FROM uv WHERE uid = 2"),
		s("INSERT INTO ov (id, uid) VALUES (13, 1)"),
	}},
}

func TestOracleViews(t *testing.T) { runScenarios(t, viewScenarios) }
