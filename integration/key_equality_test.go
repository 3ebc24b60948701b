package integration

import (
	"fmt"
	"strings"
	"testing"
)

// Keys that are equal without being identical: a case-insensitive citext or
// nondeterministic collation, numeric scales, float zeros, intervals that
// normalise alike. A child key matches its parent by the key type's
// equality, as Postgres's RI checks find the parent; whether an update of
// the parent changed the key, for RESTRICT and the ON UPDATE actions, is
// decided on the stored bytes, as Postgres does for the referenced side
// (a case change of a citext key cascades). Every action runs over each,
// through the simple and the extended protocol (the keys are literals).
type equalKeys struct {
	name, typ, setup string
	stored, equal    string // a parent key as stored, and an equal one written otherwise
	other, missing   string // another parent key, and a key no parent has
}

var citextKeys = equalKeys{name: "citext", typ: "public.citext", setup: "CREATE EXTENSION IF NOT EXISTS citext SCHEMA public;",
	stored: "'abc'", equal: "'ABC'", other: "'Def'", missing: "'xyz'"}

var equalKeyTypes = []equalKeys{
	citextKeys,
	{name: "nondeterministic collation", typ: "text COLLATE public.softfk_ci",
		setup:  "CREATE COLLATION IF NOT EXISTS public.softfk_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);",
		stored: "'abc'", equal: "'ABC'", other: "'Def'", missing: "'xyz'"},
	{name: "numeric scale", typ: "numeric", stored: "1.5", equal: "1.50", other: "2", missing: "3"},
	{name: "float zero", typ: "float8", stored: "0", equal: "'-0'", other: "'NaN'", missing: "1"},
	{name: "interval", typ: "interval", stored: "'1 day'", equal: "'24 hours'", other: "'1 month'", missing: "'1 year'"},
}

// schema creates parent p with the stored and the other key, child c,
// and then extra, in which TYPE stands for the key type.
func (kt equalKeys) schema(extra string) string {
	return fmt.Sprintf(`%s
CREATE TABLE p (k %s PRIMARY KEY);
CREATE TABLE c (id int PRIMARY KEY, k %[2]s);
INSERT INTO p VALUES (%s), (%s);
`, kt.setup, kt.typ, kt.stored, kt.other) + strings.ReplaceAll(extra, "TYPE", kt.typ)
}

func equalKeyScenarios() []scenario {
	var out []scenario
	for _, kt := range equalKeyTypes {
		for _, action := range []string{"NO ACTION", "RESTRICT", "CASCADE", "SET NULL"} {
			out = append(out, scenario{
				name: kt.name + " " + action, schema: kt.schema(""), modes: []string{"simple", "extended"},
				fks: []fk{{table: "c", cols: "k", refTable: "p", refCols: "k", onDelete: action, onUpdate: action}},
				steps: []step{
					// The extension's operators are found as the session's
					// search_path finds them, as an application's are.
					s("SELECT set_config('search_path', current_schema() || ', public', false) <> ''"),
					s("INSERT INTO c VALUES (1, " + kt.equal + ")"),
					s("INSERT INTO c VALUES (2, " + kt.stored + ")"),
					s("INSERT INTO c VALUES (3, " + kt.missing + ")"),
					s("INSERT INTO c VALUES (4, " + kt.other + ")"),
					s("UPDATE c SET k = " + kt.equal + " WHERE id = 2"),
					s("UPDATE p SET k = " + kt.equal + " WHERE k = " + kt.stored),
					s("SELECT id, k::text FROM c ORDER BY id"),
					s("DELETE FROM p WHERE k = " + kt.other),
					s("DELETE FROM p WHERE k = " + kt.equal),
					s("SELECT id, k::text FROM c ORDER BY id"),
				},
			})
		}
	}
	// Outside the search_path an unqualified = between two citext values
	// finds text's operator, which tells case apart; so it does between
	// values of a domain over a domain over citext.
	nested := citextKeys
	nested.name, nested.typ = "domain over a domain over citext", "public.softfk_ci2"
	nested.setup += `
DO $$ BEGIN
  CREATE DOMAIN public.softfk_ci1 AS public.citext;
  CREATE DOMAIN public.softfk_ci2 AS public.softfk_ci1;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; -- another scenario's
END $$;`
	for _, kt := range []equalKeys{citextKeys, nested} {
		out = append(out, outsideSearchPathScenarios(kt)...)
	}
	return out
}

