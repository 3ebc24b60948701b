package parser

import (
	"regexp"
	"strings"
	"testing"
)

// paramZero finds a parameter $0.
var paramZero = regexp.MustCompile(`\$0+([^0-9]|$)`)

// An upsert that assigns a key becomes the MERGE of its VALUES, joined on
// its arbiter, whose matched rows get the DO UPDATE: unqualified columns
// of the DO UPDATE are the target's, EXCLUDED is the source.
func TestUpsertMerge(t *testing.T) {
	tbl := UpsertTable{
		Columns: []string{"id", "email", "note"},
		Type: func(c string) string {
			return map[string]string{"id": "integer", "email": "public.citext", "note": "character(3)"}[c]
		},
		Eq: func(c string) string {
			if c == "email" {
				return "OPERATOR(public.=)"
			}
			return "="
		},
		ConstraintColumns: func(name string) []string {
			if name == "users_email_key" {
				return []string{"email"}
			}
			return nil
		},
	}
	for _, tc := range []struct{ sql, want, err string }{
		{sql: "INSERT INTO users VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET id = excluded.id + id WHERE note IS NULL",
			want: `SELECT CASE WHEN users.note IS NULL THEN 1 END, CASE WHEN users.note IS NULL THEN excluded.id + users.id END ` +
				`FROM users JOIN (VALUES (1::int, $1::public.citext)) excluded(id, email) ON users.id = excluded.id FOR UPDATE OF users`},
		{sql: "INSERT INTO users AS u (email, id) VALUES ('a', 2), ('b', 3) ON CONFLICT ON CONSTRAINT users_email_key DO UPDATE SET id = 7",
			want: `SELECT CASE WHEN true THEN 1 END, CASE WHEN true THEN 7 END ` +
				`FROM users u JOIN (VALUES ('a'::public.citext, 2::int), ('b'::public.citext, 3::int)) excluded(email, id) ON u.email OPERATOR(public.=) excluded.email FOR UPDATE OF u`},
		{sql: "INSERT INTO users SELECT 1 ON CONFLICT (id) DO UPDATE SET id = 2", err: "other rows than VALUES"},
		{sql: "INSERT INTO users VALUES (DEFAULT) ON CONFLICT (id) DO UPDATE SET id = 2", err: "DEFAULT"},
		{sql: "INSERT INTO users VALUES (random()) ON CONFLICT (id) DO UPDATE SET id = 2", err: "DEFAULT"},
		{sql: "INSERT INTO users VALUES (1) ON CONFLICT (id) DO UPDATE SET id = (SELECT 2)", err: "sub-SELECT"},
		{sql: "INSERT INTO users VALUES (1) ON CONFLICT ((id + 1)) DO UPDATE SET id = 2", err: "expressions"},
		{sql: "INSERT INTO users VALUES (1) ON CONFLICT (id) WHERE id > 0 DO UPDATE SET id = 2", err: "predicate"},
		{sql: "INSERT INTO users VALUES (1) ON CONFLICT ON CONSTRAINT nosuch DO UPDATE SET id = 2", err: "no constraint nosuch"},
		{sql: "INSERT INTO users (email) VALUES ('a') ON CONFLICT (id) DO UPDATE SET id = 2", err: "not written"},
		{sql: "INSERT INTO users VALUES (1) ON CONFLICT (id) DO NOTHING", err: "not an ON CONFLICT DO UPDATE"},
		{sql: "INSERT INTO users (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET id = length(excluded.email)", err: "EXCLUDED of a column"},
		{sql: "INSERT INTO users (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET id = 2 WHERE excluded IS NOT NULL", err: "EXCLUDED of a column"},
	} {
		res, err := Analyze(tc.sql)
		if err != nil {
			t.Fatal(err)
		}
		u, err := res.Statements[0].Main().UpsertMerge(tbl)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: got %v, want an error about %q", tc.sql, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.sql, err)
		}
		got, err := u.Merge.MergeQuery(true, 1, func(c *MergeClause) []string {
			v, _ := c.SetValue("id")
			sql, _ := v.SQL()
			return []string{sql}
		})
		if err != nil || got != tc.want {
			t.Errorf("%s:\n got %s (%v)\nwant %s", tc.sql, got, err, tc.want)
		}
	}
}

// Whatever upsert UpsertMerge accepts, the SQL softfk renders from it
// parses.
func FuzzUpsertMerge(f *testing.F) {
	for _, seed := range []string{
		"INSERT INTO users VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET id = excluded.id + id WHERE note IS NULL",
		"INSERT INTO users AS u (email, id) VALUES ('a', 2), ('b', 3) ON CONFLICT ON CONSTRAINT users_email_key DO UPDATE SET (id, note) = (7, u.note)",
		"WITH w AS (INSERT INTO s.users VALUES (E'x\\\\', -1.5, B'1') ON CONFLICT (id, email) DO UPDATE SET id = 1 RETURNING *) SELECT * FROM w",
	} {
		f.Add(seed)
	}
	tbl := UpsertTable{
		Columns:           []string{"id", "email", "note"},
		Type:              func(string) string { return "text" },
		Eq:                func(string) string { return "OPERATOR(public.=)" },
		ConstraintColumns: func(string) []string { return []string{"email"} },
	}
	f.Fuzz(func(t *testing.T, sql string) {
		res, err := Analyze(sql)
		if err != nil || paramZero.MatchString(sql) {
			return // $0, which Postgres refuses, deparses as ?
		}
		for _, st := range res.Statements {
			for _, target := range st.Targets {
				w := target.Write
				if w == nil || w.OnConflict != DoUpdate {
					continue
				}
				u, err := w.UpsertMerge(tbl)
				if err != nil {
					continue
				}
				merged, err := u.Merge.MergeQuery(true, 1, func(c *MergeClause) []string {
					v, _ := c.SetValue("id")
					out, _ := v.SQL()
					if out == "" {
						out = "NULL"
					}
					return []string{out}
				})
				if err != nil {
					continue
				}
				unmatched, err := u.Unmatched()
				if err != nil {
					t.Fatalf("%q: unmatched: %v", sql, err)
				}
				for _, q := range []string{merged, unmatched} {
					if _, err := Analyze(q); err != nil {
						t.Fatalf("%q renders %q, which does not parse: %v", sql, q, err)
					}
				}
			}
		}
	})
}
