package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/softfk/softfk/pgcluster"
)

// opsCluster is the Postgres server of the audit, discover and ddl tests.
var opsCluster *pgcluster.Cluster

func TestMain(m *testing.M) {
	os.Exit(pgcluster.RunTests(m, pgcluster.Options{Auth: "trust"}, &opsCluster, nil))
}

// opsDatabase creates a database holding schema for one test, drops it
// afterwards and returns its DSN.
func opsDatabase(t *testing.T, schema string) string {
	t.Helper()
	dsn := opsCluster.DSN(opsCluster.TempDatabase(t))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, schema); err != nil {
		t.Fatal(err)
	}
	return dsn
}

// writeFile writes a file in the test's directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const cliSchema = `
CREATE TABLE users (id int PRIMARY KEY);
CREATE TABLE orders (id int PRIMARY KEY, user_id int);
INSERT INTO users VALUES (1);
INSERT INTO orders VALUES (1, 1), (2, 42);`

const cliConfig = `relationships:
  - table: orders
    columns: [user_id]
    references: {table: users, columns: [id]}
`

func TestAuditExitStatus(t *testing.T) {
	dsn := opsDatabase(t, cliSchema)
	good := writeFile(t, "softfk.yaml", cliConfig)
	missing := writeFile(t, "missing.yaml", strings.ReplaceAll(cliConfig, "table: orders", "table: nope"))
	bad := writeFile(t, "bad.yaml", "relationships:\n  - table: orders\n")
	port, err := pgcluster.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	unreachable := pgcluster.DSN(fmt.Sprintf("127.0.0.1:%d", port), "postgres", "", "postgres")
	for _, tc := range []struct {
		name string
		args []string
		want int
		out  string // expected in stdout, or in stderr for status 2
	}{
		{"orphans", []string{"--config", good, "--dsn", dsn}, 1, "(user_id)=(42)"},
		{"json", []string{"--config", good, "--dsn", dsn, "--format", "json"}, 1, `"orphans": 1`},
		{"dry run", []string{"--config", good, "--dsn", dsn, "--fix", "delete", "--dry-run"}, 1, "DELETE FROM ONLY public.orders c"},
		{"bad format", []string{"--config", good, "--dsn", dsn, "--format", "xml"}, 2, `unknown format "xml"`},
		{"bad flag", []string{"--config", good, "--dsn", dsn, "--frobnicate"}, 2, "frobnicate"},
		{"no dsn", []string{"--config", good}, 2, "--dsn URL are required"},
		{"bad config", []string{"--config", bad, "--dsn", dsn}, 2, "relationships[0].columns: is required"},
		{"missing table", []string{"--config", missing, "--dsn", dsn}, 2, "table public.nope does not exist"},
		{"unreachable", []string{"--config", good, "--dsn", unreachable}, 2, "softfk audit:"},
		{"fix", []string{"--config", good, "--dsn", dsn, "--fix", "set-null"}, 0, "no orphans in 1 relationship(s)"},
		{"clean", []string{"--config", good, "--dsn", dsn}, 0, "no orphans"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := runAudit(tc.args, &out, &errOut)
			where := out.String()
			if tc.want == exitUsage {
				where = errOut.String()
			}
			if code != tc.want || !strings.Contains(where, tc.out) {
				t.Errorf("exit %d (want %d), stdout:\n%s\nstderr:\n%s", code, tc.want, out.String(), errOut.String())
			}
		})
	}
}

func TestDiscoverOutputPassesCheckConfig(t *testing.T) {
	dsn := opsDatabase(t, cliSchema+`
CREATE TABLE categories (id int PRIMARY KEY);
CREATE TABLE items (id int PRIMARY KEY, order_id int REFERENCES orders ON DELETE CASCADE, category_id int);
INSERT INTO categories VALUES (1);
INSERT INTO items VALUES (1, 1, 1);`)
	var out, errOut bytes.Buffer
	if code := runDiscover([]string{"--dsn", dsn, "--sample", "100", "--min-match", "0.5"}, &out, &errOut); code != 0 {
		t.Fatalf("discover: exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"name: items_order_id_fkey", "on_delete: cascade", "columns: [user_id]", "columns: [category_id]"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("discover output lacks %q:\n%s", want, out.String())
		}
	}
	file := writeFile(t, "discovered.yaml", out.String())
	errOut.Reset()
	if code := runCheckConfig([]string{"--config", file, "--dsn", dsn}, &out, &errOut); code != 0 {
		t.Errorf("check-config rejects the discovered configuration: exit %d: %s", code, errOut.String())
	}
	for _, args := range [][]string{{"--dsn", dsn, "--min-match", "2"}, {}, {"--dsn", dsn, "--schema", "nosuch"}} {
		errOut.Reset()
		if code := runDiscover(args, &out, &errOut); code != exitUsage {
			t.Errorf("discover %q: exit %d, want %d: %s", args, code, exitUsage, errOut.String())
		}
	}
}

func TestDDLExitStatus(t *testing.T) {
	dsn := opsDatabase(t, cliSchema)
	good := writeFile(t, "softfk.yaml", cliConfig)
	bad := writeFile(t, "bad.yaml", "relationships:\n  - table: orders\n")
	nonUnique := writeFile(t, "nonunique.yaml", strings.ReplaceAll(cliConfig, "{table: users, columns: [id]}", "{table: orders, columns: [user_id]}"))
	for _, tc := range []struct {
		args []string
		want int
		out  string
	}{
		{[]string{"--config", good}, 0, "ALTER TABLE public.orders VALIDATE CONSTRAINT orders_user_id_fkey;"},
		{[]string{"--config", good, "--dsn", dsn}, 0, "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_user_id_idx"},
		{[]string{"--config", bad}, exitUsage, "relationships[0].columns: is required"},
		{[]string{}, exitUsage, "--config FILE is required"},
		{[]string{"--config", nonUnique, "--dsn", dsn}, exitUsage, "there is no unique index on public.orders (user_id)"},
	} {
		var out, errOut bytes.Buffer
		code := runDDL(tc.args, &out, &errOut)
		where := out.String()
		if tc.want == exitUsage {
			where = errOut.String()
		}
		if code != tc.want || !strings.Contains(where, tc.out) {
			t.Errorf("ddl %q: exit %d (want %d), stdout:\n%s\nstderr:\n%s", tc.args, code, tc.want, out.String(), errOut.String())
		}
	}
}

// TestCheckConfigKeyTypes compares check-config's verdict on each pair of
// key types with PostgreSQL's own when it is asked to add the FOREIGN
// KEY: refused by both, with PostgreSQL's words, or accepted by both.
func TestCheckConfigKeyTypes(t *testing.T) {
	dsn := opsDatabase(t, `
