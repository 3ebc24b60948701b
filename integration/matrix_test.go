package integration

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Scenario families generated over the dimensions that matter: every
// referential action on delete and on update, single and composite keys,
// key types (bound in text and binary), and the statement shapes around
// them.

var actions = []string{"NO ACTION", "RESTRICT", "CASCADE", "SET NULL", "SET DEFAULT"}

// keyShape is a parent/child pair of tables with a single or composite key.
type keyShape struct {
	name     string
	schema   string
	fk       fk
	parentID func(n int) string // the WHERE condition selecting parent n
	setKey   func(n int) string // the SET list giving parent n a new key
}

var keyShapes = []keyShape{
	{
		name: "single",
		schema: `
CREATE TABLE p (id int PRIMARY KEY, note text);
CREATE TABLE c (id int PRIMARY KEY, pid int DEFAULT 3);
INSERT INTO p VALUES (1, 'one'), (2, 'two'), (3, 'default');
INSERT INTO c VALUES (1, 1), (2, 1), (3, 2), (4, NULL);`,
		fk:       fk{table: "c", cols: "pid", refTable: "p", refCols: "id"},
		parentID: func(n int) string { return fmt.Sprintf("id = %d", n) },
		setKey:   func(n int) string { return fmt.Sprintf("id = %d", n+10) },
	},
	{
		name: "composite",
		schema: `
CREATE TABLE p (a int, b text, note text, PRIMARY KEY (a, b));
CREATE TABLE c (id int PRIMARY KEY, pa int DEFAULT 3, pb text DEFAULT 'z');
INSERT INTO p VALUES (1, 'x', 'one'), (2, 'y', 'two'), (3, 'z', 'default');
INSERT INTO c VALUES (1, 1, 'x'), (2, 1, 'x'), (3, 2, 'y'), (4, NULL, 'x');`,
		fk:       fk{table: "c", cols: "pa, pb", refTable: "p", refCols: "a, b"},
		parentID: func(n int) string { return fmt.Sprintf("a = %d", n) },
		setKey:   func(n int) string { return fmt.Sprintf("a = %d, b = b || '!'", n+10) },
	},
}

// actionScenarios covers every action on delete and on update for both
// key shapes: referenced, unreferenced and default-valued parents.
func actionScenarios() []scenario {
	var out []scenario
	for _, shape := range keyShapes {
		for _, action := range actions {
			f := shape.fk
			f.onDelete = action
			out = append(out, scenario{
				name:   fmt.Sprintf("%s key on delete %s", shape.name, strings.ToLower(action)),
				schema: shape.schema, fks: []fk{f},
				steps: []step{
					s("DELETE FROM p WHERE " + shape.parentID(1)),
					s("DELETE FROM p WHERE " + shape.parentID(3)),
					s("DELETE FROM p WHERE " + shape.parentID(2) + " RETURNING note"),
					s("SELECT count(*) FROM c"),
				},
			})
			f = shape.fk
			f.onUpdate = action
			out = append(out, scenario{
				name:   fmt.Sprintf("%s key on update %s", shape.name, strings.ToLower(action)),
				schema: shape.schema, fks: []fk{f},
				steps: []step{
					s("UPDATE p SET " + shape.setKey(1) + " WHERE " + shape.parentID(1)),
					s("UPDATE p SET note = 'unchanged key' WHERE " + shape.parentID(2)),
					s("UPDATE p SET " + shape.setKey(3) + " WHERE " + shape.parentID(3)),
					s("UPDATE p SET " + shape.setKey(2) + " WHERE " + shape.parentID(2) + " RETURNING note"),
				},
			})
		}
	}
	return out
}

// keyType is a key column type with values to bind.
type keyType struct {
	sqlType         string
	present, absent any
	literalPresent  string
}

var keyTypes = []keyType{
	{"smallint", int16(7), int16(8), "7"},
	{"integer", int32(7), int32(8), "7"},
	{"bigint", int64(7), int64(8), "7"},
	{"numeric(10,2)", "7.50", "7.25", "7.5"},
	{"text", "seven", "eight", "'seven'"},
	{"varchar(20)", "seven", "Seven", "'seven'"},
	{"uuid", "7c9e6679-7425-40de-944b-e07fc1f90ae7", "00000000-0000-0000-0000-000000000008", "'7c9e6679-7425-40de-944b-e07fc1f90ae7'"},
	{"date", "2024-02-29", "2024-03-01", "'2024-02-29'"},
	{"timestamptz", "2024-02-29T12:00:00Z", "2024-02-29T12:00:01Z", "'2024-02-29 12:00:00+00'"},
	{"boolean", true, false, "true"},
}

