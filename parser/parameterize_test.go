package parser

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// parameterize analyses sql and parameterizes its one statement.
func parameterize(sql string) (*Parameterized, bool) {
	res, err := Analyze(sql)
	if err != nil || len(res.Statements) != 1 {
		return nil, false
	}
	return Parameterize(sql, &res.Statements[0])
}

func TestParameterize(t *testing.T) {
	for _, tc := range []struct {
		sql, text string
		want      []Constant
	}{
		{"INSERT INTO orders (user_id, amount, note, paid, id) VALUES (42, -1.50, 'it''s', TRUE, DEFAULT);",
			"INSERT INTO orders (user_id, amount, note, paid, id) VALUES ($1, $2, $3, $4, DEFAULT);",
			[]Constant{{Value: "42", Type: oidInt4, Column: "user_id"}, {Value: "-1.50", Type: oidNumeric, Column: "amount", Index: 1},
				{Value: "it's", Column: "note", Index: 2}, {Value: "true", Type: oidBool, Column: "paid", Index: 3}}},
		{`INSERT INTO "orders" ("user_id", "placed") VALUES (42, '2024-01-01'::date) RETURNING "orders"."id"`,
			`INSERT INTO "orders" ("user_id", "placed") VALUES ($1, $2::date) RETURNING "orders"."id"`,
			[]Constant{{Value: "42", Type: oidInt4, Column: "user_id"}, {Value: "2024-01-01", Typed: true, Column: "placed", Index: 1}}},
		{"insert into t values (- 5, now(), 'a' || 'b', CAST('x' AS text), date '2024-01-01', 1e3) on conflict do nothing",
			"insert into t values ($1, now(), 'a' || 'b', CAST($2 AS text), date '2024-01-01', $3) on conflict do nothing",
			[]Constant{{Value: "-5", Type: oidInt4, Index: 0}, {Value: "x", Typed: true, Index: 3}, {Value: "1e3", Type: oidNumeric, Index: 5}}},
		{`UPDATE "orders" SET "user_id" = 7, "note" = 'x', amount = amount + 1 WHERE "orders"."id" = 9000000000 AND 'b' = code`,
			`UPDATE "orders" SET "user_id" = $1, "note" = $2, amount = amount + 1 WHERE "orders"."id" = $3 AND $4 = code`,
			[]Constant{{Value: "7", Type: oidInt4, Column: "user_id", Index: -1}, {Value: "x", Column: "note", Index: -1},
				{Value: "9000000000", Type: oidInt8, Column: "id", Index: -1}, {Value: "b", Column: "code", Index: -1}}},
		{"UPDATE t SET a = NULL, b = '{1}'::int4[], c = 'x'::mood, d = 1::numeric(3,1) WHERE id = 3 OR id = 4",
			"", nil},
		{"INSERT INTO t (a, b) VALUES (1, 'x'), (2, now()), (-3, 'z')",
			"INSERT INTO t (a, b) VALUES ($1, $2), ($3, now()), ($4, $5)",
			[]Constant{{Value: "1", Type: oidInt4, Column: "a"}, {Value: "x", Column: "b", Index: 1}, {Value: "2", Type: oidInt4, Column: "a"},
				{Value: "-3", Type: oidInt4, Column: "a"}, {Value: "z", Column: "b", Index: 1}}},
		{"insert into t values ((1), 2), (3, '4')",
			"insert into t values (($1), $2), ($3, $4)",
			[]Constant{{Value: "1", Type: oidInt4}, {Value: "2", Type: oidInt4, Index: 1}, {Value: "3", Type: oidInt4}, {Value: "4", Index: 1}}},
		{`DELETE FROM "users" WHERE "users"."id" = 5 AND name = 'x''y' RETURNING id`,
			`DELETE FROM "users" WHERE "users"."id" = $1 AND name = $2 RETURNING id`,
			[]Constant{{Value: "5", Type: oidInt4, Column: "id", Index: -1}, {Value: "x'y", Column: "name", Index: -1}}},
		{"DELETE FROM users WHERE id IN (1, 2) OR id = 3", "", nil},
		{`DELETE FROM "users" WHERE "users"."id" IN (7, '8', -9) AND email IN ('a', lower('B')) AND 3 IN (id)`,
			`DELETE FROM "users" WHERE "users"."id" IN ($1, $2, $3) AND email IN ('a', lower('B')) AND 3 IN (id)`,
			[]Constant{{Value: "7", Type: oidInt4, Column: "id", Index: -1}, {Value: "8", Column: "id", Index: -1},
				{Value: "-9", Type: oidInt4, Column: "id", Index: -1}}},
		{"UPDATE orders SET user_id='2'WHERE'7'=id",
			"UPDATE orders SET user_id=$1 WHERE $2=id",
			[]Constant{{Value: "2", Column: "user_id", Index: -1}, {Value: "7", Column: "id", Index: -1}}},
		{"UPDATE orders SET user_id = 2 WHERE id NOT IN (1, 2)",
			"UPDATE orders SET user_id = $1 WHERE id NOT IN (1, 2)",
			[]Constant{{Value: "2", Type: oidInt4, Column: "user_id", Index: -1}}},
	} {
		p, ok := parameterize(tc.sql)
		if !ok {
			if tc.want != nil {
				t.Errorf("refused %q", tc.sql)
			}
			continue
		}
		if tc.want == nil {
			t.Errorf("took %q as %q", tc.sql, p.Text)
			continue
		}
		if p.Text != tc.text {
			t.Errorf("text %q, want %q", p.Text, tc.text)
		}
		if len(p.Constants) != len(tc.want) {
			t.Errorf("%q: params %+v", tc.sql, p.Constants)
			continue
		}
		for i, w := range tc.want {
			g := p.Constants[i]
			if g.Value != w.Value || g.Type != w.Type || g.Typed != w.Typed || g.Column != w.Column || g.Index != w.Index {
				t.Errorf("%q: param %d: %+v, want %+v", tc.sql, i+1, g, w)
			}
		}
		checkParameterized(t, tc.sql)
	}

	p, ok := parameterize("insert into t values (NULL, 2147483647, 2147483648, -2147483648, -2147483649, 99999999999999999999, 007)")
	if !ok {
		t.Fatal("refused a one-row INSERT of constants")
	}
	types := []uint32{oidInt4, oidInt8, oidInt4, oidInt8, oidNumeric, oidInt4}
	for i, q := range p.Constants {
		if q.Type != types[i] || q.Index != i+1 {
			t.Errorf("param %d (%s): type %d index %d, want %d and %d", i+1, q.Value, q.Type, q.Index, types[i], i+1)
		}
	}

	for _, sql := range []string{
		"INSERT INTO t VALUES (NULL), (DEFAULT)", "INSERT INTO t VALUES (NULL, DEFAULT)", "INSERT INTO t VALUES ($1)",
		"INSERT INTO t SELECT 1", "DELETE FROM t WHERE id = $1", "DELETE FROM t USING u WHERE t.id = 1", "UPDATE t SET a = $1 WHERE id = 1",
		"UPDATE t SET a = 1 WHERE id = $1", "INSERT INTO t VALUES (1, $2)", "UPDATE t SET a = b FROM u WHERE u.id = 1",
		"INSERT INTO t VALUES (E'x', U&'x', B'1', X'1', $$x$$, 'con'\n'tinued')", "INSERT INTO t VALUES ('a' 'b')",
		"WITH d AS (DELETE FROM u RETURNING id) INSERT INTO t VALUES (1)", "UPDATE t SET a = 0x1F WHERE b = 1_000",
		"SELECT 1",
	} {
		if p, ok := parameterize(sql); ok {
			t.Errorf("took %q as %q", sql, p.Text)
		}
	}
}

