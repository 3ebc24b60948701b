package parser

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// describe renders what softfk uses of an analysis (everything exported,
// without parse-tree nodes), to compare the fast path with pg_query's.
func describe(res *Result) string {
	var b strings.Builder
	for _, st := range res.Statements {
		fmt.Fprintf(&b, "%v %q [%d %d %d] %q\n", st.Kind, st.Text, st.Start, st.End, st.TokenEnd, st.Name)
		for _, t := range st.Targets {
			fmt.Fprintf(&b, "  target %v %+v %q %v %v\n", t.Kind, t.Relation, t.Unsupported, t.Cascade, t.InWith)
			if w := t.Write; w != nil {
				fmt.Fprintf(&b, "  write %v %+v cols=%q default=%v conflict=%v set=%d merge=%d currentOf=%v returning=%v\n",
					w.Kind, w.Table, w.Columns, w.DefaultValues, w.OnConflict, len(w.Set), len(w.Merge), w.CurrentOf, w.Returning)
				for _, row := range w.Rows {
					for _, v := range row {
						fmt.Fprintf(&b, "    %v %q %d %q\n", v.Kind, v.Literal, v.Param, v.Cast)
					}
				}
			}
		}
	}
	return b.String()
}

// checkFast compares fastInsert with pg_query's analysis of sql; it reports
// whether the fast path took sql.
func checkFast(t *testing.T, sql string) bool {
	t.Helper()
	fast, ok := fastInsert(sql)
	if !ok {
		return false
	}
	slow, err := analyzeTree(sql)
	if err != nil {
		t.Errorf("fast path accepted %q, which pg_query rejects: %v", sql, err)
		return true
	}
	if f, s := describe(fast), describe(slow); f != s {
		t.Errorf("%q:\nfast path: %s\npg_query:  %s", sql, f, s)
	}
	return true
}

func TestFastInsert(t *testing.T) {
	taken := []string{
		"INSERT INTO orders (user_id, amount) VALUES (1, 1);",
		"insert into orders values (1, -5, 'x''y', NULL, DEFAULT, true, FALSE)",
		"  INSERT INTO public.orders(user_id)VALUES(007),(-007),(2147483648),(-2147483648),(1.50),(-0.5) ;  \n",
		`INSERT INTO "Odd ""Name"""."T" ("A", b_2$) VALUES ('back\slash', '')`,
		"INSERT\tINTO\norders\r\nVALUES\f(1)",
	}
	for _, sql := range taken {
		if !checkFast(t, sql) {
			t.Errorf("fast path refused %q", sql)
		}
	}
	left := []string{
		"INSERT INTO orders VALUES (1) RETURNING id", "INSERT INTO orders VALUES (1) ON CONFLICT DO NOTHING",
		"INSERT INTO orders VALUES (1); INSERT INTO orders VALUES (2)", "INSERT INTO orders VALUES ('a' 'b')",
		"INSERT INTO orders VALUES ('a'\n'b')", "INSERT INTO orders VALUES ('1'::int)", "INSERT INTO orders VALUES (1e3)",
		"INSERT INTO orders VALUES (E'\\n')", "INSERT INTO orders VALUES ($1)", "INSERT INTO orders VALUES (1 + 1)",
		"INSERT INTO orders VALUES (- 1)", "INSERT INTO orders VALUES (.5)", "INSERT INTO orders VALUES (1) -- c",
		"INSERT INTO user VALUES (1)", "INSERT INTO orders AS o VALUES (1)", "INSERT INTO orders SELECT 1",
		"INSERT INTO orders DEFAULT VALUES", "INSERT INTO ordérs VALUES (1)", "INSERT INTO orders VALUES ($$x$$)",
		"INSERT INTO " + strings.Repeat("t", 64) + " VALUES (1)", "WITH a AS (SELECT 1) INSERT INTO t VALUES (1)",
		"INSERT INTO orders VALUES (1),", "INSERT INTO orders VALUES (1", `INSERT INTO "" VALUES (1)`,
	}
	for _, sql := range left {
		if checkFast(t, sql) {
			t.Errorf("fast path took %q", sql)
		}
	}
}

// TestFastInsertRandom compares the two paths on generated statements.
func TestFastInsertRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	pick := func(xs ...string) string { return xs[rng.Intn(len(xs))] }
	blank := func() string { return pick(" ", "  ", "\n", "\t", " \r\n ") }
	values := []string{"0", "1", "-1", "42", "0042", "2147483647", "2147483648", "-2147483649", "99999999999999999999",
		"3.14", "-0.001", "'x'", "''", "'it''s'", `'a\b'`, "NULL", "null", "DEFAULT", "TRUE", "false", "'é'"}
	accepted := 0
	for i := 0; i < 2000; i++ {
		var b strings.Builder
		b.WriteString(pick("", " ", "\n") + pick("INSERT", "insert", "Insert") + blank() + pick("INTO", "into") + blank())
		b.WriteString(pick("orders", "public.orders", `"Orders"`, `s."t x"`, "t1"))
		if rng.Intn(2) == 0 {
			b.WriteString(pick("", " ") + "(" + pick("a", `"A"`, "a, b", "a ,b", "user_id, amount, note") + ")")
		}
		b.WriteString(blank() + pick("VALUES", "values") + pick("", " "))
		rows := 1 + rng.Intn(4)
		for r := 0; r < rows; r++ {
			if r > 0 {
				b.WriteString(pick(",", ", ", " , "))
			}
			b.WriteString("(")
			for c, n := 0, 1+rng.Intn(3); c < n; c++ {
				if c > 0 {
					b.WriteString(pick(",", ", "))
				}
				b.WriteString(pick("", " ") + pick(values...) + pick("", " "))
			}
			b.WriteString(")")
		}
		b.WriteString(pick("", ";", " ;", ";\n", "\n"))
		if checkFast(t, b.String()) {
			accepted++
		}
	}
	if accepted < 1500 {
		t.Errorf("the fast path took only %d of 2000 plain inserts", accepted)
	}
}

// FuzzFastInsert: whatever the fast path accepts, pg_query parses to the
// same description.
func FuzzFastInsert(f *testing.F) {
	for _, s := range []string{"INSERT INTO t VALUES (1)", "insert into s.t (a, b) values (-1, 'x'), (NULL, DEFAULT);",
		`INSERT INTO "q""t" VALUES (1.5, true)`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) { checkFast(t, sql) })
}

// TestFastInsertRowsDoNotShareRoom checks that the rows, windows of one
// slice, are capped: appending to one cannot overwrite the next.
func TestFastInsertRowsDoNotShareRoom(t *testing.T) {
	res, ok := fastInsert("INSERT INTO t (a, b) VALUES (1, 2), (3, 4), (5, 6)")
	if !ok {
		t.Fatal("fast path refused a plain INSERT")
	}
	rows := res.Statements[0].Targets[0].Write.Rows
	_ = append(rows[0], Value{Kind: Null})
	_ = append(rows[1], Value{Kind: Null})
	if len(rows) != 3 || rows[1][0].Literal != "3" || rows[2][0].Literal != "5" {
		t.Fatalf("rows after appending to the first two: %+v", rows)
	}
}
