package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/metrics"
	"github.com/softfk/softfk/metrics/metricstest"
	"github.com/softfk/softfk/pgcluster"
	"github.com/softfk/softfk/proxy"
	"github.com/softfk/softfk/violationlog"
)

// opsSchema has one enforced and one shadow relationship.
const opsSchema = `users (id int PRIMARY KEY)|orders (id int PRIMARY KEY, user_id int)|items (id int PRIMARY KEY, order_id int)`

const opsRelationships = `relationships:
  - {table: orders, columns: [user_id], references: {table: users, columns: [id]}}
  - {table: items, columns: [order_id], references: {table: orders, columns: [id]}, mode: shadow}
`

// createOpsSchema makes the tables of opsSchema in db, with user 1.
func createOpsSchema(t *testing.T, db string) {
	t.Helper()
	conn := connect(t, cluster.DSN(db))
	for _, table := range strings.Split(opsSchema, "|") {
		mustExec(t, conn, "CREATE TABLE "+table)
	}
	mustExec(t, conn, "INSERT INTO users VALUES (1)")
}

// startMetrics serves m for p at a free port until the test ends and
// returns its base URL.
func startMetrics(t *testing.T, m *metrics.Metrics, srv *proxy.Server) string {
	t.Helper()
	e, err := m.Listen("127.0.0.1:0", srv.CheckUpstream)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return "http://" + e.Addr()
}

// scrapeUntil reads the metrics until ok accepts them, failing the test
// after a generous deadline.
func scrapeUntil(t *testing.T, url string, ok func(metricstest.Scrape) bool) metricstest.Scrape {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := metricstest.Get(url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never reached the expected state")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// health returns the status and body of /healthz at the metrics URL.
func health(t *testing.T, url string) (int, string) {
	t.Helper()
	code, body, err := metricstest.Health(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	return code, body
}

// readViolationLog decodes every line of a violation log.
func readViolationLog(t *testing.T, path string) []violationlog.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var events []violationlog.Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e violationlog.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("violation log line %q: %v", sc.Text(), err)
		}
		events = append(events, e)
	}
	return events
}

