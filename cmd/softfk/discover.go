package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/ops"
)

// schemaList is a repeatable --schema flag; names fold as in SQL.
type schemaList []string

// String joins the schemas as the flag takes them (flag.Value).
func (s *schemaList) String() string { return strings.Join(*s, ",") }

// Set adds the schemas of one --schema flag (flag.Value).
func (s *schemaList) Set(v string) error {
	name, err := config.ParseIdent(v)
	if err != nil {
		return err
	}
	*s = append(*s, name)
	return nil
}

func runDiscover(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("discover", stderr)
	dsn := fs.String("dsn", "", "database to inspect, a postgres:// `URL` (required)")
	minMatch := fs.Float64("min-match", 0.9, "smallest `fraction` of sampled values a naming candidate must find in its parent")
	sample := fs.Int("sample", 1000, "`rows` sampled per naming candidate")
	var schemas schemaList
	fs.Var(&schemas, "schema", "look at the tables of this schema `name` (repeatable; default: every schema)")
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	if *dsn == "" {
		fmt.Fprintln(stderr, "softfk discover: --dsn URL is required")
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := ops.DiscoverOptions{Schemas: schemas, MinMatch: *minMatch, Sample: *sample}
	if err := ops.RunDiscover(ctx, *dsn, opts, stdout); err != nil {
		fmt.Fprintf(stderr, "softfk discover: %v\n", err)
		return exitUsage
	}
	return 0
}
