package ops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/policy"
)

// columnRef is a column of a table.
type columnRef struct {
	table  config.TableName
	column string
}

// discovery is the state of one discover run.
type discovery struct {
	conn    *pgx.Conn
	cat     *policy.Catalog
	tables  []tableInfo
	opts    DiscoverOptions
	covered map[columnRef]bool   // columns of hard foreign keys
	unique  map[columnRef]string // columns with a unique index of their own, and its name
}

// namingCandidates proposes a relationship for each column stem_id of a
// table in schemas that has a matching parent table with a uniquely indexed
// id column, found in the same schema first, then in the others. Of several
// parent tables, the first that passes every test wins; the others are
// reported as skipped with the reason.
func (d *discovery) namingCandidates(ctx context.Context, schemas []string) (found []suggestion, skipped []string, err error) {
	if d.unique, err = uniqueColumns(ctx, d.conn); err != nil {
		return nil, nil, err
	}
	for _, t := range d.tables {
		if !slices.Contains(schemas, t.name.Schema) {
			continue
		}
		for _, col := range columnsInOrder(d.cat.Tables[t.name]) {
			stem, ok := strings.CutSuffix(col, "_id")
			if !ok || stem == "" || d.covered[columnRef{t.name, col}] {
				continue
			}
			for _, parent := range d.parentsOf(t.name.Schema, stem) {
				s, reason, err := d.evaluate(ctx, t, col, parent)
				if err != nil {
					return nil, nil, err
				}
				if reason == "" {
					found = append(found, s)
					break
				}
				skipped = append(skipped, fmt.Sprintf("%s (%s) -> %s (id): %s", t.name, config.QuoteIdent(col), parent, reason))
			}
		}
	}
	return found, skipped, nil
}

// columnsInOrder lists a table's columns in their table order.
func columnsInOrder(t *policy.Table) []string {
	cols := make([]string, 0, len(t.Columns))
	for name := range t.Columns {
		cols = append(cols, name)
	}
	slices.SortFunc(cols, func(a, b string) int { return t.Columns[a].Num - t.Columns[b].Num })
	return cols
}

// parentsOf lists the existing tables a column stem_id of a table in schema
// may reference: schema first, then the other schemas, each trying the
// names of parentNames in order.
func (d *discovery) parentsOf(schema, stem string) []config.TableName {
	order := []string{schema}
	for _, t := range d.tables {
		if !slices.Contains(order, t.name.Schema) {
			order = append(order, t.name.Schema)
		}
	}
	var out []config.TableName
	for _, s := range order {
		for _, name := range parentNames(stem) {
			if t := (config.TableName{Schema: s, Name: name}); d.cat.Tables[t] != nil {
				out = append(out, t)
			}
		}
	}
	return out
}

// irregularPlurals are the English plurals no suffix rule produces.
var irregularPlurals = map[string]string{"person": "people", "child": "children", "man": "men", "woman": "women"}

// parentNames lists the table names a column stem_id may refer to, most
// likely first: the plural forms, then stem itself.
func parentNames(stem string) []string {
	var names []string
	if p, ok := irregularPlurals[stem]; ok {
		names = append(names, p)
	}
	n := len(stem)
	switch {
	case n > 1 && stem[n-1] == 'y' && !strings.ContainsRune("aeiou", rune(stem[n-2])):
		names = append(names, stem[:n-1]+"ies") // category → categories
	case strings.HasSuffix(stem, "s"), strings.HasSuffix(stem, "x"), strings.HasSuffix(stem, "z"),
		strings.HasSuffix(stem, "ch"), strings.HasSuffix(stem, "sh"):
		names = append(names, stem+"es") // address → addresses
	}
	return append(names, stem+"s", stem)
}