func TestMetricsAndViolationLog(t *testing.T) {
	db := newDatabase(t)
	createOpsSchema(t, db)
	logPath := filepath.Join(t.TempDir(), "violations.jsonl")
	cfg := configFor(t, opsRelationships+"violation_log: "+logPath+"\nlog_key_values: true\n")
	m := metrics.New()
	p := startProxyLogger(t, cfg, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), proxy.WithMetrics(m))
	url := startMetrics(t, m, p.srv)
	ctx := context.Background()

	conn, err := pgx.Connect(ctx, p.DSN(db)+"&application_name=ops_test")
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, conn, "INSERT INTO orders VALUES (1, 1)")
	if _, err := conn.Exec(ctx, "INSERT INTO orders VALUES (2, 42)"); !violates(err) {
		t.Fatalf("enforced orphan insert: %v", err)
	}
	// Shadow: let through, logged, over both protocols.
	mustExec(t, conn, "INSERT INTO items VALUES (1, 1)", "INSERT INTO items VALUES (2, 99)")
	if _, err := conn.Exec(ctx, "INSERT INTO items VALUES (3, 98)", pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	// A shadow TRUNCATE event: items would block it.
	if _, err := conn.Exec(ctx, "TRUNCATE orders", pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatalf("shadow truncate: %v", err)
	}
	conn.Close(ctx)

	s := scrapeUntil(t, url, func(s metricstest.Scrape) bool {
		return s.Value("softfk_sessions_total") >= 1 && s.Value("softfk_sessions_open") == 0
	})
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"softfk_sessions_total", nil, 1},
		{"softfk_violations_total", []string{"relationship", "orders_user_id_fkey", "mode", "enforce"}, 1},
		{"softfk_violations_total", []string{"relationship", "items_order_id_fkey", "mode", "shadow"}, 3},
		{"softfk_checks_total", []string{"relationship", "orders_user_id_fkey", "outcome", "ok"}, 1},
		{"softfk_checks_total", []string{"relationship", "orders_user_id_fkey", "outcome", "violation"}, 1},
		{"softfk_checks_total", []string{"relationship", "items_order_id_fkey", "outcome", "ok"}, 1},
		{"softfk_checks_total", []string{"relationship", "items_order_id_fkey", "outcome", "violation"}, 2},
		{"softfk_upstream_errors_total", nil, 0},
	} {
		if got := s.Value(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, c := range []struct {
		name   string
		labels []string
	}{
		{"softfk_statements_checked_total", nil},
		{"softfk_check_duration_seconds", nil},
		{"softfk_bytes_relayed_total", []string{"direction", "to_client"}},
		{"softfk_bytes_relayed_total", []string{"direction", "to_upstream"}},
	} {
		if s.Value(c.name, c.labels...) <= 0 {
			t.Errorf("%s%v is 0", c.name, c.labels)
		}
	}
	if n := s.Value("softfk_statements_checked_total"); n < 5 {
		t.Errorf("softfk_statements_checked_total = %v, want at least the 5 writes to guarded tables", n)
	}

	if code, body := health(t, url); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz with Postgres up: %d %q", code, body)
	}

	events := readViolationLog(t, logPath)
	if len(events) != 4 {
		t.Fatalf("%d events in the violation log, want 4: %+v", len(events), events)
	}
	enforced := events[0]
	if enforced.Event != violationlog.KindViolation || enforced.Relationship != "orders_user_id_fkey" || enforced.Table != "public.orders" ||
		enforced.Key != "(user_id)=(42)" || enforced.Mode != "enforce" || enforced.Database != db || enforced.User != cluster.User ||
		enforced.ApplicationName != "ops_test" || !strings.HasPrefix(enforced.Client, "127.0.0.1:") || enforced.Statement == "" ||
		time.Since(enforced.Time) > time.Hour {
		t.Errorf("enforce event: %+v", enforced)
	}
	for _, e := range events[1:3] {
		if e.Relationship != "items_order_id_fkey" || e.Mode != "shadow" || !strings.HasPrefix(e.Key, "(order_id)=(9") {
			t.Errorf("shadow event: %+v", e)
		}
	}
	if events[1].Statement != events[2].Statement {
		t.Errorf("the same statement shape has two fingerprints: %q, %q", events[1].Statement, events[2].Statement)
	}
	if e := events[3]; e.Relationship != "items_order_id_fkey" || e.Mode != "shadow" || e.Action == "" || e.Key != "" {
		t.Errorf("shadow TRUNCATE event: %+v", e)
	}
}

func TestViolationLogRedactsKeysAndRotates(t *testing.T) {
	db := newDatabase(t)
	createOpsSchema(t, db)
	logPath := filepath.Join(t.TempDir(), "violations.jsonl")
	cfg := configFor(t, opsRelationships+"violation_log: "+logPath+"\nviolation_log_max_bytes: 1024\nviolation_log_keep: 2\nlog_key_values: false\n")
	p := startProxy(t, cfg)
	conn := connect(t, p.DSN(db))
	for i := 0; i < 40; i++ {
		mustExec(t, conn, fmt.Sprintf("INSERT INTO items VALUES (%d, %d)", i, 1000+i))
	}
	var events []violationlog.Event
	for _, name := range []string{logPath + ".2", logPath + ".1", logPath} {
		info, err := os.Stat(name)
		if err != nil {
			t.Fatalf("rotated file: %v", err)
		}
		if info.Size() > 1024 {
			t.Errorf("%s has %d bytes, over violation_log_max_bytes", name, info.Size())
		}
		events = append(events, readViolationLog(t, name)...)
	}
	if _, err := os.Stat(logPath + ".3"); !os.IsNotExist(err) {
		t.Errorf("more old files than violation_log_keep: %v", err)
	}
	if len(events) == 0 || len(events) >= 40 {
		t.Fatalf("%d events kept of 40 written in 3 files of 1 KiB", len(events))
	}
	for _, e := range events {
		if e.Key != "(redacted)" {
			t.Fatalf("key not redacted with log_key_values: false: %+v", e)
		}
	}
}

