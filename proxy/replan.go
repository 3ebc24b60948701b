package proxy

import (
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/softfk/softfk/parser"
	"github.com/softfk/softfk/policy"
)

// Drivers keep prepared statements for the life of a connection, so a
// plan made at Parse must follow later changes: a reload (a relationship
// added, removed, or moved from shadow to enforce) and a catalog read
// again (a trigger or a column type changed on the server). Each client
// statement that may write remembers the configuration and catalog it was
// planned with; a Bind or Describe after either changed plans it again.
// The new plan may need another text on the server (other hidden RETURNING
// columns, or none): softfk then prepares that text under a name of its
// own and binds it in place of the client's statement, which stays as it
// was on the server.

// parsedWrite is a client statement that may write (or a SET CONSTRAINTS,
// planned with the relationships too), as the server has it.
type parsedWrite struct {
	query      string   // the client's text
	paramTypes []uint32 // the types the client declared
	parsed     string   // the text prepared under the client's name
	text       string   // the text the current plan needs
	db         *policy.DB
	generation uint64 // db's catalog generation when planned
	// sqlGeneration is the frontend's when planned: an EXECUTE stands for
	// what its name denotes at the time.
	sqlGeneration uint64
}

// newParsedWrite stamps a statement about to be parsed with the current
// configuration and catalog, or returns nil when it cannot write (or set
// constraints).
func (f *frontend) newParsedWrite(sql []byte) *parsedWrite {
	if text := unsafeString(sql); !parser.MayWrite(text) && !parser.MaySetConstraints(text) {
		return nil
	}
	db := f.s.rules()
	return &parsedWrite{db: db, generation: db.Generation(), sqlGeneration: f.sqlGeneration}
}

// forwardParse passes on the Parse of a statement softfk does not check
// (now), remembering it when it may write.
func (f *frontend) forwardParse(pw *parsedWrite, body []byte) {
	var msg pgproto3.Parse
	if pw != nil && f.decodeExact(&msg, body) {
		pw.query, pw.paramTypes, pw.parsed, pw.text = msg.Query, msg.ParameterOIDs, msg.Query, msg.Query
		f.writes[msg.Name] = pw
	}
	f.forward(reqParse, 'P', body)
}

// replanIfStale plans the client's statement name again when the
// configuration or the catalog changed since it was planned, and returns
// the statement to use in its place ("" for name itself). It waits while
// the transaction is aborted (nothing can be prepared then), when the
// catalog cannot be read (the next Bind tries again), and when the
// session keeps as many statements of its own as it may.
func (f *frontend) replanIfStale(name []byte) string {
	pw := f.writes[string(name)]
	if pw == nil {
		return ""
	}
	db := f.s.rules()
	generation := db.Generation()
	if pw.db == db && pw.generation == generation && pw.sqlGeneration == f.sqlGeneration || f.s.router.status() == 'E' {
		return f.stand(pw)
	}
	var ps *preparedStmt
	relevant, err := f.relevant([]byte(pw.query))
	if err == nil && relevant {
		ps, err = f.prepare(pw.query, pw.paramTypes)
	}
	if err != nil {
		return f.stand(pw)
	}
	text := pw.query
	if ps != nil {
		text, _ = ps.serverText(pw.query)
	}
	if text != pw.parsed && !f.own.canKeep(policy.StatementKey(text, pw.paramTypes)) {
		return f.stand(pw)
	}
	pw.text, pw.db, pw.generation, pw.sqlGeneration = text, db, generation, f.sqlGeneration
	if ps == nil {
		delete(f.stmts, string(name))
	} else {
		f.stmts[string(name)] = ps
	}
	return f.stand(pw)
}

// stand returns softfk's statement that stands in for the client's, with
// the text pw's plan needs, preparing it if needed; "" when the client's
// own has that text.
func (f *frontend) stand(pw *parsedWrite) string {
	if pw.text == pw.parsed {
		return ""
	}
	name, _ := f.prepareOwn(policy.StatementKey(pw.text, pw.paramTypes), pw.text, pw.paramTypes, &stepResponder{})
	return name
}
