package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// psqlEnforceScript is what a person types into psql against guarded
// tables: violations and their errors (with the LINE and caret psql draws
// from error positions), PREPARE and EXECUTE, a transaction, \copy.
const psqlEnforceScript = `
\set VERBOSITY verbose
INSERT INTO orders VALUES (10, 1, 'ok');
INSERT INTO orders VALUES (11, 42, 'missing parent');
INSERT INTO orders VALUES (12, 2, 'é'), (13, 43, 'second row');
DELETE FROM users WHERE nosuch = 1;
DELETE FROM users WHERE email = 'é' AND id = 'x';
DELETE FROM users WHERE id = 1;
UPDATE users SET id = 7 WHERE id = 2;
UPDATE orders SET user_id = 99 WHERE id = 10;
MERGE INTO orders o USING (VALUES (10, 3)) v(id, u) ON o.nosuch = v.id WHEN MATCHED THEN UPDATE SET user_id = v.u;
PREPARE ins (int, int) AS INSERT INTO orders VALUES ($1, $2, 'prepared');
EXECUTE ins(14, 2);
EXECUTE ins(15, 77);
EXECUTE ins(16, 'x');
EXECUTE ins(17);
PREPARE ins AS SELECT 1;
DEALLOCATE ins;
EXECUTE ins(18, 1);
BEGIN;
INSERT INTO orders VALUES (19, 3, 'in a transaction');
INSERT INTO orders VALUES (20, 88, 'in a transaction');
SELECT 1;
ROLLBACK;
\copy orders FROM stdin
30	1	copied
31	3	copied
\.
\copy orders FROM stdin
32	1	copied
33	55	missing parent
\.
TABLE users;
TABLE orders;
`

// usersOrdersFK is the relationship of usersOrdersDatabase.
var usersOrdersFK = fk{table: "orders", cols: "user_id", refTable: "users", refCols: "id"}

// usersOrdersDatabase creates a database of users and their orders and
// returns its name: orders.user_id references users.id (usersOrdersFK),
// as a real FOREIGN KEY when constraint is set.
func usersOrdersDatabase(t *testing.T, constraint bool) string {
	t.Helper()
	db := newDatabase(t)
	conn := connect(t, cluster.DSN(db))
	mustExec(t, conn,
		"CREATE TABLE users (id int PRIMARY KEY, email text)",
		"CREATE TABLE orders (id int PRIMARY KEY, user_id int, note text)",
		"INSERT INTO users VALUES (1, 'a'), (2, 'é'), (3, 'c')")
	if constraint {
		mustExec(t, conn, usersOrdersFK.sql())
	}
	return db
}

// psql shows the same as with a real FOREIGN KEY, character for character.
func TestPsqlEnforcementMatchesRealForeignKey(t *testing.T) {
	matchesRealFK(t, "psql", func(addr, db string) *exec.Cmd {
		host, port, _ := strings.Cut(addr, ":")
		cmd := exec.Command(cluster.Tool("psql"), "-X", "-h", host, "-p", port, "-U", cluster.User, "-d", db)
		cmd.Env = append(os.Environ(), "PGPASSWORD="+cluster.Password, "PGCLIENTENCODING=UTF8")
		cmd.Stdin = strings.NewReader(psqlEnforceScript)
		return cmd
	}, "violates foreign key constraint", "LINE 1: DELETE FROM users WHERE nosuch = 1;", "EXECUTE ins(16, 'x');", "COPY 2")
}

