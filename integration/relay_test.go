package integration

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// relayScenario runs the same client steps directly against Postgres and
// through softfk, and requires identical transcripts.
func relayScenario(t *testing.T, mode pgx.QueryExecMode, steps func(ctx context.Context, conn *pgx.Conn) []string) {
	t.Helper()
	p := startProxy(t, proxyConfig())
	var transcripts [2][]string
	for i, dsn := range []func(string) string{cluster.DSN, p.DSN} {
		db := newDatabase(t)
		cfg, err := pgx.ParseConfig(dsn(db))
		if err != nil {
			t.Fatal(err)
		}
		cfg.DefaultQueryExecMode = mode
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		transcripts[i] = steps(ctx, conn)
		conn.Close(ctx)
		cancel()
	}
	if !reflect.DeepEqual(transcripts[0], transcripts[1]) {
		t.Fatalf("through softfk the client saw something else:\ndirect: %q\nsoftfk: %q", transcripts[0], transcripts[1])
	}
}

// describe renders a statement's outcome: its tag and rows, or its error.
func describe(tag pgconn.CommandTag, rows [][]any, err error) string {
	if err != nil {
		return describeErr(err)
	}
	return fmt.Sprintf("%s %v", tag, rows)
}

// describeErr renders an error with every field a client can inspect.
func describeErr(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return fmt.Sprintf("ERROR %s %s|%s|%s|%s|%s|%s|pos=%d|where=%q", pe.Severity, pe.Code, pe.Message, pe.Detail, pe.Hint,
			pe.SchemaName+"."+pe.TableName, pe.ConstraintName, pe.Position, pe.Where)
	}
	return "error: " + err.Error()
}

// queryAll runs a query and collects its rows.
func queryAll(ctx context.Context, conn *pgx.Conn, sql string, args ...any) string {
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return describeErr(err)
	}
	var all [][]any
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return describeErr(err)
		}
		all = append(all, vals)
	}
	return describe(rows.CommandTag(), all, rows.Err())
}

var relayModes = map[string]pgx.QueryExecMode{
	"simple":              pgx.QueryExecModeSimpleProtocol,
	"extended":            pgx.QueryExecModeCacheStatement,
	"describe":            pgx.QueryExecModeDescribeExec,
	"cached descriptions": pgx.QueryExecModeCacheDescribe,
}

func TestRelayStatementsMatchDirect(t *testing.T) {
	for name, mode := range relayModes {
		t.Run(name, func(t *testing.T) {
			relayScenario(t, mode, func(ctx context.Context, conn *pgx.Conn) []string {
				var out []string
				for _, q := range []struct {
					sql  string
					args []any
				}{
					{"CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2), tags text[], payload bytea)", nil},
					{"INSERT INTO items VALUES ($1, $2, $3, $4, $5)", []any{1, "one", "1.50", []string{"a", "b"}, []byte{0, 1, 2}}},
					{"INSERT INTO items VALUES (2, 'two', 2.25, '{c}', '\\x0a0b') RETURNING id, name", nil},
					{"SELECT id, name, price::text, tags, payload FROM items ORDER BY id", nil},
					{"SELECT * FROM items WHERE id = $1", []any{2}},
					{"INSERT INTO items VALUES (1, 'dup')", nil},
					{"SELECT 1/0", nil},
					{"SELEC oops", nil},
					{"SELECT nosuchcolumn FROM items", nil},
					{"UPDATE items SET price = price * 2 WHERE id > $1", []any{0}},
					{"DELETE FROM items WHERE id = 2 RETURNING name", nil},
					{"SELECT count(*) FROM items", nil},
					{"SELECT repeat('x', 300000) AS big", nil},
					{"SELECT g, md5(g::text) FROM generate_series(1, 2000) g", nil},
				} {
					out = append(out, queryAll(ctx, conn, q.sql, q.args...))
				}
				return out
			})
		})
	}
}

