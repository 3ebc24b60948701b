package integration

import (
	"context"
	"fmt"
	"net"
	"os"
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
	// plainUser is no superuser; it owns what a test gives it.
	plainUser = "plain_user"
)

func TestMain(m *testing.M) {
	os.Exit(pgcluster.RunTests(m, pgcluster.Options{
		Auth: "scram-sha-256",
		HBA: []string{
			"host all " + md5User + " 127.0.0.1/32 md5",
			"host all " + passwordUser + " 127.0.0.1/32 password",
			"host all " + trustUser + " 127.0.0.1/32 trust",
		},
	}, &cluster, createRoles))
}

// createRoles makes the roles the authentication tests log in as, and
// one that is no superuser.
func createRoles(c *pgcluster.Cluster) error {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
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
		fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", plainUser, rolePassword),
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return nil
}

// newDatabase creates a fresh database for one test and drops it afterwards.
func newDatabase(t testing.TB) string {
	t.Helper()
	return cluster.TempDatabase(t)
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

// configFor parses a softfk configuration and aims it at the cluster.
func configFor(t testing.TB, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yaml)
	}
	base := proxyConfig()
	cfg.Listen, cfg.Upstream = base.Listen, base.Upstream
	return cfg
}

// startProxy runs softfk with cfg on a free port until the test ends.
func startProxy(t testing.TB, cfg *config.Config) *testProxy {
	t.Helper()
	return startProxyLogger(t, cfg, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
}

// startProxyLogger is startProxy with a chosen logger and options.
func startProxyLogger(t testing.TB, cfg *config.Config, log *zap.Logger, opts ...proxy.Option) *testProxy {
	t.Helper()
	srv, err := proxy.New(cfg, log, opts...)
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

// execBlocked runs sql on conn in the background and returns its outcome's
// channel once, as seen through direct, a session of database db waits
// for a lock; an outcome that arrives first fails the test.
func execBlocked(ctx context.Context, t *testing.T, conn, direct *pgx.Conn, db, sql string) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := conn.Exec(ctx, sql)
		done <- err
	}()
	for waiting := 0; waiting == 0; {
		select {
		case err := <-done:
			t.Fatalf("%s did not wait for a lock: %v", sql, err)
		case <-time.After(20 * time.Millisecond):
		}
		if err := direct.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'", db).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
	}
	return done
}
