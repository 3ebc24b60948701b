package integration

import (
	"context"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/softfk/softfk/config"
)

// Differential oracle tests: every scenario runs twice, once directly
// against Postgres with real FOREIGN KEY constraints and once through
// softfk against the same schema without them, over each client protocol.
// Every step's outcome (tag and rows, or the error with its SQLSTATE,
// message, DETAIL, schema, table, constraint and position) and the final
// contents of every table must be identical.

// scenario is one differential test.
type scenario struct {
	name string
	// schema creates the tables, without foreign keys.
	schema string
	// fks declares the relationships both ways: as ALTER TABLE ... ADD
	// FOREIGN KEY for the oracle and as softfk configuration.
	fks []fk
	// steps run in order; each is one statement (or, in simple mode, a
	// query string with several).
	steps []step
	// modes restricts the scenario to some protocols (all when empty).
	modes []string
	// shadow runs softfk in shadow mode: then the oracle is the same schema
	// without constraints (softfk must change nothing), and softfk must
	// log exactly shadowEvents violations (any number when negative).
	shadow       bool
	shadowEvents int
	// normalize, when set, rewrites every line of both transcripts before
	// they are compared, blanking what may rightly differ (see
	// randomScenario).
	normalize func(string) string
}

// fk is one relationship, written once for both sides.
type fk struct {
	name, table, cols, refTable, refCols string
	onDelete, onUpdate, match            string
}

func (f fk) sql() string {
	s := fmt.Sprintf("ALTER TABLE %s ADD", f.table)
	if f.name != "" {
		s += " CONSTRAINT " + f.name
	}
	s += fmt.Sprintf(" FOREIGN KEY (%s) REFERENCES %s (%s)", f.cols, f.refTable, f.refCols)
	if f.match != "" {
		s += " MATCH " + f.match
	}
	if f.onDelete != "" {
		s += " ON DELETE " + f.onDelete
	}
	if f.onUpdate != "" {
		s += " ON UPDATE " + f.onUpdate
	}
	return s
}

func (f fk) yaml(schema string) string {
	var b strings.Builder
	b.WriteString("  - ")
	if f.name != "" {
		fmt.Fprintf(&b, "name: %s\n    ", f.name)
	}
	fmt.Fprintf(&b, "table: '%s.%s'\n    columns: [%s]\n    references: {table: '%s.%s', columns: [%s]}\n",
		schema, f.table, yamlList(f.cols), schema, f.refTable, yamlList(f.refCols))
	for k, v := range map[string]string{"on_delete": f.onDelete, "on_update": f.onUpdate, "match": f.match} {
		if v != "" {
			fmt.Fprintf(&b, "    %s: %s\n", k, strings.ToLower(v))
		}
	}
	return b.String()
}

// yamlList quotes each comma-separated SQL name for a YAML flow list.
func yamlList(cols string) string {
	var out []string
	for _, c := range strings.Split(cols, ",") {
		out = append(out, "'"+strings.TrimSpace(c)+"'")
	}
	return strings.Join(out, ", ")
}

// step is one statement with optional parameters, or a COPY FROM STDIN
// with its data (sent with the simple protocol in every mode).
type step struct {
	sql  string
	args []any
	copy *copyData
	// maxRows, in wire mode, is the row limit of the Execute that runs
	// the statement (always with the extended protocol); other modes run
	// the statement without one.
	maxRows uint32
}

// copyData is the data of a COPY step: text for COPY's text and CSV
// formats, or rows for pgx's binary CopyFrom into table (columns cols).
type copyData struct {
	text  string
	table string
	cols  []string
	rows  [][]any
}

// copyText builds a COPY step whose data is text.
func copyText(sql, data string) step { return step{sql: sql, copy: &copyData{text: data}} }

// copyRows builds a binary COPY of rows into table.
func copyRows(table string, cols []string, rows ...[]any) step {
	return step{sql: "COPY " + table + " (binary)", copy: &copyData{table: table, cols: cols, rows: rows}}
}

