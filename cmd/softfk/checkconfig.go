package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/ops"
	"github.com/softfk/softfk/policy"
)

func runCheckConfig(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check-config", stderr)
	file := fs.String("config", "", "configuration `file` to check (required)")
	dsn := fs.String("dsn", "", "also check the schema of this database (postgres:// URL)")
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	cfg, ok := loadConfig(fs, *file)
	if !ok {
		return exitUsage
	}
	if *dsn != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		problems, err := checkSchema(ctx, *dsn, cfg)
		if err != nil {
			fmt.Fprintf(stderr, "softfk check-config: %v\n", err)
			return exitUsage
		}
		failed := false
		for _, p := range problems {
			fmt.Fprintln(stderr, p)
			failed = failed || !p.warning
		}
		if failed {
			return exitUsage
		}
	}
	fmt.Fprintf(stdout, "%s: valid, %d relationship(s)\n", *file, len(cfg.Relationships))
	return 0
}

// schemaProblem is a Problem located in the configuration file.
type schemaProblem struct {
	file    string
	line    int
	field   string
	msg     string
	warning bool
}

// String renders the problem as check-config prints it.
func (p schemaProblem) String() string {
	kind := "error"
	if p.warning {
		kind = "warning"
	}
	return fmt.Sprintf("%s:%d: %s: %s: %s", p.file, p.line, kind, p.field, p.msg)
}

// checkSchema checks every relationship against the database at dsn: the
// tables and columns exist, key types are comparable, referenced columns
// are unique, referencing columns are indexed (a warning).
func checkSchema(ctx context.Context, dsn string, cfg *config.Config) ([]schemaProblem, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	cat, err := ops.LoadCatalog(ctx, conn, policy.TablesOf(cfg.Relationships))
	if err != nil {
		return nil, err
	}
	var out []schemaProblem
	for i, r := range cfg.Relationships {
		field := func(f string) string { return fmt.Sprintf("relationships[%d].%s", i, f) }
		probs := cat.Check(r)
		if !slices.ContainsFunc(probs, func(p policy.Problem) bool { return !p.Warning }) {
			// The tables and columns exist: their types can be checked.
			probs = append(probs, comparableTypes(ctx, conn, cat, r)...)
		}
		for _, p := range probs {
			out = append(out, schemaProblem{file: cfg.Source, line: r.LineOf(p.Field), field: field(p.Field), msg: p.Msg, warning: p.Warning})
		}
	}
	return out, nil
}

// comparableTypes asks the server whether each column pair's types may
// be a FOREIGN KEY's (see ops.KeyTypesRefused). A pair it could not
// check is a warning.
func comparableTypes(ctx context.Context, conn *pgx.Conn, cat *policy.Catalog, r config.Relationship) []policy.Problem {
	var probs []policy.Problem
	for i := range r.Columns {
		ct := cat.Tables[r.Table].Columns[r.Columns[i]].Type
		pt := cat.Tables[r.RefTable].Columns[r.RefColumns[i]].Type
		refusal, err := ops.KeyTypesRefused(ctx, conn, r.Name, ops.KeyColumn{Name: r.Columns[i], Type: ct}, ops.KeyColumn{Name: r.RefColumns[i], Type: pt})
		switch {
		case err != nil:
			probs = append(probs, policy.Problem{Field: "columns", Warning: true, Msg: fmt.Sprintf(
				"could not check that %s (%s) may reference %s.%s (%s): %v", r.Columns[i], ct, r.RefTable, r.RefColumns[i], pt, err)})
		case refusal != "":
			probs = append(probs, policy.Problem{Field: "columns", Msg: fmt.Sprintf(
				"%s (%s) cannot reference %s.%s (%s): %s", r.Columns[i], ct, r.RefTable, r.RefColumns[i], pt, refusal)})
		}
	}
	return probs
}
