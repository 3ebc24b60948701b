package integration

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Raw protocol sequences that drivers rarely send but Postgres defines,
// sent directly (with real FOREIGN KEYs) and through softfk; everything
// the server says, and the tables afterwards, must be the same.
//
// After an extended-protocol message fails, Postgres skips every message
// up to the next Sync, a Query included. softfk sends statements of its
// own around a checked write; sent into that state they would be skipped
// too, and a Sync of softfk's would end the skipping early: the client's
// next messages, which Postgres skips, would run.

// rawCase is a message sequence sent as it is, followed by a Sync.
type rawCase struct {
	name string
	msgs []pgproto3.FrontendMessage
	// mangle, when set, changes the encoded sequence before it is sent.
	mangle func([]byte) []byte
}

// endMarker is the query that follows every sequence: its result tells
// the reader that everything before it has been answered. It ends an
// aborted transaction first, which ending the session would do anyway.
const endMarker = "ROLLBACK; SELECT 'end of sequence'"

func TestRawMessageSequences(t *testing.T) {
	const schema = `CREATE TABLE users (id int PRIMARY KEY);
CREATE TABLE orders (id int PRIMARY KEY, user_id int);
CREATE TABLE events (id int);
INSERT INTO users VALUES (1), (2);
INSERT INTO orders VALUES (10, 1);`
	insertOrder := func(id, user int) pgproto3.FrontendMessage {
		return &pgproto3.Query{String: "INSERT INTO orders VALUES (" + strconv.Itoa(id) + ", " + strconv.Itoa(user) + ")"}
	}
	failingExecute := &pgproto3.Execute{Portal: "no such portal"}
	// A trigger that may change orders' keys makes a COPY into it one
	// softfk cannot verify.
	keyTrigger := []pgproto3.FrontendMessage{
		&pgproto3.Query{String: "CREATE FUNCTION shift() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.user_id := NEW.user_id + 0; RETURN NEW; END$$"},
		&pgproto3.Query{String: "CREATE TRIGGER shift BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION shift()"},
	}
	extendedInsert := []pgproto3.FrontendMessage{
		&pgproto3.Parse{Query: "INSERT INTO orders VALUES ($1, $2)"},
		&pgproto3.Bind{Parameters: [][]byte{[]byte("12"), []byte("2")}},
		&pgproto3.Execute{},
	}
	cases := []rawCase{
		{name: "checked insert as a Query", msgs: []pgproto3.FrontendMessage{failingExecute, insertOrder(11, 1), &pgproto3.Parse{Query: "INSERT INTO events VALUES (1)"}, &pgproto3.Bind{}, &pgproto3.Execute{}}},
		{name: "violating insert as a Query", msgs: []pgproto3.FrontendMessage{failingExecute, insertOrder(11, 99), &pgproto3.Query{String: "INSERT INTO events VALUES (2)"}}},
		{name: "parent delete as a Query", msgs: []pgproto3.FrontendMessage{failingExecute, &pgproto3.Query{String: "DELETE FROM users WHERE id = 2"}, &pgproto3.Query{String: "INSERT INTO events VALUES (3)"}}},
		{name: "data-modifying WITH as a Query", msgs: []pgproto3.FrontendMessage{failingExecute,
			&pgproto3.Query{String: "WITH n AS (INSERT INTO orders VALUES (13, 2) RETURNING *) SELECT count(*) FROM n"}, &pgproto3.Query{String: "INSERT INTO events VALUES (4)"}}},
		{name: "truncate of a parent as a Query", msgs: []pgproto3.FrontendMessage{failingExecute, &pgproto3.Query{String: "TRUNCATE users"}, &pgproto3.Query{String: "INSERT INTO events VALUES (5)"}}},
		{name: "violating extended insert, then a Query", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Parse{Query: "INSERT INTO orders VALUES ($1, $2)"}, &pgproto3.Bind{Parameters: [][]byte{[]byte("14"), []byte("99")}}, &pgproto3.Execute{},
			insertOrder(15, 1), &pgproto3.Query{String: "INSERT INTO events VALUES (6)"}}},
		// Without an error, a Query in the middle of extended messages
		// commits their implicit transaction, checks and all.
		{name: "checked Query after unsynced extended messages", msgs: append(append([]pgproto3.FrontendMessage{}, extendedInsert...),
			insertOrder(16, 2), &pgproto3.Query{String: "WITH n AS (INSERT INTO orders VALUES (17, 1) RETURNING *) SELECT count(*) FROM n"},
			&pgproto3.Query{String: "DELETE FROM users WHERE id = 2"})},
		// A Query during an extended-protocol COPY from the client fails
		// the COPY; it must not leave the session waiting.
		{name: "Query during a COPY", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Parse{Query: "COPY orders FROM STDIN"}, &pgproto3.Bind{}, &pgproto3.Execute{},
			&pgproto3.CopyData{Data: []byte("18\t1\n")}, insertOrder(19, 1)}},
		// tokio-postgres and libpq's PQexecParams send a COPY's Sync
		// before its data; the server ignores a Sync inside a COPY.
		{name: "extended COPY with its Sync before the data", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Parse{Query: "COPY orders FROM STDIN"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{},
			&pgproto3.CopyData{Data: []byte("24\t1\n25\t2\n")}, &pgproto3.CopyDone{}}},
		{name: "violating extended COPY with its Sync before the data", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Parse{Query: "COPY orders FROM STDIN"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{},
			&pgproto3.CopyData{Data: []byte("26\t1\n27\t99\n")}, &pgproto3.CopyDone{}}},
		{name: "unchecked extended COPY with its Sync before the data", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Parse{Query: "COPY events FROM STDIN"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{},
			&pgproto3.CopyData{Data: []byte("7\n")}, &pgproto3.CopyDone{}, &pgproto3.Sync{},
			// softfk must know the COPY's Syncs apart to see that these
			// unsynced messages are answered before the checked Query.
			&pgproto3.Parse{Query: "INSERT INTO events VALUES (8)"}, &pgproto3.Bind{}, &pgproto3.Execute{}, insertOrder(29, 1)}},
		// The Sync the COPY ignored ended nothing: an error before the
		// next Sync rolls the COPY back, and softfk, asking the session
		// about the TRUNCATE's names, must not end it with a Sync of its
		// own (random sequence seed 24002/409).
		{name: "extended COPY with its Sync before the data, then an error", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Parse{Query: "COPY orders FROM STDIN"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{},
			&pgproto3.CopyData{Data: []byte("30\t1\n31\t2\n")}, &pgproto3.CopyDone{},
			&pgproto3.Parse{Name: "s1", Query: "TRUNCATE users", ParameterOIDs: []uint32{1700, 0}}, &pgproto3.Sync{}}},
		{name: "unchecked extended COPY with its Sync before the data, then an error", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Parse{Query: "COPY events FROM STDIN"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{},
			&pgproto3.CopyData{Data: []byte("9\n")}, &pgproto3.CopyDone{},
			&pgproto3.Parse{Name: "s1", Query: "TRUNCATE users", ParameterOIDs: []uint32{1700, 0}}, &pgproto3.Sync{}}},
		{name: "COPY with a Sync inside", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Query{String: "COPY orders FROM STDIN"}, &pgproto3.Sync{}, &pgproto3.CopyData{Data: []byte("28\t1\n")},
			&pgproto3.Flush{}, &pgproto3.CopyDone{}}},
		{name: "checked COPY that fails to start", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Query{String: "COPY orders (id, nosuch) FROM STDIN"}, insertOrder(30, 99), insertOrder(31, 1)}},
		{name: "checked extended COPY that fails to start", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Parse{Query: "COPY orders (id, nosuch) FROM STDIN"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{},
			insertOrder(32, 99), insertOrder(33, 1)}},
		{name: "checked COPY with bad data", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Query{String: "COPY orders FROM STDIN"}, &pgproto3.CopyData{Data: []byte("34\t1\nx\t1\n")}, &pgproto3.CopyDone{},
			insertOrder(35, 1)}},
		{name: "checked COPY the client fails in a transaction", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Query{String: "BEGIN"}, &pgproto3.Query{String: "COPY orders FROM STDIN"}, &pgproto3.CopyData{Data: []byte("36\t1\n")},
			&pgproto3.CopyFail{Message: "changed my mind"}, &pgproto3.Query{String: "ROLLBACK"}}},
		{name: "checked COPY in a transaction", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Query{String: "BEGIN"}, &pgproto3.Query{String: "COPY orders FROM STDIN"}, &pgproto3.CopyData{Data: []byte("37\t1\n")},
			&pgproto3.CopyDone{}, &pgproto3.Describe{ObjectType: 'P'}, &pgproto3.Sync{}, &pgproto3.Query{String: "COPY orders FROM STDIN"},
			&pgproto3.CopyData{Data: []byte("38\t99\n")}, &pgproto3.CopyDone{}, &pgproto3.Query{String: "COMMIT"}}},
		// The Bind is skipped after the failed Execute; the Sync ends the
		// skipping, and the Execute finds no portal. softfk's check of
		// the TRUNCATE must not run and report its own error instead.
		{name: "Execute of a portal whose Bind was skipped before a Sync", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Parse{Query: "TRUNCATE users"}, failingExecute, &pgproto3.Bind{}, &pgproto3.Sync{}, &pgproto3.Execute{}}},
		// A Parse softfk would rewrite, with a byte too many: Postgres
		// refuses the message, and softfk must not mend it.
		{name: "malformed Parse of a checked insert", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Parse{Name: "s", Query: "INSERT INTO orders VALUES ($1, $2)"}, &pgproto3.Bind{PreparedStatement: "s", Parameters: [][]byte{[]byte("20"), []byte("1")}}, &pgproto3.Execute{}},
			mangle: oneByteMoreInFirst},
		{name: "malformed Query of a checked insert", msgs: []pgproto3.FrontendMessage{insertOrder(21, 1)}, mangle: oneByteMoreInFirst},
		// A Query drops the unnamed statement and, once it ran, its
		// portal: softfk's own messages for it must leave neither.
		{name: "unnamed statement and portal after a checked Query", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Parse{Query: "SELECT 1"}, &pgproto3.Sync{}, &pgproto3.Query{String: "INSERT INTO orders VALUES (22, 1), (23, 2)"},
			&pgproto3.Describe{ObjectType: 'S'}, &pgproto3.Sync{}, &pgproto3.Describe{ObjectType: 'P'}}},
		{name: "unnamed portal after a checked Query in a transaction", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Query{String: "BEGIN"}, &pgproto3.Query{String: "INSERT INTO orders VALUES (22, 1), (23, 2)"},
			&pgproto3.Describe{ObjectType: 'P'}, &pgproto3.Execute{}, &pgproto3.Sync{}, &pgproto3.Query{String: "COMMIT"}}},
		// A statement that fails in a transaction block leaves its
		// portal until the block ends: an Execute of it then reports the
		// aborted transaction, not a missing portal.
		{name: "unnamed portal after a violating Query in a transaction", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Query{String: "BEGIN"}, insertOrder(30, 99), &pgproto3.Execute{}, &pgproto3.Sync{},
			&pgproto3.Query{String: "ROLLBACK"}}},
		{name: "unnamed portal after a violating two-row Query in a transaction", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Query{String: "BEGIN"}, &pgproto3.Query{String: "INSERT INTO orders VALUES (31, 1), (32, 99)"}, &pgproto3.Execute{}, &pgproto3.Sync{},
			&pgproto3.Query{String: "ROLLBACK"}}},
		{name: "unnamed portal after a violating Query in LATIN1 in a transaction", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Query{String: "SET client_encoding = 'LATIN1'"}, // not run as a prepared statement of its shape
			&pgproto3.Query{String: "BEGIN"}, insertOrder(33, 99), &pgproto3.Execute{}, &pgproto3.Sync{},
			&pgproto3.Query{String: "ROLLBACK"}}},
		{name: "unnamed portal after a violating Query without constants in a transaction", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Query{String: "BEGIN"}, &pgproto3.Query{String: "INSERT INTO orders (id, user_id) SELECT -id, -id FROM users"}, &pgproto3.Execute{}, &pgproto3.Sync{},
			&pgproto3.Query{String: "ROLLBACK"}}},
		{name: "unnamed portal after a parent delete Query without constants fails in a transaction", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Query{String: "BEGIN"}, &pgproto3.Query{String: "DELETE FROM users WHERE id IN (SELECT user_id FROM orders)"}, &pgproto3.Execute{}, &pgproto3.Sync{},
			&pgproto3.Query{String: "ROLLBACK"}}},
		{name: "unnamed portal after a parent delete Query fails in a transaction", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Query{String: "BEGIN"}, &pgproto3.Query{String: "DELETE FROM users WHERE id = 1"}, &pgproto3.Execute{}, &pgproto3.Sync{},
			&pgproto3.Query{String: "ROLLBACK"}}},
		// A COPY softfk cannot verify (a trigger may change its keys):
		// softfk first asks whether the session enforces foreign keys,
		// which fails in an aborted transaction as the COPY would, and
		// lets it through while session_replication_role is replica.
		{name: "unverifiable COPY in an aborted transaction", msgs: append(append([]pgproto3.FrontendMessage{}, keyTrigger...),
			&pgproto3.Query{String: "BEGIN"}, &pgproto3.Query{String: "SELECT 1/0"}, &pgproto3.Query{String: "COPY orders FROM STDIN"},
			&pgproto3.Parse{Query: "COPY orders FROM STDIN"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{},
			&pgproto3.Query{String: "ROLLBACK"})},
		{name: "unverifiable COPY under replica", msgs: append(append([]pgproto3.FrontendMessage{}, keyTrigger...),
			&pgproto3.Query{String: "SET session_replication_role = replica"},
			&pgproto3.Query{String: "COPY orders FROM STDIN"}, &pgproto3.CopyData{Data: []byte("40\t98\n")}, &pgproto3.CopyDone{},
			&pgproto3.Parse{Query: "COPY orders FROM STDIN"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.CopyData{Data: []byte("41\t97\n")}, &pgproto3.CopyDone{})},
		// softfk plans a Parse of a TRUNCATE of a guarded table with a
		// statement of its own, which Postgres would count as pipelining
		// in the client's implicit transaction: a VACUUM sent as a Query
		// before the client's Sync must still run, as it does directly.
		{name: "Query that refuses a pipeline after a planned Parse", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Sync{}, &pgproto3.Parse{Name: "s1", Query: "TRUNCATE users"}, &pgproto3.Query{String: "VACUUM events"},
			&pgproto3.Bind{PreparedStatement: "s1"}, &pgproto3.Execute{}}},
		{name: "DISCARD ALL after a planned Parse", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Parse{Name: "s1", Query: "TRUNCATE orders, users"}, &pgproto3.Query{String: "DISCARD ALL"},
			&pgproto3.Describe{ObjectType: 'S', Name: "s1"}}},
		// ... but not once the client has run something in that implicit
		// transaction (Postgres refuses the VACUUM, and rolls the INSERT
		// back), nor inside a transaction block.
		{name: "Query that refuses a pipeline after the client's Execute", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Parse{Query: "INSERT INTO events VALUES (7)"}, &pgproto3.Bind{}, &pgproto3.Execute{},
			&pgproto3.Parse{Name: "s1", Query: "TRUNCATE users"}, &pgproto3.Query{String: "VACUUM events"}}},
		{name: "Query that refuses a pipeline after the client's Bind", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Parse{Query: "INSERT INTO events VALUES (8)"}, &pgproto3.Bind{DestinationPortal: "p1"},
			&pgproto3.Parse{Name: "s1", Query: "TRUNCATE users"}, &pgproto3.Execute{Portal: "p1"}, &pgproto3.Query{String: "VACUUM events"}}},
		// After DDL on a guarded table softfk reads the catalog again
		// before the next Query that may need it, DISCARD ALL among them:
		// that read must not leave the Query pipelined either.
		{name: "DISCARD ALL after a trigger switch", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Query{String: "ALTER TABLE orders DISABLE TRIGGER ALL"}, &pgproto3.Query{String: "DISCARD ALL"}}},
		{name: "DISCARD ALL after DDL", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Query{String: "ALTER TABLE orders ADD COLUMN x int"}, &pgproto3.Query{String: "DISCARD ALL"}}},
		{name: "Query that refuses a transaction block after a planned Parse", msgs: []pgproto3.FrontendMessage{
			&pgproto3.Query{String: "BEGIN"}, &pgproto3.Parse{Name: "s1", Query: "TRUNCATE users"}, &pgproto3.Query{String: "VACUUM events"}}},
	}
	fks := []fk{{table: "orders", cols: "user_id", refTable: "users", refCols: "id"}}
	p := startProxy(t, configFor(t, "relationships:\n"+fks[0].yaml("public")))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got [2][]string
			for i, dsn := range []func(string) string{cluster.DSN, p.DSN} {
				db := newDatabase(t)
				conn := connect(t, cluster.DSN(db))
				mustExec(t, conn, schema)
				if i == 0 {
					mustExec(t, conn, fks[0].sql())
				}
				got[i] = rawTranscript(t, dsn(db), c)
				ctx := context.Background()
				got[i] = append(got[i], tableContents(t, ctx, conn, "public")...)
			}
			if !reflect.DeepEqual(got[0], got[1]) {
				t.Fatalf("through softfk the client saw something else:\ndirect: %q\nsoftfk: %q", got[0], got[1])
			}
		})
	}
}

