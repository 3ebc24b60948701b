package ops

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/softfk/softfk/config"
)

// FixMode says how audit cleans orphans.
type FixMode string

// The fixes.
const (
	FixDelete  FixMode = "delete"   // delete the orphan rows
	FixSetNull FixMode = "set-null" // set their key columns to NULL
)

// fixStep is one statement of a fix.
type fixStep struct {
	res *result
	sql string
}

// planFix returns the statements that clean the orphans found, in the
// order to run them. Deleting rows can orphan the rows that reference them,
// so a delete also covers every relationship whose parent table loses rows
// (transitively), each after the relationships that delete from its parent
// table; within a cycle, configuration order decides.
func planFix(results []result, mode FixMode) ([]fixStep, error) {
	var picked []*result
	shrinking := map[config.TableName]bool{}
	in := make([]bool, len(results))
	for changed := true; changed; {
		changed = false
		for i := range results {
			r := &results[i]
			if !in[i] && (r.Orphans > 0 || mode == FixDelete && shrinking[r.Rel.RefTable]) {
				in[i], changed = true, true
				picked = append(picked, r)
				if mode == FixDelete {
					shrinking[r.Rel.Table] = true
				}
			}
		}
	}
	var steps []fixStep
	for _, r := range fixOrder(picked) {
		if mode == FixSetNull {
			for _, col := range r.Rel.Columns {
				if r.child.Columns[col].NotNull {
					return nil, fmt.Errorf("relationship %s: cannot set null: column %s of %s is NOT NULL", r.Rel.Name, config.QuoteIdent(col), r.Rel.Table)
				}
			}
		}
		steps = append(steps, fixStep{res: r, sql: fixStatement(r.Rel, r.child, r.parent, mode)})
	}
	return steps, nil
}

// fixOrder orders relationships so that each comes after those whose child
// table is its parent table, keeping the given order otherwise.
func fixOrder(rels []*result) []*result {
	var out []*result
	done := make([]bool, len(rels))
	waits := func(i int) bool {
		for j, q := range rels {
			if !done[j] && j != i && q.Rel.Table == rels[i].Rel.RefTable {
				return true
			}
		}
		return false
	}
	for len(out) < len(rels) {
		next := -1
		for i := range rels {
			if !done[i] && !waits(i) {
				next = i
				break
			}
		}
		if next < 0 { // a cycle: take the first left
			next = slices.Index(done, false)
		}
		done[next] = true
		out = append(out, rels[next])
	}
	return out
}

// writeFixScript prints the fix as a psql script: one transaction.
func writeFixScript(w io.Writer, db string, mode FixMode, steps []fixStep) {
	fmt.Fprintf(w, "-- softfk audit --fix %s for database %q\n", mode, db)
	if len(steps) == 0 {
		fmt.Fprintln(w, "-- no orphans: nothing to fix")
		return
	}
	fmt.Fprintln(w, "BEGIN;")
	for _, s := range steps {
		r := s.res
		fmt.Fprintf(w, "-- %s (%s -> %s): %s", r.Rel.Name, r.Rel.Table, r.Rel.RefTable, orphansText(r.Orphans))
		if r.Orphans == 0 {
			fmt.Fprint(w, " now; the deletes above may orphan more")
		}
		fmt.Fprintf(w, "\n%s;\n", s.sql)
	}
	fmt.Fprintln(w, "COMMIT;")
}

// fixAndAudit runs the fix in one transaction, then audits every
// relationship again; the new results carry the rows each statement
// changed.
func fixAndAudit(ctx context.Context, conn *pgx.Conn, results []result, steps []fixStep, limit int, progress io.Writer) ([]result, error) {
	fixed := map[string]int64{}
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, s := range steps {
			tag, err := tx.Exec(ctx, s.sql)
			if err != nil {
				return fmt.Errorf("relationship %s: fix: %w", s.res.Rel.Name, err)
			}
			fixed[s.res.Rel.Name] = tag.RowsAffected()
			fmt.Fprintf(progress, "fixing %s: %s\n", s.res.Rel.Name, tag)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rels := make([]config.Relationship, len(results))
	for i, r := range results {
		rels[i] = r.Rel
	}
	after, err := audit(ctx, conn, rels, limit, progress)
	if err != nil {
		return nil, err
	}
	for i := range after {
		if n, ok := fixed[after[i].Rel.Name]; ok {
			after[i].Fixed = &n
		}
	}
	return after, nil
}
