package ops

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/softfk/softfk/config"
)

// connect opens a connection for an operator command. A positive
// statementTimeout becomes the session's statement_timeout, so no single
// query runs longer; the session is named "softfk" in pg_stat_activity
// unless the DSN names it.
func connect(ctx context.Context, dsn string, statementTimeout time.Duration) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "softfk"
	}
	if statementTimeout > 0 {
		ms := max(statementTimeout.Milliseconds(), 1) // 0 would mean no limit
		cfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(ms, 10)
	}
	return pgx.ConnectConfig(ctx, cfg)
}

// currentDatabase returns the name of the database conn is connected to.
func currentDatabase(ctx context.Context, conn *pgx.Conn) (string, error) {
	var db string
	err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db)
	return db, err
}

// applicable returns the relationships that apply to database db: those
// naming no database or naming this one.
func applicable(rels []config.Relationship, db string) []config.Relationship {
	var out []config.Relationship
	for _, r := range rels {
		if r.Database == "" || r.Database == db {
			out = append(out, r)
		}
	}
	return out
}