// checkParameterized checks what Parameterize makes of sql, if it takes
// it: its constants back in place of the parameters give sql again, every
// other byte of the text maps to the same byte of sql, the text's only
// parameters are the $n in the constants' places, and pg_query reads each
// constant as the value it stands for, and the text as the same kind of
// statement with those parameters in value positions.
func checkParameterized(t *testing.T, sql string) {
	t.Helper()
	p, ok := parameterize(sql)
	if !ok {
		return
	}
	back, last := "", 0
	blanks := map[int]bool{} // the blanks splice put next to a $n
	for i, q := range p.Constants {
		before := p.Text[last:q.At]
		if strings.HasSuffix(before, " ") && !strings.HasSuffix(sql[:q.From], " ") {
			before = strings.TrimSuffix(before, " ")
			blanks[q.At-1] = true
		}
		back += before + sql[q.From:q.To]
		switch after := p.Text[q.At+1+len(strconv.Itoa(i+1)) : q.End]; after {
		case "":
		case " ":
			blanks[q.End-1] = true
			if q.To == len(sql) || !isWordByte(sql[q.To]) {
				t.Errorf("%q: a blank after $%d in %q, before no word", sql, i+1, p.Text)
			}
		default:
			t.Errorf("%q: %q after $%d in %q", sql, after, i+1, p.Text)
		}
		last = q.End
		if at := p.ClientAt(q.At + 1); at != q.From {
			t.Errorf("%q: a position in $%d maps to %d, want %d", sql, i+1, at, q.From)
		}
	}
	if back += p.Text[last:]; back != sql {
		t.Errorf("%q: constants put back give %q", sql, back)
	}
	for i := 0; i < len(p.Text); i++ {
		if p.Text[i] != '$' && (p.Text[i] < '0' || p.Text[i] > '9') && !blanks[i] && p.Text[i] != sql[p.ClientAt(i)] {
			t.Errorf("%q: byte %d of %q maps to %d", sql, i, p.Text, p.ClientAt(i))
		}
	}
	scan, err := pg_query.Scan(p.Text)
	if err != nil {
		t.Fatalf("%q: pg_query cannot scan %q: %v", sql, p.Text, err)
	}
	n := 0
	for _, tok := range scan.Tokens {
		if tok.Token != pg_query.Token_PARAM {
			continue
		}
		if n >= len(p.Constants) || int(tok.Start) != p.Constants[n].At || p.Text[tok.Start:tok.End] != "$"+strconv.Itoa(n+1) {
			t.Errorf("%q: unexpected parameter %q at %d in %q", sql, p.Text[tok.Start:tok.End], tok.Start, p.Text)
		}
		n++
	}
	if n != len(p.Constants) {
		t.Errorf("%q: %d parameters in %q, want %d", sql, n, p.Text, len(p.Constants))
	}
	orig, err1 := analyzeTree(sql)
	res, err2 := analyzeTree(p.Text)
	if err1 != nil || err2 != nil {
		t.Fatalf("%q: pg_query rejects it or %q: %v, %v", sql, p.Text, err1, err2)
	}
	st := &res.Statements[0]
	if st.Kind != orig.Statements[0].Kind {
		t.Fatalf("%q: %q is a %v", sql, p.Text, st.Kind)
	}
	params := map[int]bool{}
	values := orig.Statements[0].Targets[0].Write.writtenValues()
	for _, v := range st.Targets[0].Write.writtenValues() {
		if v.Kind == Param {
			params[v.Param] = true
		}
	}
	for i, q := range p.Constants {
		if !params[i+1] {
			t.Errorf("%q: $%d of %q is not in a value's place", sql, i+1, p.Text)
		}
		if !constantMeans(values, q) {
			t.Errorf("%q: no value of the statement is %+v", sql, q)
		}
	}
}