func TestRelayTransactionsAndErrors(t *testing.T) {
	for name, mode := range relayModes {
		t.Run(name, func(t *testing.T) {
			relayScenario(t, mode, func(ctx context.Context, conn *pgx.Conn) []string {
				var out []string
				run := func(sql string) { out = append(out, queryAll(ctx, conn, sql)) }
				run("CREATE TABLE t (id int PRIMARY KEY)")
				run("BEGIN")
				run("INSERT INTO t VALUES (1)")
				run("SAVEPOINT s")
				run("INSERT INTO t VALUES (1)")
				run("SELECT 1")
				run("ROLLBACK TO SAVEPOINT s")
				run("INSERT INTO t VALUES (2)")
				run("COMMIT")
				run("BEGIN")
				run("INSERT INTO t VALUES (3)")
				run("SELECT * FROM nope")
				run("COMMIT")
				run("SELECT id FROM t ORDER BY id")
				out = append(out, fmt.Sprintf("txstatus %c", conn.PgConn().TxStatus()))
				return out
			})
		})
	}
}

func TestRelayMultiStatementQuery(t *testing.T) {
	relayScenario(t, pgx.QueryExecModeSimpleProtocol, func(ctx context.Context, conn *pgx.Conn) []string {
		var out []string
		for _, sql := range []string{
			"CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2); SELECT count(*) FROM t",
			"INSERT INTO t VALUES (3); INSERT INTO t VALUES (1); INSERT INTO t VALUES (4)",
			"SELECT id FROM t ORDER BY id",
			"",
			";;",
		} {
			results, err := conn.PgConn().Exec(ctx, sql).ReadAll()
			for _, r := range results {
				out = append(out, fmt.Sprintf("%s %d rows %v", r.CommandTag, len(r.Rows), r.Err))
			}
			if err != nil {
				out = append(out, describeErr(err))
			}
		}
		return out
	})
}

func TestRelayPipelineBatch(t *testing.T) {
	relayScenario(t, pgx.QueryExecModeCacheStatement, func(ctx context.Context, conn *pgx.Conn) []string {
		var out []string
		mustRun := func(sql string) { out = append(out, queryAll(ctx, conn, sql)) }
		mustRun("CREATE TABLE t (id int PRIMARY KEY, v text)")
		b := &pgx.Batch{}
		b.Queue("INSERT INTO t VALUES ($1, $2)", 1, "a")
		b.Queue("INSERT INTO t VALUES ($1, $2) RETURNING id", 2, "b")
		b.Queue("SELECT v FROM t WHERE id = $1", 1)
		b.Queue("INSERT INTO t VALUES ($1, $2)", 1, "dup")
		b.Queue("INSERT INTO t VALUES ($1, $2)", 3, "never")
		br := conn.SendBatch(ctx, b)
		for i := 0; i < b.Len(); i++ {
			rows, err := br.Query()
			if err != nil {
				out = append(out, describeErr(err))
				continue
			}
			var n int
			for rows.Next() {
				n++
			}
			out = append(out, fmt.Sprintf("%s rows=%d err=%v", rows.CommandTag(), n, describeErrOrNil(rows.Err())))
		}
		out = append(out, describeErrOrNil(br.Close()))
		mustRun("SELECT id, v FROM t ORDER BY id")
		return out
	})
}

func describeErrOrNil(err error) string {
	if err == nil {
		return "ok"
	}
	return describeErr(err)
}

