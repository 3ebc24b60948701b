package integration

import "testing"

// Actions that re-key rows which are referenced in turn: an identifying
// relationship (b's key starts with a's), ON UPDATE CASCADE of a's key
// moves b's, and whatever references b must follow, refuse or let go as
// its own ON UPDATE says; a SET NULL or SET DEFAULT that empties a
// unique key someone references; a cascaded key a BEFORE UPDATE trigger
// shifts, which Postgres checks like any new key.
const rekeyChain = `
CREATE TABLE a (id int PRIMARY KEY);
CREATE TABLE b (aid int, n int, PRIMARY KEY (aid, n));
CREATE TABLE c (id int PRIMARY KEY, aid int, n int);
CREATE TABLE u (id int PRIMARY KEY, code int UNIQUE DEFAULT 2);
CREATE TABLE w (id int PRIMARY KEY, code int);
CREATE TABLE sk (id int PRIMARY KEY, pid int);
CREATE FUNCTION sk_shift() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.pid := NEW.pid + 1; RETURN NEW; END$$;
CREATE TRIGGER sk_shift BEFORE UPDATE OF pid ON sk FOR EACH ROW EXECUTE FUNCTION sk_shift();
INSERT INTO a VALUES (1), (2), (3);
INSERT INTO b VALUES (1, 1), (1, 2), (2, 1);
INSERT INTO c VALUES (1, 1, 1), (2, 1, 2), (3, 2, 1), (4, NULL, 1);
INSERT INTO u VALUES (1, 1), (2, 3);
INSERT INTO w VALUES (1, 1), (2, 3), (3, NULL);
INSERT INTO sk VALUES (1, 1), (2, 3);`

// rekeyChainFKs are the relationships of rekeyChain, with c's, u's and
// w's actions as given.
func rekeyChainFKs(cOnUpdate, uOnDelete, uOnUpdate, wOnUpdate string) []fk {
	return []fk{
		{name: "b_aid_fkey", table: "b", cols: "aid", refTable: "a", refCols: "id", onDelete: "CASCADE", onUpdate: "CASCADE"},
		{name: "c_ab_fkey", table: "c", cols: "aid, n", refTable: "b", refCols: "aid, n", onUpdate: cOnUpdate},
		{name: "u_code_fkey", table: "u", cols: "code", refTable: "a", refCols: "id", onDelete: uOnDelete, onUpdate: uOnUpdate},
		{name: "w_code_fkey", table: "w", cols: "code", refTable: "u", refCols: "code", onUpdate: wOnUpdate},
	}
}

// rekeySteps re-key and delete a's rows, alone and in transaction
// blocks, and show every table after each.
var rekeySteps = []step{
	s("UPDATE a SET id = 10 WHERE id = 1"),
	s("TABLE b"), s("TABLE c"), s("TABLE u"), s("TABLE w"),
	s("BEGIN ISOLATION LEVEL REPEATABLE READ"),
	s("UPDATE a SET id = id + 100 WHERE id >= 2"),
	s("TABLE c"), s("TABLE w"),
	s("ROLLBACK"),
	s("DELETE FROM a WHERE id = 3"),
	s("TABLE u"), s("TABLE w"),
	s("BEGIN"),
	s("SAVEPOINT s"),
	s("UPDATE a SET id = 20 WHERE id = 2"),
	s("ROLLBACK TO SAVEPOINT s"),
	s("DELETE FROM a WHERE id = 1"),
	s("COMMIT"),
	s("TABLE b"), s("TABLE c"), s("TABLE u"), s("TABLE w"),
}

var rekeyChainScenarios = []scenario{
	{name: "update cascade through an identifying relationship", schema: rekeyChain,
		fks: rekeyChainFKs("CASCADE", "CASCADE", "CASCADE", "CASCADE"), steps: rekeySteps},
	{name: "update cascade into rows referenced no action", schema: rekeyChain,
		fks: rekeyChainFKs("", "SET NULL", "CASCADE", ""), steps: rekeySteps},
	{name: "update cascade into rows referenced restrict", schema: rekeyChain,
		fks: rekeyChainFKs("RESTRICT", "SET NULL", "SET NULL", "RESTRICT"), steps: rekeySteps},
	{name: "set null empties referenced keys", schema: rekeyChain,
		fks: rekeyChainFKs("SET NULL", "SET NULL", "SET NULL", "CASCADE"), steps: rekeySteps},
	{name: "set default of a referenced key", schema: rekeyChain,
		fks: rekeyChainFKs("SET DEFAULT", "SET DEFAULT", "CASCADE", "SET NULL"), steps: rekeySteps},
	inShadowMode(scenario{name: "update cascade through an identifying relationship", schema: rekeyChain,
		fks: rekeyChainFKs("CASCADE", "SET NULL", "CASCADE", ""), steps: rekeySteps}),
	{name: "update cascade moves rows between partitions", schema: `
CREATE TABLE a (id int PRIMARY KEY);
CREATE TABLE b (aid int, n int, PRIMARY KEY (aid, n)) PARTITION BY RANGE (aid);
CREATE TABLE b1 PARTITION OF b FOR VALUES FROM (0) TO (10);
CREATE TABLE b2 PARTITION OF b FOR VALUES FROM (10) TO (100);
CREATE TABLE c (id int PRIMARY KEY, aid int, n int);
INSERT INTO a VALUES (1), (2), (3);
INSERT INTO b VALUES (1, 1), (1, 2), (2, 1);
INSERT INTO c VALUES (1, 1, 1), (2, 1, 2), (3, 2, 1);`, fks: []fk{
		{name: "b_aid_fkey", table: "b", cols: "aid", refTable: "a", refCols: "id", onUpdate: "CASCADE", onDelete: "CASCADE"},
		{name: "c_ab_fkey", table: "c", cols: "aid, n", refTable: "b", refCols: "aid, n", onUpdate: "CASCADE", onDelete: "SET NULL"},
	}, steps: []step{
		s("UPDATE a SET id = 15 WHERE id = 1"),
		s("TABLE b1"), s("TABLE b2"), s("TABLE c"),
		s("UPDATE a SET id = 4 WHERE id = 15"),
		s("DELETE FROM a WHERE id = 4"),
		s("TABLE b"), s("TABLE c"),
	}},
	{name: "cascaded key shifted by a trigger", schema: rekeyChain, fks: []fk{
		{name: "sk_pid_fkey", table: "sk", cols: "pid", refTable: "a", refCols: "id", onUpdate: "CASCADE", onDelete: "SET NULL"},
	}, steps: []step{
		s("UPDATE a SET id = 10 WHERE id = 1"),
		s("INSERT INTO a VALUES (4), (5)"),
		s("UPDATE a SET id = 3 WHERE id = 1"),
		s("UPDATE a SET id = id + 1 WHERE id >= 3"),
		s("DELETE FROM a WHERE id = 1"),
		s("TABLE sk"),
	}},
}

func TestOracleRekeyChains(t *testing.T) { runScenarios(t, rekeyChainScenarios) }