func TestHealthzReportsADeadUpstream(t *testing.T) {
	port, err := pgcluster.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cfg := proxyConfig()
	cfg.Upstream = fmt.Sprintf("127.0.0.1:%d", port)
	m := metrics.New()
	p := startProxyLogger(t, cfg, zap.NewNop(), proxy.WithMetrics(m))
	url := startMetrics(t, m, p.srv)
	if code, body := health(t, url); code != http.StatusServiceUnavailable || !strings.Contains(body, "connection refused") {
		t.Fatalf("/healthz with nothing at the upstream address: %d %q", code, body)
	}
	// A client trying anyway counts as an upstream error.
	if _, err := pgx.Connect(context.Background(), p.DSN("postgres")); err == nil {
		t.Fatal("connected through a proxy without upstream")
	}
	scrapeUntil(t, url, func(s metricstest.Scrape) bool {
		return s.Value("softfk_upstream_errors_total", "kind", "connect") == 1
	})
}

// insertLoad runs valid inserts into orders from workers sessions, each on
// one connection for its whole life, until stop is closed; it returns how
// many statements each worker has completed and collects every error.
type insertLoad struct {
	done   []atomic.Int64
	errs   chan error
	wg     sync.WaitGroup
	stop   chan struct{}
	nextID atomic.Int64
}

// startInsertLoad starts workers sessions at dsn; half use the simple
// protocol, half the extended one.
func startInsertLoad(t *testing.T, dsn string, workers int) *insertLoad {
	t.Helper()
	l := &insertLoad{done: make([]atomic.Int64, workers), errs: make(chan error, 1000), stop: make(chan struct{})}
	l.nextID.Store(1000)
	for w := 0; w < workers; w++ {
		conn := connect(t, dsn)
		mode := pgx.QueryExecModeCacheStatement
		if w%2 == 1 {
			mode = pgx.QueryExecModeSimpleProtocol
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				id := l.nextID.Add(1)
				if _, err := conn.Exec(context.Background(), "INSERT INTO orders VALUES ($1, $2)", mode, id, 1); err != nil {
					l.errs <- fmt.Errorf("worker %d, order %d: %w", w, id, err)
					return
				}
				l.done[w].Add(1)
			}
		}()
	}
	return l
}

// waitProgress waits until every worker has completed another statement.
func (l *insertLoad) waitProgress(t *testing.T) {
	t.Helper()
	before := make([]int64, len(l.done))
	for i := range l.done {
		before[i] = l.done[i].Load()
	}
	deadline := time.Now().Add(30 * time.Second)
	for i := range l.done {
		for l.done[i].Load() <= before[i] {
			select {
			case err := <-l.errs:
				t.Fatal(err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("worker %d made no progress", i)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// finish stops the workers and fails the test on any error.
func (l *insertLoad) finish(t *testing.T) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	close(l.errs)
	for err := range l.errs {
		t.Error(err)
	}
}

// relationshipIn returns a config document with orders → users in mode.
func relationshipIn(mode config.Mode) string {
	return fmt.Sprintf("relationships:\n  - {table: orders, columns: [user_id], references: {table: users, columns: [id]}, mode: %s}\n", mode)
}

func TestReloadUnderLoadDropsNothing(t *testing.T) {
	db := newDatabase(t)
	createOpsSchema(t, db)
	p := startProxy(t, configFor(t, relationshipIn(config.Enforce)))
	load := startInsertLoad(t, p.DSN(db), 8)
	mode := config.Enforce
	for i := 0; i < 20; i++ {
		mode = map[config.Mode]config.Mode{config.Enforce: config.Shadow, config.Shadow: config.Enforce}[mode]
		if err := p.srv.Reload(configFor(t, relationshipIn(mode))); err != nil {
			t.Fatal(err)
		}
		load.waitProgress(t)
	}
	if mode != config.Enforce {
		t.Fatal("the test must end in enforce mode")
	}
	// A configuration that cannot be put in force changes nothing.
	bad := configFor(t, relationshipIn(config.Shadow)+"violation_log: "+filepath.Join(t.TempDir(), "missing", "v.jsonl")+"\n")
	if err := p.srv.Reload(bad); err == nil {
		t.Fatal("a reload with an unwritable violation log was accepted")
	}
	load.waitProgress(t)
	load.finish(t)

	conn := connect(t, p.DSN(db))
	if _, err := conn.Exec(context.Background(), "INSERT INTO orders VALUES (1, 42)"); !violates(err) {
		t.Fatalf("after the last reload (enforce), an orphan insert: %v", err)
	}
}
