package ops

import (
	"fmt"
	"strings"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/policy"
)

// orphanCondition is a condition on a child row (alias c) that holds when
// the row violates r: its key is complete under r's MATCH rule and no parent
// row has it. MATCH SIMPLE needs every key column set; MATCH FULL needs any
// one, and a partly NULL key then finds no parent (= never matches NULL),
// so it counts as a violation, as Postgres's MATCH FULL demands. The NOT
// EXISTS lets the planner use an anti-join on the parent's unique index.
func orphanCondition(r config.Relationship, parent *policy.Table) string {
	var set, eq []string
	for i, col := range r.Columns {
		c := "c." + config.QuoteIdent(col)
		set = append(set, c+" IS NOT NULL")
		eq = append(eq, fmt.Sprintf("p.%s = %s", config.QuoteIdent(r.RefColumns[i]), c))
	}
	complete := strings.Join(set, " AND ")
	if r.Match == config.MatchFull {
		complete = strings.Join(set, " OR ")
	}
	return fmt.Sprintf("(%s) AND NOT EXISTS (SELECT 1 FROM %s p WHERE %s)", complete, policy.TableRef(parent), strings.Join(eq, " AND "))
}

// auditQuery counts r's orphans in one scan of the child table and returns
// up to limit distinct orphan keys in key order, as text: one row per key,
// each starting with the count (a single row with NULL keys when there are
// none to show). The keys come from the first 10×limit orphan rows in key
// order, so a top-N sort keeps memory small however many orphans there are.
func auditQuery(r config.Relationship, child, parent *policy.Table, limit int) string {
	var fromChild, asText, sorted []string
	for _, col := range r.Columns {
		fromChild = append(fromChild, "c."+config.QuoteIdent(col))
		asText = append(asText, "s."+config.QuoteIdent(col)+"::text")
		sorted = append(sorted, "s."+config.QuoteIdent(col))
	}
	keys := quoteIdents(r.Columns)
	return fmt.Sprintf(`WITH o AS MATERIALIZED (SELECT %s FROM %s c WHERE %s)
SELECT n.count::text, %s
FROM (SELECT count(*) FROM o) n
LEFT JOIN (SELECT DISTINCT %s FROM (SELECT %s FROM o ORDER BY %s LIMIT %d) t ORDER BY %s LIMIT %d) s ON true
ORDER BY %s`,
		strings.Join(fromChild, ", "), policy.TableRef(child), orphanCondition(r, parent),
		strings.Join(asText, ", "), keys, keys, keys, 10*limit, keys, limit, strings.Join(sorted, ", "))
}

// fixStatement is the statement that cleans r's orphans: it deletes them or
// sets their key columns to NULL.
func fixStatement(r config.Relationship, child, parent *policy.Table, mode FixMode) string {
	if mode == FixDelete {
		return fmt.Sprintf("DELETE FROM %s c WHERE %s", policy.TableRef(child), orphanCondition(r, parent))
	}
	set := make([]string, len(r.Columns))
	for i, col := range r.Columns {
		set[i] = config.QuoteIdent(col) + " = NULL"
	}
	return fmt.Sprintf("UPDATE %s c SET %s WHERE %s", policy.TableRef(child), strings.Join(set, ", "), orphanCondition(r, parent))
}