// typeScenarios inserts, updates and deletes with keys of each type, bound
// as parameters (text or binary depending on the protocol) and literals.
func typeScenarios() []scenario {
	var out []scenario
	for _, kt := range keyTypes {
		schema := fmt.Sprintf(`
CREATE TABLE p (k %[1]s PRIMARY KEY);
CREATE TABLE c (id int PRIMARY KEY, k %[1]s);
INSERT INTO p VALUES (%[2]s);`, kt.sqlType, kt.literalPresent)
		out = append(out, scenario{
			name: "key type " + kt.sqlType, schema: schema,
			fks: []fk{{table: "c", cols: "k", refTable: "p", refCols: "k"}},
			steps: []step{
				s("INSERT INTO c VALUES ($1, $2)", 1, kt.present),
				s("INSERT INTO c VALUES ($1, $2)", 2, kt.absent),
				s("INSERT INTO c VALUES (3, " + kt.literalPresent + ")"),
				s("UPDATE c SET k = $1 WHERE id = $2", kt.absent, 1),
				s("DELETE FROM p WHERE k = $1", kt.present),
				s("INSERT INTO c VALUES ($1, NULL)", 4),
			},
		})
	}
	return out
}

// crossTypeScenarios reference a key of another (comparable) type.
var crossTypeScenarios = []scenario{
	{name: "bigint child of integer parent", schema: `
CREATE TABLE p (id int PRIMARY KEY);
CREATE TABLE c (id int PRIMARY KEY, pid bigint);
INSERT INTO p VALUES (1);`, fks: []fk{{table: "c", cols: "pid", refTable: "p", refCols: "id"}}, steps: []step{
		s("INSERT INTO c VALUES (1, $1)", int64(1)),
		s("INSERT INTO c VALUES (2, $1)", int64(5000000000)),
		s("INSERT INTO c VALUES (3, 2)"),
		s("DELETE FROM p WHERE id = 1"),
	}},
	{name: "varchar child of text parent", schema: `
CREATE TABLE p (code text PRIMARY KEY);
CREATE TABLE c (id int PRIMARY KEY, code varchar(10));
INSERT INTO p VALUES ('a');`, fks: []fk{{table: "c", cols: "code", refTable: "p", refCols: "code"}}, steps: []step{
		s("INSERT INTO c VALUES (1, 'a')"),
		s("INSERT INTO c VALUES (2, $1)", "b"),
		s("UPDATE p SET code = 'A'"),
	}},
	{name: "numeric child rounds before the check", schema: `
CREATE TABLE p (v numeric(6,1) PRIMARY KEY);
CREATE TABLE c (id int PRIMARY KEY, v numeric(6,1));
INSERT INTO p VALUES (1.5);`, fks: []fk{{table: "c", cols: "v", refTable: "p", refCols: "v"}}, steps: []step{
		s("INSERT INTO c VALUES (1, 1.46)"),
		s("INSERT INTO c VALUES (2, 1.44)"),
		s("INSERT INTO c VALUES (3, $1)", "1.54"),
	}},
}

// crossKeys is a referencing key type of a referenced one of another type,
// the parent keys, the steps and the actions to run them under.
type crossKeys struct {
	child, parent, parentKeys string
	steps                     []step
	actions                   []string
}