// runCopy runs a COPY step and renders its outcome.
func runCopy(ctx context.Context, conn *pgx.Conn, st step) string {
	if st.copy.rows != nil {
		n, err := conn.CopyFrom(ctx, pgx.Identifier{st.copy.table}, st.copy.cols, pgx.CopyFromRows(st.copy.rows))
		if err != nil {
			return describeErr(err)
		}
		return fmt.Sprintf("COPY %d", n)
	}
	tag, err := conn.PgConn().CopyFrom(ctx, strings.NewReader(st.copy.text), st.sql)
	if err != nil {
		return describeErr(err)
	}
	return tag.String()
}

// s builds a step.
func s(sql string, args ...any) step { return step{sql: sql, args: args} }

// inShadowMode returns sc run with its relationships in shadow mode,
// where softfk must change nothing: the oracle is then the schema without
// constraints, and the shadow events are not counted.
func inShadowMode(sc scenario) scenario {
	sc.name += " in shadow mode"
	sc.shadow, sc.shadowEvents = true, -1
	return sc
}

// limited builds a step executed with a row limit (see step.maxRows).
func limited(maxRows uint32, sql string, args ...any) step {
	return step{sql: sql, args: args, maxRows: maxRows}
}

// oracleModes are the client protocols every scenario runs over: pgx's
// modes, and "wire", which compares the protocol messages themselves.
var oracleModes = []string{"simple", "extended", "exec", "pipeline", "wire"}

// oracleDBs are the two databases the scenarios share (each run gets its
// own schema): one for the real-FK oracle, one behind softfk.
var oracleDBs struct {
	once         sync.Once
	direct, soft string
	err          error
}

var schemaCounter atomic.Int64

func runScenarios(t *testing.T, scenarios []scenario) {
	oracleDBs.once.Do(func() {
		ctx := context.Background()
		oracleDBs.direct, oracleDBs.soft = "oracle_direct", "oracle_soft"
		for _, db := range []string{oracleDBs.direct, oracleDBs.soft} {
			if err := cluster.CreateDatabase(ctx, db); err != nil {
				oracleDBs.err = err
			}
		}
	})
	if oracleDBs.err != nil {
		t.Fatal(oracleDBs.err)
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			modes := sc.modes
			if len(modes) == 0 {
				modes = oracleModes
			}
			for _, mode := range modes {
				t.Run(mode, func(t *testing.T) { runScenario(t, sc, mode) })
			}
		})
	}
}

// runScenario runs one scenario over one protocol on both sides.
func runScenario(t *testing.T, sc scenario, mode string) {
	schema := fmt.Sprintf("sc%d", schemaCounter.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// The oracle: real foreign keys (none in shadow mode), direct connection.
	setup(t, ctx, cluster.DSN(oracleDBs.direct), schema, sc.schema, sc.fks, !sc.shadow)
	direct := transcript(t, ctx, cluster.DSN(oracleDBs.direct), schema, mode, sc.steps)

	// softfk: no constraints, the relationships in its configuration.
	setup(t, ctx, cluster.DSN(oracleDBs.soft), schema, sc.schema, sc.fks, false)
	var yaml strings.Builder
	if sc.shadow {
		yaml.WriteString("mode: shadow\n")
	}
	yaml.WriteString("relationships:\n")
	for _, f := range sc.fks {
		yaml.WriteString(f.yaml(schema))
	}
	cfg, err := config.Parse([]byte(yaml.String()))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yaml.String())
	}
	base := proxyConfig()
	cfg.Listen, cfg.Upstream = base.Listen, base.Upstream
	core, logs := observer.New(zap.InfoLevel)
	p := startProxyLogger(t, cfg, zap.New(core))
	soft := transcript(t, ctx, p.DSN(oracleDBs.soft), schema, mode, sc.steps)
	if sc.shadow {
		events := logs.FilterMessage("soft foreign key violation").FilterField(zap.String("mode", "shadow")).All()
		if sc.shadowEvents >= 0 && len(events) != sc.shadowEvents {
			t.Errorf("%d shadow violation events, want %d: %v", len(events), sc.shadowEvents, events)
		}
		for _, e := range events {
			if e.Level != zap.WarnLevel || e.ContextMap()["relationship"] == "" || e.ContextMap()["statement"] == "" {
				t.Errorf("incomplete event %+v", e)
			}
		}
	}

	if sc.normalize != nil {
		for i := range direct {
			direct[i] = sc.normalize(direct[i])
		}
		for i := range soft {
			soft[i] = sc.normalize(soft[i])
		}
	}
	if !reflect.DeepEqual(direct, soft) {
		var diff strings.Builder
		for i := 0; i < len(direct) || i < len(soft); i++ {
			d, s := at(direct, i), at(soft, i)
			mark := "  "
			if d != s {
				mark = "≠ "
			}
			fmt.Fprintf(&diff, "%s%s\n    real FK: %s\n    softfk:  %s\n", mark, stepName(sc.steps, i), d, s)
		}
		t.Fatalf("softfk differs from real foreign keys (%s protocol):\n%s", mode, diff.String())
	}
}

