package integration

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Randomised protocol sequences: client messages drawn at random (Parse
// with and without parameter types, Bind with text, binary and malformed
// parameters, Describe, Execute with and without a row limit, Close, Sync,
// Flush, Query, COPY data and its end) over a guarded child, its parent
// and an unguarded table, half of them with one message's body mangled.
// Each sequence is sent raw, directly to Postgres with a real FOREIGN KEY
// and through softfk, as in TestRawMessageSequences: everything the server
// says and the tables afterwards must be the same. A quarter of them run
// through softfk in shadow mode, against Postgres without the constraint. Drivers send only a
// few well-formed shapes; this covers the orders and the errors they
// never produce (a message after a failed one, a Query in the middle of
// a batch, a Sync inside a COPY, a Bind that does not match its Parse).
//
// SOFTFK_RANDOM_SEED (default 1) seeds the draw and SOFTFK_RANDOM_SEQUENCES
// (default 80) says how many sequences to draw; each sequence is drawn on
// its own, so SOFTFK_RANDOM_FIRST (default 0) can skip to the one a hunt
// reported. A longer hunt, and a replay of its sequence 233:
//
//	SOFTFK_RANDOM_SEED=7 SOFTFK_RANDOM_SEQUENCES=2000 go test ./integration -run TestRandomMessageSequences
//	SOFTFK_RANDOM_SEED=7 SOFTFK_RANDOM_FIRST=233 SOFTFK_RANDOM_SEQUENCES=1 go test ./integration -run TestRandomMessageSequences

// randomMessageSchema has no serial column: a statement softfk rejects
// before Postgres would have advanced a sequence must not shift later rows.
const randomMessageSchema = `CREATE TABLE users (id int PRIMARY KEY);
CREATE TABLE orders (user_id int, amount int);
CREATE TABLE events (id int);
INSERT INTO users VALUES (1), (2), (3);
INSERT INTO orders VALUES (1, 0), (2, 0);`

// randomMessageSQL are the statements drawn for Parse ($n parameters) and,
// with the parameters replaced by literals, for Query.
var randomMessageSQL = []string{
	"INSERT INTO orders VALUES ($1, $2)",
	"INSERT INTO orders (user_id, amount) VALUES ($1, 1), ($2, 2) RETURNING user_id",
	"INSERT INTO orders (user_id) SELECT $1::int",
	"UPDATE orders SET user_id = $1 WHERE amount = $2",
	"UPDATE users SET id = $1 WHERE id = $2",
	"DELETE FROM users WHERE id = $1",
	"DELETE FROM users WHERE id = $1 RETURNING *",
	"INSERT INTO users VALUES ($1) ON CONFLICT DO NOTHING",
	"INSERT INTO events VALUES ($1)",
	"SELECT $1::int, $2::text",
	"MERGE INTO orders o USING (VALUES ($1::int)) v(u) ON o.user_id = v.u WHEN NOT MATCHED THEN INSERT VALUES (v.u, 9)",
	"WITH n AS (INSERT INTO orders VALUES ($1, 3) RETURNING *) SELECT count(*) FROM n",
	"INSERT INTO orders VALUES (1, 1)",
	"INSERT INTO orders VALUES (99, 1)",
	"DELETE FROM users WHERE id = 1",
	"TRUNCATE users",
	"BEGIN",
	"COMMIT",
	"ROLLBACK",
	"SAVEPOINT a",
	"ROLLBACK TO a",
	"DEALLOCATE ALL",
	"DISCARD ALL",
	"SET search_path = nothere, public",
	"COPY orders FROM STDIN",
	"COPY events FROM STDIN",
	"PREPARE w (int, int) AS INSERT INTO orders VALUES ($1, $2)",
	"EXECUTE w($1, $2)",
	"PREPARE d (int) AS DELETE FROM users WHERE id = $1",
	"EXECUTE d($1)",
	"DEALLOCATE w",
	"ALTER TABLE orders DISABLE TRIGGER ALL",
	"ALTER TABLE users DISABLE TRIGGER ALL",
	"ALTER TABLE orders ENABLE TRIGGER ALL",
}

func TestRandomMessageSequences(t *testing.T) {
	seed := envInt(t, "SOFTFK_RANDOM_SEED", 1)
	first := envInt(t, "SOFTFK_RANDOM_FIRST", 0)
	count := envInt(t, "SOFTFK_RANDOM_SEQUENCES", 80)
	rel := fk{table: "orders", cols: "user_id", refTable: "users", refCols: "id"}
	enforcing := startProxy(t, configFor(t, "relationships:\n"+rel.yaml("public")))
	// In shadow mode softfk changes nothing: the oracle has no constraint.
	shadowing := startProxy(t, configFor(t, "mode: shadow\nrelationships:\n"+rel.yaml("public")))
	ctx := context.Background()
	direct, proxied := newDatabase(t), newDatabase(t)
	reset := func(db string, constraint bool) {
		conn := connect(t, cluster.DSN(db))
		defer conn.Close(ctx)
		mustExec(t, conn, "DROP TABLE IF EXISTS orders, users, events", randomMessageSchema)
		if constraint {
			mustExec(t, conn, rel.sql())
		}
	}
	failures := 0
	for i := first; i < first+count && failures < 3; i++ {
		rng := rand.New(rand.NewPCG(uint64(seed), uint64(i)))
		c := randomRawCase(rng)
		p, constraint := enforcing, true
		if rng.IntN(4) == 0 {
			p, constraint, c.name = shadowing, false, c.name+", shadow mode"
		}
		var got [2][]string
		for k, db := range []string{direct, proxied} {
			reset(db, k == 0 && constraint)
			dsn := cluster.DSN(db)
			if k == 1 {
				dsn = p.DSN(db)
			}
			got[k] = rawTranscript(t, dsn, c)
			conn := connect(t, cluster.DSN(db))
			got[k] = append(got[k], tableContents(t, ctx, conn, "public")...)
			conn.Close(ctx)
		}
		if !reflect.DeepEqual(got[0], got[1]) {
			if inPipelineOnlyThroughSoftfk(got) && boundThenQueried(c) {
				t.Logf("seed %d sequence %d (%s): a statement refused inside a pipeline, a known limit", seed, i, c.name)
				continue
			}
			if switchedThenDiscarded(c) {
				t.Logf("seed %d sequence %d (%s): triggers switched off, then DISCARD ALL, a known limit", seed, i, c.name)
				continue
			}
			failures++
			t.Errorf("seed %d sequence %d (%s) differs:\n%s\ndirect: %q\nsoftfk: %q", seed, i, c.name,
				describeMessages(c.msgs), got[0], got[1])
		}
	}
}

// inPipelineOnlyThroughSoftfk reports whether a statement failed for
// being inside a pipeline (25001) only through softfk: a known limit (see
// the README), after softfk ran its own statement to plan a client's Parse
// in an implicit transaction, holding a portal the client bound, that a
// Query then continued.
func inPipelineOnlyThroughSoftfk(got [2][]string) bool {
	refused := func(lines []string) bool {
		for _, l := range lines {
			if strings.Contains(l, "ERROR 25001") && strings.Contains(l, "cannot be executed within a pipeline") {
				return true
			}
		}
		return false
	}
	return !refused(got[0]) && refused(got[1])
}

// switchedThenDiscarded reports whether a sequence may switch a table's
// triggers off and then send DISCARD ALL, which ends softfk's switch but
// not Postgres's: a known limit (see the README).
func switchedThenDiscarded(c rawCase) bool {
	switched := false
	for _, m := range c.msgs {
		var sql string
		switch m := m.(type) {
		case *pgproto3.Parse:
			sql = m.Query
		case *pgproto3.Query:
			sql = m.String
		}
		switched = switched || strings.Contains(sql, "DISABLE TRIGGER ALL")
		if switched && strings.Contains(sql, "DISCARD ALL") {
			return true
		}
	}
	return false
}

// boundThenQueried reports whether a sequence sends a Query while a
// portal it bound may still be open (no Sync since the Bind): the case of
// the known limit inPipelineOnlyThroughSoftfk finds.
func boundThenQueried(c rawCase) bool {
	bound := false
	for _, m := range c.msgs {
		switch m.(type) {
		case *pgproto3.Bind:
			bound = true
		case *pgproto3.Sync:
			bound = false
		case *pgproto3.Query:
			if bound {
				return true
			}
		}
	}
	return false
}

// randomRawCase draws one message sequence.
func randomRawCase(rng *rand.Rand) rawCase {
	statements := []string{"", "s1", "s2"}
	portals := []string{"", "p1"}
	var msgs []pgproto3.FrontendMessage
	for n := 1 + rng.IntN(10); n > 0; n-- {
		switch rng.IntN(12) {
		case 0, 1:
			p := &pgproto3.Parse{Name: statements[rng.IntN(3)], Query: randomMessageSQL[rng.IntN(len(randomMessageSQL))]}
			for j := rng.IntN(3); j > 0; j-- {
				p.ParameterOIDs = append(p.ParameterOIDs, []uint32{0, 21, 23, 20, 25, 1700, 2950}[rng.IntN(7)])
			}
			msgs = append(msgs, p)
		case 2, 3:
			msgs = append(msgs, randomBind(rng, portals[rng.IntN(2)], statements[rng.IntN(3)]))
		case 4:
			msgs = append(msgs, &pgproto3.Describe{ObjectType: "SP"[rng.IntN(2)], Name: []string{"", "s1", "p1"}[rng.IntN(3)]})
		case 5, 6:
			msgs = append(msgs, &pgproto3.Execute{Portal: portals[rng.IntN(2)], MaxRows: uint32(rng.IntN(2))})
		case 7:
			msgs = append(msgs, &pgproto3.Close{ObjectType: "SP"[rng.IntN(2)], Name: []string{"", "s1", "p1"}[rng.IntN(3)]})
		case 8:
			msgs = append(msgs, []pgproto3.FrontendMessage{&pgproto3.Sync{}, &pgproto3.Flush{}}[rng.IntN(2)])
		case 9, 10:
			sql := randomMessageSQL[rng.IntN(len(randomMessageSQL))]
			sql = strings.NewReplacer("$1", strconv.Itoa(rng.IntN(5)), "$2", strconv.Itoa(rng.IntN(5))).Replace(sql)
			msgs = append(msgs, &pgproto3.Query{String: sql})
		case 11:
			// COPY data, mostly right after a COPY statement: a Query, or
			// extended messages, their Sync before the data or not.
			switch rng.IntN(4) {
			case 0:
			case 1:
				msgs = append(msgs, &pgproto3.Parse{Query: "COPY orders FROM STDIN"}, &pgproto3.Bind{}, &pgproto3.Execute{})
				if rng.IntN(2) == 0 {
					msgs = append(msgs, &pgproto3.Sync{})
				}
			default:
				msgs = append(msgs, &pgproto3.Query{String: "COPY orders FROM STDIN"})
			}
			var rows strings.Builder
			for j := rng.IntN(4); j > 0; j-- {
				fmt.Fprintf(&rows, "%d\t%d\n", rng.IntN(5), j)
			}
			// Always ended: a Sync inside a COPY that fails on its data
			// comes before or after the failure, which only the server
			// knows (softfk takes it as inside, as clients send it).
			msgs = append(msgs, &pgproto3.CopyData{Data: []byte(rows.String())})
			if rng.IntN(4) == 0 {
				msgs = append(msgs, &pgproto3.CopyFail{Message: "stop"})
			} else {
				msgs = append(msgs, &pgproto3.CopyDone{})
			}
		}
	}
	c := rawCase{name: "as drawn", msgs: msgs}
	if rng.IntN(2) == 0 {
		c.name = "one body mangled"
		c.mangle = mangleOneBody(rng, len(msgs))
	}
	return c
}

// randomBind draws a Bind: zero to three parameters, each text, binary or
// garbage, with one format code for all, one each, or none.
func randomBind(rng *rand.Rand, portal, stmt string) *pgproto3.Bind {
	b := &pgproto3.Bind{DestinationPortal: portal, PreparedStatement: stmt}
	var formats []int16
	for j := rng.IntN(4); j > 0; j-- {
		var v []byte
		var format int16
		switch rng.IntN(7) {
		case 0: // NULL
		case 1:
			v = []byte(strconv.Itoa(rng.IntN(5)))
		case 2:
			v, format = binary.BigEndian.AppendUint32(nil, uint32(rng.IntN(5))), 1
		case 3:
			v, format = binary.BigEndian.AppendUint64(nil, uint64(rng.IntN(5))), 1
		case 4:
			v, format = []byte{byte(rng.IntN(256)), byte(rng.IntN(256))}, 1
		case 5:
			v = []byte("abc")
		default:
			v = []byte("99")
		}
		b.Parameters = append(b.Parameters, v)
		formats = append(formats, format)
	}
	switch rng.IntN(3) {
	case 0:
		b.ParameterFormatCodes = formats
	case 1:
		if len(formats) > 0 {
			b.ParameterFormatCodes = formats[:1]
		}
	}
	if rng.IntN(3) == 0 {
		b.ResultFormatCodes = []int16{int16(rng.IntN(2))}
	}
	return b
}

// mangleOneBody returns a change to an encoded sequence that damages the
// body of one of its first n messages (a byte changed, cut off or added),
// keeping the length fields right so the framing stays intact.
func mangleOneBody(rng *rand.Rand, n int) func([]byte) []byte {
	target, how, at, value := rng.IntN(n), rng.IntN(3), rng.IntN(1<<16), byte(rng.IntN(256))
	return func(wire []byte) []byte {
		var out []byte
		for i := 0; len(wire) >= 5; i++ {
			size := 1 + int(binary.BigEndian.Uint32(wire[1:]))
			typ, body := wire[0], wire[5:size]
			wire = wire[size:]
			if i == target && len(body) > 0 {
				body = append([]byte{}, body...)
				switch how {
				case 0:
					body[at%len(body)] = value
				case 1:
					body = body[:at%len(body)]
				default:
					body = append(body, value)
				}
			}
			out = appendFrontend(out, typ, body)
		}
		return out
	}
}

// appendFrontend appends one message with its length field.
func appendFrontend(dst []byte, typ byte, body []byte) []byte {
	dst = append(dst, typ)
	dst = binary.BigEndian.AppendUint32(dst, uint32(4+len(body)))
	return append(dst, body...)
}

// describeMessages renders a sequence for a failure report.
func describeMessages(msgs []pgproto3.FrontendMessage) string {
	var lines []string
	for _, m := range msgs {
		lines = append(lines, fmt.Sprintf("  %T %+v", m, m))
	}
	return strings.Join(lines, "\n")
}
