package pgcluster

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// RunTests is a test binary's TestMain body: it starts one cluster with
// opts, stores it in *c, runs setup (if any) and the tests, stops the
// cluster and returns the exit status for os.Exit.
func RunTests(m *testing.M, opts Options, c **Cluster, setup func(*Cluster) error) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cluster, err := Start(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cannot start PostgreSQL:", err)
		return 1
	}
	defer cluster.Stop()
	*c = cluster
	if setup != nil {
		if err := setup(cluster); err != nil {
			fmt.Fprintln(os.Stderr, "test setup:", err)
			return 1
		}
	}
	return m.Run()
}

var databases atomic.Int64

// TempDatabase creates a database named after the test for its use only and
// drops it (forcefully) when the test ends.
func (c *Cluster) TempDatabase(t testing.TB) string {
	t.Helper()
	name := strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "_"))
	if len(name) > 40 {
		name = name[:40]
	}
	name = fmt.Sprintf("t%d_%s", databases.Add(1), name)
	ctx := context.Background()
	if err := c.CreateDatabase(ctx, name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, c.DSN("postgres"))
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		conn.Exec(ctx, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	return name
}