func at(list []string, i int) string {
	if i < len(list) {
		return list[i]
	}
	return "(missing)"
}

func stepName(steps []step, i int) string {
	if i < len(steps) {
		return steps[i].sql
	}
	return "final contents"
}

// setup creates the scenario's schema and tables (and, for the oracle, the
// foreign keys).
func setup(t *testing.T, ctx context.Context, dsn, schema, ddl string, fks []fk, constraints bool) {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	stmts := []string{"CREATE SCHEMA " + schema, "SET search_path = " + schema, ddl}
	if constraints {
		for _, f := range fks {
			stmts = append(stmts, f.sql())
		}
	}
	for _, st := range stmts {
		if _, err := conn.Exec(ctx, st, pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Fatalf("setup %q: %v", st, err)
		}
	}
}

// transcript runs the steps over one protocol and records what the client
// sees, then the final contents of every table of the schema.
func transcript(t *testing.T, ctx context.Context, dsn, schema, mode string, steps []step) []string {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["search_path"] = schema
	switch mode {
	case "simple":
		cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	case "extended", "pipeline":
		cfg.DefaultQueryExecMode = pgx.QueryExecModeCacheStatement
	case "exec":
		cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	case "describe":
		cfg.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
	}
	// Notices are part of what the client sees: they are recorded with
	// the step that caused them.
	var notices []string
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		notices = append(notices, n.Severity+" "+n.Code+" "+n.Message)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var out []string
	switch mode {
	case "pipeline":
		out = pipelineTranscript(ctx, conn, steps)
	case "wire":
		// The session's own connection speaks raw protocol; the contents
		// are read on a second one.
		raw, err := pgconn.ConnectConfig(ctx, &cfg.Config)
		if err != nil {
			t.Fatal(err)
		}
		h, err := raw.Hijack()
		if err != nil {
			t.Fatal(err)
		}
		defer h.Conn.Close()
		out = wireTranscript(h.Conn, h.Frontend, steps)
	default:
		for _, st := range steps {
			var result string
			switch {
			case st.copy != nil:
				result = runCopy(ctx, conn, st)
			case len(st.args) == 0 && mode == "simple":
				result = multiResult(ctx, conn, st.sql)
			default:
				result = queryAll(ctx, conn, st.sql, st.args...)
			}
			if len(notices) > 0 {
				result += " notices: " + strings.Join(notices, "; ")
				notices = nil
			}
			out = append(out, result)
		}
	}
	return append(out, tableContents(t, ctx, conn, schema)...)
}

// wireTranscript runs the steps as raw protocol messages (a Query, or
// Parse, Bind of text parameters, Describe, Execute and Sync) and records
// every message the server sends up to ReadyForQuery: softfk must send
// exactly what Postgres does, which the drivers' tolerance would hide. COPY
// steps are left out.
func wireTranscript(conn net.Conn, fe *pgproto3.Frontend, steps []step) []string {
	var out []string
	for _, st := range steps {
		if st.copy != nil {
			out = append(out, "(COPY not run)")
			continue
		}
		if len(st.args) == 0 && st.maxRows == 0 {
			fe.Send(&pgproto3.Query{String: st.sql})
		} else {
			bind := &pgproto3.Bind{}
			for _, a := range st.args {
				if a == nil {
					bind.Parameters = append(bind.Parameters, nil)
				} else {
					bind.Parameters = append(bind.Parameters, []byte(fmt.Sprint(a)))
				}
			}
			fe.Send(&pgproto3.Parse{Query: st.sql})
			fe.Send(bind)
			fe.Send(&pgproto3.Describe{ObjectType: 'P'})
			fe.Send(&pgproto3.Execute{MaxRows: st.maxRows})
			fe.Send(&pgproto3.Sync{})
		}
		var msgs []string
		if err := fe.Flush(); err != nil {
			return append(out, err.Error())
		}
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		for {
			msg, err := fe.Receive()
			if err != nil {
				return append(out, strings.Join(msgs, " ")+" "+err.Error())
			}
			msgs = append(msgs, wireMessage(msg))
			if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
				break
			}
		}
		out = append(out, strings.Join(msgs, " "))
	}
	return out
}

