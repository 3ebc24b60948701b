package ops

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/policy"
)

// Report formats of audit.
const (
	FormatTable = "table"
	FormatJSON  = "json"
)

// AuditOptions are the settings of one audit run.
type AuditOptions struct {
	Format string  // FormatTable or FormatJSON
	Limit  int     // sample keys shown per relationship
	Fix    FixMode // "" only audits
	DryRun bool    // with Fix: print the fix as SQL instead of running it
}

// validate reports options that make no sense, before anything connects.
func (o AuditOptions) validate() error {
	if o.Format != FormatTable && o.Format != FormatJSON {
		return fmt.Errorf("unknown format %q (want %s | %s)", o.Format, FormatTable, FormatJSON)
	}
	if o.Limit < 0 {
		return fmt.Errorf("the sample limit must not be negative, not %d", o.Limit)
	}
	if o.Fix != "" && o.Fix != FixDelete && o.Fix != FixSetNull {
		return fmt.Errorf("unknown fix %q (want %s | %s)", o.Fix, FixDelete, FixSetNull)
	}
	if o.DryRun && o.Fix == "" {
		return fmt.Errorf("dry run needs a fix to print")
	}
	return nil
}

// result is what the audit found for one relationship.
type result struct {
	Rel     config.Relationship
	Orphans int64       // child rows that violate the relationship
	Samples [][]*string // distinct orphan keys (text, nil for NULL), up to the limit, in key order
	Fixed   *int64      // rows the fix changed, when one ran

	child, parent *policy.Table
}

// RunAudit audits the relationships that apply to the database at dsn and
// writes the report to out and a progress line per relationship to
// progress. With a fix it then prints the fix (dry run) or runs it in one
// transaction and audits again. clean reports whether no orphan is left.
func RunAudit(ctx context.Context, dsn string, statementTimeout time.Duration, rels []config.Relationship, opts AuditOptions, out, progress io.Writer) (clean bool, err error) {
	if err := opts.validate(); err != nil {
		return false, err
	}
	conn, err := connect(ctx, dsn, statementTimeout)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	db, err := currentDatabase(ctx, conn)
	if err != nil {
		return false, err
	}
	rels = applicable(rels, db)
	if len(rels) == 0 {
		fmt.Fprintf(progress, "no relationship applies to database %q\n", db)
	}
	results, err := audit(ctx, conn, rels, opts.Limit, progress)
	if err != nil {
		return false, err
	}
	if opts.Fix != "" {
		steps, err := planFix(results, opts.Fix)
		if err != nil {
			return false, err
		}
		if opts.DryRun {
			writeFixScript(out, db, opts.Fix, steps)
			return totalOrphans(results) == 0, nil
		}
		if len(steps) > 0 {
			if results, err = fixAndAudit(ctx, conn, results, steps, opts.Limit, progress); err != nil {
				return false, err
			}
		}
	}
	return totalOrphans(results) == 0, writeReport(out, results, opts.Format, opts.Fix != "")
}

// audit counts the orphans of each relationship with one anti-join each and
// keeps up to limit sample keys, writing a progress line per relationship.
func audit(ctx context.Context, conn *pgx.Conn, rels []config.Relationship, limit int, progress io.Writer) ([]result, error) {
	cat, err := LoadCatalog(ctx, conn, policy.TablesOf(rels))
	if err != nil {
		return nil, fmt.Errorf("reading the catalog: %w", err)
	}
	results := make([]result, 0, len(rels))
	for _, r := range rels {
		res := result{Rel: r, Samples: [][]*string{}, child: cat.Tables[r.Table], parent: cat.Tables[r.RefTable]}
		if res.child == nil {
			return nil, fmt.Errorf("relationship %s: table %s does not exist", r.Name, r.Table)
		}
		if res.parent == nil {
			return nil, fmt.Errorf("relationship %s: referenced table %s does not exist", r.Name, r.RefTable)
		}
		fmt.Fprintf(progress, "auditing %s (%s -> %s)... ", r.Name, r.Table, r.RefTable)
		start := time.Now()
		if err := res.count(ctx, conn, limit); err != nil {
			fmt.Fprintln(progress, "failed")
			return nil, fmt.Errorf("relationship %s: %w", r.Name, err)
		}
		fmt.Fprintf(progress, "%s in %s\n", orphansText(res.Orphans), time.Since(start).Round(100*time.Microsecond))
		results = append(results, res)
	}
	return results, nil
}

// count runs the audit query of one relationship.
func (res *result) count(ctx context.Context, conn *pgx.Conn, limit int) error {
	rows, err := conn.Query(ctx, auditQuery(res.Rel, res.child, res.parent, limit), pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		raw := rows.RawValues()
		if res.Orphans, err = strconv.ParseInt(string(raw[0]), 10, 64); err != nil {
			return fmt.Errorf("orphan count: %w", err)
		}
		key := make([]*string, len(raw)-1)
		for i, v := range raw[1:] {
			if v != nil {
				s := string(v)
				key[i] = &s
			}
		}
		if res.Orphans > 0 && !allNull(key) { // no orphan key is all NULL: the row only pads the count
			res.Samples = append(res.Samples, key)
		}
	}
	return rows.Err()
}

// allNull reports whether every value of a key is NULL.
func allNull(key []*string) bool {
	for _, v := range key {
		if v != nil {
			return false
		}
	}
	return true
}

// totalOrphans sums the orphans of all relationships.
func totalOrphans(results []result) int64 {
	var n int64
	for _, r := range results {
		n += r.Orphans
	}
	return n
}

// orphansText renders a count of orphans: "1 orphan", "3 orphans".
func orphansText(n int64) string {
	if n == 1 {
		return "1 orphan"
	}
	return fmt.Sprintf("%d orphans", n)
}
