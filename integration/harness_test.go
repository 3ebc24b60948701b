package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/pgcluster"
	"github.com/softfk/softfk/proxy"
)

// cluster is the test binary's one Postgres server.
var cluster *pgcluster.Cluster

// Roles created for the authentication tests, each with its own method.
const (
	md5User      = "md5_user"
	passwordUser = "password_user"
	trustUser    = "trust_user"
	rolePassword = "secret-Pa55"
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pgcluster.Start(ctx, pgcluster.Options{
		Auth: "scram-sha-256",
		HBA: []string{
			"host all " + md5User + " 127.0.0.1/32 md5",
			"host all " + passwordUser + " 127.0.0.1/32 password",
			"host all " + trustUser + " 127.0.0.1/32 trust",
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration: cannot start PostgreSQL:", err)
		return 1
	}
	defer c.Stop()
	cluster = c
	if err := createRoles(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	return m.Run()
}

// createRoles makes the roles the authentication tests log in as.
func createRoles(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, cluster.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, stmt := range []string{
		"SET password_encryption = 'md5'",
		fmt.Sprintf("CREATE ROLE %s LOGIN SUPERUSER PASSWORD '%s'", md5User, rolePassword),
		"SET password_encryption = 'scram-sha-256'",
		fmt.Sprintf("CREATE ROLE %s LOGIN SUPERUSER PASSWORD '%s'", passwordUser, rolePassword),
		fmt.Sprintf("CREATE ROLE %s LOGIN SUPERUSER", trustUser),
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return nil
}

var dbCounter atomic.Int64

// newDatabase creates a fresh database for one test and drops it afterwards.
func newDatabase(t testing.TB) string {
	t.Helper()
	name := strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "_"))
	if len(name) > 40 {
		name = name[:40]
	}
	name = fmt.Sprintf("t%d_%s", dbCounter.Add(1), name)
	ctx := context.Background()
	if err := cluster.CreateDatabase(ctx, name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, cluster.DSN("postgres"))
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		conn.Exec(ctx, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	return name
}

// testProxy is a softfk server running inside the test process.
type testProxy struct {
	Addr string
	srv  *proxy.Server
	done chan error
}

// proxyConfig returns a pass-through configuration aimed at the cluster.
func proxyConfig() *config.Config {
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Upstream = cluster.Addr()
	return cfg
}

// startProxy runs softfk with cfg on a free port until the test ends.
func startProxy(t testing.TB, cfg *config.Config) *testProxy {
	t.Helper()
	return startProxyLogger(t, cfg, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
}

// startProxyLogger is startProxy with a chosen logger.
func startProxyLogger(t testing.TB, cfg *config.Config, log *zap.Logger) *testProxy {
	t.Helper()
	srv, err := proxy.New(cfg, log)
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &testProxy{Addr: ln.Addr().String(), srv: srv, done: make(chan error, 1)}
	go func() { p.done <- srv.Serve(ln) }()
	t.Cleanup(func() { p.Stop(5 * time.Second) })
	return p
}

// Stop shuts the proxy down with the given grace period.
func (p *testProxy) Stop(grace time.Duration) {
	if p.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	p.srv.Shutdown(ctx)
	<-p.done
	p.srv = nil
}

// DSN is a connection URL through the proxy as the superuser.
func (p *testProxy) DSN(db string) string {
	return pgcluster.DSN(p.Addr, cluster.User, cluster.Password, db)
}

// connect opens a pgx connection, closed when the test ends.
func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// mustExec runs statements and fails the test on error.
func mustExec(t testing.TB, conn *pgx.Conn, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := conn.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// pgxConnect opens a pgx connection the caller closes.
func pgxConnect(ctx context.Context, dsn string) (*pgx.Conn, error) {
	return pgx.Connect(ctx, dsn)
}
