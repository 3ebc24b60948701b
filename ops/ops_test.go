package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/pgcluster"
	"github.com/softfk/softfk/policy"
)

// cluster is the test binary's one Postgres server.
var cluster *pgcluster.Cluster

func TestMain(m *testing.M) {
	os.Exit(pgcluster.RunTests(m, pgcluster.Options{Auth: "trust"}, &cluster, nil))
}

// newDatabase creates a database holding schema (SQL) for one test, drops
// it afterwards and returns its name and DSN.
func newDatabase(t *testing.T, schema string) (string, string) {
	t.Helper()
	name := cluster.TempDatabase(t)
	dsn := cluster.DSN(name)
	execSQL(t, dsn, schema)
	return name, dsn
}

// execSQL runs SQL (several statements allowed) on the database at dsn.
func execSQL(t *testing.T, dsn, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%v\n%s", err, sql)
	}
}

// queryInt runs a query returning one integer.
func queryInt(t *testing.T, dsn, sql string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// psql runs a script with psql, stopping at the first error.
func psql(t *testing.T, dsn, script string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "script.sql")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(cluster.Tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-f", file).CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s\nscript:\n%s", err, out, script)
	}
	return string(out)
}

func parseRels(t *testing.T, doc string) []config.Relationship {
	t.Helper()
	cfg, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, doc)
	}
	return cfg.Relationships
}

// auditSchema plants orphans: single-column and composite keys, MATCH
// SIMPLE and FULL over NULLs, a partitioned child, and children of rows
// that are themselves orphans.
const auditSchema = `
CREATE TABLE users (id int PRIMARY KEY);
INSERT INTO users VALUES (1), (2);
CREATE TABLE orders (id int PRIMARY KEY, user_id int);
INSERT INTO orders VALUES (1, 1), (2, 42), (3, 43), (4, NULL), (5, 42);
CREATE TABLE order_items (id int PRIMARY KEY, order_id int NOT NULL);
INSERT INTO order_items VALUES (1, 1), (2, 2), (3, 3);
CREATE TABLE regions (country text, code text, PRIMARY KEY (country, code));
INSERT INTO regions VALUES ('de', 'be'), ('fr', 'pa');
CREATE TABLE shops (id int PRIMARY KEY, country text, code text);
INSERT INTO shops VALUES (1, 'de', 'be'), (2, 'de', 'xx'), (3, 'fr', NULL), (4, NULL, NULL), (5, NULL, 'pa');
CREATE TABLE events (id int, user_id int, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO events VALUES (1, 1, '2024-05-01'), (2, 99, '2024-06-01'), (3, 98, '2025-02-01'), (4, 2, '2025-03-01');
`

const auditConfig = `
relationships:
  - table: orders
    columns: [user_id]
    references: {table: users, columns: [id]}
  - table: order_items
    columns: [order_id]
    references: {table: orders, columns: [id]}
  - name: shops_region_simple
    table: shops
    columns: [country, code]
    references: {table: regions, columns: [country, code]}
  - name: shops_region_full
    table: shops
    columns: [country, code]
    references: {table: regions, columns: [country, code]}
    match: full
  - table: events
    columns: [user_id]
    references: {table: users, columns: [id]}
  - database: some_other_db
    table: nowhere
    columns: [x]
    references: {table: nothing, columns: [id]}
`

// runAudit runs RunAudit on dsn and returns whether it found the database
// clean, the report and the progress lines.
func runAudit(t *testing.T, dsn, cfg string, opts AuditOptions) (bool, string, string) {
	t.Helper()
	var out, progress bytes.Buffer
	clean, err := RunAudit(context.Background(), dsn, time.Minute, parseRels(t, cfg), opts, &out, &progress)
	if err != nil {
		t.Fatalf("audit: %v\n%s", err, progress.String())
	}
	return clean, out.String(), progress.String()
}

