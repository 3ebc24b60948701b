package parser

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

func TestAnalyzeInsert(t *testing.T) {
	sql := `INSERT INTO s."Orders" AS o (user_id, note, n) VALUES ($1, 'it''s', -5), (DEFAULT, NULL, '7'::bigint) RETURNING id -- tail`
	res, err := Analyze(sql)
	if err != nil {
		t.Fatal(err)
	}
	st := res.Statements[0]
	if st.Kind != Insert || st.Start != 0 || st.End != len(sql) || sql[:st.TokenEnd] != strings.TrimSuffix(sql, " -- tail") {
		t.Fatalf("statement bounds %+v", st)
	}
	w := st.Main()
	if w.Table != (Relation{Schema: "s", Name: "Orders", Inh: true, Alias: "o"}) || !w.Returning || len(w.Rows) != 2 {
		t.Fatalf("write %+v", w)
	}
	if strings.Join(w.Columns, ",") != "user_id,note,n" {
		t.Fatalf("columns %v", w.Columns)
	}
	want := []Value{{Kind: Param, Param: 1}, {Kind: Const, Literal: "E'it''s'"}, {Kind: Const, Literal: "-5"},
		{Kind: Default}, {Kind: Null}, {Kind: Const, Literal: "'7'", Cast: "pg_catalog.int8"}}
	var got []Value
	for _, row := range w.Rows {
		for _, v := range row {
			v.node = nil
			got = append(got, v)
		}
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("value %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestAnalyzeStatementsAndTargets(t *testing.T) {
	sql := "SELECT 1; UPDATE t SET a = b + 1 FROM u WHERE t.id = u.id; DELETE FROM ONLY p WHERE CURRENT OF c;" +
		"WITH x AS (DELETE FROM q RETURNING *) SELECT * FROM x; MERGE INTO m USING s ON m.id = s.id WHEN MATCHED THEN DELETE;" +
		"TRUNCATE a, b CASCADE; COPY c FROM STDIN; EXPLAIN ANALYZE INSERT INTO e VALUES (1); EXPLAIN INSERT INTO f VALUES (1);" +
		"COPY (DELETE FROM r RETURNING *) TO STDOUT; COPY (WITH x AS (INSERT INTO s VALUES (1) RETURNING *) SELECT * FROM x) TO STDOUT;" +
		"COPY (SELECT 1) TO STDOUT; COPY r TO STDOUT;" +
		"PREPARE p1 AS INSERT INTO g VALUES ($1); EXECUTE p1(1); DEALLOCATE ALL; BEGIN; ALTER TABLE h ADD x int"
	res, err := Analyze(sql)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, st := range res.Statements {
		desc := st.Kind.String()
		for _, tg := range st.Targets {
			desc += " " + tg.Relation.Name
			if tg.Unsupported != "" {
				desc += "(" + tg.Unsupported + ")"
			}
		}
		kinds = append(kinds, desc)
		if st.Text != sql[st.Start:st.End] {
			t.Errorf("text of %q", st.Text)
		}
	}
	want := []string{"other", "UPDATE t", "DELETE p", "other q", "MERGE m", "TRUNCATE a b",
		"COPY c", "other e(EXPLAIN ANALYZE of INSERT)", "other",
		"other r(COPY (DELETE ... RETURNING) TO)", "other s(COPY (INSERT ... RETURNING) TO)", "other", "other", "PREPARE", "EXECUTE", "DEALLOCATE", "transaction control", "DDL"}
	if strings.Join(kinds, "|") != strings.Join(want, "|") {
		t.Fatalf("got  %q\nwant %q", kinds, want)
	}
	upd := res.Statements[1].Main()
	if v, ok := upd.SetValue("a"); !ok || v.Kind != Computed || !v.Deterministic() {
		t.Fatalf("SET a: %+v", v)
	}
	with, fw, err := upd.FromWhere()
	if err != nil || with != "" || fw != "FROM t, u WHERE t.id = u.id" {
		t.Fatalf("FromWhere %q %q, %v", with, fw, err)
	}
	if tg := res.Statements[3].Targets[0]; !tg.InWith || tg.Write == nil || tg.Write.Kind != Delete {
		t.Fatalf("DELETE inside WITH: %+v", tg)
	}
	if !res.Statements[2].Main().CurrentOf || res.Statements[2].Main().Table.Inh {
		t.Fatal("DELETE FROM ONLY ... WHERE CURRENT OF not recognised")
	}
}

func TestMergeQuery(t *testing.T) {
	res, err := Analyze("MERGE INTO orders o USING src s ON o.id = s.id WHEN MATCHED AND s.gone THEN DELETE " +
		"WHEN MATCHED THEN UPDATE SET user_id = s.u WHEN NOT MATCHED THEN INSERT (id, user_id) VALUES (s.id, $1)")
	if err != nil {
		t.Fatal(err)
	}
	w := res.Statements[0].Main()
	if w == nil || w.Kind != Merge || len(w.Merge) != 3 {
		t.Fatalf("MERGE: %+v", w)
	}
	if v := w.Merge[2].InsertValue("user_id", 1); v.Kind != Param || v.Param != 1 {
		t.Errorf("INSERT value of user_id: %+v", v)
	}
	out := func(c *MergeClause) []string {
		if v, ok := c.SetValue("user_id"); ok {
			sql, _ := v.SQL()
			return []string{sql}
		}
		return []string{"NULL"}
	}
	matched, err := w.MergeQuery(true, 1, out)
	want := `SELECT CASE WHEN s.gone THEN 1 WHEN true THEN 2 END, CASE WHEN s.gone THEN NULL WHEN true THEN s.u END FROM orders o JOIN src s ON o.id = s.id FOR UPDATE OF o`
	if err != nil || matched != want {
		t.Errorf("matched rows:\n got %s (%v)\nwant %s", matched, err, want)
	}
	unmatched, err := w.MergeQuery(false, 1, out)
	want = `SELECT CASE WHEN true THEN 3 END, CASE WHEN true THEN NULL END FROM src s WHERE NOT EXISTS (SELECT FROM orders o WHERE o.id = s.id)`
	if err != nil || unmatched != want {
		t.Errorf("unmatched rows:\n got %s (%v)\nwant %s", unmatched, err, want)
	}
}

func TestWithScope(t *testing.T) {
	sql := "WITH a AS (SELECT id FROM x), d AS (DELETE FROM users USING a WHERE users.id = a.id RETURNING users.id), " +
		"r AS (SELECT id FROM d), e AS (DELETE FROM users u USING r WHERE u.id = r.id) " +
		"UPDATE orders SET user_id = 1 FROM a WHERE orders.id = a.id"
	res, err := Analyze(sql)
	if err != nil {
		t.Fatal(err)
	}
	tg := res.Statements[0].Targets
	if len(tg) != 3 || !tg[0].InWith || !tg[1].InWith || tg[2].InWith {
		t.Fatalf("targets %+v", tg)
	}
	for i, want := range []struct{ with, from string }{
		{"WITH a AS (SELECT id FROM x) ", "FROM users, a WHERE users.id = a.id"},
		{"", ""}, // reads r, which reads the data-modifying d
		{"WITH a AS (SELECT id FROM x) ", "FROM orders, a WHERE orders.id = a.id"},
	} {
		with, from, err := tg[i].Write.FromWhere()
		if with != want.with || from != want.from || (err != nil) != (want.from == "") {
			t.Errorf("target %d: FromWhere %q %q, %v; want %q %q", i, with, from, err, want.with, want.from)
		}
	}
}

func TestDeterministic(t *testing.T) {
	for expr, want := range map[string]bool{
		"1": true, "$1": true, "a + 1": true, "lower(code)": true, "coalesce(a, 2)": true, "CASE WHEN a THEN 1 ELSE 2 END": true,
		"random()": false, "nextval('s')": false, "(SELECT 1)": false, "now()": false, "upper(md5(random()::text))": false,
	} {
		res, err := Analyze("UPDATE t SET k = " + expr)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := res.Statements[0].Main().SetValue("k")
		if v.Deterministic() != want {
			t.Errorf("%s: deterministic %v, want %v", expr, !want, want)
		}
	}
}

func TestPrechecks(t *testing.T) {
	for sql, want := range map[string]bool{
		"SELECT abalance FROM pgbench_accounts WHERE aid = 1": false,
		"insert into t values (1)":                            true,
		"SELECT * FROM last_updated":                          false,
		"WITH d AS (DELETE FROM t) SELECT 1":                  true,
		"EXECUTE p(1)":                                        true,
		"copy t from stdin":                                   true,
		"SELECT 1;UPDATE t SET a=1":                           true,
	} {
		if MayWrite(sql) != want {
			t.Errorf("MayWrite(%q) = %v", sql, !want)
		}
	}
	if !MentionsAny("insert into ORDERS values (1)", []string{"users", "orders"}) || MentionsAny("insert into x", []string{"orders"}) ||
		!MentionsAny(`insert into u&"\006Frders" values (1)`, []string{"orders"}) ||
		!MentionsAny(`insert into "line ""item""" values (1)`, []string{`line "item"`}) {
		t.Error("MentionsAny")
	}
	if !MayChangePrepared("DISCARD ALL") || !MayChangePrepared("prepare x as delete from t") || !MayExecute("EXECUTE x") || MayChangeSchema("SELECT created") || !MayChangeSchema("alter table t add x int") {
		t.Error("session and schema prechecks")
	}
}

func TestQuoteLiteral(t *testing.T) {
	for in, want := range map[string]string{"abc": "'abc'", "it's": "E'it''s'", `a\b`: `E'a\\b'`, "": "''"} {
		if got := QuoteLiteral(in); got != want {
			t.Errorf("QuoteLiteral(%q) = %s, want %s", in, got, want)
		}
	}
}

// FuzzAnalyze checks that analysis never panics, that statement bounds are
// consistent, that every literal it extracts is valid SQL meaning the same
// string, and, most importantly, that the pre-check never lets through a
// statement that writes a table.
func FuzzAnalyze(f *testing.F) {
	for _, seed := range []string{
		"INSERT INTO orders (user_id) VALUES (1), ($2), (DEFAULT), (NULL), ('x'::text)",
		"UPDATE users SET id = id + 1 WHERE id = $1 RETURNING *",
		"DELETE FROM ONLY users u USING x WHERE u.id = x.id",
		"WITH a AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM a; MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE",
		"INSERT INTO t VALUES (E'\\\\x', B'101', X'ff', 1.5e3, true) ON CONFLICT (id) DO UPDATE SET v = excluded.v",
		"COPY t FROM STDIN; TRUNCATE t CASCADE; PREPARE p AS DELETE FROM t; EXECUTE p; EXPLAIN (ANALYZE) UPDATE t SET a = 1",
		"SELECT 1 -- insert\n; /* update */ SELECT $1",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		res, err := Analyze(sql)
		if err != nil {
			return
		}
		writes := false
		for _, st := range res.Statements {
			if st.Start < 0 || st.Start > st.TokenEnd || st.TokenEnd > st.End || st.End > len(sql) {
				t.Fatalf("bounds %d/%d/%d of %q", st.Start, st.TokenEnd, st.End, sql)
			}
			writes = writes || len(st.Targets) > 0 || st.Kind == Execute || (st.Inner != nil && len(st.Inner.Targets) > 0)
			if w := st.Main(); w != nil {
				for _, row := range w.Rows {
					for _, v := range row {
						if v.Kind == Const {
							checkLiteral(t, v.Literal)
						}
					}
				}
			}
		}
		if writes && !MayWrite(sql) {
			t.Fatalf("pre-check would skip a writing statement: %q", sql)
		}
	})
}

// checkLiteral requires a rendered literal to parse as a constant.
func checkLiteral(t *testing.T, lit string) {
	tree, err := pg_query.Parse("SELECT " + lit)
	if err != nil {
		t.Fatalf("literal %s does not parse: %v", lit, err)
	}
	rt := tree.Stmts[0].Stmt.GetSelectStmt().TargetList[0].GetResTarget()
	if rt.Val.GetAConst() == nil {
		t.Fatalf("literal %s is not a constant", lit)
	}
}

func TestLiteralTextInvertsTheRenderedConstants(t *testing.T) {
	for _, s := range []string{"", "plain", "it's", `back\slash`, `both '\' ''`, "ünï"} {
		if got, ok := LiteralText(QuoteLiteral(s)); !ok || got != s {
			t.Errorf("LiteralText(QuoteLiteral(%q)) = %q, %v", s, got, ok)
		}
	}
	for lit, want := range map[string]string{"42": "42", "-7": "-7", "99999999999": "99999999999", "true": "true", "false": "false"} {
		if got, ok := LiteralText(lit); !ok || got != want {
			t.Errorf("LiteralText(%q) = %q, %v", lit, got, ok)
		}
	}
	for _, lit := range []string{"1.5", "1e3", "-", "NULL", "B'101'", "X'1f'", "CAST('1' AS int)", "'a'||'b'", "'it''s'"} {
		if got, ok := LiteralText(lit); ok {
			t.Errorf("LiteralText(%q) = %q, want no text", lit, got)
		}
	}
}

// TestHasWordMatchesAPlainScan compares hasWord with the obvious scan (at
// every word start, compare) over random texts built from word letters,
// their upper case, and separators.
func TestHasWordMatchesAPlainScan(t *testing.T) {
	plain := func(sql, w string) bool {
		for i := range len(sql) {
			if (i == 0 || !isWordByte(sql[i-1])) && hasWordAt(sql, i, w) {
				return true
			}
		}
		return false
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "dropDROPxX_1 ,;('\n"
	for range 20000 {
		b := make([]byte, rng.IntN(16))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		for _, w := range []string{"drop", "d", "op"} {
			if got, want := hasWord(string(b), w), plain(string(b), w); got != want {
				t.Fatalf("hasWord(%q, %q) = %v, want %v", b, w, got, want)
			}
		}
	}
}

func TestExecuteAndPrepare(t *testing.T) {
	sql := `PREPARE ins (bigint, "as") AS /* c */ INSERT INTO orders (user_id, note) VALUES ($1, $2::text || $1); EXECUTE ins(- 5 /* five */, CAST('it''s' AS text)); EXECUTE ins(now(), $1); EXPLAIN (ANALYZE) EXECUTE ins(1, NULL); EXPLAIN EXECUTE ins(1, NULL)`
	res, err := Analyze(sql)
	if err != nil {
		t.Fatal(err)
	}
	st := res.Statements
	if st[0].Kind != Prepare || st[0].Name != "ins" || st[0].Body != `/* c */ INSERT INTO orders (user_id, note) VALUES ($1, $2::text || $1)` {
		t.Errorf("PREPARE: %+v", st[0])
	}
	if st[1].Kind != Execute || st[1].Name != "ins" || !slices.Equal(st[1].Args, []string{"- 5", "CAST('it''s' AS text)"}) ||
		sql[st[1].ArgsAt[1]:][:4] != "CAST" {
		t.Errorf("EXECUTE: %+v", st[1])
	}
	if !slices.Equal(st[2].Args, []string{"", "$1"}) {
		t.Errorf("EXECUTE with a function argument: %q", st[2].Args)
	}
	if st[3].Kind != Execute || st[3].Wrapper != "EXPLAIN ANALYZE" || st[4].Kind != Other {
		t.Errorf("EXPLAIN EXECUTE: %+v / %+v", st[3], st[4])
	}
	bound, at, err := BindParams(st[0].Body, []string{"CAST(-5 AS bigint)", "CAST('x' AS text)"})
	if want := `/* c */ INSERT INTO orders (user_id, note) VALUES ((CAST(-5 AS bigint)), (CAST('x' AS text))::text || (CAST(-5 AS bigint)))`; err != nil || bound != want {
		t.Errorf("BindParams: %q, %v; want %q", bound, err, want)
	}
	if len(at) != 3 || at[1].Param != 2 || bound[at[1].At:][:9] != "CAST('x' " || at[2].Param != 1 {
		t.Errorf("BindParams placed the expressions at %v", at)
	}
	if _, _, err := BindParams("DELETE FROM t WHERE a = $3", []string{"1"}); err == nil {
		t.Error("BindParams bound a parameter it has no value for")
	}
}

func TestClientOffset(t *testing.T) {
	for _, tc := range []struct {
		sql, token string
		and        bool // the WHERE ANDed with a condition of softfk's
	}{
		{"SELECT 1; DELETE FROM users WHERE name = 'é' AND nosuch = 1", "nosuch", false},
		{"DELETE FROM users WHERE name = 'é' AND id = 'x'", "'x'", true},
		{"DELETE FROM users WHERE id #= 4 RETURNING *", "#=", false},
		{"UPDATE users SET id = nosuch + 1 WHERE id = 1", "nosuch", false},
		{"DELETE FROM users u USING nothere n WHERE u.id = n.id", "nothere", true},
	} {
		res, err := Analyze(tc.sql)
		if err != nil {
			t.Fatal(err)
		}
		w := res.Statements[len(res.Statements)-1].Main()
		with, from, err := w.FromWhere()
		if err != nil {
			t.Fatal(err)
		}
		sel := "1"
		if v, ok := w.SetValue("id"); ok {
			sel, _ = v.SQL()
		}
		companion := with + "SELECT " + sel + ", 'own' " + from + " FOR UPDATE"
		if tc.and {
			with, from, _ = w.FromWhereAnd("true")
			companion = with + "SELECT " + sel + ", 'own' " + from
		}
		got := w.ClientOffset(companion, strings.Index(companion, tc.token))
		if want := strings.Index(tc.sql, tc.token); got != want {
			t.Errorf("%s: %q in %q maps to %d, want %d", tc.sql, tc.token, companion, got, want)
		}
		if got := w.ClientOffset(companion, strings.Index(companion, "'own'")); got != -1 {
			t.Errorf("%s: softfk's own text maps to %d", tc.sql, got)
		}
	}
}

func TestPinned(t *testing.T) {
	for sql, want := range map[string][]string{
		"UPDATE orders SET user_id = 1 WHERE id = 5":                             {"id"},
		"UPDATE orders o SET user_id = 1 WHERE o.id = $1 AND 'x' = o.note":       {"id", "note"},
		"UPDATE public.orders SET user_id = 1 WHERE public.orders.id = '5'::int": {"id"},
		"UPDATE orders SET user_id = 1 WHERE (a = 1 AND (b = $2)) AND c > 3":     {"a", "b"},
		"UPDATE orders SET user_id = 1 WHERE id = 5 OR id = 6":                   nil,
		"UPDATE orders SET user_id = 1 WHERE id = other_id":                      nil,
		"UPDATE orders SET user_id = 1 FROM users u WHERE orders.id = 5":         nil,
		"UPDATE orders o SET user_id = 1 WHERE orders.id = 5":                    nil,
		"UPDATE orders SET user_id = 1 WHERE id IN (5)":                          nil,
		"UPDATE orders SET user_id = 1":                                          nil,
		"UPDATE orders SET user_id = 1 WHERE id = (SELECT 5)":                    nil,
		"DELETE FROM orders WHERE id = 5":                                        {"id"},
	} {
		res, err := Analyze(sql)
		if err != nil {
			t.Fatal(err)
		}
		w := res.Statements[0].Targets[0].Write
		if got := w.Pinned(); !slices.Equal(got, want) {
			t.Errorf("%s: pinned %q, want %q", sql, got, want)
		}
	}
}

func TestKeepsNames(t *testing.T) {
	keeps := map[string]bool{
		"INSERT INTO t VALUES (1)": true, "UPDATE t SET a = 1": true, "DELETE FROM t": true, "TRUNCATE t": true,
		"BEGIN": true, "START TRANSACTION": true, "SAVEPOINT a": true, "RELEASE a": true,
		"COMMIT": false, "ROLLBACK": false, "ROLLBACK TO a": false, "SET search_path = s": false,
		"CREATE TEMP TABLE t (a int)": false, "DROP TABLE t": false, "SELECT set_config('search_path', 's', false)": false,
		"SELECT 1": true, "WITH d AS (DELETE FROM t RETURNING a) SELECT count(*) FROM d": true, "SELECT 1 INTO TEMP t": false,
		"INSERT INTO t SELECT length(set_config('search_path', 's', false))": false,
	}
	for sql, want := range keeps {
		res, err := Analyze(sql)
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Statements[0].KeepsNames(); got != want {
			t.Errorf("%s: KeepsNames() = %v, want %v", sql, got, want)
		}
	}
}

func TestNamesRelation(t *testing.T) {
	names := map[string]bool{
		"CREATE TEMP TABLE t (a int)": true, "CREATE TABLE s.t AS SELECT 1": true, "SELECT 1 INTO TEMP t": true,
		"CREATE VIEW v AS SELECT 1": true, "ALTER TABLE t RENAME TO u": true, "ALTER TABLE t SET SCHEMA s": true,
		"CREATE TEMP TABLE t AS EXECUTE p": true,
		"ALTER TABLE t ADD COLUMN b int":   false, "DROP TABLE t": false, "CREATE INDEX ON t (a)": false,
		"INSERT INTO t SELECT 1": false, "SELECT 1": false, "SET search_path = s": false,
	}
	for sql, want := range names {
		res, err := Analyze(sql)
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Statements[0].NamesRelation(); got != want {
			t.Errorf("%s: NamesRelation() = %v, want %v", sql, got, want)
		}
		if want && !MayNameRelation(sql) {
			t.Errorf("%s: MayNameRelation() = false", sql)
		}
	}
	for _, sql := range []string{"INSERT INTO t SELECT 1", "MERGE INTO t USING (SELECT 1) s ON true WHEN MATCHED THEN DELETE", "SELECT 1"} {
		if MayNameRelation(sql) {
			t.Errorf("%s: MayNameRelation() = true", sql)
		}
	}
}

func TestChangesTables(t *testing.T) {
	changes := map[string]bool{
		"ALTER TABLE t ALTER a SET DEFAULT 1": true, "CREATE TABLE t (a int)": true, "CREATE TRIGGER x BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()": true,
		"CREATE TABLE t AS SELECT 1": true, "DROP TABLE t": true, "CREATE UNIQUE INDEX ON t (a)": true,
		"CREATE TEMP TABLE t (a int)": false, "CREATE TEMPORARY TABLE t AS SELECT 1": false,
		"INSERT INTO t VALUES (1)": false, "SET search_path = s": false, "SELECT 1": false,
	}
	for sql, want := range changes {
		res, err := Analyze(sql)
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Statements[0].ChangesTables(); got != want {
			t.Errorf("%s: ChangesTables() = %v, want %v", sql, got, want)
		}
	}
}

// A COPY's WHERE is rendered for softfk to evaluate again over the rows
// it decodes, each column by its own name; a condition that may change
// between evaluations, or that names something else, is refused.
func TestCopyWhere(t *testing.T) {
	for _, c := range []struct{ sql, where, columns, unsupported string }{
		{sql: "COPY orders FROM STDIN WHERE user_id < 5", where: "user_id < 5", columns: "user_id"},
		{sql: "COPY public.orders FROM STDIN WHERE orders.note = 'k' OR public.orders.id > user_id", where: "note = 'k' OR id > user_id", columns: "note id user_id"},
		{sql: `COPY orders FROM STDIN WHERE lower("Note") LIKE 'k%'`, where: `lower("Note") LIKE 'k%'`, columns: "Note"},
		{sql: "COPY orders FROM STDIN WHERE random() < 2", unsupported: "a WHERE softfk cannot evaluate again (a function it does not know to be immutable)"},
		{sql: "COPY orders FROM STDIN WHERE o.id > 1", unsupported: "a WHERE that names its columns otherwise than by the table's name"},
	} {
		res, err := Analyze(c.sql)
		if err != nil {
			t.Fatalf("%s: %v", c.sql, err)
		}
		cp := res.Statements[0].Copy
		if cp.Where != c.where || strings.Join(cp.WhereColumns, " ") != c.columns || cp.WhereUnsupported != c.unsupported {
			t.Errorf("%s: where %q columns %q unsupported %q, want %q %q %q", c.sql, cp.Where, cp.WhereColumns, cp.WhereUnsupported, c.where, c.columns, c.unsupported)
		}
	}
}
