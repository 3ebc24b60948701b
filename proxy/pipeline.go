package proxy

import (
	"cmp"

	"github.com/softfk/softfk/parser"
	"github.com/softfk/softfk/policy"
)

// pipelineDDL is what DDL on guarded tables, bound by the client in a
// pipeline, changed. softfk reads the catalog again only once such DDL
// has been followed by a Sync and its ReadyForQuery; until then its facts
// are from before the DDL ran, as for a query string of several
// statements (see query), so a write planned with them, or into a
// relation they do not know yet, cannot be verified. The state holds
// while the catalog generation it was noted in lasts.
type pipelineDDL struct {
	generation uint64
	// tablesChanged says the DDL may have changed a guarded table.
	tablesChanged bool
	// created are the partitions and views it created of guarded
	// tables, each with a relationship of the table (see noteCreated).
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
		f.pipeline.tablesChanged = f.pipeline.tablesChanged || st.ChangesTables() && parser.MentionsAny(st.Text, f.s.rules().TableNames())
		f.pipeline.created = f.noteCreated(f.pipeline.created, st)
	}
}

// afterDDL reports whether DDL bound earlier in the pipeline may have
// changed a guarded table, with the catalog not yet read again.
func (f *frontend) afterDDL() bool {
	return f.pipeline.tablesChanged && f.pipeline.generation == f.s.rules().Generation()
}

// unverifiableAfterDDL returns why the write sql that the client binds
// now cannot be verified after the DDL of its pipeline, or nil. checked
// says softfk checks it, ps is its plan when it has one.
func (f *frontend) unverifiableAfterDDL(sql string, checked bool, ps *preparedStmt) *policy.Unverifiable {
	if f.pipeline.generation != f.s.rules().Generation() || !f.pipeline.tablesChanged && f.pipeline.created == nil {
		return nil
	}
	res, err := f.s.srv.parser.Analyze(sql)
	if err != nil {
		return nil
	}
	if checked && f.pipeline.tablesChanged {
		u := &policy.Unverifiable{Reason: "a write checked after DDL on a table with soft foreign keys in one pipeline; send a Sync after the DDL"}
		if ps != nil {
			u.Rel = ps.plan.FirstRel()
		}
		for i := 0; u.Rel == nil && i < len(res.Statements); i++ {
			for _, t := range res.Statements[i].Targets {
				u.Rel = cmp.Or(u.Rel, f.s.rules().RelOfAny([]parser.Relation{t.Relation}))
			}
		}
		return u
	}
	for i := range res.Statements {
		if r := writesCreated(&res.Statements[i], f.pipeline.created); r != nil {
			return &policy.Unverifiable{Reason: "a write into a partition or through a view created earlier in the same pipeline; send a Sync after the CREATE", Rel: r}
		}
	}
	return nil
}

// refuseUnverified refuses, in place of the Bind of a portal to the
// client's statement stmtName (planned as ps, when checked), the write the
// portal would run when it cannot be verified after the DDL of its
// pipeline and the configuration refuses such writes. It goes before the
// Bind: Postgres plans a statement again at its Bind after DDL changed what
// it relies on, which softfk's stale additions may make fail. The Bind and
// Execute still go to the server, which skips them.
func (f *frontend) refuseUnverified(portal, stmtName string, ps *preparedStmt) {
	pw := f.writes[stmtName]
	if pw == nil {
		return
	}
	checked := ps != nil
	if !checked && f.afterDDL() {
		checked = f.wouldCheck(pw)
	}
	u := f.unverifiableAfterDDL(pw.query, checked, ps)
	if u == nil || !f.reject(u, pw.query) {
		return
	}
	f.sendStep(rejectStep, &rejecter{err: unverifiableError(u, pw.query)}, nil)
	if f.refused == nil {
		f.refused = map[string]bool{}
	}
	f.refused[portal] = true
}

// wouldCheck reports whether softfk checks the client's statement pw,
// which it did not plan when it was parsed after DDL of the pipeline.
func (f *frontend) wouldCheck(pw *parsedWrite) bool {
	if relevant, _ := f.relevant([]byte(pw.query)); !relevant {
		return false
	}
	res, err := f.s.srv.parser.Analyze(pw.query)
	if err != nil {
		return false
	}
	db := f.s.rules()
	for i := range res.Statements {
		st := &res.Statements[i]
		// (A TRUNCATE is planned only once its names are resolved.)
		if db.Plan(st, policy.Env{Extended: true, ParamTypes: pw.paramTypes}) != nil || len(db.NamesToResolve(st)) > 0 {
			return true
		}
	}
	return false
}
