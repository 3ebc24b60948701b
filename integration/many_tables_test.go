package integration

import (
	"fmt"
	"strings"
	"testing"
)

// manyPairs is how many parent and child tables the many-table schema
// has: enough that the catalog query's estimated cost (180,000) is far
// above the default jit_above_cost.
const manyPairs = 180

// manyTables is a schema of manyPairs parents p<i> (keys 1 and 2; the
// last one key 1 only) and children c<i>, a partitioned table orders of
// a relationship to p0 whose partition orders_2 has one of its own to the
// last parent, a view joining the first and the last child, and an
// updatable view of the last child.
func manyTables() (schema string, fks []fk) {
	var b strings.Builder
	last := manyPairs - 1
	for i := range manyPairs {
		keys := "(1), (2)"
		if i == last {
			keys = "(1)"
		}
		fmt.Fprintf(&b, "CREATE TABLE p%d (id int PRIMARY KEY);\nINSERT INTO p%[1]d VALUES %s;\n", i, keys)
		fmt.Fprintf(&b, "CREATE TABLE c%d (id int PRIMARY KEY, p int);\n", i)
		fks = append(fks, fk{table: fmt.Sprintf("c%d", i), cols: "p", refTable: fmt.Sprintf("p%d", i), refCols: "id"})
	}
	fmt.Fprintf(&b, `CREATE TABLE orders (id int, p int, PRIMARY KEY (id, p)) PARTITION BY RANGE (id);
CREATE TABLE orders_1 PARTITION OF orders FOR VALUES FROM (1) TO (1000);
CREATE TABLE orders_2 PARTITION OF orders FOR VALUES FROM (1000) TO (2000);
CREATE VIEW joined AS SELECT c0.id, c%[1]d.p FROM c0 JOIN c%[1]d USING (id);
CREATE VIEW last_children AS SELECT * FROM c%[1]d;
`, last)
	fks = append([]fk{{table: "orders", cols: "p", refTable: "p0", refCols: "id"}}, fks...)
	fks = append(fks, fk{table: "orders_2", cols: "p", refTable: fmt.Sprintf("p%d", last), refCols: "id"})
	return b.String(), fks
}

// With a few hundred guarded tables every relationship is enforced as a
// real FOREIGN KEY is, when the session starts and when DDL makes softfk
// read the catalog again in the middle of a session.
func TestOracleManyTables(t *testing.T) {
	schema, fks := manyTables()
	last := manyPairs - 1
	runScenarios(t, []scenario{{
		name: "many tables", schema: schema, fks: fks, modes: []string{"simple", "extended"},
		steps: []step{
			s("INSERT INTO c0 VALUES (1, 1)"),
			s("INSERT INTO c0 VALUES (2, 3)"),
			s("INSERT INTO c60 VALUES (1, 2)"),
			s("INSERT INTO c60 VALUES (2, 5)"),
			s(fmt.Sprintf("INSERT INTO c%d VALUES (1, 1)", last)),
			s(fmt.Sprintf("INSERT INTO c%d VALUES (2, 2)", last)),
			s("INSERT INTO last_children VALUES (3, 2)"),
			s("INSERT INTO last_children VALUES (3, 1)"),
			s("INSERT INTO orders VALUES (1, 2), (1500, 1)"),
			s("INSERT INTO orders_2 VALUES (1600, 2)"),
			s(fmt.Sprintf("DELETE FROM p%d WHERE id = 1", last)),
			s("DELETE FROM p60 WHERE id = 2"),
			s("SELECT * FROM joined ORDER BY id"),
			s(fmt.Sprintf("ALTER TABLE c%d ADD COLUMN note text", last-10)),
			s(fmt.Sprintf("INSERT INTO c%d VALUES (1, 7, 'x')", last-10)),
			s("INSERT INTO c10 VALUES (1, 7)"),
			s(fmt.Sprintf("INSERT INTO c%d VALUES (2, 1, 'y')", last-10)),
		},
	}})
}
