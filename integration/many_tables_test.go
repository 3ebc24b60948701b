package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/policy"
)

// manyPairs is how many parent and child tables the many-table schema
// has: enough that softfk reads their catalog facts in four statements,
// where one statement for all of them would cost 180,000, above the
// default jit_above_cost.
const manyPairs = 180

// manyTables is a schema of manyPairs parents p<i> (keys 1 and 2; the
// last one key 1 only) and children c<i>, a partitioned table orders of
// a relationship to p0 whose partition orders_2 has one of its own to the
// last parent (so the catalog statements of the first and the last
// tables both read orders_2), a view joining the first and the last
// child, and an updatable view of the last child.
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

// With more guarded tables than one catalog statement reads, every
// relationship is enforced as a real FOREIGN KEY is, whichever statement
// read its tables, when the session starts and when DDL makes softfk
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

// Each statement softfk reads the catalog with is planned below
// jit_above_cost, so PostgreSQL does not JIT-compile it, however many
// tables the relationships name.
func TestCatalogStatementsBelowJITCost(t *testing.T) {
	db := newDatabase(t)
	conn := connect(t, cluster.DSN(db))
	schema, fks := manyTables()
	mustExec(t, conn, schema)
	var names []config.TableName
	seen := map[string]bool{}
	for _, f := range fks {
		for _, table := range []string{f.table, f.refTable} {
			if !seen[table] {
				seen[table] = true
				names = append(names, config.TableName{Schema: "public", Name: table})
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var setting string
	if err := conn.QueryRow(ctx, "SHOW jit_above_cost").Scan(&setting); err != nil {
		t.Fatal(err)
	}
	limit, err := strconv.ParseFloat(setting, 64)
	if err != nil {
		t.Fatal(err)
	}
	queries := policy.CatalogQueries(names)
	if len(queries) < 3 {
		t.Fatalf("%d tables read in %d statements, want at least 3", len(names), len(queries))
	}
	for i, q := range queries {
		var plan string
		if err := conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+q, pgx.QueryExecModeSimpleProtocol).Scan(&plan); err != nil {
			t.Fatal(err)
		}
		var explained []struct {
			Plan struct {
				TotalCost float64 `json:"Total Cost"`
			}
		}
		if err := json.Unmarshal([]byte(plan), &explained); err != nil || len(explained) != 1 {
			t.Fatalf("EXPLAIN output %q: %v", plan, err)
		}
		if cost := explained[0].Plan.TotalCost; cost >= limit {
			t.Errorf("catalog statement %d of %d costs %.0f, at or above jit_above_cost %.0f", i+1, len(queries), cost, limit)
		}
	}
}
