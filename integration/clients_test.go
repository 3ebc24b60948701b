package integration

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"
)

// psqlScript exercises psql features that use different protocol paths:
// multi-statement queries, \copy (COPY FROM STDIN / TO STDOUT), large
// objects (the FunctionCall fast path), errors and transactions.
const psqlScript = `
\set VERBOSITY verbose
CREATE TABLE notes (id serial PRIMARY KEY, body text);
INSERT INTO notes (body) VALUES ('a'), ('b') RETURNING id, body;
\copy notes (body) FROM stdin
from copy 1
from copy 2
\.
\copy (SELECT id, body FROM notes ORDER BY id) TO stdout
SELECT 1; SELECT 2;
BEGIN;
INSERT INTO notes (body) VALUES ('rolled back');
SELECT * FROM does_not_exist;
COMMIT;
SELECT count(*) FROM notes;
SELECT lo_from_bytea(0, 'large object contents') IS NOT NULL AS created \gset
\lo_import LOFILE
SELECT convert_from(lo_get(:LASTOID), 'UTF8') AS imported;
\lo_unlink :LASTOID
SELECT format('%s-%s', 'x', g) FROM generate_series(1, 3) g;
`

func TestPsqlScriptMatchesDirect(t *testing.T) {
	p := startProxy(t, proxyConfig())
	lofile := filepath.Join(t.TempDir(), "lo.txt")
	if err := os.WriteFile(lofile, []byte("imported through softfk"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := strings.ReplaceAll(psqlScript, "LOFILE", lofile)
	run := func(addr string) string {
		db := newDatabase(t)
		host, port, _ := strings.Cut(addr, ":")
		cmd := exec.Command(cluster.Tool("psql"), "-X", "-h", host, "-p", port, "-U", cluster.User, "-d", db)
		cmd.Env = append(os.Environ(), "PGPASSWORD="+cluster.Password, "PGSSLMODE=prefer", "PGAPPNAME=psql-test")
		cmd.Stdin = strings.NewReader(script)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("psql: %v\n%s", err, out)
		}
		// Object ids differ between the two databases.
		return regexp.MustCompile(`\b\d{5,}\b`).ReplaceAllString(string(out), "OID")
	}
	direct, proxied := run(cluster.Addr()), run(p.Addr)
	if direct != proxied {
		t.Fatalf("psql output differs through softfk\n--- direct\n%s\n--- softfk\n%s", direct, proxied)
	}
	if !strings.Contains(proxied, "imported through softfk") || !strings.Contains(proxied, "from copy 2") {
		t.Fatalf("psql script did not run fully:\n%s", proxied)
	}
}

func TestLibPQDriver(t *testing.T) {
	p := startProxy(t, proxyConfig())
	db := newDatabase(t)
	conn, err := sql.Open("postgres", p.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Exec("CREATE TABLE kv (k text PRIMARY KEY, v int)"); err != nil {
		t.Fatal(err)
	}
	stmt, err := conn.Prepare("INSERT INTO kv VALUES ($1, $2)")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		if _, err := stmt.Exec(fmt.Sprintf("k%d", i), i); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := conn.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("UPDATE kv SET v = v + 1000 WHERE k = $1", "k7"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var sum int
	if err := conn.QueryRow("SELECT sum(v) FROM kv WHERE v > $1", -1).Scan(&sum); err != nil {
		t.Fatal(err)
	}
	if want := 49*50/2 + 1000; sum != want {
		t.Fatalf("sum %d, want %d", sum, want)
	}
	if _, err := conn.Exec("INSERT INTO kv VALUES ('k1', 1)"); err == nil || !strings.Contains(err.Error(), "duplicate key") {
		t.Fatalf("duplicate insert: %v", err)
	}
}

func TestPgbenchSelectOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("pgbench run skipped in -short mode")
	}
	p := startProxy(t, proxyConfig())
	db := newDatabase(t)
	host, port, _ := strings.Cut(p.Addr, ":")
	pgbench := func(args ...string) string {
		cmd := exec.Command(cluster.Tool("pgbench"), append([]string{"-h", host, "-p", port, "-U", cluster.User}, append(args, db)...)...)
		cmd.Env = append(os.Environ(), "PGPASSWORD="+cluster.Password)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("pgbench %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	pgbench("-i", "-s", "1", "-q")
	for _, mode := range []string{"simple", "prepared", "extended"} {
		out := pgbench("-n", "-S", "-M", mode, "-c", "4", "-j", "2", "-T", "2")
		m := regexp.MustCompile(`number of transactions actually processed: (\d+)`).FindStringSubmatch(out)
		if m == nil || m[1] == "0" || !strings.Contains(out, "number of failed transactions: 0 ") {
			t.Fatalf("pgbench -M %s through softfk:\n%s", mode, out)
		}
	}
	// The default TPC-B-like script writes too (UPDATE, INSERT).
	out := pgbench("-n", "-M", "prepared", "-c", "4", "-j", "2", "-T", "2")
	if !strings.Contains(out, "number of failed transactions: 0 ") {
		t.Fatalf("pgbench tpcb through softfk:\n%s", out)
	}
}

func TestManyConcurrentSessions(t *testing.T) {
	const sessions = 200
	p := startProxy(t, proxyConfig())
	db := newDatabase(t)
	setup := connect(t, p.DSN(db))
	mustExec(t, setup, "CREATE TABLE hits (session int, n int)")
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	start := make(chan struct{})
	for i := 0; i < sessions; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			conn, err := pgxConnect(ctx, p.DSN(db))
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close(ctx)
			<-start
			for n := 0; n < 5; n++ {
				var got int
				if err := conn.QueryRow(ctx, "INSERT INTO hits VALUES ($1, $2) RETURNING n", i, n).Scan(&got); err != nil || got != n {
					errs <- fmt.Errorf("session %d: %v (got %d)", i, err, got)
					return
				}
			}
		}(i)
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var count int
	if err := setup.QueryRow(context.Background(), "SELECT count(*) FROM hits").Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != sessions*5 {
		t.Fatalf("%d rows, want %d", count, sessions*5)
	}
}

func TestLibPQExtendedCopyIsChecked(t *testing.T) {
	p := startProxy(t, configFor(t, "relationships:\n  - {table: orders, columns: [user_id], references: {table: users, columns: [id]}}\n"))
	db := newDatabase(t)
	mustExec(t, connect(t, cluster.DSN(db)), "CREATE TABLE users (id int PRIMARY KEY)", "INSERT INTO users VALUES (1), (2)",
		"CREATE TABLE orders (id int, user_id int)")
	conn, err := sql.Open("postgres", p.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// lib/pq prepares COPY with the extended protocol.
	load := func(users ...int) error {
		tx, err := conn.Begin()
		if err != nil {
			return err
		}
		stmt, err := tx.Prepare(`COPY orders (id, user_id) FROM STDIN`)
		if err != nil {
			tx.Rollback()
			return err
		}
		for i, u := range users {
			if _, err := stmt.Exec(i, u); err != nil {
				tx.Rollback()
				return err
			}
		}
		if _, err := stmt.Exec(); err != nil {
			tx.Rollback()
			return err
		}
		stmt.Close()
		return tx.Commit()
	}
	if err := load(1, 2, 1); err != nil {
		t.Fatalf("valid COPY: %v", err)
	}
	err = load(1, 42, 2)
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) || pqErr.Code != "23503" || !strings.Contains(pqErr.Detail, "(user_id)=(42)") {
		t.Fatalf("COPY with a missing parent: %v", err)
	}
	var n int
	if err := conn.QueryRow("SELECT count(*) FROM orders").Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d rows after the failed COPY, want 3 (%v)", n, err)
	}
}
