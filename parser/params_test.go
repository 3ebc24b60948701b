package parser

import (
	"slices"
	"testing"
)

const conflictSQL = `SELECT CAST((SELECT 'softfk:' || json_build_array(0, true, 'conflict')::text FROM (SELECT users.xmax AS x FROM users WHERE id = $1 AND (current_setting('transaction_isolation') = 'repeatable read' AND current_setting('session_replication_role') <> 'replica') OFFSET 0 FOR UPDATE OF users NOWAIT) s
WHERE (s.x <> '0'::xid AND s.x::text IS DISTINCT FROM pg_current_xact_id_if_assigned()::text AND (NOT (CASE WHEN ((((pg_current_xact_id()::text::bigint >> 32) << 32) | s.x::text::bigint) - CASE WHEN s.x::text::bigint > (pg_current_xact_id()::text::bigint & 4294967295) THEN 4294967296 ELSE 0 END) < 0 THEN true ELSE pg_visible_in_snapshot(((((pg_current_xact_id()::text::bigint >> 32) << 32) | s.x::text::bigint) - CASE WHEN s.x::text::bigint > (pg_current_xact_id()::text::bigint & 4294967295) THEN 4294967296 ELSE 0 END)::text::xid8, pg_current_snapshot()) END) OR
 (CASE WHEN mxid_age(s.x) BETWEEN 1 AND 16777216 THEN EXISTS (SELECT FROM pg_get_multixact_members(s.x) m
  WHERE m.xid::text IS DISTINCT FROM pg_current_xact_id_if_assigned()::text AND NOT (CASE WHEN ((((pg_current_xact_id()::text::bigint >> 32) << 32) | m.xid::text::bigint) - CASE WHEN m.xid::text::bigint > (pg_current_xact_id()::text::bigint & 4294967295) THEN 4294967296 ELSE 0 END) < 0 THEN true ELSE pg_visible_in_snapshot(((((pg_current_xact_id()::text::bigint >> 32) << 32) | m.xid::text::bigint) - CASE WHEN m.xid::text::bigint > (pg_current_xact_id()::text::bigint & 4294967295) THEN 4294967296 ELSE 0 END)::text::xid8, pg_current_snapshot()) END)) ELSE false END))) LIMIT 1) AS int4)`

// BenchmarkScanParams finds the parameters of one of softfk's larger
// statements, the REPEATABLE READ conflict check of a DELETE, without the
// cache ParamsUsed answers from after the first time.
func BenchmarkScanParams(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := scanParams(conflictSQL); err != nil {
			b.Fatal(err)
		}
	}
}

func TestParamsUsed(t *testing.T) {
	for sql, want := range map[string][]int{
		conflictSQL: {1},
		`SELECT $2, '$3', "$4", /* $5 /* $6 */ */ $$ $7 $$, $q$ $8 $q$, E'\' $9', a$10, $1 -- $11` + "\n + $2": {2, 1},
		"SELECT 1": nil,
	} {
		if got, err := ParamsUsed(sql); err != nil || !slices.Equal(got, want) {
			t.Errorf("ParamsUsed(%.40q) = %v, %v; want %v", sql, got, err, want)
		}
	}
}
