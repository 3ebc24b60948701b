package ops

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/softfk/softfk/config"
)

// DiscoverOptions shape a discovery.
type DiscoverOptions struct {
	Schemas  []string // schemas of the referencing tables; empty: every user schema
	MinMatch float64  // smallest share of sampled values a naming candidate must find in its parent
	Sample   int      // rows sampled per naming candidate
}

// suggestion is one relationship discover proposes.
type suggestion struct {
	rel      config.Relationship // Name is written only when explicit
	explicit bool
	evidence []string // comment lines above it
}

// userSchemas excludes the system schemas (pg_catalog, pg_toast, temporary
// schemas, information_schema) in a query on pg_namespace n.
const userSchemas = `n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'`

// RunDiscover writes a relationships: suggestion for the database at dsn as
// YAML: every hard foreign key of the chosen schemas, then the columns whose
// names, types, the parent's unique index and a sample of the data say they
// reference another table. The document is checked with config.Parse; an
// error is returned (after writing it) when it does not pass.
func RunDiscover(ctx context.Context, dsn string, opts DiscoverOptions, w io.Writer) error {
	if opts.MinMatch < 0 || opts.MinMatch > 1 {
		return fmt.Errorf("the minimum match must be a fraction between 0 and 1, not %g", opts.MinMatch)
	}
	if opts.Sample < 1 {
		return fmt.Errorf("the sample must be at least 1 row, not %d", opts.Sample)
	}
	conn, err := connect(ctx, dsn, 0)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	db, err := currentDatabase(ctx, conn)
	if err != nil {
		return err
	}
	tables, err := listTables(ctx, conn)
	if err != nil {
		return err
	}
	schemas, err := chooseSchemas(tables, opts.Schemas)
	if err != nil {
		return err
	}
	names := make([]config.TableName, len(tables))
	for i, t := range tables {
		names[i] = t.name
	}
	cat, err := LoadCatalog(ctx, conn, names)
	if err != nil {
		return err
	}
	hard, err := hardForeignKeys(ctx, conn, schemas)
	if err != nil {
		return err
	}
	d := &discovery{conn: conn, cat: cat, tables: tables, opts: opts, covered: map[columnRef]bool{}}
	for _, s := range hard {
		for _, c := range s.rel.Columns {
			d.covered[columnRef{s.rel.Table, c}] = true
		}
	}
	named, skipped, err := d.namingCandidates(ctx, schemas)
	if err != nil {
		return err
	}
	var doc bytes.Buffer
	writeSuggestions(&doc, db, append(hard, named...), skipped)
	if _, err := w.Write(doc.Bytes()); err != nil {
		return err
	}
	if _, err := config.Parse(doc.Bytes()); err != nil {
		return fmt.Errorf("the suggestion is not a valid configuration as it stands, edit it before use:\n%w", err)
	}
	return nil
}

// tableInfo is a table of the database.
type tableInfo struct {
	name      config.TableName
	estimated float64 // pg_class.reltuples: the planner's row estimate, < 0 when unknown
}

// listTables lists the tables and partitioned tables of the user schemas
// (not partitions: their parent stands for them).
func listTables(ctx context.Context, conn *pgx.Conn) ([]tableInfo, error) {
	rows, err := conn.Query(ctx, `SELECT n.nspname::text, c.relname::text, c.reltuples::float8
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND `+userSchemas+`
ORDER BY 1, 2`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (tableInfo, error) {
		var t tableInfo
		err := row.Scan(&t.name.Schema, &t.name.Name, &t.estimated)
		return t, err
	})
}

// chooseSchemas returns the schemas to look at: the requested ones (each
// must hold a table), or every schema holding one.
func chooseSchemas(tables []tableInfo, requested []string) ([]string, error) {
	var all []string
	for _, t := range tables {
		if !slices.Contains(all, t.name.Schema) {
			all = append(all, t.name.Schema)
		}
	}
	if len(requested) == 0 {
		return all, nil
	}
	for _, s := range requested {
		if !slices.Contains(all, s) {
			return nil, fmt.Errorf("schema %s has no tables", config.QuoteIdent(s))
		}
	}
	return requested, nil
}

// Codes of pg_constraint's confdeltype/confupdtype and confmatchtype.
var (
	fkActions = map[string]config.Action{"a": config.NoAction, "r": config.Restrict, "c": config.Cascade, "n": config.SetNull, "d": config.SetDefault}
	fkMatches = map[string]config.Match{"s": config.MatchSimple, "f": config.MatchFull}
)

// hardForeignKeys reads the FOREIGN KEY constraints of tables in schemas
// as suggestions that keep their name, columns, actions and MATCH type.
// Constraints cloned onto partitions (conparentid set) are left out: the
// partitioned table's own constraint covers them.
func hardForeignKeys(ctx context.Context, conn *pgx.Conn, schemas []string) ([]suggestion, error) {
	rows, err := conn.Query(ctx, `SELECT con.conname::text, n.nspname::text, c.relname::text, fn.nspname::text, f.relname::text,
  ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
        JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num ORDER BY k.ord),
  ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
        JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num ORDER BY k.ord),
  con.confdeltype::text, con.confupdtype::text, con.confmatchtype::text, con.condeferrable, con.convalidated
FROM pg_catalog.pg_constraint con
JOIN pg_catalog.pg_class c ON c.oid = con.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_class f ON f.oid = con.confrelid JOIN pg_catalog.pg_namespace fn ON fn.oid = f.relnamespace
WHERE con.contype = 'f' AND con.conparentid = 0 AND n.nspname = ANY($1)
ORDER BY 2, 3, 1`, schemas)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (suggestion, error) {
		var s suggestion
		var del, upd, match string
		var deferrable, validated bool
		r := &s.rel
		if err := row.Scan(&r.Name, &r.Table.Schema, &r.Table.Name, &r.RefTable.Schema, &r.RefTable.Name,
			&r.Columns, &r.RefColumns, &del, &upd, &match, &deferrable, &validated); err != nil {
			return s, err
		}
		var ok1, ok2, ok3 bool
		r.OnDelete, ok1 = fkActions[del]
		r.OnUpdate, ok2 = fkActions[upd]
		r.Match, ok3 = fkMatches[match]
		if !ok1 || !ok2 || !ok3 {
			return s, fmt.Errorf("foreign key %s on %s: unsupported action or match type (%q, %q, %q)", r.Name, r.Table, del, upd, match)
		}
		s.explicit = true
		state := "validated"
		if !validated {
			state = "NOT VALID: existing rows were never checked"
		}
		s.evidence = []string{fmt.Sprintf("evidence: hard foreign key %s on %s (%s)", config.QuoteIdent(r.Name), r.Table, state)}
		if deferrable {
			s.evidence = append(s.evidence, "note: the constraint is DEFERRABLE; softfk checks at the end of each statement")
		}
		return s, nil
	})
}