// oneByteMoreInFirst makes the first message of an encoded sequence one
// byte longer (a NUL after its end), which Postgres refuses as an invalid
// message format.
func oneByteMoreInFirst(b []byte) []byte {
	n := 1 + int(binary.BigEndian.Uint32(b[1:]))
	out := append([]byte{}, b[:n]...)
	binary.BigEndian.PutUint32(out[1:], uint32(n))
	out = append(out, 0)
	return append(out, b[n:]...)
}

// rawTranscript sends the case's messages, a Sync and the end marker on a
// fresh session, and records every server message up to the marker's
// ReadyForQuery.
func rawTranscript(t *testing.T, dsn string, c rawCase) []string {
	t.Helper()
	conn, fe := rawSession(t, dsn)
	defer conn.Close()
	return sessionTranscript(t, conn, fe, c)
}

// sessionTranscript is rawTranscript on a session already open.
func sessionTranscript(t *testing.T, conn net.Conn, fe *pgproto3.Frontend, c rawCase) []string {
	t.Helper()
	var wire []byte
	for _, m := range append(append([]pgproto3.FrontendMessage{}, c.msgs...), &pgproto3.Sync{}) {
		var err error
		if wire, err = m.Encode(wire); err != nil {
			t.Fatal(err)
		}
	}
	if c.mangle != nil {
		wire = c.mangle(wire)
	}
	wire, _ = (&pgproto3.Query{String: endMarker}).Encode(wire)
	if _, err := conn.Write(wire); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var out []string
	sawMarker := false
	for {
		msg, err := fe.Receive()
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			return append(out, "no answer for 30 s")
		case err != nil:
			return append(out, "connection ended: "+err.Error())
		}
		out = append(out, wireMessage(msg))
		if d, ok := msg.(*pgproto3.DataRow); ok && len(d.Values) == 1 && string(d.Values[0]) == "end of sequence" {
			sawMarker = true
		}
		if _, ok := msg.(*pgproto3.ReadyForQuery); ok && sawMarker {
			return out
		}
	}
}
