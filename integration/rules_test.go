package integration

import (
	"slices"
	"testing"
)

// Tables with rules. A DO INSTEAD rule rewrites a write into other
// statements and Postgres then takes no RETURNING list (unless the rule is
// unconditional and returns rows of its own), which softfk's plans add:
// a soft delete (DELETE turned into an UPDATE that marks the row), a
// conditional rule that drops some rows, and DO ALSO rules that log. A
// DELETE or key UPDATE of referenced rows through such rules goes on as
// with real foreign keys; a write of referencing keys through them is
// unverifiable (TestRewrittenChildWritesAreUnverifiable), and passes
// untouched in shadow mode.
const rulesSchema = `
CREATE TABLE users (id int PRIMARY KEY, deleted bool NOT NULL DEFAULT false);
CREATE TABLE orders (id int PRIMARY KEY, user_id int);
CREATE TABLE log (what text, id int);
INSERT INTO users VALUES (1), (2), (3), (4), (5);
INSERT INTO orders VALUES (10, 1), (11, 2), (12, 5);
CREATE RULE users_log AS ON UPDATE TO users DO ALSO INSERT INTO log VALUES ('update', old.id);
CREATE RULE users_soft AS ON DELETE TO users WHERE old.id >= 4 DO INSTEAD UPDATE users SET deleted = true WHERE id = old.id;
CREATE RULE users_keep AS ON DELETE TO users WHERE old.id = 3 DO INSTEAD NOTHING;
CREATE RULE orders_drop AS ON INSERT TO orders WHERE new.id > 100 DO INSTEAD NOTHING;`

// rulesSteps write users through the rules, orders around them.
var rulesSteps = []step{
	s("UPDATE users SET id = 6 WHERE id = 1"),
	s("DELETE FROM users WHERE id = 5"),
	s("DELETE FROM users WHERE id = 3"),
	s("DELETE FROM users WHERE id IN (2, 4)"),
	s("DELETE FROM orders WHERE id = 11"),
	s("BEGIN"),
	s("DELETE FROM users WHERE id = 2"),
	s("UPDATE users SET id = 7 WHERE id = 6"),
	s("COMMIT"),
	s("TABLE users"), s("TABLE orders"), s("TABLE log"),
	// Postgres refuses a MERGE of a table with rules before anything
	// else, a read-only transaction's refusal included.
	s("BEGIN READ ONLY"),
	s("MERGE INTO users u USING (VALUES (7)) v(id) ON u.id = v.id WHEN MATCHED THEN DELETE"),
	s("ROLLBACK"),
}

var rulesScenarios = []scenario{
	{name: "rules no action", schema: rulesSchema, fks: []fk{{table: "orders", cols: "user_id", refTable: "users", refCols: "id"}}, steps: rulesSteps},
	{name: "rules cascade", schema: rulesSchema, fks: []fk{withActions(fk{table: "orders", cols: "user_id", refTable: "users", refCols: "id"}, "CASCADE", "")}, steps: rulesSteps},
	{name: "rules set null", schema: rulesSchema, fks: []fk{withActions(fk{table: "orders", cols: "user_id", refTable: "users", refCols: "id"}, "SET NULL", "")}, steps: rulesSteps},
	inShadowMode(scenario{name: "rules", schema: rulesSchema, fks: []fk{{table: "orders", cols: "user_id", refTable: "users", refCols: "id"}},
		steps: append([]step{
			s("INSERT INTO orders VALUES (20, 99)"),
			s("INSERT INTO orders VALUES (200, 99)"),
			s("UPDATE orders SET user_id = 98 WHERE id = 10"),
		}, rulesSteps...)}),
}

// treeUnderRule is a self-referencing tree whose deeper rows a DO INSTEAD
// rule keeps: a cascade that reaches them leaves them, and their own
// children, in place, as Postgres's RI query meets the rule too.
var treeUnderRule = `
CREATE TABLE t (id int PRIMARY KEY, up int);
INSERT INTO t VALUES (1, NULL), (2, 1), (3, 2), (6, 1), (7, 6), (8, 2);
CREATE RULE t_keep AS ON DELETE TO t WHERE old.id > 5 DO INSTEAD NOTHING;`

func TestOracleRules(t *testing.T) {
	scenarios := slices.Clone(rulesScenarios)
	for _, action := range []string{"CASCADE", "SET NULL", ""} {
		scenarios = append(scenarios, scenario{name: "tree under a rule " + action, schema: treeUnderRule,
			fks: []fk{withActions(fk{table: "t", cols: "up", refTable: "t", refCols: "id"}, action, "")}, steps: []step{
				// An orphan written with foreign keys off: an UPDATE that
				// keeps its key is not checked (a DELETE rule does not
				// change an UPDATE's rows).
				s("SET session_replication_role = replica"),
				s("INSERT INTO t VALUES (20, 99)"),
				s("RESET session_replication_role"),
				s("UPDATE t SET up = up WHERE id >= 8"),
				s("DELETE FROM t WHERE id = 7"),
				s("DELETE FROM t WHERE id = 3"),
				s("DELETE FROM t WHERE id = 1"),
				s("TABLE t"),
			}})
	}
	// COPY FROM applies no rules: its rows land in the table and are
	// checked.
	scenarios = append(scenarios, scenario{name: "copy ignores rules", schema: rulesSchema, modes: []string{"simple", "extended"},
		fks: []fk{{table: "orders", cols: "user_id", refTable: "users", refCols: "id"}}, steps: []step{
			copyText("COPY orders FROM STDIN", "201\t1\n"),
			copyText("COPY orders FROM STDIN", "202\t1\n203\t99\n"),
			s("TABLE orders"),
		}})
	runScenarios(t, scenarios)
}

// Which rows of an INSERT or UPDATE of referencing keys land in a table
// whose DO INSTEAD rules rewrite it, only the rules know: such a write is
// unverifiable.
func TestRewrittenChildWritesAreUnverifiable(t *testing.T) {
	rule := "CREATE RULE orders_drop AS ON INSERT TO orders WHERE new.id > 100 DO INSTEAD NOTHING"
	refusals(t, []string{rule, "INSERT INTO users VALUES (1)"}, []string{"INSERT INTO orders VALUES (10, 99)"},
		"INSERT of a table whose DO INSTEAD rules rewrite it", "SELECT count(*) FROM orders WHERE user_id = 99", map[bool]int{true: 0, false: 1})
	rule = "CREATE RULE orders_keep AS ON UPDATE TO orders WHERE old.id = 11 DO INSTEAD NOTHING"
	refusals(t, []string{rule, "INSERT INTO users VALUES (1)", "INSERT INTO orders VALUES (10, 1)"}, []string{"UPDATE orders SET user_id = 99 WHERE id = 10"},
		"UPDATE of a table whose DO INSTEAD rules rewrite it", "SELECT count(*) FROM orders WHERE user_id = 99", map[bool]int{true: 0, false: 1})
}
