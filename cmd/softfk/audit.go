package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/softfk/softfk/ops"
)

// exitOrphans is audit's status when orphans exist (or remain after a fix).
const exitOrphans = 1

func runAudit(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("audit", stderr)
	file := fs.String("config", "", "configuration `file` (required)")
	dsn := fs.String("dsn", "", "database to audit, a postgres:// `URL` (required)")
	format := fs.String("format", ops.FormatTable, "report `format`: table or json")
	limit := fs.Int("limit", 5, "sample keys shown per relationship")
	timeout := fs.Duration("timeout", 5*time.Minute, "statement_timeout for each query (0: none)")
	fix := fs.String("fix", "", "clean the orphans in one transaction; `mode` delete removes the rows, set-null clears their key columns")
	dryRun := fs.Bool("dry-run", false, "with --fix, print the fix as SQL instead of the report, and change nothing")
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	if *file == "" || *dsn == "" {
		fmt.Fprintln(stderr, "softfk audit: --config FILE and --dsn URL are required")
		return exitUsage
	}
	if *timeout < 0 {
		fmt.Fprintf(stderr, "softfk audit: --timeout must not be negative, not %s\n", *timeout)
		return exitUsage
	}
	cfg, ok := loadConfig(fs, *file)
	if !ok {
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := ops.AuditOptions{Format: *format, Limit: *limit, Fix: ops.FixMode(*fix), DryRun: *dryRun}
	clean, err := ops.RunAudit(ctx, *dsn, *timeout, cfg.Relationships, opts, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "softfk audit: %v\n", err)
		return exitUsage
	}
	if !clean {
		return exitOrphans
	}
	return 0
}
