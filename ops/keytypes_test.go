package ops

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/policy"
)

// softfk reads from the catalog whether PostgreSQL would let a column of
// one type reference a column of another: a relationship whose key types
// it would refuse (a key column retyped directly on the server) is not
// enforced, since no check could compare its keys. Its decision matches
// PostgreSQL's own, which KeyTypesRefused obtains by adding such a
// FOREIGN KEY between temporary tables, over pairs that are accepted
// through the operator class, through an implicit cast, through a
// polymorphic class, or refused.
func TestKeyTypesAcceptedAsPostgresAccepts(t *testing.T) {
	pairs := [][2]string{ // referencing type, referenced type
		{"integer", "bigint"}, {"bigint", "integer"}, {"smallint", "integer"}, {"numeric", "integer"}, {"integer", "numeric"},
		{"text", "character varying(10)"}, {"character varying(10)", "text"}, {"text", "public.citext"}, {"public.citext", "text"},
		{"text", "integer"}, {"integer", "text"}, {"character(3)", "text"}, {"text", "character(3)"}, {"uuid", "text"}, {"text", "uuid"},
		{"int_domain", "integer"}, {"integer", "int_domain"}, {"mood", "mood"}, {"mood", "text"}, {"text", "mood"},
		{"integer[]", "integer[]"}, {"integer[]", "bigint[]"}, {"date", "timestamp without time zone"},
		{"timestamp without time zone", "date"}, {"timestamp with time zone", "timestamp without time zone"},
		{"double precision", "numeric"}, {"numeric", "double precision"}, {"name", "text"}, {"text", "name"}, {"bytea", "text"},
		{"inet", "cidr"}, {"cidr", "inet"}, {"boolean", "integer"}, {"oid", "integer"}, {"integer", "oid"}, {"bit(3)", "bit varying"},
		{"bit varying", "bit(3)"}, {"int4range", "int4range"}, {"int4range", "int8range"}, {"pair", "pair"}, {"real", "double precision"},
		{"jsonb", "jsonb"}, {"jsonb", "text"}, {"interval", "time without time zone"}, {"\"char\"", "text"},
	}
	var ddl strings.Builder
	ddl.WriteString(`CREATE EXTENSION IF NOT EXISTS citext SCHEMA public;
CREATE DOMAIN int_domain AS integer;
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE TYPE pair AS (a int, b int);
`)
	var rels []config.Relationship
	var tables []config.TableName
	for i, p := range pairs {
		fmt.Fprintf(&ddl, "CREATE TABLE p%d (k %s PRIMARY KEY);\nCREATE TABLE c%d (k %s);\n", i, p[1], i, p[0])
		child, parent := config.TableName{Schema: "public", Name: fmt.Sprintf("c%d", i)}, config.TableName{Schema: "public", Name: fmt.Sprintf("p%d", i)}
		rels = append(rels, config.Relationship{Name: fmt.Sprintf("c%d_k_fkey", i), Table: child, Columns: []string{"k"}, RefTable: parent, RefColumns: []string{"k"}, Mode: config.Enforce})
		tables = append(tables, child, parent)
	}
	db, dsn := newDatabase(t, ddl.String())
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := catalogRows(ctx, conn, tables)
	if err != nil {
		t.Fatal(err)
	}
	unresolved, err := policy.New(&config.Config{Relationships: rels}).Database(db).SetCatalog(rows)
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for i, p := range pairs {
		refusal, err := KeyTypesRefused(ctx, conn, rels[i].Name, KeyColumn{Name: "k", Type: p[0]}, KeyColumn{Name: "k", Type: p[1]})
		if err != nil {
			t.Fatalf("%s -> %s: %v", p[0], p[1], err)
		}
		if refusal != "" {
			refused++
		}
		if got := slices.Contains(unresolved, rels[i].Name); got != (refusal != "") {
			t.Errorf("%s referencing %s: softfk refuses it: %v; PostgreSQL: %q", p[0], p[1], got, refusal)
		}
	}
	t.Logf("PostgreSQL refused %d of %d pairs", refused, len(pairs))
	if refused == 0 || refused == len(pairs) {
		t.Fatalf("PostgreSQL refused %d of %d pairs: the pairs do not exercise both outcomes", refused, len(pairs))
	}
}
