package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/policy"
)

// RunDDL writes the SQL that turns the relationships into FOREIGN KEY
// constraints. With a dsn, only the relationships of that database are
// written, each is first checked against its schema as check-config does,
// and an index is created only where the referencing columns have none;
// without one, every CREATE INDEX is printed commented out.
func RunDDL(ctx context.Context, source string, rels []config.Relationship, dsn string, w io.Writer) error {
	var cat *policy.Catalog
	if dsn != "" {
		conn, err := connect(ctx, dsn, 0)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		db, err := currentDatabase(ctx, conn)
		if err != nil {
			return err
		}
		rels = applicable(rels, db)
		if cat, err = LoadCatalog(ctx, conn, policy.TablesOf(rels)); err != nil {
			return err
		}
	}
	return writeDDL(w, source, rels, cat)
}

// writeDDL writes the statements for each relationship. cat, when not nil,
// is the database's catalog.
func writeDDL(w io.Writer, source string, rels []config.Relationship, cat *policy.Catalog) error {
	var errs []error
	var b strings.Builder
	fmt.Fprintf(&b, "-- softfk ddl: FOREIGN KEY constraints for the relationships of %s.\n", source)
	fmt.Fprintln(&b, "-- Run it as is (psql -f), not inside BEGIN ... COMMIT: CREATE INDEX CONCURRENTLY cannot run in a transaction block.")
	fmt.Fprintln(&b, "-- ADD CONSTRAINT ... NOT VALID only takes a brief lock; VALIDATE CONSTRAINT then checks the existing rows without blocking writes.")
	if cat == nil {
		fmt.Fprintln(&b, "-- On a partitioned table, drop CONCURRENTLY, and NOT VALID with the VALIDATE line (before PostgreSQL 18): neither is supported there.")
	}
	for _, r := range rels {
		fmt.Fprintf(&b, "\n-- %s: %s (%s) -> %s (%s)\n", r.Name, r.Table, quoteIdents(r.Columns), r.RefTable, quoteIdents(r.RefColumns))
		if cat == nil {
			if r.Database != "" {
				fmt.Fprintf(&b, "-- only for database %s\n", r.Database)
			}
			fmt.Fprintf(&b, "-- If %s (%s) is not indexed yet:\n-- %s;\n", r.Table, quoteIdents(r.Columns), createIndex(r, true))
			writeConstraint(&b, r, true)
			continue
		}
		missingIndex := false
		for _, p := range cat.Check(r) {
			if !p.Warning {
				errs = append(errs, fmt.Errorf("relationship %s (line %d): %s: %s", r.Name, r.LineOf(p.Field), p.Field, p.Msg))
			} else if p.Field == "columns" {
				missingIndex = true // Check's warning: no index on the referencing columns
			}
		}
		partitioned := cat.Tables[r.Table] != nil && cat.Tables[r.Table].Kind == 'p'
		if partitioned {
			fmt.Fprintf(&b, "-- %s is partitioned: its index cannot be built CONCURRENTLY and its foreign key cannot be added NOT VALID (before PostgreSQL 18), so these statements block writes while they run.\n", r.Table)
		}
		if missingIndex {
			fmt.Fprintf(&b, "%s;\n", createIndex(r, !partitioned))
		}
		writeConstraint(&b, r, !partitioned)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// createIndex renders an index on r's referencing columns, named as
// Postgres would name it, <table>_<columns>_idx (shortened to fit as
// config shortens constraint names).
func createIndex(r config.Relationship, concurrently bool) string {
	index := strings.TrimSuffix(config.DefaultConstraintName(r.Table.Name, r.Columns), "_fkey") + "_idx"
	how := ""
	if concurrently {
		how = "CONCURRENTLY "
	}
	return fmt.Sprintf("CREATE INDEX %sIF NOT EXISTS %s ON %s (%s)", how, config.QuoteIdent(index), r.Table, quoteIdents(r.Columns))
}

// writeConstraint writes the ADD CONSTRAINT, NOT VALID then VALIDATE when
// notValid, or validating at once.
func writeConstraint(b *strings.Builder, r config.Relationship, notValid bool) {
	name := config.QuoteIdent(r.Name)
	fmt.Fprintf(b, "ALTER TABLE %s ADD CONSTRAINT %s FOREIGN KEY (%s) REFERENCES %s (%s)%s",
		r.Table, name, quoteIdents(r.Columns), r.RefTable, quoteIdents(r.RefColumns), fkOptions(r))
	if !notValid {
		b.WriteString(";\n")
		return
	}
	fmt.Fprintf(b, " NOT VALID;\nALTER TABLE %s VALIDATE CONSTRAINT %s;\n", r.Table, name)
}

// fkOptions renders the MATCH and ON DELETE/UPDATE clauses that differ
// from the defaults.
func fkOptions(r config.Relationship) string {
	var opts string
	if r.Match == config.MatchFull {
		opts += " MATCH FULL"
	}
	if r.OnDelete != config.NoAction {
		opts += " ON DELETE " + strings.ToUpper(string(r.OnDelete))
	}
	if r.OnUpdate != config.NoAction {
		opts += " ON UPDATE " + strings.ToUpper(string(r.OnUpdate))
	}
	return opts
}

// quoteIdents renders a column list as SQL.
func quoteIdents(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = config.QuoteIdent(c)
	}
	return strings.Join(q, ", ")
}
