package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDefaultsAndOverrides(t *testing.T) {
	cfg, err := Parse([]byte(`
mode: shadow
shutdown_grace: 5s
relationships:
  - table: Orders
    columns: [User_Id]
    references: {table: '"Users"', columns: [id]}
  - name: custom
    database: app
    table: sales.order_items
    columns: [order_id, "\"Line\""]
    references: {table: sales.orders, columns: [id, line]}
    on_delete: CASCADE
    on_update: set  null
    match: full
    mode: enforce
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != DefaultListen || cfg.Upstream != DefaultUpstream || cfg.Mode != Shadow || cfg.ShutdownGrace != 5*time.Second {
		t.Fatalf("settings: %+v", cfg)
	}
	r := cfg.Relationships[0]
	if r.Table != (TableName{"public", "orders"}) || r.Columns[0] != "user_id" || r.RefTable != (TableName{"public", "Users"}) {
		t.Fatalf("name folding: %+v", r)
	}
	if r.Name != "orders_user_id_fkey" || r.Mode != Shadow || r.OnDelete != NoAction || r.Match != MatchSimple {
		t.Fatalf("defaults: %+v", r)
	}
	r = cfg.Relationships[1]
	if r.Name != "custom" || r.Database != "app" || r.Table != (TableName{"sales", "order_items"}) || r.Columns[1] != "Line" ||
		r.OnDelete != Cascade || r.OnUpdate != SetNull || r.Match != MatchFull || r.Mode != Enforce {
		t.Fatalf("explicit: %+v", r)
	}
	if err := cfg.SetMode(Enforce); err != nil || cfg.Relationships[0].Mode != Enforce {
		t.Fatalf("SetMode did not reach relationships following the global mode")
	}
}

func TestEmptyFileIsAllDefaults(t *testing.T) {
	cfg, err := Parse(nil)
	if err != nil || cfg.Listen != DefaultListen || len(cfg.Relationships) != 0 {
		t.Fatalf("%+v, %v", cfg, err)
	}
}

func TestMistakesNameFieldAndLine(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"unknown top key", "lsiten: x:1\n", "1: lsiten: unknown key"},
		{"bad mode", "mode: strict\n", `1: mode: unknown value "strict"`},
		{"bad address", "listen: nowhere\n", `1: listen: "nowhere" is not host:port`},
		{"missing table", "relationships:\n  - columns: [a]\n    references: {table: p, columns: [id]}\n", "2: relationships[0].table: is required"},
		{"missing references", "relationships:\n  - table: c\n    columns: [a]\n", "2: relationships[0].references: is required"},
		{"missing references.columns", "relationships:\n  - table: c\n    columns: [a]\n    references: {table: p}\n", "4: relationships[0].references.columns: is required"},
		{"length mismatch", "relationships:\n  - table: c\n    columns: [a, b]\n    references: {table: p, columns: [id]}\n", "3: relationships[0].columns: has 2 column(s) but references.columns has 1"},
		{"unknown action", "relationships:\n  - table: c\n    columns: [a]\n    references: {table: p, columns: [id]}\n    on_delete: nuke\n", `5: relationships[0].on_delete: unknown value "nuke"`},
		{"unknown relationship key", "relationships:\n  - table: c\n    colums: [a]\n", "3: relationships[0].colums: unknown key"},
		{"bad mode override", "relationships:\n  - table: c\n    columns: [a]\n    references: {table: p, columns: [id]}\n    mode: loud\n", `5: relationships[0].mode: unknown value "loud"`},
		{"duplicate column", "relationships:\n  - table: c\n    columns: [a, A]\n    references: {table: p, columns: [x, y]}\n", `3: relationships[0].columns[1]: column "a" is listed twice`},
		{"bad table name", "relationships:\n  - table: a.b.c.d\n    columns: [a]\n    references: {table: p, columns: [id]}\n", "2: relationships[0].table: \"a.b.c.d\" has 4 dot-separated parts"},
		{"unterminated quote", "relationships:\n  - table: '\"abc'\n    columns: [a]\n    references: {table: p, columns: [id]}\n", "unterminated quoted identifier"},
		{"duplicate name", "relationships:\n  - {name: fk, table: c, columns: [a], references: {table: p, columns: [id]}}\n  - {name: fk, table: d, columns: [a], references: {table: p, columns: [id]}}\n",
			`3: relationships[1].name: duplicate relationship name "fk"`},
		{"cascade cycle", "relationships:\n  - {table: a, columns: [b_id], references: {table: b, columns: [id]}, on_delete: cascade}\n  - {table: b, columns: [a_id], references: {table: a, columns: [id]}, on_update: cascade}\n",
			"cascading actions form a cycle"},
		{"not yaml", "relationships: [\n", "invalid YAML"},
		{"relationships not a list", "relationships: yes\n", "1: relationships: must be a list"},
		{"verify-full without CA", "upstream_tls: verify-full\n", "upstream_ca_file: is required"},
		{"bad max_message_bytes", "max_message_bytes: lots\n", "1: max_message_bytes: must be a whole number"},
		{"empty violation_log", "violation_log: ''\n", "1: violation_log: must not be empty"},
		{"bad violation_log_max_bytes", "violation_log: /tmp/v.jsonl\nviolation_log_max_bytes: 10\n", "2: violation_log_max_bytes: must be a whole number of bytes between 1024"},
		{"bad violation_log_keep", "violation_log: /tmp/v.jsonl\nviolation_log_keep: -1\n", "2: violation_log_keep: must be a whole number of files between 0 and 1000"},
		{"rotation without violation_log", "mode: shadow\nviolation_log_keep: 5\n", "2: violation_log_keep: has no effect without violation_log"},
		{"bad watch_config", "watch_config: sometimes\n", `1: watch_config: must be true or false, not "sometimes"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("no error for %q", tc.doc)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestViolationLogAndWatchSettings(t *testing.T) {
	cfg, err := Parse(nil)
	if err != nil || cfg.ViolationLog != "" || cfg.ViolationLogMaxBytes != DefaultViolationLogMaxBytes || cfg.ViolationLogKeep != DefaultViolationLogKeep || cfg.WatchConfig {
		t.Fatalf("defaults: %+v, %v", cfg, err)
	}
	cfg, err = Parse([]byte("violation_log: /var/log/softfk/violations.jsonl\nviolation_log_max_bytes: 1048576\nviolation_log_keep: 0\nwatch_config: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ViolationLog != "/var/log/softfk/violations.jsonl" || cfg.ViolationLogMaxBytes != 1<<20 || cfg.ViolationLogKeep != 0 || !cfg.WatchConfig {
		t.Fatalf("settings: %+v", cfg)
	}
}

func TestSelfReferencingCascadeIsAllowed(t *testing.T) {
	_, err := Parse([]byte("relationships:\n  - {table: tree, columns: [parent_id], references: {table: tree, columns: [id]}, on_delete: cascade}\n"))
	if err != nil {
		t.Fatal(err)
	}
}

func TestDefaultConstraintNames(t *testing.T) {
	long := strings.Repeat("x", 60)
	for _, tc := range []struct {
		table string
		cols  []string
		want  string
	}{
		{"orders", []string{"user_id"}, "orders_user_id_fkey"},
		{"items", []string{"a", "b"}, "items_a_b_fkey"},
		// Values checked against PostgreSQL 15's own choices.
		{long, []string{"user_id"}, strings.Repeat("x", 50) + "_user_id_fkey"},
		{"t", []string{long}, "t_" + strings.Repeat("x", 56) + "_fkey"},
		{long, []string{long}, strings.Repeat("x", 29) + "_" + strings.Repeat("x", 28) + "_fkey"},
	} {
		if got := DefaultConstraintName(tc.table, tc.cols); got != tc.want {
			t.Errorf("%s(%v): %q, want %q", tc.table, tc.cols, got, tc.want)
		}
	}
	cfg, err := Parse([]byte("relationships:\n  - {table: c, columns: [a], references: {table: p, columns: [id]}}\n  - {table: c, columns: [a], references: {table: q, columns: [id]}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Relationships[1].Name != "c_a_fkey1" {
		t.Fatalf("second default name %q, want c_a_fkey1 as Postgres names it", cfg.Relationships[1].Name)
	}
}

func TestQuoteIdent(t *testing.T) {
	for in, want := range map[string]string{"orders": "orders", "Orders": `"Orders"`, "user": `"user"`, "a b": `"a b"`, `q"x`: `"q""x"`, "_x1$": "_x1$", "1a": `"1a"`} {
		if got := QuoteIdent(in); got != want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", in, got, want)
		}
	}
}