// evaluate tests whether child.col can reference parent.id: the column
// exists with a unique index, PostgreSQL accepts the types in a foreign
// key (see KeyTypesRefused), and enough of a sample of the child's values
// is present in the parent. reason says why not.
func (d *discovery) evaluate(ctx context.Context, child tableInfo, col string, parent config.TableName) (s suggestion, reason string, err error) {
	pt := d.cat.Tables[parent]
	id, ok := pt.Columns["id"]
	if !ok {
		return s, "no column id", nil
	}
	index, ok := d.unique[columnRef{parent, "id"}]
	if !ok {
		return s, "no unique index on id alone (a foreign key needs one)", nil
	}
	ct := d.cat.Tables[child.name]
	types := fmt.Sprintf("types %s/%s", ct.Columns[col].Type, id.Type)
	refusal, err := KeyTypesRefused(ctx, d.conn, config.DefaultConstraintName(child.name.Name, []string{col}),
		KeyColumn{col, ct.Columns[col].Type}, KeyColumn{"id", id.Type})
	var pe *pgconn.PgError
	switch {
	case refusal != "":
		return s, refusal, nil
	case err != nil && !errors.As(err, &pe):
		return s, "", err
	}
	// Where the server could not check the types (a hot standby), the
	// sample finds those that do not even compare.
	matched, total, err := d.sampleMatch(ctx, child, ct, col, pt)
	if errors.As(err, &pe) && pe.Code == "42883" { // undefined_function: no = operator
		return s, types + " are not comparable", nil
	}
	if err != nil {
		return s, "", fmt.Errorf("sampling %s (%s): %w", child.name, config.QuoteIdent(col), err)
	}
	share, sampled := 1.0, "no values to sample (empty or all NULL)"
	if total > 0 {
		share = float64(matched) / float64(total)
		sampled = fmt.Sprintf("%d/%d sampled values match (%.1f%%)", matched, total, 100*share)
	}
	if share < d.opts.MinMatch {
		return s, fmt.Sprintf("only %s, below the minimum match %g", sampled, d.opts.MinMatch), nil
	}
	s.rel = config.Relationship{Table: child.name, Columns: []string{col}, RefTable: parent, RefColumns: []string{"id"},
		OnDelete: config.NoAction, OnUpdate: config.NoAction, Match: config.MatchSimple}
	s.evidence = []string{fmt.Sprintf("evidence: naming %s -> %s.id, %s, unique index %s, %s",
		config.QuoteIdent(col), parent, types, config.QuoteIdent(index), sampled)}
	return s, "", nil
}

// sampleMatch counts the distinct non-NULL values of child.col in a
// bounded sample of the child's rows and how many of them parent.id holds.
// A table much larger than the sample is sampled by pages (TABLESAMPLE
// SYSTEM, about twice the rows needed); otherwise its first rows are taken.
func (d *discovery) sampleMatch(ctx context.Context, child tableInfo, ct *policy.Table, col string, parent *policy.Table) (matched, total int64, err error) {
	sample := ""
	if n := float64(d.opts.Sample); child.estimated > 10*n {
		sample = fmt.Sprintf(" TABLESAMPLE SYSTEM (%g)", 200*n/child.estimated)
	}
	c := config.QuoteIdent(col)
	err = d.conn.QueryRow(ctx, fmt.Sprintf(`SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM %s p WHERE p.id = s.v))
FROM (SELECT DISTINCT v FROM (SELECT c.%s AS v FROM %s c%s WHERE c.%s IS NOT NULL LIMIT %d) x) s`,
		policy.TableRef(parent), c, policy.TableRef(ct), sample, c, d.opts.Sample)).Scan(&total, &matched)
	return matched, total, err
}

// uniqueColumns finds the columns that have a valid, non-partial unique
// index on them alone (primary key first), with the index's name.
func uniqueColumns(ctx context.Context, conn *pgx.Conn) (map[columnRef]string, error) {
	rows, err := conn.Query(ctx, `SELECT n.nspname::text, c.relname::text, a.attname::text, ic.relname::text
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class c ON c.oid = i.indrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
WHERE i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indnkeyatts = 1 AND `+userSchemas+`
ORDER BY i.indisprimary DESC, 4`)
	if err != nil {
		return nil, err
	}
	out := map[columnRef]string{}
	var ref columnRef
	var index string
	_, err = pgx.ForEachRow(rows, []any{&ref.table.Schema, &ref.table.Name, &ref.column, &index}, func() error {
		if _, seen := out[ref]; !seen {
			out[ref] = index
		}
		return nil
	})
	return out, err
}
