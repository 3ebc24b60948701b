package parser

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMergeGuards(t *testing.T) {
	for _, tc := range []struct{ sql, want string }{
		{"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE WHEN NOT MATCHED THEN INSERT VALUES (s.id)",
			"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED AND g0 THEN DELETE WHEN NOT MATCHED AND g1 THEN INSERT VALUES (s.id)"},
		{"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED AND t.a = 1 OR t.b THEN UPDATE SET a = 2 WHEN MATCHED THEN DO NOTHING",
			"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED AND (CASE WHEN (t.a = 1 OR t.b) THEN g0 ELSE false END) THEN UPDATE SET a = 2 WHEN MATCHED AND g1 THEN DO NOTHING"},
		// WHEN, AND and THEN inside CASE expressions, subqueries and the
		// WITH clause, and comments, belong to no clause's head.
		{"WITH w AS (SELECT CASE WHEN true THEN 1 END AS id) MERGE INTO t USING (SELECT id FROM w WHERE true AND true) s ON CASE WHEN t.id = s.id THEN true END " +
			"WHEN NOT MATCHED BY TARGET AND (s.id > 0) AND CASE WHEN s.id < 9 THEN true ELSE false END -- last\n THEN INSERT VALUES (CASE WHEN s.id > 1 THEN 1 END) " +
			"/* x */ WHEN MATCHED AND t.id IN (SELECT 1 WHERE true AND false) THEN UPDATE SET a = CASE WHEN t.a > 0 THEN 0 END",
			"WITH w AS (SELECT CASE WHEN true THEN 1 END AS id) MERGE INTO t USING (SELECT id FROM w WHERE true AND true) s ON CASE WHEN t.id = s.id THEN true END " +
				"WHEN NOT MATCHED BY TARGET AND (CASE WHEN ((s.id > 0) AND CASE WHEN s.id < 9 THEN true ELSE false END) THEN g0 ELSE false END) -- last\n THEN INSERT VALUES (CASE WHEN s.id > 1 THEN 1 END) " +
				"/* x */ WHEN MATCHED AND (CASE WHEN (t.id IN (SELECT 1 WHERE true AND false)) THEN g1 ELSE false END) THEN UPDATE SET a = CASE WHEN t.a > 0 THEN 0 END"},
	} {
		res, err := Analyze(tc.sql)
		if err != nil {
			t.Fatal(err)
		}
		st := &res.Statements[0]
		ins, err := st.MergeGuards(func(c int) string { return "g" + string(rune('0'+c)) })
		if err != nil {
			t.Fatalf("%s: %v", tc.sql, err)
		}
		if got := Spliced(st.Text, ins); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.sql, got, tc.want)
		}
	}
	res, _ := Analyze("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED AND t.a THEN DELETE WHEN NOT MATCHED THEN DO NOTHING")
	st := &res.Statements[0]
	ins, _ := st.MergeGuards(func(c int) string { return map[int]string{0: "g0"}[c] })
	if got, want := Spliced(st.Text, ins), "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED AND (CASE WHEN (t.a) THEN g0 ELSE false END) THEN DELETE WHEN NOT MATCHED THEN DO NOTHING"; got != want {
		t.Errorf("a clause without a guard: got %s", got)
	}
	if _, err := (&Statement{Kind: Merge}).MergeGuards(func(int) string { return "" }); err == nil {
		t.Error("a statement that is no MERGE: no error")
	}
}

func TestSplicedPositions(t *testing.T) {
	text := "SELECT 'é', x FROM y"
	ins := []Insertion{{At: strings.Index(text, "x"), Text: "(("}, {At: strings.Index(text, " FROM"), Text: "))"}}
	spliced := Spliced(text, ins)
	if spliced != "SELECT 'é', ((x)) FROM y" {
		t.Fatalf("spliced: %s", spliced)
	}
	back := SplicedPositions(text, ins)
	// Characters from 1: x is the 13th of text, the 15th of spliced; y
	// the 20th and the 24th; inserted characters map to the one they
	// stand before.
	for pos, want := range map[int]int{1: 1, 12: 12, 13: 13, 14: 13, 15: 13, 16: 14, 17: 14, 18: 14, 24: 20} {
		if got := back(pos); got != want {
			t.Errorf("position %d: got %d, want %d", pos, got, want)
		}
	}
}

