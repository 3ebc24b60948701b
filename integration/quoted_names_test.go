package integration

import "testing"

// Names that must be quoted everywhere softfk writes them into its own
// SQL: upper case, blanks, key words, an embedded double quote, in the
// tables, the key columns, the constraint and a view, down an identifying
// relationship whose key starts with its parent's.
const quotedNames = `
CREATE TABLE "User" ("Id" int PRIMARY KEY, "select" text);
CREATE TABLE "order" ("user" int, "No." int, PRIMARY KEY ("user", "No."));
CREATE TABLE "line ""item""" (id int PRIMARY KEY, "user" int, "No." int, "from" int);
CREATE VIEW "Open Orders" AS SELECT "No." AS "Number", "user" AS "Owner" FROM "order";
INSERT INTO "User" VALUES (1, 'a'), (2, 'b'), (3, 'c');
INSERT INTO "order" VALUES (1, 1), (1, 2), (2, 1);
INSERT INTO "line ""item""" VALUES (1, 1, 1, 1), (2, 1, 2, 2), (3, 2, 1, NULL);`

// quotedFKs are quotedNames's relationships, the items' with the given
// actions.
func quotedFKs(onDelete, onUpdate string) []fk {
	return []fk{
		{name: `"Order's User"`, table: `"order"`, cols: `"user"`, refTable: `"User"`, refCols: `"Id"`, onDelete: "CASCADE", onUpdate: "CASCADE"},
		{name: `"Line Items Order"`, table: `"line ""item"""`, cols: `"user", "No."`, refTable: `"order"`, refCols: `"user", "No."`,
			onDelete: onDelete, onUpdate: onUpdate},
		{name: "from_user", table: `"line ""item"""`, cols: `"from"`, refTable: `"User"`, refCols: `"Id"`},
	}
}

var quotedSteps = []step{
	s(`INSERT INTO "line ""item""" VALUES (4, 2, 1, 3)`),
	s(`INSERT INTO "line ""item""" VALUES (5, 2, 2, 1)`),
	s(`INSERT INTO "line ""item""" ("from", id) VALUES (9, 6)`),
	s(`INSERT INTO "line ""item""" VALUES ($1, $2, $3, $4)`, 7, 1, 2, 2),
	s(`UPDATE "line ""item""" SET "No." = 9 WHERE id = 1`),
	s(`INSERT INTO "line ""item""" AS "li" VALUES (1, 1, 1, 8) ON CONFLICT (id) DO UPDATE SET "from" = excluded."from"`),
	s(`MERGE INTO "line ""item""" AS m USING (VALUES (2, 3)) AS v(id, f) ON m.id = v.id WHEN MATCHED THEN UPDATE SET "from" = v.f`),
	s(`INSERT INTO "Open Orders" VALUES (3, 3)`),
	s(`INSERT INTO "Open Orders" VALUES (3, 7)`),
	s(`UPDATE "User" SET "Id" = 10 WHERE "Id" = 1`),
	s(`TABLE "order"`), s(`TABLE "line ""item"""`),
	s(`UPDATE "order" SET "No." = "No." + 10 WHERE "user" = 2`),
	s(`DELETE FROM "order" WHERE "user" = 10 AND "No." = 2`),
	s(`DELETE FROM "User" WHERE "Id" = 3`),
	s(`DELETE FROM "User" WHERE "Id" IN (2, 10)`),
	s(`TABLE "line ""item"""`),
	s(`TRUNCATE "User" CASCADE`),
}

var quotedScenarios = []scenario{
	{name: "quoted names no action", schema: quotedNames, fks: quotedFKs("", ""), steps: quotedSteps},
	{name: "quoted names cascade", schema: quotedNames, fks: quotedFKs("CASCADE", "CASCADE"), steps: quotedSteps},
	{name: "quoted names set null", schema: quotedNames, fks: quotedFKs("SET NULL", "SET NULL"), steps: quotedSteps},
	inShadowMode(scenario{name: "quoted names", schema: quotedNames, fks: quotedFKs("", "CASCADE"), steps: quotedSteps}),
	{name: "quoted names copy", schema: quotedNames, fks: quotedFKs("", ""), modes: []string{"simple", "extended"}, steps: []step{
		copyText(`COPY "line ""item""" (id, "user", "No.", "from") FROM STDIN`, "20\t1\t1\t2\n"),
		copyText(`COPY "line ""item""" (id, "user", "No.", "from") FROM STDIN`, "21\t2\t5\t\\N\n"),
		s(`TABLE "line ""item"""`),
	}},
}

func TestOracleQuotedNames(t *testing.T) { runScenarios(t, quotedScenarios) }
