package parser

import (
	"strconv"
	"testing"
)

func TestParameterize(t *testing.T) {
	p, ok := Parameterize("INSERT INTO orders (user_id, amount, note, paid, id) VALUES (42, -1.50, 'it''s', TRUE, DEFAULT);")
	if !ok {
		t.Fatal("refused a one-row INSERT of constants")
	}
	if want := "INSERT INTO orders (user_id, amount, note, paid, id) VALUES ($1, $2, $3, $4, DEFAULT);"; p.Text != want {
		t.Errorf("text %q, want %q", p.Text, want)
	}
	want := []Constant{{Value: "42", Type: oidInt4, Column: 0}, {Value: "-1.50", Type: oidNumeric, Column: 1},
		{Value: "it's", Type: 0, Column: 2}, {Value: "true", Type: oidBool, Column: 3}}
	if len(p.Constants) != len(want) {
		t.Fatalf("params %+v", p.Constants)
	}
	for i, w := range want {
		if g := p.Constants[i]; g.Value != w.Value || g.Type != w.Type || g.Column != w.Column {
			t.Errorf("param %d: %+v, want %+v", i+1, g, w)
		}
	}

	p, ok = Parameterize("insert into t values (NULL, 2147483647, 2147483648, -2147483648, -2147483649, 99999999999999999999, 007)")
	if !ok {
		t.Fatal("refused a one-row INSERT of constants")
	}
	types := []uint32{oidInt4, oidInt8, oidInt4, oidInt8, oidNumeric, oidInt4}
	for i, q := range p.Constants {
		if q.Type != types[i] || q.Column != i+1 {
			t.Errorf("param %d (%s): type %d column %d, want %d and %d", i+1, q.Value, q.Type, q.Column, types[i], i+1)
		}
	}

	for _, sql := range []string{
		"INSERT INTO t VALUES (1), (2)", "INSERT INTO t VALUES (NULL, DEFAULT)", "INSERT INTO t VALUES (1) RETURNING id",
		"INSERT INTO t VALUES ($1)", "INSERT INTO t SELECT 1", "UPDATE t SET a = 1",
	} {
		if _, ok := Parameterize(sql); ok {
			t.Errorf("took %q", sql)
		}
	}
}

// checkParameterized checks what Parameterize makes of sql, if it takes
// it: its constants back in place of the parameters give sql again, every
// other byte of the text maps to the same byte of sql, and pg_query reads
// the text as the same INSERT with parameters where the constants were.
func checkParameterized(t *testing.T, sql string) {
	t.Helper()
	p, ok := Parameterize(sql)
	if !ok {
		return
	}
	back, last := "", 0
	for i, q := range p.Constants {
		back += p.Text[last:q.At] + sql[q.From:q.To]
		last = q.At + 1 + len(strconv.Itoa(i+1))
		if at := p.ClientAt(q.At + 1); at != q.From {
			t.Errorf("%q: a position in $%d maps to %d, want %d", sql, i+1, at, q.From)
		}
	}
	if back += p.Text[last:]; back != sql {
		t.Errorf("%q: constants put back give %q", sql, back)
	}
	for i := 0; i < len(p.Text); i++ {
		if p.Text[i] != '$' && (p.Text[i] < '0' || p.Text[i] > '9') && p.Text[i] != sql[p.ClientAt(i)] {
			t.Errorf("%q: byte %d of %q maps to %d", sql, i, p.Text, p.ClientAt(i))
		}
	}
	res, err := analyzeTree(p.Text)
	if err != nil {
		t.Fatalf("%q: pg_query rejects %q: %v", sql, p.Text, err)
	}
	row := res.Statements[0].Targets[0].Write.Rows[0]
	for i, q := range p.Constants {
		if v := row[q.Column]; v.Kind != Param || v.Param != i+1 {
			t.Errorf("%q: value %d of %q is %+v, want $%d", sql, q.Column, p.Text, v, i+1)
		}
	}
}

func FuzzParameterize(f *testing.F) {
	for _, s := range []string{"INSERT INTO t VALUES (1)", "insert into s.t (a, b, c) values (-1, 'x', NULL);",
		`INSERT INTO "q""t" VALUES (1.5, true, 'é''', DEFAULT)`, "INSERT INTO t (a) VALUES (1), (2)"} {
		f.Add(s)
	}
	f.Fuzz(checkParameterized)
}
