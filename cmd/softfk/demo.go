package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/examples"
	"github.com/softfk/softfk/pgcluster"
	"github.com/softfk/softfk/proxy"
)

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo", stderr)
	listen := fs.String("listen", "127.0.0.1:6432", "address for softfk (a free port is used if it is taken)")
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return demo(ctx, *listen, stdout, stderr)
}

// demo runs the demo until ctx ends, then removes everything it made.
func demo(ctx context.Context, listen string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stdout, "Starting a throwaway PostgreSQL from the local installation...")
	pg, err := pgcluster.Start(ctx, pgcluster.Options{Auth: "trust"})
	if err != nil {
		// ErrNotInstalled's message names the package to install.
		fmt.Fprintf(stderr, "softfk demo: %v\n", err)
		return 1
	}
	defer func() {
		pg.Stop()
		fmt.Fprintln(stdout, "Stopped softfk and PostgreSQL and removed", pg.Dir)
	}()
	if err := loadDemoSchema(ctx, pg); err != nil {
		fmt.Fprintf(stderr, "softfk demo: loading the example schema: %v\n", err)
		return 1
	}
	cfg, err := config.Parse([]byte(examples.Config))
	if err != nil {
		fmt.Fprintf(stderr, "softfk demo: %v\n", err)
		return 1
	}
	cfg.Upstream = pg.Addr()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintf(stderr, "softfk demo: %v\n", err)
			return 1
		}
	}
	cfg.Listen = ln.Addr().String()
	log, _ := newLogger("console", stderr)
	srv, err := proxy.New(cfg, log.WithOptions(zap.IncreaseLevel(zap.WarnLevel)))
	if err != nil {
		fmt.Fprintf(stderr, "softfk demo: %v\n", err)
		return 1
	}
	go srv.Serve(ln)
	printDemoIntro(stdout, pg, cfg)
	<-ctx.Done()
	fmt.Fprintln(stdout, "\nShutting down...")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(shutdownCtx)
	return 0
}

// loadDemoSchema creates the example tables and rows.
func loadDemoSchema(ctx context.Context, pg *pgcluster.Cluster) error {
	conn, err := pgx.Connect(ctx, pg.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, examples.Schema, pgx.QueryExecModeSimpleProtocol)
	return err
}

func printDemoIntro(w io.Writer, pg *pgcluster.Cluster, cfg *config.Config) {
	host, port, _ := net.SplitHostPort(cfg.Listen)
	fmt.Fprintf(w, `
softfk is running on %s in front of PostgreSQL %d on %s.
The tables users, orders and order_items have no FOREIGN KEY constraints;
these soft relationships are enforced by softfk instead:
%s
Connect with:

    %s -h %s -p %s -U postgres postgres

and try:

    INSERT INTO orders (user_id, total) VALUES (999, 5);   -- no user 999: rejected like a real FK
    INSERT INTO orders (user_id, total) VALUES (2, 5);     -- accepted
    DELETE FROM users WHERE id = 1;                        -- user 1 has orders: restrict
    DELETE FROM orders WHERE id = 1;                       -- its order_items go too: cascade
    SELECT * FROM order_items;

Press Ctrl-C to stop; everything is removed.
`, cfg.Listen, pg.Version, pg.Addr(), indent(strings.TrimSpace(examples.Config)), pg.Tool("psql"), host, port)
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ") + "\n"
}
