package integration

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/softfk/softfk/config"
)

// Race tests: many sessions insert children while others delete (and
// recreate) their parents, for a bounded time. With softfk enforcing, no
// interleaving may leave an orphan; the same workload with the
// relationship switched off must leave some (so the test can fail).

const raceUsers = 40

// raceOutcome counts what the workload did.
type raceOutcome struct {
	inserts, insertViolations, deletes, deleteViolations, serialization atomic.Int64
	orphans                                                             int
}

func TestRaceInsertChildDeleteParent(t *testing.T) {
	if testing.Short() {
		t.Skip("race workload skipped in -short mode")
	}
	// The proof that the test can fail: without softfk's checks the same
	// workload leaves orphans.
	unchecked := raceWorkload(t, raceOptions{isolation: "read committed", duration: 2 * time.Second})
	t.Logf("unchecked: %d orphans", unchecked.orphans)
	if unchecked.orphans == 0 {
		t.Fatal("the workload without softfk's checks left no orphan: the test proves nothing")
	}
	for _, iso := range []string{"read committed", "repeatable read", "serializable"} {
		for _, action := range []string{"no action", "restrict", "cascade", "set null", "restrict/write paths", "cascade/write paths"} {
			t.Run(iso+"/"+action, func(t *testing.T) {
				action, paths := strings.CutSuffix(action, "/write paths")
				o := raceWorkload(t, raceOptions{isolation: iso, action: action, enforce: true, proxies: 2, duration: 2 * time.Second, writePaths: paths})
				t.Logf("%d inserts (%d rejected), %d deletes (%d rejected), %d serialization failures, %d orphans",
					o.inserts.Load(), o.insertViolations.Load(), o.deletes.Load(), o.deleteViolations.Load(), o.serialization.Load(), o.orphans)
				if o.orphans != 0 {
					t.Fatalf("%d orphans left with softfk enforcing", o.orphans)
				}
				if o.inserts.Load() == 0 || o.deletes.Load() == 0 {
					t.Fatal("the workload did not run both sides")
				}
			})
		}
	}
}

// raceOptions shape one run of the workload.
type raceOptions struct {
	isolation string
	action    string // the relationship's ON DELETE action
	enforce   bool
	proxies   int // sessions are spread over this many softfk processes (at least 1)
	duration  time.Duration
	// writePaths varies how children arrive (INSERT, COPY, MERGE, an
	// UPDATE moving one) and parents go (DELETE, MERGE, a data-modifying
	// WITH query).
	writePaths bool
}