// matchesRealFK runs a client program four times, each time on a new
// usersOrdersDatabase. Directly against the real FOREIGN KEY, and through
// softfk enforcing usersOrdersFK without it: what it prints must be the
// same both times, and contain each of wants. Directly without the
// FOREIGN KEY, and through softfk with usersOrdersFK in shadow mode: what
// it prints must be the same both times again, and softfk must log a
// shadow violation for each violation the real FOREIGN KEY reported, at
// least (a shadowed write goes on, and later writes may violate more).
// client makes the command for a server address and a database.
func matchesRealFK(t *testing.T, name string, client func(addr, db string) *exec.Cmd, wants ...string) {
	t.Helper()
	fk := "relationships:\n" + usersOrdersFK.yaml("public")
	p := startProxy(t, configFor(t, fk))
	core, logs := observer.New(zap.WarnLevel)
	shadow := startProxyLogger(t, configFor(t, "mode: shadow\n"+fk), zap.New(core))
	run := func(addr string, constraint bool) string {
		db := usersOrdersDatabase(t, constraint)
		out, err := client(addr, db).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		return string(out)
	}
	direct, proxied := run(cluster.Addr(), true), run(p.Addr, false)
	if direct != proxied {
		t.Fatalf("%s sees something else through softfk\n--- real FK\n%s\n--- softfk\n%s", name, direct, proxied)
	}
	for _, want := range wants {
		if !strings.Contains(proxied, want) {
			t.Errorf("%s output lacks %q:\n%s", name, want, proxied)
		}
	}

	unguarded, shadowed := run(cluster.Addr(), false), run(shadow.Addr, false)
	if unguarded != shadowed {
		t.Fatalf("%s sees something else through softfk in shadow mode\n--- no FK\n%s\n--- softfk, shadow\n%s", name, unguarded, shadowed)
	}
	violations := strings.Count(direct, "is not present in table") + strings.Count(direct, "is still referenced from table")
	if events := logs.FilterMessage("soft foreign key violation").Len(); violations == 0 || events < violations {
		t.Errorf("%s: %d shadow violations logged, want at least the real FOREIGN KEY's %d", name, events, violations)
	}
}

// A data-only dump made with pg_dump --disable-triggers restores through
// softfk with psql, as it restores into tables with real FOREIGN KEYs: it
// loads orders before users (name order: without foreign keys pg_dump
// knows no other), between a DISABLE and an ENABLE TRIGGER ALL of each
// table. The same dump without those fails at its first orphan, as it
// would with a real FOREIGN KEY.
func TestPgDumpDisableTriggersRestoresThroughSoftfk(t *testing.T) {
	source := usersOrdersDatabase(t, false)
	mustExec(t, connect(t, cluster.DSN(source)), "INSERT INTO orders VALUES (10, 1, 'a'), (11, 3, 'b'), (12, NULL, 'c')")
	p := startProxy(t, configFor(t, "relationships:\n"+usersOrdersFK.yaml("public")))
	host, port, _ := strings.Cut(p.Addr, ":")
	restore := func(dumpFlags ...string) (string, string, error) {
		dump := filepath.Join(t.TempDir(), "dump.sql")
		args := append([]string{"-h", cluster.Host, "-p", strconv.Itoa(cluster.Port), "-U", cluster.User, "--data-only", "-f", dump}, dumpFlags...)
		cmd := exec.Command(cluster.Tool("pg_dump"), append(args, source)...)
		cmd.Env = append(os.Environ(), "PGPASSWORD="+cluster.Password)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("pg_dump: %v\n%s", err, out)
		}
		target := newDatabase(t)
		mustExec(t, connect(t, cluster.DSN(target)),
			"CREATE TABLE users (id int PRIMARY KEY, email text)",
			"CREATE TABLE orders (id int PRIMARY KEY, user_id int, note text)")
		cmd = exec.Command(cluster.Tool("psql"), "-X", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", port, "-U", cluster.User, "-d", target, "-f", dump)
		cmd.Env = append(os.Environ(), "PGPASSWORD="+cluster.Password)
		out, err := cmd.CombinedOutput()
		return target, string(out), err
	}

	target, out, err := restore("--disable-triggers")
	if err != nil {
		t.Fatalf("restoring a --disable-triggers dump through softfk: %v\n%s", err, out)
	}
	var orders, users int
	conn := connect(t, cluster.DSN(target))
	if err := conn.QueryRow(context.Background(), "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM users)").Scan(&orders, &users); err != nil {
		t.Fatal(err)
	}
	if orders != 3 || users != 3 {
		t.Errorf("restored %d orders and %d users, want 3 and 3\n%s", orders, users, out)
	}
	mustExec(t, connect(t, p.DSN(target)), "INSERT INTO orders VALUES (13, 2, 'checked again')")

	if _, out, err := restore(); err == nil || !strings.Contains(out, `violates foreign key constraint "orders_user_id_fkey"`) {
		t.Errorf("restoring the dump without --disable-triggers through softfk: %v, want a foreign key error\n%s", err, out)
	}
}