// wireMessage renders a server message for a transcript.
func wireMessage(msg pgproto3.BackendMessage) string {
	switch m := msg.(type) {
	case *pgproto3.RowDescription:
		var names []string
		for _, f := range m.Fields {
			names = append(names, string(f.Name))
		}
		return "RowDescription" + fmt.Sprint(names)
	case *pgproto3.DataRow:
		var values []string
		for _, v := range m.Values {
			values = append(values, string(v))
		}
		return "DataRow" + fmt.Sprint(values)
	case *pgproto3.CommandComplete:
		return "CommandComplete(" + string(m.CommandTag) + ")"
	case *pgproto3.ErrorResponse:
		return fmt.Sprintf("ErrorResponse(%s %s %q %q %s.%s %s pos %d)", m.Severity, m.Code, m.Message, m.Detail, m.SchemaName, m.TableName, m.ConstraintName, m.Position)
	case *pgproto3.NoticeResponse:
		return fmt.Sprintf("NoticeResponse(%s %s %q)", m.Severity, m.Code, m.Message)
	case *pgproto3.ReadyForQuery:
		return "ReadyForQuery(" + string(m.TxStatus) + ")"
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", msg), "*pgproto3.")
}

// multiResult runs a (possibly multi-statement) query string with the
// simple protocol and renders every statement's result.
func multiResult(ctx context.Context, conn *pgx.Conn, sql string) string {
	results, err := conn.PgConn().Exec(ctx, sql).ReadAll()
	var parts []string
	for _, r := range results {
		if r.Err != nil {
			continue
		}
		var rows []string
		for _, row := range r.Rows {
			var vals []string
			for _, v := range row {
				if v == nil {
					vals = append(vals, "NULL")
				} else {
					vals = append(vals, string(v))
				}
			}
			rows = append(rows, strings.Join(vals, "|"))
		}
		parts = append(parts, fmt.Sprintf("%s %v", r.CommandTag, rows))
	}
	if err != nil {
		parts = append(parts, describeErr(err))
	}
	return strings.Join(parts, "; ") + fmt.Sprintf(" [tx %c]", conn.PgConn().TxStatus())
}

// pipelineTranscript sends all steps as one pgx Batch (one pipeline, one
// implicit transaction) and renders each result.
func pipelineTranscript(ctx context.Context, conn *pgx.Conn, steps []step) []string {
	b := &pgx.Batch{}
	for _, st := range steps {
		b.Queue(st.sql, st.args...)
	}
	br := conn.SendBatch(ctx, b)
	var out []string
	for range steps {
		rows, err := br.Query()
		if err != nil {
			out = append(out, describeErr(err))
			continue
		}
		var all [][]any
		for rows.Next() {
			vals, _ := rows.Values()
			all = append(all, vals)
		}
		out = append(out, describe(rows.CommandTag(), all, rows.Err()))
	}
	out = append(out, "close: "+describeErrOrNil(br.Close()))
	return out
}

// tableContents renders every table of the schema, sorted.
func tableContents(t *testing.T, ctx context.Context, conn *pgx.Conn, schema string) []string {
	rows, err := conn.Query(ctx, "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1", schema)
	if err != nil {
		return []string{describeErr(err)}
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return []string{describeErr(err)}
	}
	var out []string
	for _, tbl := range tables {
		var text string
		err := conn.QueryRow(ctx, fmt.Sprintf(
			"SELECT coalesce(string_agg(t::text, ' ' ORDER BY t::text), '') FROM %s.%s t", schema, pgx.Identifier{tbl}.Sanitize())).Scan(&text)
		if err != nil {
			text = describeErr(err)
		}
		out = append(out, tbl+": "+text)
	}
	return out
}