// PostgreSQL compares a referencing value with a referenced one by an
// equality operator of the referenced column's operator class taking the
// referencing type, or else casts the referencing value to the class's
// type first: a text key of a char(n) parent is compared as char, trailing
// blanks ignored, where a plain = would compare them as text.
var crossKeyTypes = []crossKeys{
	{"text", "char(5)", "('ab'), ('cd')", []step{
		s("INSERT INTO c VALUES (1, 'ab')"), s("INSERT INTO c VALUES (2, 'ab   ')"), s("INSERT INTO c VALUES ($1, $2)", 3, "cd "),
		s("UPDATE p SET k = 'ab ' WHERE k = 'ab'"), s("DELETE FROM p WHERE k = 'cd'"), s("DELETE FROM p WHERE k = 'ab'"),
	}, []string{"NO ACTION", "CASCADE", "SET NULL"}},
	{"char(5)", "text", "('ab'), ('cd  ')", []step{
		s("INSERT INTO c VALUES (1, 'ab')"), s("INSERT INTO c VALUES (2, 'ab   ')"), s("INSERT INTO c VALUES (3, 'cd')"),
		s("UPDATE p SET k = 'ab ' WHERE k = 'ab'"), s("DELETE FROM p WHERE k = 'cd  '"), s("DELETE FROM p WHERE k = 'ab '"),
	}, []string{"NO ACTION", "CASCADE"}},
	{"varchar(5)", "char(5)", "('ab'), ('cd')", []step{
		s("INSERT INTO c VALUES (1, 'ab ')"), s("INSERT INTO c VALUES ($1, $2)", 2, "cd  "),
		s("UPDATE p SET k = 'ab  ' WHERE k = 'ab'"), s("DELETE FROM p WHERE k = 'cd'"),
	}, []string{"NO ACTION", "SET NULL"}},
	{"char(3)", "char(5)", "('ab'), ('cd')", []step{
		s("INSERT INTO c VALUES (1, 'ab')"), s("INSERT INTO c VALUES (2, 'cd ')"), s("DELETE FROM p WHERE k = 'cd'"),
	}, []string{"NO ACTION"}},
	{"real", "float8", "(0.5), (0.1)", []step{
		s("INSERT INTO c VALUES (1, 0.5)"), s("INSERT INTO c VALUES (2, 0.1)"), s("DELETE FROM p WHERE k = 0.5"),
	}, []string{"NO ACTION"}},
	{"int", "numeric", "(1), (2.5)", []step{
		s("INSERT INTO c VALUES (1, 1)"), s("INSERT INTO c VALUES (2, 2.5)"), s("UPDATE p SET k = 1.0 WHERE k = 1"), s("DELETE FROM p WHERE k = 1"),
	}, []string{"NO ACTION", "CASCADE"}},
	{"smallint", "bigint", "(1), (40000)", []step{
		s("INSERT INTO c VALUES (1, 1)"), s("INSERT INTO c VALUES (2, 2)"), s("UPDATE p SET k = 3 WHERE k = 1"), s("DELETE FROM p WHERE k = 3"),
	}, []string{"NO ACTION", "CASCADE"}},
	{"timestamp", "timestamptz", "('2024-01-01 00:00+00')", []step{
		s("SET TimeZone = 'UTC'"), s("INSERT INTO c VALUES (1, '2024-01-01 00:00')"),
		s("SET TimeZone = 'Europe/Paris'"), s("INSERT INTO c VALUES (2, '2024-01-01 00:00')"), s("INSERT INTO c VALUES (3, '2024-01-01 01:00')"),
		s("DELETE FROM p"), s("SET TimeZone = 'UTC'"),
	}, []string{"NO ACTION"}},
	{"date", "timestamp", "('2024-01-01'), ('2024-01-02 10:00')", []step{
		s("INSERT INTO c VALUES (1, '2024-01-01')"), s("INSERT INTO c VALUES (2, '2024-01-02')"), s("DELETE FROM p WHERE k = '2024-01-01'"),
	}, []string{"NO ACTION"}},
	{"public.citext", "text", "('abc')", []step{
		s("INSERT INTO c VALUES (1, 'abc')"), s("INSERT INTO c VALUES (2, 'ABC')"), s("UPDATE c SET k = 'ABC' WHERE id = 1"),
		s("UPDATE p SET k = 'ABC'"),
	}, []string{"NO ACTION", "CASCADE"}},
}

func crossKeyScenarios() []scenario {
	var out []scenario
	for _, kc := range crossKeyTypes {
		for _, action := range kc.actions {
			out = append(out, scenario{
				name: kc.child + " child of " + kc.parent + " " + action, modes: []string{"simple", "extended"},
				schema: fmt.Sprintf(`CREATE EXTENSION IF NOT EXISTS citext SCHEMA public;
CREATE TABLE p (k %s PRIMARY KEY);
CREATE TABLE c (id int PRIMARY KEY, k %s);
INSERT INTO p VALUES %s;`, kc.parent, kc.child, kc.parentKeys),
				fks:   []fk{{table: "c", cols: "k", refTable: "p", refCols: "k", onDelete: action, onUpdate: action}},
				steps: append(slices.Clone(kc.steps), s("SELECT id, k::text FROM c ORDER BY id")),
			})
		}
	}
	return out
}

func TestOracleCrossKeyTypes(t *testing.T) { runScenarios(t, crossKeyScenarios()) }

func TestOracleActions(t *testing.T)   { runScenarios(t, actionScenarios()) }
func TestOracleKeyTypes(t *testing.T)  { runScenarios(t, typeScenarios()) }
func TestOracleCrossType(t *testing.T) { runScenarios(t, crossTypeScenarios) }
