package proxy

import (
	"github.com/softfk/softfk/parser"
	"github.com/softfk/softfk/policy"
)

// pipelineDDL is what DDL on guarded tables, bound by the client in a
// pipeline (extended protocol, before the Sync), changed. softfk reads
// the catalog again only once such DDL has been followed by a Sync and its
// ReadyForQuery; until then its facts are from before the DDL ran. A
// relation they do not know yet (a partition or view the pipeline
// created, a table it attached as a partition) is not guarded by them,
// and a table whose column defaults or triggers it changed gets rows they
// do not foresee, so a write into one is refused as unverifiable; a DROP
// TABLE they may judge wrongly (the pipeline may have dropped its
// referencing tables) is left to Postgres. Other writes are planned with those facts, as they are
// when the client Parses them before the DDL runs. The state holds while
// the catalog generation it was noted in lasts.
type pipelineDDL struct {
	generation uint64
	// tablesChanged says the DDL may have changed a guarded table.
	tablesChanged bool
	// created are the relations it created, attached or changed the
	// writes of (see noteCreated), each with a relationship of their
	// table.
	created map[string]*policy.Rel
}

// noteDDL records what the statements of a DDL statement the client binds
// change.
func (f *frontend) noteDDL(stmts []parser.Statement) {
	if generation := f.s.rules().Generation(); f.pipeline.generation != generation {
		f.pipeline = pipelineDDL{generation: generation}
	}
	for i := range stmts {
		st := &stmts[i]
		f.pipeline.tablesChanged = f.pipeline.tablesChanged || f.changesGuardedTables(st)
		f.pipeline.created = f.noteCreated(f.pipeline.created, st)
	}
}

// changesGuardedTables reports whether st is DDL that may change a
// guarded table (or its partitions or views): a DROP TABLE naming one (not
// a temporary namesake), other DDL that mentions one's name or that of
// one's unique index, but for DISABLE TRIGGER ALL alone.
func (f *frontend) changesGuardedTables(st *parser.Statement) bool {
	if !st.ChangesTables() {
		return false
	}
	if a := st.Alter; a.OnlySwitchesTriggers() && a.Triggers == parser.TriggersDisabled {
		// Triggers switched off change no fact a plan relies on: a trigger
		// the facts still count may only make a write unverifiable, and
		// the checks themselves follow the switch when they run.
		return false
	}
	db := f.s.rules()
	if st.Drop != nil && !st.Drop.Indexes {
		for _, t := range st.Drop.Tables {
			if db.RelOfAny([]parser.Relation{t}) != nil {
				return true
			}
		}
		return false
	}
	return parser.MentionsAny(st.Text, db.MentionNames())
}

// current reports whether the pipeline's DDL state is about the catalog
// facts softfk plans with now.
func (p *pipelineDDL) current(db *policy.DB) bool { return p.generation == db.Generation() }

// refuseUnverified refuses, in place of the Bind of a portal to the
// client's statement stmtName, a write into a relation the pipeline's DDL
// created or attached, when the configuration refuses unverifiable
// writes. It goes before the Bind, where Postgres would plan the write
// again; the Bind and Execute still go to the server, which skips them.
func (f *frontend) refuseUnverified(portal, stmtName []byte) {
	if f.pipeline.created == nil { // every Bind comes here: the usual answer first
		return
	}
	pw := f.writes[string(stmtName)]
	if pw == nil || !f.pipeline.current(f.s.rules()) {
		return
	}
	res, err := f.s.srv.parser.Analyze(pw.query)
	if err != nil {
		return
	}
	for i := range res.Statements {
		r := writesCreated(&res.Statements[i], f.pipeline.created)
		if r == nil {
			continue
		}
		u := &policy.Unverifiable{Reason: "a write into a partition or through a view created earlier in the same pipeline, or into a table it attached as a partition or whose defaults or triggers it changed; send a Sync after the DDL", Rel: r}
		if !f.reject(u, pw.query) {
			return
		}
		step, rj := f.unverifiableRefusal(u, pw.query)
		f.sendStep(step, rj, nil)
		if f.refused == nil {
			f.refused = map[string]bool{}
		}
		f.refused[string(portal)] = true
		return
	}
}