// writtenValues are the values of an INSERT's rows, an UPDATE's
// assignments and the WHERE's pinning and listing conditions.
func (w *Write) writtenValues() []Value {
	var out []Value
	for _, row := range w.Rows {
		out = append(out, row...)
	}
	for _, a := range w.Set {
		out = append(out, a.Value)
	}
	for _, pv := range append(w.pinnedValues(), w.listedValues()...) {
		out = append(out, pv.value)
	}
	return out
}

// constantMeans reports whether one of values is the constant q as
// pg_query reads it: the same string, number or truth value.
func constantMeans(values []Value, q Constant) bool {
	for _, v := range values {
		if v.Kind != Const {
			continue
		}
		switch {
		case q.Type == 0 && v.Literal == QuoteLiteral(q.Value):
			return true
		case q.Type == oidBool || q.Type == oidNumeric:
			if v.Literal == q.Value {
				return true
			}
		case q.Type != 0:
			a, err1 := strconv.ParseInt(v.Literal, 10, 64)
			b, err2 := strconv.ParseInt(q.Value, 10, 64)
			if err1 == nil && err2 == nil && a == b {
				return true
			}
		}
	}
	return false
}

func FuzzParameterize(f *testing.F) {
	for _, s := range []string{"INSERT INTO t VALUES (1)", "insert into s.t (a, b, c) values (-1, 'x', NULL);",
		`INSERT INTO "q""t" VALUES (1.5, true, 'é''', DEFAULT)`, "INSERT INTO t (a) VALUES (1), (2)",
		"DELETE FROM t WHERE t.id = 7 AND 'k' = code", "DELETE FROM t WHERE id IN (1, 2, 3) AND k = 'x'", "UPDATE t SET a = 1, b = 'x'::date WHERE id = -2 AND k = 'z' RETURNING *",
		"INSERT INTO t (a, b) VALUES (CAST('1' AS int4), - 1e-3) ON CONFLICT (a) DO UPDATE SET b = 2"} {
		f.Add(s)
	}
	f.Fuzz(checkParameterized)
}

// BenchmarkParameterizeHundredRows parameterizes a 100-row INSERT of
// literals, as pgbench -M simple and ORMs' bulk inserts send it.
func BenchmarkParameterizeHundredRows(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("INSERT INTO orders (user_id, amount) VALUES ")
	for j := 0; j < 100; j++ {
		if j > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "(%d, 1)", 1+j*37)
	}
	sql := sb.String()
	c := NewCache(100)
	b.ReportAllocs()
	for b.Loop() {
		if p, _, err := c.Parameterize(sql); err != nil || p == nil {
			b.Fatal("not parameterized")
		}
	}
}