func TestRelayCopyInAndOut(t *testing.T) {
	relayScenario(t, pgx.QueryExecModeCacheStatement, func(ctx context.Context, conn *pgx.Conn) []string {
		var out []string
		mustRun := func(sql string) { out = append(out, queryAll(ctx, conn, sql)) }
		mustRun("CREATE TABLE t (id int PRIMARY KEY, v text)")
		rows := make([][]any, 5000)
		for i := range rows {
			rows[i] = []any{i, strings.Repeat("v", i%50)}
		}
		n, err := conn.CopyFrom(ctx, pgx.Identifier{"t"}, []string{"id", "v"}, pgx.CopyFromRows(rows))
		out = append(out, fmt.Sprintf("copied %d %v", n, err))
		_, err = conn.CopyFrom(ctx, pgx.Identifier{"t"}, []string{"id", "v"}, pgx.CopyFromRows([][]any{{1, "dup"}}))
		out = append(out, describeErrOrNil(err))
		var buf strings.Builder
		tag, err := conn.PgConn().CopyTo(ctx, &buf, "COPY (SELECT * FROM t ORDER BY id) TO STDOUT WITH (FORMAT csv)")
		out = append(out, fmt.Sprintf("%s %d bytes %v", tag, buf.Len(), err))
		tag, err = conn.PgConn().CopyFrom(ctx, strings.NewReader("9001\tx\n9002\ty\n"), "COPY t FROM STDIN")
		out = append(out, fmt.Sprintf("%s %v", tag, err))
		tag, err = conn.PgConn().CopyFrom(ctx, strings.NewReader("bad line\n"), "COPY t FROM STDIN")
		out = append(out, fmt.Sprintf("%s %s", tag, describeErrOrNil(err)))
		mustRun("SELECT count(*) FROM t")
		return out
	})
}

func TestRelayListenNotify(t *testing.T) {
	p := startProxy(t, proxyConfig())
	db := newDatabase(t)
	listener := connect(t, p.DSN(db))
	notifier := connect(t, p.DSN(db))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mustExec(t, listener, "LISTEN jobs")
	mustExec(t, notifier, "NOTIFY jobs, 'first'", "SELECT pg_notify('jobs', 'second')")
	for _, want := range []string{"first", "second"} {
		n, err := listener.WaitForNotification(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n.Channel != "jobs" || n.Payload != want {
			t.Fatalf("got notification %s/%s, want jobs/%s", n.Channel, n.Payload, want)
		}
	}
}

func TestRelayNoticesAndParameterStatus(t *testing.T) {
	p := startProxy(t, proxyConfig())
	db := newDatabase(t)
	var notices []string
	cfg, err := pgx.ParseConfig(p.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices = append(notices, n.Severity+": "+n.Message) }
	ctx := context.Background()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	mustExec(t, conn, "DO $$ BEGIN RAISE NOTICE 'hello %', 42; RAISE WARNING 'careful'; END $$",
		"SET application_name = 'renamed'", "SET TIME ZONE 'Asia/Tokyo'")
	if want := []string{"NOTICE: hello 42", "WARNING: careful"}; !reflect.DeepEqual(notices, want) {
		t.Fatalf("notices %q, want %q", notices, want)
	}
	if got := conn.PgConn().ParameterStatus("application_name"); got != "renamed" {
		t.Fatalf("application_name parameter status %q", got)
	}
	if got := conn.PgConn().ParameterStatus("TimeZone"); got != "Asia/Tokyo" {
		t.Fatalf("TimeZone parameter status %q", got)
	}
}

func TestRelayCancelByContextTimeout(t *testing.T) {
	p := startProxy(t, proxyConfig())
	db := newDatabase(t)
	conn := connect(t, p.DSN(db))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := conn.Exec(ctx, "SELECT pg_sleep(20)")
	if err == nil {
		t.Fatal("pg_sleep(20) finished despite the timeout")
	}
	// The cancel reached the backend: it stopped long before 20 s, and the
	// server reported the cancellation.
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Fatalf("cancel took %v", elapsed)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code != "57014" {
		t.Fatalf("error %v, want 57014 query_canceled", err)
	}
	// A second connection through softfk still works, and pgx closed the
	// cancelled one; check the backend is gone from the server.
	other := connect(t, p.DSN(db))
	var sleeping int
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := other.QueryRow(context.Background(),
			"SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(20)%' AND state = 'active'").Scan(&sleeping); err != nil {
			t.Fatal(err)
		}
		if sleeping == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if sleeping != 0 {
		t.Fatal("the sleeping backend was not cancelled")
	}
}