func TestWhereGuard(t *testing.T) {
	for _, tc := range []struct{ sql, want string }{
		{"WITH d AS (DELETE FROM users WHERE id = 1 OR id = $1 RETURNING id) SELECT * FROM d",
			"WITH d AS (DELETE FROM users WHERE (id = 1 OR id = $1) AND (CASE WHEN (id = 1 OR id = $1) THEN g ELSE false END) RETURNING id) SELECT * FROM d"},
		{"WITH d AS (DELETE FROM users) SELECT 1", "WITH d AS (DELETE FROM users WHERE g) SELECT 1"},
		// A WHERE in a subquery is not the query's own; a comment ends
		// the condition on its line.
		{"WITH x AS (SELECT 1 AS id), d AS (UPDATE users u SET name = (SELECT 'x' WHERE true) FROM x WHERE u.id = x.id -- c\n) SELECT 1",
			"WITH x AS (SELECT 1 AS id), d AS (UPDATE users u SET name = (SELECT 'x' WHERE true) FROM x WHERE (u.id = x.id) AND (CASE WHEN (u.id = x.id) THEN g ELSE false END) -- c\n) SELECT 1"},
	} {
		res, err := Analyze(tc.sql)
		if err != nil {
			t.Fatal(err)
		}
		st := &res.Statements[0]
		ins, err := st.WhereGuard(st.Targets[0].Write, "g")
		if err != nil {
			t.Fatalf("%s: %v", tc.sql, err)
		}
		if got := Spliced(st.Text, ins); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.sql, got, tc.want)
		}
	}
}

// Whatever MERGE or data-modifying WITH query softfk guards, the guarded
// text parses as the same statement: a MERGE with as many WHEN clauses,
// a WITH query writing the same tables; and every position in it maps
// back into the client's text.
func FuzzGuards(f *testing.F) {
	for _, seed := range []string{
		"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED AND t.a BETWEEN 1 AND 2 THEN DELETE WHEN NOT MATCHED THEN INSERT VALUES (s.id)",
		"WITH w AS (SELECT CASE WHEN true THEN 1 END AS id) MERGE INTO t USING w ON CASE WHEN t.id = w.id THEN true END WHEN MATCHED THEN UPDATE SET a = CASE WHEN t.a > 0 THEN 0 END",
		"WITH d AS (DELETE FROM users u USING x WHERE u.id = x.id OR u.id = $1 RETURNING u.id), e AS (UPDATE orders SET n = 'é' -- c\n) SELECT * FROM d",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		res, err := Analyze(sql)
		if err != nil || len(res.Statements) != 1 {
			return
		}
		st := &res.Statements[0]
		var ins []Insertion
		for i := range st.Targets {
			w := st.Targets[i].Write
			switch {
			case w == nil:
			case w.Kind == Merge:
				more, err := st.MergeGuards(func(int) string { return "true" })
				if err != nil {
					t.Fatalf("%q: %v", sql, err)
				}
				ins = append(ins, more...)
			case st.Targets[i].InWith && (w.Kind == Update || w.Kind == Delete) && !w.CurrentOf:
				more, err := st.WhereGuard(w, "true")
				if err != nil {
					t.Fatalf("%q: %v", sql, err)
				}
				ins = append(ins, more...)
			}
		}
		if len(ins) == 0 {
			return
		}
		slices.SortStableFunc(ins, func(x, y Insertion) int { return x.At - y.At })
		guarded := Spliced(st.Text, ins)
		again, err := Analyze(guarded)
		if err != nil || len(again.Statements) != 1 || len(again.Statements[0].Targets) != len(st.Targets) {
			t.Fatalf("%q guarded as %q: %v", sql, guarded, err)
		}
		for i, target := range again.Statements[0].Targets {
			if target.Relation != st.Targets[i].Relation || target.Write != nil && target.Write.Kind == Merge && len(target.Write.Merge) != len(st.Targets[i].Write.Merge) {
				t.Fatalf("%q guarded as %q writes otherwise", sql, guarded)
			}
		}
		back, n := SplicedPositions(st.Text, ins), utf8.RuneCountInString(st.Text)
		for pos := 1; pos <= utf8.RuneCountInString(guarded); pos++ {
			if p := back(pos); p < 1 || p > n+1 {
				t.Fatalf("%q: position %d maps to %d", guarded, pos, p)
			}
		}
	})
}
