package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/softfk/softfk/ops"
)

func runDDL(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("ddl", stderr)
	file := fs.String("config", "", "configuration `file` (required)")
	dsn := fs.String("dsn", "", "check against this database (postgres:// `URL`) and index only unindexed referencing columns")
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	cfg, ok := loadConfig(fs, *file)
	if !ok {
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := ops.RunDDL(ctx, cfg.Source, cfg.Relationships, *dsn, stdout); err != nil {
		fmt.Fprintf(stderr, "softfk ddl: %v\n", err)
		return exitUsage
	}
	return 0
}