func TestAuditCountsOrphans(t *testing.T) {
	_, dsn := newDatabase(t, auditSchema)
	ctx := context.Background()
	conn, err := connect(ctx, dsn, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rels := applicable(parseRels(t, auditConfig), "irrelevant")
	results, err := audit(ctx, conn, rels, 5, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		orphans int64
		samples string
	}{
		"orders_user_id_fkey":       {3, "(user_id)=(42) (user_id)=(43)"},
		"order_items_order_id_fkey": {0, ""},
		"shops_region_simple":       {1, "(country, code)=(de, xx)"},
		"shops_region_full":         {3, "(country, code)=(de, xx) (country, code)=(fr, null) (country, code)=(null, pa)"},
		"events_user_id_fkey":       {2, "(user_id)=(98) (user_id)=(99)"},
	}
	if len(results) != len(want) {
		t.Fatalf("%d results, want %d", len(results), len(want))
	}
	for _, r := range results {
		var keys []string
		for _, s := range r.Samples {
			keys = append(keys, policy.KeyText(r.Rel.Columns, s))
		}
		w := want[r.Rel.Name]
		if r.Orphans != w.orphans || strings.Join(keys, " ") != w.samples {
			t.Errorf("%s: %d orphans %q, want %d %q", r.Rel.Name, r.Orphans, keys, w.orphans, w.samples)
		}
	}

	// The limit bounds the samples, not the count.
	results, err = audit(ctx, conn, rels[:1], 1, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if r := results[0]; r.Orphans != 3 || len(r.Samples) != 1 || *r.Samples[0][0] != "42" {
		t.Errorf("limit 1: %d orphans, samples %v", r.Orphans, r.Samples)
	}
}

func TestAuditQueryIsAnAntiJoin(t *testing.T) {
	_, dsn := newDatabase(t, auditSchema)
	ctx := context.Background()
	conn, err := connect(ctx, dsn, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rels := parseRels(t, auditConfig)
	cat, err := LoadCatalog(ctx, conn, policy.TablesOf(rels[:1]))
	if err != nil {
		t.Fatal(err)
	}
	execSQL(t, dsn, "INSERT INTO users SELECT generate_series(3, 5000); INSERT INTO orders SELECT g, g FROM generate_series(6, 5000) g; ANALYZE users, orders")
	q := auditQuery(rels[0], cat.Tables[rels[0].Table], cat.Tables[rels[0].RefTable], 5)
	rows, err := conn.Query(ctx, "EXPLAIN "+q, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	plan := strings.Join(lines, "\n")
	if !strings.Contains(plan, "Anti Join") || strings.Contains(plan, "SubPlan") {
		t.Errorf("the audit query is not an anti-join:\n%s", plan)
	}
}

func TestAuditReports(t *testing.T) {
	_, dsn := newDatabase(t, auditSchema)
	clean, table, progress := runAudit(t, dsn, auditConfig, AuditOptions{Format: FormatTable, Limit: 5})
	if clean {
		t.Error("orphans reported as clean")
	}
	for _, want := range []string{
		"RELATIONSHIP", "SAMPLE KEYS",
		"orders_user_id_fkey", "public.orders", "public.users", "(user_id)=(42), (user_id)=(43)",
		"(country, code)=(de, xx), (country, code)=(fr, null), (country, code)=(null, pa)",
		"9 orphans in 4 of 5 relationship(s)",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table report lacks %q:\n%s", want, table)
		}
	}
	if strings.Contains(table, "nowhere") {
		t.Errorf("audited a relationship of another database:\n%s", table)
	}
	if !regexp.MustCompile(`(?m)^auditing orders_user_id_fkey \(public\.orders -> public\.users\)\.\.\. 3 orphans in \S+$`).MatchString(progress) ||
		!strings.Contains(progress, "order_items_order_id_fkey (public.order_items -> public.orders)... 0 orphans in ") {
		t.Errorf("progress lines:\n%s", progress)
	}

	_, out, _ := runAudit(t, dsn, auditConfig, AuditOptions{Format: FormatJSON, Limit: 5})
	var report []struct {
		Relationship, Table, References string
		Columns                         []string
		RefColumns                      []string `json:"ref_columns"`
		Orphans                         int64
		Samples                         [][]*string
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("json report: %v\n%s", err, out)
	}
	if len(report) != 5 {
		t.Fatalf("%d relationships in the json report, want 5", len(report))
	}
	full := report[3]
	if full.Relationship != "shops_region_full" || full.Table != "public.shops" || full.References != "public.regions" ||
		strings.Join(full.Columns, ",") != "country,code" || strings.Join(full.RefColumns, ",") != "country,code" ||
		full.Orphans != 3 || len(full.Samples) != 3 || *full.Samples[1][0] != "fr" || full.Samples[1][1] != nil {
		t.Errorf("json report entry: %+v", full)
	}
	if report[1].Orphans != 0 || report[1].Samples == nil {
		t.Errorf("clean relationship in json: %+v (want 0 orphans, samples [])", report[1])
	}
}

func TestAuditClean(t *testing.T) {
	_, dsn := newDatabase(t, "CREATE TABLE users (id int PRIMARY KEY); CREATE TABLE orders (user_id int); INSERT INTO users VALUES (1); INSERT INTO orders VALUES (1), (NULL)")
	clean, out, _ := runAudit(t, dsn, auditConfig[:strings.Index(auditConfig, "  - table: order_items")], AuditOptions{Format: FormatTable})
	if !clean || !strings.Contains(out, "no orphans in 1 relationship(s)") {
		t.Errorf("clean database: clean=%v\n%s", clean, out)
	}
}

func TestAuditFixDeleteDryRun(t *testing.T) {
	_, dsn := newDatabase(t, auditSchema)
	clean, script, _ := runAudit(t, dsn, auditConfig, AuditOptions{Format: FormatTable, Limit: 5, Fix: FixDelete, DryRun: true})
	if clean {
		t.Error("dry run reported clean")
	}
	for _, want := range []string{
		"BEGIN;\n",
		"DELETE FROM ONLY public.orders c WHERE (c.user_id IS NOT NULL) AND NOT EXISTS (SELECT 1 FROM ONLY public.users p WHERE p.id = c.user_id);\n",
		"-- order_items_order_id_fkey (public.order_items -> public.orders): 0 orphans now; the deletes above may orphan more\n",
		"DELETE FROM public.events c WHERE", // partitioned: no ONLY
		"(c.country IS NOT NULL OR c.code IS NOT NULL)",
		"COMMIT;\n",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("dry run script lacks %q:\n%s", want, script)
		}
	}
	if strings.Index(script, "public.orders c") > strings.Index(script, "public.order_items c") {
		t.Errorf("order_items is cleaned before the orders it references:\n%s", script)
	}
	if n := queryInt(t, dsn, "SELECT count(*) FROM orders"); n != 5 {
		t.Fatalf("dry run changed the data: %d orders left", n)
	}
	psql(t, dsn, script)
	clean, _, _ = runAudit(t, dsn, auditConfig, AuditOptions{Format: FormatTable})
	if !clean {
		t.Error("orphans left after running the dry-run script")
	}
	if n := queryInt(t, dsn, "SELECT count(*) FROM order_items"); n != 1 {
		t.Errorf("%d order items left, want 1 (the others belonged to orphan orders)", n)
	}
}

func TestAuditFixSetNull(t *testing.T) {
	_, dsn := newDatabase(t, auditSchema)
	clean, out, progress := runAudit(t, dsn, auditConfig, AuditOptions{Format: FormatJSON, Limit: 5, Fix: FixSetNull})
	if !clean {
		t.Errorf("orphans left after the fix:\n%s\n%s", out, progress)
	}
	var report []struct {
		Relationship string
		Orphans      int64
		Fixed        *int64
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	fixed := map[string]int64{}
	for _, r := range report {
		if r.Orphans != 0 {
			t.Errorf("%s: %d orphans after the fix", r.Relationship, r.Orphans)
		}
		if r.Fixed != nil {
			fixed[r.Relationship] = *r.Fixed
		}
	}
	// shops_region_simple nulls (de, xx) first, leaving two rows for MATCH FULL.
	want := map[string]int64{"orders_user_id_fkey": 3, "shops_region_simple": 1, "shops_region_full": 2, "events_user_id_fkey": 2}
	if fmt.Sprint(fixed) != fmt.Sprint(want) {
		t.Errorf("rows fixed %v, want %v", fixed, want)
	}
	if !strings.Contains(progress, "fixing orders_user_id_fkey: UPDATE 3") {
		t.Errorf("progress does not report the fix:\n%s", progress)
	}
	if n := queryInt(t, dsn, "SELECT count(*) FROM orders WHERE user_id IS NULL"); n != 4 {
		t.Errorf("%d orders with a NULL user, want 4 (rows are kept)", n)
	}
	if n := queryInt(t, dsn, "SELECT count(*) FROM shops WHERE country IS NULL AND code IS NULL"); n != 4 {
		t.Errorf("%d shops with a NULL key, want 4", n)
	}

	_, table, _ := runAudit(t, dsn, auditConfig, AuditOptions{Format: FormatTable, Fix: FixSetNull})
	if !strings.Contains(table, "FIXED") || !strings.Contains(table, "no orphans in 5 relationship(s)") {
		t.Errorf("table report after a fix with nothing to do:\n%s", table)
	}
}

func TestAuditErrors(t *testing.T) {
	_, dsn := newDatabase(t, auditSchema)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		cfg  string
		opts AuditOptions
		dsn  string
		want string
	}{
		{"missing table", "relationships: [{table: nope, columns: [a], references: {table: users, columns: [id]}}]",
			AuditOptions{Format: FormatTable}, dsn, "relationship nope_a_fkey: table public.nope does not exist"},
		{"missing parent", "relationships: [{table: orders, columns: [user_id], references: {table: people, columns: [id]}}]",
			AuditOptions{Format: FormatTable}, dsn, "relationship orders_user_id_fkey: referenced table public.people does not exist"},
		{"missing column", "relationships: [{table: orders, columns: [nope], references: {table: users, columns: [id]}}]",
			AuditOptions{Format: FormatTable}, dsn, `relationship orders_nope_fkey: ERROR: column c.nope does not exist`},
		{"set null on NOT NULL", "relationships: [{table: order_items, columns: [order_id], references: {table: users, columns: [id]}}]",
			AuditOptions{Format: FormatTable, Fix: FixSetNull}, dsn, "relationship order_items_order_id_fkey: cannot set null: column order_id of public.order_items is NOT NULL"},
		{"bad format", auditConfig, AuditOptions{Format: "xml"}, dsn, `unknown format "xml"`},
		{"bad fix", auditConfig, AuditOptions{Format: FormatTable, Fix: "truncate"}, dsn, `unknown fix "truncate"`},
		{"dry run without fix", auditConfig, AuditOptions{Format: FormatTable, DryRun: true}, dsn, "dry run needs a fix"},
		{"no database", auditConfig, AuditOptions{Format: FormatTable}, cluster.DSN("no_such_db"), `database "no_such_db" does not exist`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := RunAudit(ctx, tc.dsn, time.Minute, parseRels(t, tc.cfg), tc.opts, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if n := queryInt(t, dsn, "SELECT count(*) FROM order_items"); n != 3 {
		t.Errorf("a failed fix changed data: %d order items", n)
	}
}

func TestConnectSetsStatementTimeout(t *testing.T) {
	ctx := context.Background()
	conn, err := connect(ctx, cluster.DSN("postgres"), 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var timeout, app string
	if err := conn.QueryRow(ctx, "SELECT current_setting('statement_timeout'), current_setting('application_name')").Scan(&timeout, &app); err != nil {
		t.Fatal(err)
	}
	if timeout != "90s" || app != "softfk" {
		t.Errorf("statement_timeout %q, application_name %q; want 90s, softfk", timeout, app)
	}
}

// discoverSchema has a schema with hard foreign keys (one name used twice,
// one on a partitioned table) and one with naming hints only.
const discoverSchema = `
CREATE SCHEMA hard;
CREATE TABLE hard.customers (id int PRIMARY KEY, region text, code text, UNIQUE (region, code));
CREATE TABLE hard.orders (
  id int PRIMARY KEY,
  customer_id int CONSTRAINT orders_customer_fk REFERENCES hard.customers ON DELETE CASCADE ON UPDATE RESTRICT,
  region text, code text,
  CONSTRAINT orders_region_fk FOREIGN KEY (region, code) REFERENCES hard.customers (region, code) MATCH FULL ON DELETE SET NULL);
CREATE TABLE hard.invoices (id int PRIMARY KEY, customer_id int CONSTRAINT orders_customer_fk REFERENCES hard.customers DEFERRABLE);
CREATE TABLE hard.visits (id int, customer_id int REFERENCES hard.customers, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE hard.visits_2024 PARTITION OF hard.visits FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');

CREATE SCHEMA soft;
CREATE TABLE soft.users (id bigint PRIMARY KEY);
CREATE TABLE soft.categories (id int PRIMARY KEY);
CREATE TABLE soft.tags (id int PRIMARY KEY);
CREATE TABLE soft.owners (id int);
CREATE TABLE soft.labels (id int PRIMARY KEY);
CREATE TABLE public.people (id int PRIMARY KEY);
CREATE TABLE soft.posts (id int PRIMARY KEY, user_id bigint, category_id int, tag_id int, owner_id int, person_id int, label_id text, note_id int);
INSERT INTO soft.users SELECT generate_series(1, 10);
INSERT INTO soft.categories SELECT generate_series(1, 3);
INSERT INTO soft.tags VALUES (1);
INSERT INTO soft.owners SELECT generate_series(1, 50);
INSERT INTO public.people SELECT generate_series(1, 5);
INSERT INTO soft.posts SELECT g, g % 10 + 1, g % 3 + 1, g % 10 + 1, g, g % 5 + 1, g::text, g FROM generate_series(1, 50) g;
`

func discover(t *testing.T, dsn string, opts DiscoverOptions) string {
	t.Helper()
	var out bytes.Buffer
	if err := RunDiscover(context.Background(), dsn, opts, &out); err != nil {
		t.Fatalf("discover: %v\n%s", err, out.String())
	}
	return out.String()
}

func TestDiscover(t *testing.T) {
	name, dsn := newDatabase(t, discoverSchema)
	doc := discover(t, dsn, DiscoverOptions{MinMatch: 0.9, Sample: 1000})
	cfg, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("discover output is not a valid configuration: %v\n%s", err, doc)
	}
	got := map[string]string{}
	for _, r := range cfg.Relationships {
		got[r.Name] = fmt.Sprintf("%s(%s) -> %s(%s) del=%s upd=%s match=%s", r.Table, strings.Join(r.Columns, ","),
			r.RefTable, strings.Join(r.RefColumns, ","), r.OnDelete, r.OnUpdate, r.Match)
	}
	want := map[string]string{
		"orders_customer_fk":      "hard.invoices(customer_id) -> hard.customers(id) del=no action upd=no action match=simple",
		"orders_customer_id_fkey": "hard.orders(customer_id) -> hard.customers(id) del=cascade upd=restrict match=simple",
		"orders_region_fk":        "hard.orders(region,code) -> hard.customers(region,code) del=set null upd=no action match=full",
		"visits_customer_id_fkey": "hard.visits(customer_id) -> hard.customers(id) del=no action upd=no action match=simple",
		"posts_user_id_fkey":      "soft.posts(user_id) -> soft.users(id) del=no action upd=no action match=simple",
		"posts_category_id_fkey":  "soft.posts(category_id) -> soft.categories(id) del=no action upd=no action match=simple",
		"posts_person_id_fkey":    "soft.posts(person_id) -> public.people(id) del=no action upd=no action match=simple",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("relationships:\n%v\nwant\n%v\n%s", got, want, doc)
	}
	for _, line := range []string{
		"  # evidence: hard foreign key orders_region_fk on hard.orders (validated)\n  - name: orders_region_fk\n",
		"  # note: the constraint is DEFERRABLE",
		"  # note: the name orders_customer_fk is taken above, so softfk names this one by default\n  - table: hard.orders\n",
		"  # evidence: naming user_id -> soft.users.id, types bigint/bigint, unique index users_pkey, 10/10 sampled values match (100.0%)\n",
		"  # evidence: naming category_id -> soft.categories.id, types integer/integer, unique index categories_pkey, 3/3 sampled values match (100.0%)\n",
		"#   soft.posts (tag_id) -> soft.tags (id): only 1/10 sampled values match (10.0%), below the minimum match 0.9\n",
		"#   soft.posts (owner_id) -> soft.owners (id): no unique index on id alone",
		"#   soft.posts (label_id) -> soft.labels (id): foreign key constraint \"posts_label_id_fkey\" cannot be implemented: Key columns \"label_id\" and \"id\" are of incompatible types: text and integer.\n",
	} {
		if !strings.Contains(doc, line) {
			t.Errorf("output lacks %q:\n%s", line, doc)
		}
	}

	// The suggestion passes check-config's schema checks on the same database.
	ctx := context.Background()
	conn, err := connect(ctx, dsn, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	cat, err := LoadCatalog(ctx, conn, policy.TablesOf(cfg.Relationships))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range cfg.Relationships {
		for _, p := range cat.Check(r) {
			if !p.Warning {
				t.Errorf("%s: %s: %s", r.Name, p.Field, p.Msg)
			}
		}
	}

	// A lower bar lets the tags through; a schema filter leaves the hard keys out.
	doc = discover(t, dsn, DiscoverOptions{Schemas: []string{"soft"}, MinMatch: 0.1, Sample: 1000})
	if !strings.Contains(doc, "table: soft.posts\n    columns: [tag_id]") || strings.Contains(doc, "hard.") {
		t.Errorf("--schema soft --min-match 0.1:\n%s", doc)
	}

	// Where the key types cannot be checked (no temporary tables), those
	// that do not compare are still found by the sample.
	execSQL(t, dsn, "CREATE ROLE softfk_discover_no_temp LOGIN; REVOKE TEMPORARY ON DATABASE "+name+" FROM PUBLIC;"+
		"GRANT USAGE ON SCHEMA soft, hard TO softfk_discover_no_temp; GRANT SELECT ON ALL TABLES IN SCHEMA soft, hard, public TO softfk_discover_no_temp")
	defer execSQL(t, dsn, "DROP OWNED BY softfk_discover_no_temp; DROP ROLE softfk_discover_no_temp")
	doc = discover(t, pgcluster.DSN(cluster.Addr(), "softfk_discover_no_temp", "", name), DiscoverOptions{Schemas: []string{"soft"}, MinMatch: 0.9, Sample: 1000})
	if !strings.Contains(doc, "#   soft.posts (label_id) -> soft.labels (id): types text/integer are not comparable\n") || !strings.Contains(doc, "columns: [user_id]") {
		t.Errorf("without the TEMPORARY privilege:\n%s", doc)
	}
}

func TestDiscoverSamplesLargeTables(t *testing.T) {
	_, dsn := newDatabase(t, `
CREATE TABLE users (id int PRIMARY KEY);
CREATE TABLE logins (user_id int);
INSERT INTO users SELECT generate_series(1, 100);
INSERT INTO logins SELECT g % 100 + 1 FROM generate_series(1, 50000) g;
ANALYZE users, logins;`)
	doc := discover(t, dsn, DiscoverOptions{MinMatch: 0.9, Sample: 20})
	m := regexp.MustCompile(`# evidence: naming user_id -> public.users.id, types integer/integer, unique index users_pkey, (?:(\d+)/(\d+) sampled values match \(100\.0%\)|no values to sample)`).FindStringSubmatch(doc)
	if m == nil {
		t.Fatalf("no suggestion for logins.user_id:\n%s", doc)
	}
	if m[1] != "" && (m[1] != m[2] || len(m[2]) > 2) {
		t.Errorf("sampled more than 20 values: %s", m[0])
	}
}

func TestDiscoverErrors(t *testing.T) {
	_, dsn := newDatabase(t, discoverSchema)
	ctx := context.Background()
	for _, tc := range []struct {
		opts DiscoverOptions
		want string
	}{
		{DiscoverOptions{Schemas: []string{"nosuch"}, MinMatch: 0.9, Sample: 10}, "schema nosuch has no tables"},
		{DiscoverOptions{MinMatch: 1.5, Sample: 10}, "between 0 and 1"},
		{DiscoverOptions{MinMatch: 0.9, Sample: 0}, "at least 1 row"},
	} {
		if err := RunDiscover(ctx, dsn, tc.opts, io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.opts, err, tc.want)
		}
	}
}

func TestYAMLScalar(t *testing.T) {
	for _, s := range []string{"orders", "null", "yes", "Mixed", "a b", "it's", `say "hi"`, "tab\there", "x,y", "[z]", "#"} {
		table := yamlScalar(config.TableName{Schema: "public", Name: s}.String())
		doc := fmt.Sprintf("relationships:\n  - table: %s\n    columns: [%s]\n    references: {table: %s, columns: [id]}\n",
			table, yamlScalar(config.QuoteIdent(s)), table)
		cfg, err := config.Parse([]byte(doc))
		if err != nil {
			t.Errorf("%q: %v\n%s", s, err, doc)
			continue
		}
		r := cfg.Relationships[0]
		if r.Table.Name != s || r.Columns[0] != s {
			t.Errorf("%q read back as table %q, column %q:\n%s", s, r.Table.Name, r.Columns[0], doc)
		}
	}
}

// ddlSchema has an unindexed child, an indexed composite child with
// mixed-case names, and a partitioned child.
const ddlSchema = `
CREATE TABLE users (id int PRIMARY KEY);
INSERT INTO users VALUES (1), (2);
CREATE TABLE orders (id int PRIMARY KEY, user_id int);
INSERT INTO orders VALUES (1, 1), (2, NULL);
CREATE TABLE "Regions" ("Country" text, code text, PRIMARY KEY ("Country", code));
INSERT INTO "Regions" VALUES ('de', 'be');
CREATE TABLE shops (id int, "Country" text, code text);
CREATE INDEX shops_country_code ON shops ("Country", code);
INSERT INTO shops VALUES (1, 'de', 'be'), (2, NULL, NULL);
CREATE TABLE events (id int, user_id int, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
INSERT INTO events VALUES (1, 2, '2024-05-01');
`

const ddlConfig = `
relationships:
  - table: orders
    columns: [user_id]
    references: {table: users, columns: [id]}
    on_delete: set null
    on_update: cascade
  - name: Shop Region
    table: shops
    columns: ['"Country"', code]
    references: {table: '"Regions"', columns: ['"Country"', code]}
    match: full
    on_delete: restrict
  - table: events
    columns: [user_id]
    references: {table: users, columns: [id]}
  - database: some_other_db
    table: nowhere
    columns: [x]
    references: {table: nothing, columns: [id]}
`

func ddl(t *testing.T, cfg, dsn string) string {
	t.Helper()
	var out bytes.Buffer
	if err := RunDDL(context.Background(), "softfk.yaml", parseRels(t, cfg), dsn, &out); err != nil {
		t.Fatalf("ddl: %v", err)
	}
	return out.String()
}

// constraints lists the validated foreign keys of the database as
// "table name match delete update".
func constraints(t *testing.T, dsn string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT conrelid::regclass::text || ' ' || conname || ' ' || confmatchtype::text || confdeltype::text || confupdtype::text
FROM pg_constraint WHERE contype = 'f' AND convalidated AND conparentid = 0 ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

func TestDDLWithDatabase(t *testing.T) {
	_, dsn := newDatabase(t, ddlSchema)
	sql := ddl(t, ddlConfig, dsn)
	for _, want := range []string{
		"CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_user_id_idx ON public.orders (user_id);\n",
		"ALTER TABLE public.orders ADD CONSTRAINT orders_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users (id) ON DELETE SET NULL ON UPDATE CASCADE NOT VALID;\n" +
			"ALTER TABLE public.orders VALIDATE CONSTRAINT orders_user_id_fkey;\n",
		`ALTER TABLE public.shops ADD CONSTRAINT "Shop Region" FOREIGN KEY ("Country", code) REFERENCES public."Regions" ("Country", code) MATCH FULL ON DELETE RESTRICT NOT VALID;`,
		"CREATE INDEX IF NOT EXISTS events_user_id_idx ON public.events (user_id);\n",
		"ALTER TABLE public.events ADD CONSTRAINT events_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users (id);\n",
	} {
		if !strings.Contains(sql, want) {
			t.Errorf("ddl lacks %q:\n%s", want, sql)
		}
	}
	if strings.Contains(sql, "ON public.shops") || strings.Contains(sql, "nowhere") || strings.Contains(sql, "BEGIN;") {
		t.Errorf("ddl indexes an indexed table, covers another database or opens a transaction:\n%s", sql)
	}
	psql(t, dsn, sql)
	if got, want := constraints(t, dsn), "events events_user_id_fkey saa\norders orders_user_id_fkey snc\nshops Shop Region fra"; got != want {
		t.Errorf("constraints after running the ddl:\n%s\nwant\n%s", got, want)
	}
	for _, idx := range []string{"orders_user_id_idx", "events_user_id_idx"} {
		if n := queryInt(t, dsn, "SELECT count(*) FROM pg_index WHERE indexrelid = to_regclass('"+idx+"')"); n != 1 {
			t.Errorf("index %s was not created", idx)
		}
	}
}

func TestDDLWithoutDatabase(t *testing.T) {
	sql := ddl(t, ddlConfig[:strings.Index(ddlConfig, "  - table: events")], "")
	for _, want := range []string{
		"-- If public.orders (user_id) is not indexed yet:\n-- CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_user_id_idx ON public.orders (user_id);\n",
		`-- CREATE INDEX CONCURRENTLY IF NOT EXISTS "shops_Country_code_idx" ON public.shops ("Country", code);`,
	} {
		if !strings.Contains(sql, want) {
			t.Errorf("ddl lacks %q:\n%s", want, sql)
		}
	}
	_, dsn := newDatabase(t, ddlSchema)
	psql(t, dsn, sql)
	if got, want := constraints(t, dsn), "orders orders_user_id_fkey snc\nshops Shop Region fra"; got != want {
		t.Errorf("constraints after running the ddl:\n%s\nwant\n%s", got, want)
	}
}

func TestDDLRejectsSchemaMismatch(t *testing.T) {
	_, dsn := newDatabase(t, ddlSchema)
	err := RunDDL(context.Background(), "x.yaml", parseRels(t, "relationships:\n  - table: orders\n    columns: [user_id]\n    references: {table: orders, columns: [user_id]}\n"), dsn, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "relationship orders_user_id_fkey (line 4): references.columns: there is no unique index") {
		t.Errorf("error %v", err)
	}
}