CREATE EXTENSION IF NOT EXISTS citext;
CREATE DOMAIN short_text AS varchar(8);
CREATE TABLE p (id bigint PRIMARY KEY, code citext UNIQUE, u uuid UNIQUE, t text UNIQUE, c char(4) UNIQUE, ts timestamptz UNIQUE);
CREATE TABLE c (i int, n numeric, code text, ccode citext, u text, uu uuid, v varchar(3), d short_text, cc char(2), dt date);`)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	refused := 0
	for _, pair := range [][2]string{
		{"i", "id"}, {"n", "id"}, {"code", "code"}, {"ccode", "code"}, {"u", "u"}, {"uu", "u"}, {"code", "t"},
		{"v", "t"}, {"d", "t"}, {"cc", "t"}, {"code", "c"}, {"cc", "c"}, {"dt", "ts"}, {"i", "t"}, {"ccode", "t"},
	} {
		child, parent := pair[0], pair[1]
		name := "c_" + child + "_" + parent + "_fkey"
		// PostgreSQL's verdict, in a transaction rolled back.
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, pgErr := tx.Exec(ctx, fmt.Sprintf("ALTER TABLE c ADD CONSTRAINT %s FOREIGN KEY (%s) REFERENCES p (%s)", name, child, parent))
		tx.Rollback(ctx)

		file := writeFile(t, "softfk.yaml", fmt.Sprintf("relationships:\n  - name: %s\n    table: c\n    columns: [%s]\n    references: {table: p, columns: [%s]}\n", name, child, parent))
		var out, errOut bytes.Buffer
		code := runCheckConfig([]string{"--config", file, "--dsn", dsn}, &out, &errOut)
		var pe *pgconn.PgError
		switch {
		case pgErr == nil && code != 0:
			t.Errorf("%s -> %s: PostgreSQL accepts the foreign key, check-config exits %d: %s", child, parent, code, errOut.String())
		case pgErr != nil && !errors.As(pgErr, &pe):
			t.Fatal(pgErr)
		case pgErr != nil:
			refused++
			want := fmt.Sprintf("softfk.yaml:4: error: relationships[0].columns: %s (", child)
			if code != exitUsage || !strings.Contains(errOut.String(), want) || !strings.Contains(errOut.String(), pe.Message+": "+pe.Detail) {
				t.Errorf("%s -> %s: PostgreSQL refuses the foreign key (%s: %s), check-config exits %d: %s", child, parent, pe.Message, pe.Detail, code, errOut.String())
			}
		}
	}
	if refused == 0 {
		t.Error("PostgreSQL refused none of the pairs: the test compares nothing")
	}

	// A role that may not create temporary tables gets a warning that the
	// types went unchecked, not a verdict.
	var db string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE ROLE softfk_no_temp LOGIN; REVOKE TEMPORARY ON DATABASE "+db+" FROM PUBLIC"); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, "DROP OWNED BY softfk_no_temp; DROP ROLE softfk_no_temp")
	file := writeFile(t, "softfk.yaml", "relationships:\n  - table: c\n    columns: [code]\n    references: {table: p, columns: [code]}\n")
	var out, errOut bytes.Buffer
	code := runCheckConfig([]string{"--config", file, "--dsn", pgcluster.DSN(opsCluster.Addr(), "softfk_no_temp", "", db)}, &out, &errOut)
	if want := "warning: relationships[0].columns: could not check that code (text) may reference public.p.code (citext): ERROR: permission denied to create temporary tables"; code != 0 || !strings.Contains(errOut.String(), want) {
		t.Errorf("without the TEMPORARY privilege: exit %d, want 0 and %q: %s", code, want, errOut.String())
	}
}