// raceWorkload runs inserters, deleters and a re-creator through softfk
// (with or without the relationship) for d, then counts orphans.
func raceWorkload(t *testing.T, opts raceOptions) *raceOutcome {
	db := newDatabase(t)
	setupConn := connect(t, cluster.DSN(db))
	mustExec(t, setupConn,
		"CREATE TABLE users (id int PRIMARY KEY)",
		"CREATE TABLE orders (id serial PRIMARY KEY, user_id int NOT NULL)",
		"CREATE INDEX ON orders (user_id)",
		fmt.Sprintf("INSERT INTO users SELECT generate_series(1, %d)", raceUsers),
		fmt.Sprintf("ALTER DATABASE %s SET default_transaction_isolation = '%s'", db, opts.isolation))
	if opts.action == "set null" {
		mustExec(t, setupConn, "ALTER TABLE orders ALTER user_id DROP NOT NULL")
	}
	cfg := proxyConfig()
	if opts.enforce {
		action := opts.action
		if action == "" {
			action = "no action"
		}
		parsed, err := config.Parse([]byte("relationships:\n  - {table: orders, columns: [user_id], references: {table: users, columns: [id]}, on_delete: " + action + "}\n"))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Relationships = parsed.Relationships
	}
	var proxies []*testProxy
	for i := 0; i < max(opts.proxies, 1); i++ {
		proxies = append(proxies, startProxy(t, cfg))
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.duration)
	defer cancel()
	out := &raceOutcome{}
	// Parents are created with ever-new ids and workers pick among the
	// newest: a deleted id never comes back to heal an orphan.
	var newest atomic.Int64
	newest.Store(raceUsers)
	pick := func(rng *rand.Rand) int64 { return newest.Load() - int64(rng.Intn(raceUsers)) }
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	workers := 0
	worker := func(mode pgx.QueryExecMode, fn func(ctx context.Context, conn *pgx.Conn, rng *rand.Rand) error) {
		wg.Add(1)
		p := proxies[workers%len(proxies)]
		workers++
		go func() {
			defer wg.Done()
			pc, err := pgx.ParseConfig(p.DSN(db))
			if err != nil {
				errs <- err
				return
			}
			pc.DefaultQueryExecMode = mode
			conn, err := pgx.ConnectConfig(context.Background(), pc)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close(context.Background())
			rng := rand.New(rand.NewSource(time.Now().UnixNano()))
			for ctx.Err() == nil {
				if err := fn(ctx, conn, rng); err != nil && ctx.Err() == nil {
					errs <- err
					return
				}
			}
		}()
	}
	classify := func(err error, ok, violation *atomic.Int64) error {
		var pe *pgconn.PgError
		switch {
		case err == nil:
			ok.Add(1)
		case errors.As(err, &pe) && pe.Code == "23503":
			violation.Add(1)
		case errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01"):
			out.serialization.Add(1)
		case ctx.Err() != nil:
		default:
			return err
		}
		return nil
	}
	for i := 0; i < 6; i++ {
		mode := pgx.QueryExecModeCacheStatement
		if i%2 == 1 {
			mode = pgx.QueryExecModeSimpleProtocol
		}
		worker(mode, func(ctx context.Context, conn *pgx.Conn, rng *rand.Rand) error {
			// A transaction that inserts, lingers a little, and commits:
			// the window in which a parent may vanish.
			user := pick(rng)
			_, err := conn.Exec(ctx, "BEGIN")
			if err == nil {
				switch path := rng.Intn(4); {
				case !opts.writePaths || path == 0:
					_, err = conn.Exec(ctx, "INSERT INTO orders (user_id) VALUES ($1)", user)
				case path == 1:
					_, err = conn.PgConn().CopyFrom(ctx, strings.NewReader(fmt.Sprintf("%d\n", user)), "COPY orders (user_id) FROM STDIN")
				case path == 2:
					_, err = conn.Exec(ctx, "MERGE INTO orders o USING (SELECT $1::int AS u) s ON false WHEN NOT MATCHED THEN INSERT (user_id) VALUES (s.u)", user)
				default:
					// Move a recent child to the parent, or leave its key as
					// it is (then Postgres, and softfk, check nothing).
					_, err = conn.Exec(ctx, "UPDATE orders SET user_id = CASE WHEN id % 2 = 0 THEN $1 ELSE user_id END WHERE id = (SELECT max(id) - $2 FROM orders)", user, rng.Intn(20))
				}
				if err == nil {
					// Hold the parent's lock a moment, as real transactions do.
					// (Under REPEATABLE READ softfk misses only a child whose
					// whole lock-to-commit span fits in the instant between its
					// read of the parent row and its lock on it; see README.)
					time.Sleep(time.Millisecond + time.Duration(rng.Intn(500))*time.Microsecond)
					_, err = conn.Exec(ctx, "COMMIT")
				} else {
					conn.Exec(context.Background(), "ROLLBACK")
				}
			}
			return classify(err, &out.inserts, &out.insertViolations)
		})
	}
	for i := 0; i < 3; i++ {
		worker(pgx.QueryExecModeCacheStatement, func(ctx context.Context, conn *pgx.Conn, rng *rand.Rand) error {
			// Empty a parent of its children, then delete it: inserters
			// race to add children in between.
			user := pick(rng)
			_, err := conn.Exec(ctx, "DELETE FROM orders WHERE user_id = $1", user)
			if err != nil {
				return classify(err, &out.deletes, &out.deleteViolations)
			}
			deleteParent := "DELETE FROM users WHERE id = $1"
			if opts.writePaths {
				deleteParent = []string{deleteParent,
					"MERGE INTO users t USING (SELECT $1::int AS id) s ON t.id = s.id WHEN MATCHED THEN DELETE",
					"WITH d AS (DELETE FROM users WHERE id = $1 RETURNING id) SELECT count(*) FROM d"}[rng.Intn(3)]
			}
			_, err = conn.Exec(ctx, deleteParent, user)
			return classify(err, &out.deletes, &out.deleteViolations)
		})
	}
	worker(pgx.QueryExecModeCacheStatement, func(ctx context.Context, conn *pgx.Conn, rng *rand.Rand) error {
		_, err := conn.Exec(ctx, "INSERT INTO users VALUES ($1)", newest.Load()+1)
		if err == nil {
			newest.Add(1)
		}
		time.Sleep(time.Millisecond)
		var ignored atomic.Int64
		return classify(err, &ignored, &ignored)
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("workload error: %v", err)
	}
	if err := setupConn.QueryRow(context.Background(),
		"SELECT count(*) FROM orders o WHERE o.user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id)").Scan(&out.orphans); err != nil {
		t.Fatal(err)
	}
	return out
}
