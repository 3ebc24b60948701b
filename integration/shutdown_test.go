package integration

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestShutdownDrainsOpenTransactions(t *testing.T) {
	p := startProxy(t, proxyConfig())
	db := newDatabase(t)
	ctx := context.Background()
	idle := connect(t, p.DSN(db))
	busy := connect(t, p.DSN(db))
	mustExec(t, busy, "CREATE TABLE t (id int)")
	tx, err := busy.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}

	stopped := make(chan struct{})
	go func() { p.Stop(10 * time.Second); close(stopped) }()

	// New connections are refused at once.
	waitFor(t, func() bool {
		c, err := net.DialTimeout("tcp", p.Addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	// The idle session is told the proxy is going away.
	_, err = idle.Exec(ctx, "SELECT 1")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "57P01" {
		t.Fatalf("idle session during shutdown: %v, want 57P01", err)
	}
	// The open transaction may finish and commit.
	if _, err := tx.Exec(ctx, "INSERT INTO t VALUES (2)"); err != nil {
		t.Fatalf("transaction cut short: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("commit during drain: %v", err)
	}
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown did not finish once the last transaction ended")
	}
	direct := connect(t, cluster.DSN(db))
	var n int
	direct.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n)
	if n != 2 {
		t.Fatalf("%d rows committed, want 2", n)
	}
}

func TestShutdownGraceExpiresForLingeringTransactions(t *testing.T) {
	p := startProxy(t, proxyConfig())
	db := newDatabase(t)
	ctx := context.Background()
	lingering := connect(t, p.DSN(db))
	mustExec(t, lingering, "CREATE TABLE t (id int)", "BEGIN", "INSERT INTO t VALUES (1)")
	start := time.Now()
	p.Stop(300 * time.Millisecond)
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("shutdown took %v with a 300ms grace", elapsed)
	}
	if _, err := lingering.Exec(ctx, "COMMIT"); err == nil {
		t.Fatal("transaction survived the grace period")
	}
	direct := connect(t, cluster.DSN(db))
	var n int
	direct.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n)
	if n != 0 {
		t.Fatal("the cut-off transaction was committed")
	}
}

// waitFor polls cond for up to five seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