// outsideSearchPathScenarios write keys of kt, whose type lives in
// schema public, from sessions whose search_path leaves public out.
func outsideSearchPathScenarios(kt equalKeys) []scenario {
	var out []scenario
	for _, action := range []string{"NO ACTION", "CASCADE", "SET NULL"} {
		out = append(out, scenario{
			name:   kt.name + " outside the search_path " + action,
			schema: kt.schema("CREATE TABLE g (id int PRIMARY KEY, k TYPE);"),
			fks: []fk{
				{table: "c", cols: "k", refTable: "p", refCols: "k", onDelete: action, onUpdate: action},
				{table: "g", cols: "k", refTable: "p", refCols: "k"},
			},
			modes: []string{"simple", "extended"},
			steps: []step{
				s("INSERT INTO c VALUES (1, " + kt.equal + ")"),
				s("INSERT INTO c VALUES ($1, $2::public.citext)", 2, "DEF"),
				s("INSERT INTO c VALUES (3, " + kt.missing + ")"),
				copyText("COPY c (id, k) FROM STDIN", "4\tABC\n5\tdef\n"),
				copyText("COPY c (id, k) FROM STDIN", "6\tXYZ\n"),
				s("INSERT INTO g VALUES (1, 'DEF')"),
				s("UPDATE p SET k = " + kt.equal + " WHERE k = " + kt.stored),
				s("DELETE FROM p WHERE k = " + kt.equal),
				s("DELETE FROM p WHERE k = 'def'"),
			},
		})
	}
	return out
}

func TestOracleEqualKeys(t *testing.T) { runScenarios(t, equalKeyScenarios()) }

// Keys under different collations, one of them nondeterministic: a
// parent is found for a referencing key under the referenced column's
// collation, and the referencing rows of a referenced key under the
// referencing column's, unless the referenced one is nondeterministic
// (two implicit collations would otherwise conflict, or the referencing
// column's would decide alone).
func collationMixScenarios() []scenario {
	ci := equalKeyTypes[1]
	var out []scenario
	for _, cols := range []struct{ name, parent, child string }{
		{"case-insensitive parent, default child", ci.typ, "text"},
		{"default parent, case-insensitive child", "text", ci.typ},
		{"case-insensitive parent, \"C\" child", ci.typ, `text COLLATE "C"`},
	} {
		for _, action := range []string{"NO ACTION", "RESTRICT", "CASCADE", "SET NULL"} {
			out = append(out, scenario{
				name: cols.name + " " + action, modes: []string{"simple", "extended"},
				schema: ci.setup + `
CREATE TABLE p (k ` + cols.parent + ` PRIMARY KEY);
CREATE TABLE c (id int PRIMARY KEY, k ` + cols.child + `);
CREATE TABLE src (id int, k text);
INSERT INTO p VALUES ('abc'), ('def');
INSERT INTO src VALUES (5, 'DEF'), (6, 'Xyz');`,
				fks: []fk{{table: "c", cols: "k", refTable: "p", refCols: "k", onDelete: action, onUpdate: action}},
				steps: []step{
					s("INSERT INTO c VALUES (1, 'ABC')"),
					s("INSERT INTO c VALUES ($1, $2)", 2, "abc"),
					s("INSERT INTO c SELECT id, k FROM src WHERE id = 5"),
					s("INSERT INTO c SELECT id, k FROM src WHERE id = 6"),
					// Whether a referencing key changed is decided under the
					// default collation.
					s("UPDATE c SET k = 'ABC' WHERE id = 2"),
					s("UPDATE c SET k = 'Def' WHERE id = 2"),
					s("UPDATE p SET k = 'ABC' WHERE k = 'abc'"),
					s("DELETE FROM p WHERE k = 'DEF'"),
					s("SELECT id, k FROM c ORDER BY id"),
					// A retyped referenced column's new collation decides
					// whether the referencing rows still have their parent.
					s("ALTER TABLE p ALTER COLUMN k TYPE text USING upper(k)"),
					s(`ALTER TABLE p ALTER COLUMN k TYPE text COLLATE "C" USING upper(k)`),
					s("UPDATE c SET k = upper(k)"),
					s(`ALTER TABLE p ALTER COLUMN k TYPE text COLLATE "C" USING upper(k)`),
					s("ALTER TABLE p ALTER COLUMN k TYPE text USING lower(k)"),
				},
			})
		}
	}
	return out
}

func TestOracleCollationMix(t *testing.T) { runScenarios(t, collationMixScenarios()) }
