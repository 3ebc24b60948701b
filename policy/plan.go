package policy

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/parser"
)

// Arg is the value of one parameter of a proxy statement: one of the
// client's bound parameters, a text value of softfk's own, or (for checks
// of simple-protocol statements, run with EXECUTE) an SQL expression.
type Arg struct {
	ClientParam int // n of the client's $n
	Text        string
	Null        bool
	Expr        string
	Binary      []byte // a value in binary format
}

// Step is one statement softfk runs on the session's own connection.
type Step struct {
	SQL   string
	Args  []Arg    // values of $1..$n
	Types []uint32 // parameter types to declare (0: inferred by the server)
	// Check, when set, makes the step a check: on violation an enforced
	// check raises the signal error, a shadow check returns rows.
	Check *Check
	// Collect says the step's rows feed the plan's continuation.
	Collect bool
	// Source, when set, is the client's write whose pieces the step
	// repeats: errors Postgres reports in them point into the client's
	// text through it (see parser.Write.ClientOffset).
	Source *parser.Write
	// Command, for a step that locks rows FOR UPDATE before the client's
	// statement, is the command Postgres names when it refuses that
	// statement in a read-only transaction (DELETE, UPDATE, MERGE, or
	// SELECT for a query whose WITH writes): the step, refused first,
	// reports the refusal in that name.
	Command string
	// typedKey is StatementKey of SQL and Types, when it is not SQL.
	typedKey string
}

// Key identifies the statement the step prepares (see StatementKey).
func (s *Step) Key() string {
	if s.typedKey != "" {
		return s.typedKey
	}
	return s.SQL
}

// StatementKey identifies a statement to prepare by its text and the
// parameter types it declares: the same text prepared with other types
// reads its values otherwise. A text alone is its own key when it
// declares no type (no statement softfk prepares holds a NUL).
func StatementKey(text string, types []uint32) string {
	if !slices.ContainsFunc(types, func(t uint32) bool { return t != 0 }) {
		return text
	}
	b := make([]byte, 0, len(text)+1+6*len(types))
	b = append(b, text...)
	b = append(b, 0)
	for _, t := range types {
		b = strconv.AppendUint(b, uint64(t), 10)
		b = append(b, ' ')
	}
	return string(b)
}

// Check identifies the relationships a check step covers, to turn its
// signal back into Postgres's error.
type Check struct {
	rels   map[int]*Rel
	Shadow bool
	Side   Side
	// LockWaitConflicts says the check locks NOWAIT: a lock it cannot
	// take at once means a concurrent transaction may reference the key,
	// reported as a serialization failure.
	LockWaitConflicts bool
	// removed is the partition whose detaching the check validates, as
	// its violation names it.
	removed string
}

// Side is which end of a relationship a check guards.
type Side uint8

// The sides.
const (
	ChildSide  Side = iota // a referencing key was written
	ParentSide             // a referenced key was deleted or changed
)

// Unverifiable describes a write softfk cannot check.
type Unverifiable struct {
	Reason string
	Rel    *Rel
	// Table is the guarded table the write goes into, whose RI triggers
	// would check it; nil when there is none (DDL) or softfk does not
	// know it (a relation created after the catalog facts were read).
	Table *Table
	// Denotes is an SQL condition that the statement's name denotes
	// Table, "" when it can denote nothing else: otherwise a temporary
	// namesake takes the write, which no real FOREIGN KEY would look at.
	Denotes string
}

// Enforced renders the condition that a real FOREIGN KEY would check the
// write when it runs (see EnforcedOn); without a Table, that the session
// is not a replica.
func (u *Unverifiable) Enforced() string {
	if u.Table == nil {
		return replicaOff
	}
	return joinNonEmpty(" AND ", EnforcedOn(u.Table), u.Denotes)
}

// Refusal is an error softfk answers in place of a statement that Postgres
// would refuse before running it, such as a TRUNCATE of a referenced table.
type Refusal struct {
	Code, Message, Detail, Hint string
	Rel                         *Rel
	// Unless is an SQL condition under which Postgres refuses the
	// statement for a reason of its own before it looks at any foreign
	// key (see refusedFirst): softfk then lets the statement run into
	// that error.
	Unless string
}

// refusedFirst renders the condition under which Postgres refuses a DROP,
// ALTER or TRUNCATE before any foreign key counts: the transaction is
// read-only (25006), or the user lacks, on one of the relations the
// statement names, the privilege that privilege renders for a regclass
// expression (42501).
func refusedFirst(privilege func(rel string) string, names []parser.Relation) string {
	conds := []string{"current_setting('transaction_read_only') = 'on'"}
	for _, n := range names {
		rel := "to_regclass(" + parser.QuoteLiteral(regclassText(n.Schema, n.Name)) + ")"
		conds = append(conds, "NOT coalesce("+privilege(rel)+", true)")
	}
	return strings.Join(conds, " OR ")
}

// owns renders whether the user owns relation rel (a member of its
// owner's role), which DROP and ALTER TABLE require.
func owns(rel string) string {
	return "pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = " + rel + "), 'USAGE')"
}

// Plan is what softfk runs around one client statement.
type Plan struct {
	// Unverifiable, when set, means the statement writes a guarded table in
	// a way softfk cannot check.
	Unverifiable *Unverifiable
	// Before are steps run just before the statement (their rows are
	// collected).
	Before []*Step
	// After are steps run right after the statement, in the same batch:
	// they need nothing from the statement's results. Most are checks;
	// one without a Check only records something (see triggerSwitchSQL).
	After []*Step
	// Hidden are expressions softfk appends to the statement's RETURNING
	// list; their values are collected and the client never sees them.
	Hidden []string
	// Continue, when set, produces further steps from the collected rows.
	Continue Continuation
	// Refuse, when set, is the error Postgres would raise instead of
	// running the statement (enforced relationships).
	Refuse *Refusal
	// Rewrite, when set, replaces the statement's text (TRUNCATE ...
	// CASCADE naming the referencing tables), and Notices are the notices
	// Postgres would have sent for it (or for a DROP ... CASCADE).
	Rewrite string
	Notices []Notice
	// Rename, when set, is how the rewritten statement's error must name
	// what the client wrote.
	Rename *Rename
	// Shadowed are events of shadow relationships that involve no check
	// (e.g. a TRUNCATE they would refuse).
	Shadowed []ShadowEvent
	// Copy, when set, checks the data of a COPY FROM STDIN.
	Copy *CopyPlan
	// Inline, when set, checks the statement's rows inside the statement
	// itself, through Hidden columns (see Inline).
	Inline *Inline
	// Table is the configured table the statement writes (its last
	// target's).
	Table *Table
	// Insert is text inserted into the statement before it is sent: the
	// counting of the rows a MERGE's clauses or a data-modifying WITH
	// query's WHERE let through (see countIn).
	Insert []parser.Insertion
}

// Inline describes checks a statement makes of its own rows: an expression
// over each row it writes, appended to its RETURNING list, looks up the
// parent (locking it, as Postgres's RI check does). The first Hidden
// column, when Enforced is set, raises the signal of an enforced
// relationship's violation, so the statement fails as with a real FOREIGN
// KEY and no other statement is needed; the last Shadows columns return
// the signals of shadow relationships' violations, or NULL.
type Inline struct {
	Enforced *Check
	Shadow   *Check
	Shadows  int
}

// Notice is a NOTICE Postgres would send for a statement because of its
// foreign keys.
type Notice struct {
	Message, Detail string
}

// ShadowEvent is something a shadow relationship would have stopped or
// changed.
type ShadowEvent struct {
	Rel    *Rel
	Action string
}

// FirstRel returns a relationship the plan concerns, for messages.
func (p *Plan) FirstRel() *Rel {
	if p.Unverifiable != nil && p.Unverifiable.Rel != nil {
		return p.Unverifiable.Rel
	}
	for _, steps := range [][]*Step{p.After, p.Before} {
		for _, s := range steps {
			if s.Check != nil {
				for _, r := range s.Check.rels {
					return r
				}
			}
		}
	}
	return nil
}

// Empty reports whether the plan asks for nothing.
func (p *Plan) Empty() bool {
	return p == nil || p.Unverifiable == nil && len(p.Before) == 0 && len(p.After) == 0 && len(p.Hidden) == 0 && p.Inline == nil &&
		p.Continue == nil && p.Refuse == nil && p.Rewrite == "" && len(p.Notices) == 0 && len(p.Shadowed) == 0 && p.Copy == nil &&
		len(p.Insert) == 0
}

// Collected holds the rows gathered in one round: the hidden RETURNING
// values of the client's statement and the rows of each collecting step,
// in the order the steps were given. A nil value is SQL NULL.
type Collected struct {
	Hidden [][]*string
	Steps  [][][]*string
}

// Continuation produces the next round of steps from what the last round
// collected; an empty result ends the plan.
type Continuation interface {
	Next(c Collected) []*Step
}

// Env describes the session a statement runs in.
type Env struct {
	// Extended is true for the extended protocol, where values may be
	// bound parameters whose declared types are ParamTypes.
	Extended   bool
	ParamTypes []uint32
	// StandardStrings mirrors standard_conforming_strings: off, string
	// literals may not mean what the parser read, so softfk does not reuse
	// them.
	StandardStrings bool
	// Resolved maps table names, as regclass text, to the schema of the
	// table they denote in the session, and constraint names to that of
	// the relationship they denote (see ResolveQuery); a name that
	// denotes none is missing.
	Resolved map[string]string
	// NamesMayMove says the statement runs after others of its query
	// string that may change what its unqualified table names denote
	// (see parser.Statement.KeepsNames): they cannot be resolved before
	// the query string runs.
	NamesMayMove bool
	// ClientEncoding is the session's client_encoding (COPY data is in it).
	ClientEncoding string
	// CatalogKeys says the server declares keys on its catalogs
	// (PostgreSQL 14 and later), which SET CONSTRAINTS planning relies on.
	CatalogKeys bool
	// MergesViews says the server runs a MERGE of a view (PostgreSQL 17
	// and later); earlier ones refuse it before running anything.
	MergesViews bool
	// TransactionBlock says the statement runs inside a transaction
	// block, as far as softfk knows: the session's last ReadyForQuery
	// said so, or its query string holds several statements (Postgres
	// runs those in an implicit block).
	TransactionBlock bool
}

// Plan decides what softfk must run around one statement, or returns nil
// when the statement touches no relationship.
func (db *DB) Plan(st *parser.Statement, env Env) *Plan {
	rels, shapes := db.relationships()
	if len(rels) == 0 || len(st.Targets) == 0 && st.Alter == nil && st.Drop == nil && st.SetConstraints == nil {
		return nil
	}
	b := &planBuilder{db: db, rels: rels, shapes: shapes, env: env, plan: &Plan{}, st: st}
	switch {
	case st.Alter != nil:
		b.alter(st.Alter)
		b.finish()
	case st.Drop != nil:
		b.drop(st.Drop)
	case st.SetConstraints != nil:
		b.setConstraints(st.SetConstraints)
	case st.Kind == parser.Truncate:
		b.truncate(st)
	default:
		for i := range st.Targets {
			b.target(&st.Targets[i])
			if b.plan.Unverifiable != nil {
				return b.plan
			}
		}
		b.finish()
	}
	if b.plan.Empty() {
		return nil
	}
	return b.plan
}

// UnverifiablePolicy says whether unverifiable writes are rejected.
func (db *DB) UnverifiablePolicy() config.Unverifiable { return db.unverifiable }

// planBuilder accumulates the plan of one statement.
type planBuilder struct {
	db     *DB
	rels   []*Rel
	shapes *sqlCache
	env    Env
	plan   *Plan
	st     *parser.Statement

	childChecks []childCheck // known-key checks, combined into After
	work        *parentWork  // parent-side work from collected rows
	hiddenUse   []hiddenUse  // who reads which hidden columns
	// mergeSides are a MERGE's captures (indexes in work.captured) of the
	// rows its WHEN MATCHED (true) and WHEN NOT MATCHED (false) clauses
	// act on (see countMerge).
	mergeSides map[bool]int
	counters   int // settings that count rows of WITH queries (see countWritten)
}

// childCheck is one relationship to check over VALUES rows.
type childCheck struct {
	rel    *Rel
	values [][]keyValue
	guard  string
}

// keyValue is what a statement writes into a key column: an SQL
// expression, to be cast to the column's type.
type keyValue struct {
	expr string
	typ  string
}

// hiddenUse is a consumer of hidden columns [from, from+n).
type hiddenUse struct {
	from, n int
	apply   func(rows [][]*string)
}

// target plans the checks for one table a statement writes.
func (b *planBuilder) target(t *parser.Target) {
	var asChild, asParent []*Rel
	for _, r := range b.rels {
		if r.hidden && (t.Kind != parser.Update && t.Kind != parser.Delete && matches(t.Relation, r.Table) && r.childSide() ||
			t.Kind == parser.Delete && matches(t.Relation, r.RefTable) && r.parentSide()) {
			// The keys it adds or removes are not in the view's rows.
			written := r.Child
			if t.Kind == parser.Delete {
				written = r.Parent
			}
			b.plan.Unverifiable = &Unverifiable{Reason: t.Kind.String() + " through a view that does not show the key columns", Rel: r, Table: written}
			return
		}
		if !r.usable() {
			continue
		}
		if matches(t.Relation, r.Table) && r.childSide() {
			asChild = append(asChild, r)
		}
		if matches(t.Relation, r.RefTable) && r.parentSide() {
			asParent = append(asParent, r)
		}
	}
	switch {
	case len(asChild) > 0:
		b.plan.Table = asChild[0].Child
	case len(asParent) > 0:
		b.plan.Table = asParent[0].Parent
	default:
		return
	}
	defer func(written *Table) {
		if u := b.plan.Unverifiable; u != nil && u.Table == nil {
			u.Table, u.Denotes = written, guard(t.Relation, written)
		}
	}(b.plan.Table)
	if t.Kind == parser.CopyFrom && t.Unsupported == "" {
		if len(asChild) > 0 {
			b.copyTarget(b.st, t, asChild)
		}
		return // copying parents breaks nothing
	}
	if t.Unsupported != "" || t.Write == nil {
		rel := firstOf(asChild, asParent)
		b.plan.Unverifiable = &Unverifiable{Reason: t.Unsupported, Rel: rel}
		return
	}
	w := t.Write
	if t.InWith {
		b.withQuery(w, asChild, asParent)
		return
	}
	if w.CurrentOf && (w.Kind == parser.Delete && len(asParent) > 0 || w.Kind == parser.Update) {
		b.plan.Unverifiable = &Unverifiable{Reason: "WHERE CURRENT OF", Rel: firstOf(asChild, asParent)}
		return
	}
	if w.Kind == parser.Merge && (b.plan.Table.View != nil && !b.env.MergesViews || b.plan.Table.HasRules) {
		// Postgres refuses a MERGE of a table with rules (and before
		// version 17 of a view) before it runs anything; softfk's capture
		// would meet other errors first (a read-only transaction's).
		return
	}
	if b.plan.Table.rules != "" && b.underRules(w, b.plan.Table, asChild, asParent) {
		return
	}
	// A statement that changes referenced keys of the table it writes
	// checks its referencing keys after their actions and checks, as
	// Postgres fires a row's RI triggers: the referenced side's first
	// (their names sort first), so that each reports what Postgres does.
	parentFirst := changesReferencedKey(w, asParent)
	switch w.Kind {
	case parser.Insert:
		if parentFirst && len(asChild) > 0 {
			b.childFromReturning(w, asChild)
		} else {
			b.insert(w, asChild)
		}
		if parentFirst && b.plan.Unverifiable == nil {
			b.upsertParent(w, asParent)
		}
	case parser.Update:
		b.updateChild(w, asChild, !parentFirst)
		b.updateParent(w, asParent, true)
	case parser.Delete:
		b.deleteParent(w, asParent)
	case parser.Merge:
		b.merge(w, asChild, asParent)
	}
}

// underRules plans a write of a table with rules for its event where
// Postgres takes no RETURNING list, which softfk's other plans add: a
// DO INSTEAD rule rewrites the write into other statements (Postgres
// refuses RETURNING unless the rule is unconditional and returns rows of
// its own, and then they are the rule's), and an upsert of a table with
// INSERT or UPDATE rules is refused anyway. It reports whether it
// planned the write. A DELETE's referenced keys are then read just
// before it, and those no row of the table has any more afterwards go
// through their relationships' actions and checks (a rule that turns the
// DELETE into an UPDATE marking the row deleted leaves every key in
// place); an UPDATE's are checked as keys that went away (see
// updateParentByTriggers) where their relationships are NO ACTION. What
// other rows land in the table only the rule knows: other writes of
// checked keys are unverifiable.
func (b *planBuilder) underRules(w *parser.Write, t *Table, asChild, asParent []*Rel) bool {
	unverifiable := func(r *Rel) bool {
		b.plan.Unverifiable = &Unverifiable{Reason: w.Kind.String() + " of a table whose DO INSTEAD rules rewrite it", Rel: r}
		return true
	}
	switch {
	case w.OnConflict != parser.NoConflictClause && (t.hasRules(parser.Insert) || t.hasRules(parser.Update)):
		return true // Postgres refuses it
	case !t.rewritesInstead(w.Kind):
		return false
	case w.Kind == parser.Delete:
		b.deleteParentUnderRules(w, asParent)
	case w.Kind == parser.Update:
		var noAction []*Rel
		for _, r := range asChild {
			if updatesKey(w, r.Child, r.Columns) {
				return unverifiable(r)
			}
		}
		for _, r := range asParent {
			switch {
			case !updatesKey(w, r.Parent, r.RefColumns):
			case r.OnUpdate != config.NoAction:
				return unverifiable(r)
			default:
				noAction = append(noAction, r)
			}
		}
		if len(noAction) > 0 {
			b.updateParentByTriggers(w, noAction)
		}
	case len(asChild) > 0:
		return unverifiable(asChild[0])
	}
	return true
}

// ruleEvents are the pg_rewrite.ev_type of the writes rules exist for.
var ruleEvents = map[parser.Kind]string{parser.Update: "2", parser.Insert: "3", parser.Delete: "4"}

// hasRules reports whether t has rules for writes of kind k.
func (t *Table) hasRules(k parser.Kind) bool {
	e := ruleEvents[k]
	return e != "" && strings.Contains(t.rules, e)
}

// rewritesInstead reports whether a DO INSTEAD rule of t rewrites its
// writes of kind k.
func (t *Table) rewritesInstead(k parser.Kind) bool {
	e := ruleEvents[k]
	return e != "" && strings.Contains(t.rules, e+"i")
}

// deleteParentUnderRules plans a DELETE of referenced rows that a DO
// INSTEAD rule rewrites (see underRules).
func (b *planBuilder) deleteParentUnderRules(w *parser.Write, rels []*Rel) {
	if len(rels) == 0 {
		return
	}
	cols, parent := refColumnsOf(rels), rels[0].Parent
	step, err := b.captureStep(w, rowTexts(config.QuoteIdent(w.Table.RefName()), parent, cols), "")
	if err != nil {
		b.plan.Unverifiable = &Unverifiable{Reason: "DELETE softfk cannot analyse: " + err.Error(), Rel: rels[0]}
		return
	}
	if !b.conflictCheck(w, rels) {
		return
	}
	b.capture(step, func(rows [][]*string) {
		b.work.changed(event{table: parent, guard: guard(w.Table, parent), cols: cols, old: rows, mayRemain: true})
	})
}

// withQuery plans a data-modifying WITH query. Its RETURNING list is the
// query's own output, which softfk cannot extend, so it reads what it needs
// otherwise: an INSERT's keys must be known (they are checked after the
// statement, like any known keys), and the rows an UPDATE or DELETE is
// about to write are captured just before the statement. Checks and
// actions run after the whole statement, as Postgres fires its RI triggers.
func (b *planBuilder) withQuery(w *parser.Write, asChild, asParent []*Rel) {
	unverifiable := func(reason string, rel *Rel) {
		b.plan.Unverifiable = &Unverifiable{Reason: reason + " in a data-modifying WITH query", Rel: rel}
	}
	if w.CurrentOf {
		unverifiable("WHERE CURRENT OF", firstOf(asChild, asParent))
		return
	}
	b.ensureWork()
	captures := len(b.work.captured)
	defer func() {
		if b.plan.Unverifiable == nil && len(b.work.captured) > captures && w.Kind != parser.Insert {
			b.countWritten(w, append(asChild[:len(asChild):len(asChild)], asParent...), captures)
		}
	}()
	switch w.Kind {
	case parser.Insert:
		if len(asChild) > 0 && !b.knownChildRows(w, asChild) {
			unverifiable("INSERT of keys the server computes", asChild[0])
			return
		}
		if changesReferencedKey(w, asParent) {
			b.upsertParent(w, asParent)
		}
	case parser.Update:
		var touched []*Rel
		for _, r := range asChild {
			if r.Child.updateTriggersMayChange(r.Columns) {
				// The key it is about to get is not the one it gets.
				unverifiable("UPDATE of a table whose BEFORE UPDATE triggers may change the key", r)
				return
			}
			if setsAny(w, r.Child, r.Columns) {
				touched = append(touched, r)
			}
		}
		if len(touched) > 0 {
			cols := unionColumns(touched, func(r *Rel) []string { return r.Columns })
			exprs, reason := newKeyExprs(config.QuoteIdent(w.Table.RefName()), w.SetValue, touched[0].Child, cols, true)
			if reason != "" {
				unverifiable("UPDATE of "+reason, touched[0])
				return
			}
			step, err := b.captureStep(w, append(exprs, keepsKeys(w, touched, cols, exprs)...), "")
			if err != nil {
				unverifiable("UPDATE softfk cannot analyse ("+err.Error()+")", touched[0])
				return
			}
			colIdx := indexOf(cols)
			b.capture(step, func(rows [][]*string) { b.work.childRows(touched, w.Table, cols, colIdx, rows, true) })
		}
		b.updateParent(w, asParent, false)
	case parser.Delete:
		if len(asParent) == 0 || !b.conflictCheck(w, asParent) {
			return
		}
		cols := refColumnsOf(asParent)
		parent := asParent[0].Parent
		step, err := b.captureStep(w, rowTexts(config.QuoteIdent(w.Table.RefName()), parent, cols), "")
		if err != nil {
			unverifiable("DELETE softfk cannot analyse ("+err.Error()+")", asParent[0])
			return
		}
		b.capture(step, func(rows [][]*string) { b.work.deleted(parent, w.Table, cols, rows) })
	default:
		unverifiable(w.Kind.String(), firstOf(asChild, asParent))
	}
}

// countWritten guards the captures of an UPDATE or DELETE written as a
// WITH query (the capture at index first of work.captured, and any
// after it) against READ COMMITTED, where the statement, with a snapshot
// of its own, may write rows the capture did not see (see capturedAll):
// softfk inserts into its WHERE a set_config that counts, in a setting
// local to the transaction, the rows the WHERE lets through, and when
// they are more than the capture found, the statement fails as a
// serialization failure. (More, not other: a join may let a row through
// once where its capture finds it once per row it joins.) Shadow
// relationships count nothing.
func (b *planBuilder) countWritten(w *parser.Write, rels []*Rel, first int) {
	r := firstEnforced(rels)
	if r == nil {
		return
	}
	b.counters++
	name := "softfk.written_" + strconv.Itoa(b.counters)
	ins, err := b.st.WhereGuard(w, countedSQL(name))
	if err != nil {
		b.plan.Unverifiable = &Unverifiable{Reason: "a WITH query softfk cannot analyse (" + err.Error() + ")", Rel: r}
		return
	}
	b.countIn(ins, []string{name})
	b.work.captured = slices.Insert(b.work.captured, first, capture{step: b.work.captured[first].step, apply: func(rows [][]*string) {
		b.work.add(&Step{SQL: fmt.Sprintf("SELECT CAST(CASE WHEN CAST(current_setting('%s') AS int8) > %d THEN %s END AS int4)", name, len(rows), conflictSignal(r)),
			Check: &Check{rels: map[int]*Rel{r.Index: r}, Side: ParentSide}}, nil)
	}})
}

// countIn inserts ins into the statement, text that counts rows in the
// settings names (see countedSQL), which a step just before the
// statement sets to 0.
func (b *planBuilder) countIn(ins []parser.Insertion, names []string) {
	b.plan.Insert = append(b.plan.Insert, ins...)
	slices.SortStableFunc(b.plan.Insert, func(x, y parser.Insertion) int { return x.At - y.At })
	resets := make([]string, len(names))
	for i, name := range names {
		resets[i] = "set_config('" + name + "', '0', true)"
	}
	b.plan.Before = append([]*Step{{SQL: "SELECT " + strings.Join(resets, ", ")}}, b.plan.Before...)
}

// countedSQL renders a true condition that adds one to the count in the
// setting name, local to the transaction, each time it is evaluated.
func countedSQL(name string) string {
	return "set_config('" + name + "', CAST(CAST(current_setting('" + name + "') AS int8) + 1 AS text), true) IS NOT NULL"
}

// firstEnforced returns the first of rels in enforce mode, or nil.
func firstEnforced(rels []*Rel) *Rel {
	if i := slices.IndexFunc(rels, func(r *Rel) bool { return r.Mode == config.Enforce }); i >= 0 {
		return rels[i]
	}
	return nil
}

func firstOf(a, b []*Rel) *Rel {
	if len(a) > 0 {
		return a[0]
	}
	return b[0]
}

// insert plans the child side of an INSERT. A one-row INSERT of the
// extended protocol checks its row itself; so does a simple-protocol one
// whose keys the server computes (the server plans such a query afresh each
// time, so known keys are cheaper checked by a prepared statement right
// after it). Other known keys are checked in the same batch; anything else
// the server computes comes back through RETURNING.
func (b *planBuilder) insert(w *parser.Write, rels []*Rel) {
	switch {
	case len(rels) == 0:
	case b.env.Extended && b.rowChecks(w, rels):
	case b.knownChildRows(w, rels):
	case b.rowChecks(w, rels):
	default:
		b.childFromReturning(w, rels)
	}
}

// rowChecks plans the checks of a one-row INSERT inside the statement
// itself (see Inline), and reports whether it did. It does not when the
// check could see less than Postgres's RI trigger would at the end of the
// statement (a BEFORE trigger or rule that may write elsewhere first; see
// inline for more), or more than one row could fail for another reason
// after a violation was raised (Postgres would report that other error,
// from the insert, before its RI triggers fire). A row that ON CONFLICT DO
// UPDATE updated instead is checked only where its key changed (see
// oldRows.kept).
func (b *planBuilder) rowChecks(w *parser.Write, rels []*Rel) bool {
	t := rels[0].Child
	upsert := w.OnConflict == parser.DoUpdate
	if len(b.st.Targets) != 1 || t.HasRules || t.BeforeInsertTrigger || upsert && t.BeforeUpdateTrigger ||
		!(len(w.Rows) == 1 || w.DefaultValues) {
		return false
	}
	var old *oldRows
	if upsert {
		old = b.oldRowsOf(w, rels)
	}
	return b.inline(w, rels, old)
}

// updateRowChecks plans the checks of an UPDATE that writes one row at
// most (its WHERE gives a unique key one value) inside the statement
// itself, as rowChecks does for an INSERT, and reports whether it did.
// The row is checked for a relationship only when it changed its key (see
// oldRows.kept).
func (b *planBuilder) updateRowChecks(w *parser.Write, rels []*Rel) bool {
	t := rels[0].Child
	if len(b.st.Targets) != 1 || t.HasRules || t.BeforeUpdateTrigger || !writesAtMost(w, t, 1) {
		return false
	}
	return b.inline(w, rels, b.oldRowsOf(w, rels))
}

// writesAtMost reports whether a statement's WHERE lets it write n rows
// of t at most: it gives every column of some unique key of t a value
// (=), or one of a list of values (IN), and those lists combine into n
// keys at most.
func writesAtMost(w *parser.Write, t *Table, n int) bool {
	pinned, listed := w.Pinned(), w.Listed()
	for _, key := range t.UniqueKeys {
		keys := 1
		for _, c := range key {
			switch {
			case slices.Contains(pinned, c):
			case listed[c] > 0:
				keys *= min(listed[c], n+1)
			default:
				keys = n + 1
			}
			if keys > n {
				break
			}
		}
		if keys <= n {
			return true
		}
	}
	return false
}

// inline plans the checks of the one row a statement writes inside the
// statement (see Inline), and reports whether it could: not for a
// relationship of a table with itself (the row may reference itself, or a
// row the statement writes later), nor when an unqualified name may denote
// another relation without the key columns the check names (see
// Column.Everywhere). With old, the row an update wrote, a relationship's
// check is skipped for a row that kept its key, and a missing parent of a
// row written in a version newer than the statement's snapshot is a
// serialization failure (see oldRows.stale).
func (b *planBuilder) inline(w *parser.Write, rels []*Rel, old *oldRows) bool {
	t := rels[0].Child
	for _, r := range rels {
		if r.Parent.sameTree(r.Child) {
			return false
		}
		for _, c := range r.ChildCols {
			if w.Table.Schema == "" && !c.Everywhere {
				return false
			}
		}
	}
	ref := config.QuoteIdent(w.Table.RefName())
	guard := rowGuard(w.Table, t, ref)
	in := &Inline{}
	var enforced, shadow []string
	for _, r := range rels {
		cond, stale := guard, ""
		if old != nil {
			cond, stale = joinNonEmpty(" AND ", guard, "("+old.kept(r)+") IS NOT TRUE"), old.stale()
		}
		c := &in.Enforced
		if r.Mode == config.Shadow {
			c = &in.Shadow
			shadow = append(shadow, rowViolation(r, ref, cond, "", false))
		} else {
			enforced = append(enforced, rowViolation(r, ref, cond, stale, true))
		}
		if *c == nil {
			*c = &Check{rels: map[int]*Rel{}, Shadow: r.Mode == config.Shadow, Side: ChildSide}
		}
		(*c).rels[r.Index] = r
	}
	switch len(enforced) {
	case 0:
	case 1:
		b.plan.Hidden = append(b.plan.Hidden, castTo(enforced[0], "int4"))
	default:
		b.plan.Hidden = append(b.plan.Hidden, castTo("COALESCE("+strings.Join(enforced, ", ")+")", "int4"))
	}
	b.plan.Hidden = append(b.plan.Hidden, shadow...)
	in.Shadows = len(shadow)
	b.plan.Inline = in
	return true
}

// rowGuard renders the condition that a row written through ref (the
// statement's name for it) is in table t: an unqualified name may denote
// another table on the session's search_path.
func rowGuard(name parser.Relation, t *Table, ref string) string {
	switch {
	case name.Schema != "":
		return ""
	case t.Kind == 'p', t.View != nil:
		return guard(name, t) // a row's tableoid is its partition's; a view has none
	}
	return ref + ".tableoid = " + liveOID(t)
}

// knownChildRows plans the checks of an INSERT's new keys when all of them
// are known without running it, and reports whether they are.
func (b *planBuilder) knownChildRows(w *parser.Write, rels []*Rel) bool {
	needed := unionColumns(rels, func(r *Rel) []string { return r.Columns })
	rows, ok := b.knownRows(w, rels[0].Child, needed)
	if !ok {
		return false
	}
	at := indexOf(needed)
	for _, r := range rels {
		cc := childCheck{rel: r, guard: guard(w.Table, r.Child), values: make([][]keyValue, len(rows))}
		for i, row := range rows {
			vals := make([]keyValue, len(r.Columns))
			for j, col := range r.Columns {
				vals[j] = row[at[col]]
			}
			cc.values[i] = vals
		}
		b.childChecks = append(b.childChecks, cc)
	}
	return true
}

// knownRows renders each VALUES row's value for the needed columns as SQL
// (in the order of needed), when all of them are known without running
// the statement.
func (b *planBuilder) knownRows(w *parser.Write, t *Table, needed []string) ([][]keyValue, bool) {
	if w.OnConflict != parser.NoConflictClause || t.BeforeInsertTrigger || t.HasRules || (w.Rows == nil && !w.DefaultValues) {
		return nil, false
	}
	cols := w.Columns
	if cols == nil {
		cols = columnsInOrder(t)
	}
	rows := w.Rows
	if w.DefaultValues {
		rows = [][]parser.Value{nil}
	}
	// Where each needed column is in the VALUES rows (the last mention
	// wins, as it did), or -1 when the INSERT does not name it.
	pos := make([]int, len(needed))
	for k, name := range needed {
		pos[k] = -1
		for i, col := range cols {
			if col == name {
				pos[k] = i
			}
		}
	}
	out := make([][]keyValue, len(rows))
	for r, row := range rows {
		vals := make([]keyValue, len(needed))
		for k, name := range needed {
			c := t.Columns[name]
			v := parser.Value{Kind: parser.Default}
			if pos[k] >= 0 && pos[k] < len(row) {
				v = row[pos[k]]
			}
			if c.Generated || (v.Kind == parser.Const && !b.env.StandardStrings && strings.Contains(v.Literal, "'")) {
				return nil, false
			}
			expr, ok := keyExpr(v, c)
			if !ok {
				return nil, false
			}
			vals[k] = keyValue{expr: expr, typ: c.Type}
		}
		out[r] = vals
	}
	return out, true
}

// columnsInOrder lists a table's columns by position.
func columnsInOrder(t *Table) []string {
	names := make([]string, 0, len(t.Columns))
	for name := range t.Columns {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return t.Columns[names[i]].Num < t.Columns[names[j]].Num })
	return names
}

// childFromReturning plans the general child-side path: the statement
// returns the new key values of every row it wrote (hidden), and a check
// runs on them after it. Rows an update left a relationship's key alone in
// are not checked for it (see oldRowsOf).
func (b *planBuilder) childFromReturning(w *parser.Write, rels []*Rel) {
	from, cols := b.hide(w, rels[0].Child, unionColumns(rels, func(r *Rel) []string { return r.Columns }))
	n := len(cols)
	var old *oldRows
	if w.Kind == parser.Update || w.OnConflict == parser.DoUpdate {
		old = b.oldRowsOf(w, rels)
	}
	if old != nil {
		for _, r := range rels {
			b.plan.Hidden = append(b.plan.Hidden, "("+old.kept(r)+")::text")
		}
		n += len(rels)
	}
	colIdx := indexOf(cols)
	b.hiddenUse = append(b.hiddenUse, hiddenUse{from: from, n: n, apply: func(rows [][]*string) {
		b.work.childRows(rels, w.Table, cols, colIdx, rows, old != nil)
	}})
}

// oldRowsOf returns, for an UPDATE or ON CONFLICT DO UPDATE, what reads
// the version a row replaced (see oldRows), or nil when it cannot be
// known: that needs a unique key of the table the statement
// leaves alone, no BEFORE UPDATE trigger or UPDATE rule that might change
// it anyway, and the row's xmin, which an INSERT into a partitioned table
// cannot return (not even for the rows its ON CONFLICT DO UPDATE updates).
func (b *planBuilder) oldRowsOf(w *parser.Write, rels []*Rel) *oldRows {
	t := rels[0].Child
	if t.BeforeUpdateTrigger || t.hasRules(parser.Update) || !onlyTables(w, t) || w.Kind == parser.Insert && t.Kind == 'p' {
		return nil
	}
	var unique []string
	for _, key := range t.UniqueKeys {
		if setsAny(w, t, key) {
			continue
		}
		// The shortest, the first in name order among equals: plans stay
		// the same however the catalog lists the keys.
		if unique == nil || len(key) < len(unique) || len(key) == len(unique) && slices.Compare(key, unique) < 0 {
			unique = key
		}
	}
	if unique == nil {
		return nil
	}
	return &oldRows{t: t, ref: config.QuoteIdent(w.Table.RefName()), guard: guard(w.Table, t), unique: unique, upsert: w.OnConflict == parser.DoUpdate}
}

// onlyTables reports whether the name a statement writes through denotes a
// table (plain, partitioned or foreign, with system columns such as xmin)
// whichever relation of that name it reaches: always when the name is
// qualified (and t is not a view); otherwise when some column of t is in
// every other relation of its name, which makes those tables too (see
// Column.Everywhere).
func onlyTables(w *parser.Write, t *Table) bool {
	switch {
	case t.View != nil:
		return false
	case w.Table.Schema != "":
		return true
	}
	for _, c := range t.Columns {
		if c.Everywhere {
			return true
		}
	}
	return false
}

// hide appends hidden RETURNING columns (each value as text) for the
// columns of the target, table t, and returns where they start.
func (b *planBuilder) hide(w *parser.Write, t *Table, cols []string) (int, []string) {
	from := len(b.plan.Hidden)
	b.plan.Hidden = append(b.plan.Hidden, rowTexts(config.QuoteIdent(w.Table.RefName()), t, cols)...)
	b.ensureWork()
	return from, cols
}

func (b *planBuilder) ensureWork() {
	if b.work == nil {
		b.work = &parentWork{db: b.db, rels: b.rels}
	}
}

// updateChild plans an UPDATE that assigns referencing columns, or whose
// BEFORE UPDATE triggers may change them: one that writes a single row
// checks it inside the statement; otherwise the new values come back
// through RETURNING, triggers' changes included, and are checked after
// it.
func (b *planBuilder) updateChild(w *parser.Write, rels []*Rel, inline bool) {
	var touched []*Rel
	for _, r := range rels {
		if updatesKey(w, r.Child, r.Columns) {
			touched = append(touched, r)
		}
	}
	if len(touched) > 0 && !(inline && b.updateRowChecks(w, touched)) {
		b.childFromReturning(w, touched)
	}
}

// deleteParent plans a DELETE of referenced rows: the deleted keys come
// back through RETURNING (or, from a DELETE of few rows, stay on the
// server: see afterFewRowsDelete), then each relationship's action runs.
func (b *planBuilder) deleteParent(w *parser.Write, rels []*Rel) {
	if len(rels) == 0 {
		return
	}
	if after := b.afterFewRowsDelete(w, rels); after != nil {
		if b.conflictCheckAnd(w, rels, clearDeletedKeys) {
			b.keepDeletedKeys(w, rels, after)
		}
		return
	}
	if !b.conflictCheck(w, rels) {
		return
	}
	from, cols := b.hide(w, rels[0].Parent, refColumnsOf(rels))
	b.hiddenUse = append(b.hiddenUse, hiddenUse{from: from, n: len(cols), apply: func(rows [][]*string) {
		b.work.deleted(rels[0].Parent, w.Table, cols, rows)
	}})
}

// A DELETE of few referenced rows keeps the keys it deleted, for the steps
// after it, in the session setting deletedKeys (see afterFewRowsDelete):
// clearDeletedKeys empties it first, the DELETE's hidden RETURNING
// appends each key, and deletedKeysRead reads them, as JSON rows, in the
// steps. fewRows is the most rows such a DELETE may remove: each row
// appends to the setting's whole value again.
const (
	fewRows          = 100
	deletedKeys      = "softfk.deleted_keys"
	deletedKeysRead  = "nullif(current_setting('" + deletedKeys + "', true), '')"
	clearDeletedKeys = "set_config('" + deletedKeys + "', '', true)"
)

// afterFewRowsDelete returns the steps after a DELETE that removes
// fewRows referenced rows at most (its WHERE gives a unique key a value,
// or one of a short list: WHERE id = $1, WHERE id IN (1, 2)), reading the
// keys from deletedKeys, when none reads rows back for another round (a
// CASCADE into a table that is itself referenced, a SET NULL of a key
// others reference, SET DEFAULT); nil
// otherwise. Such a DELETE needs nothing from its results: the steps
// follow it in the same batch, as new statements, and no round trip waits
// for its keys. A DELETE of more rows keeps its keys the usual way (see
// deleteParent).
func (b *planBuilder) afterFewRowsDelete(w *parser.Write, rels []*Rel) []*Step {
	t := rels[0].Parent
	if len(b.st.Targets) != 1 || t.HasRules || !writesAtMost(w, t, fewRows) {
		return nil
	}
	after := &parentWork{db: b.db, rels: b.rels}
	after.changed(event{table: t, guard: guard(w.Table, t), cols: refColumnsOf(rels), inSetting: true})
	if len(after.cascade) > 0 {
		return nil
	}
	return after.steps
}

// keepDeletedKeys plans a DELETE of few referenced rows whose steps after
// it read their keys from deletedKeys (see afterFewRowsDelete), which its
// RETURNING fills (its hidden column is just false, not the setting's
// growing value). The setting was emptied before it (see
// conflictCheckAnd), so one that removes nothing leaves nothing to check.
func (b *planBuilder) keepDeletedKeys(w *parser.Write, rels []*Rel, after []*Step) {
	t := rels[0].Parent
	key := "jsonb_build_array(" + strings.Join(rowTexts(config.QuoteIdent(w.Table.RefName()), t, refColumnsOf(rels)), ", ") + ")"
	b.plan.Hidden = append(b.plan.Hidden, "set_config('"+deletedKeys+"', (coalesce("+deletedKeysRead+", '[]')::jsonb || jsonb_build_array("+key+"))::text, true) IS NULL")
	b.plan.After = append(b.plan.After, after...)
}

// conflictCheck adds, before a statement that deletes or re-keys parent
// rows, the transaction-snapshot check for concurrent lockers it
// cannot see (see conflictCheckSQL). It reports false when the statement
// cannot be analysed (the plan is then unverifiable).
func (b *planBuilder) conflictCheck(w *parser.Write, rels []*Rel) bool {
	return b.conflictCheckAnd(w, rels, "")
}

// conflictCheckAnd is conflictCheck whose step also evaluates the
// expression also (when not ""), in a column of its own; with no check to
// make, also runs in a step by itself.
func (b *planBuilder) conflictCheckAnd(w *parser.Write, rels []*Rel, also string) bool {
	var enforced []*Rel
	for _, r := range rels {
		if r.Mode == config.Enforce {
			enforced = append(enforced, r)
		}
	}
	if len(enforced) == 0 {
		if also != "" {
			b.plan.Before = append(b.plan.Before, &Step{SQL: "SELECT " + also})
		}
		return true
	}
	with, fromWhere, err := w.FromWhereAnd(conflictsMatter(enforced[0].Parent))
	if err != nil {
		b.plan.Unverifiable = &Unverifiable{Reason: "statement softfk cannot analyse: " + err.Error(), Rel: enforced[0]}
		return false
	}
	check := &Check{rels: map[int]*Rel{enforced[0].Index: enforced[0]}, Side: ParentSide, LockWaitConflicts: true}
	alias := config.QuoteIdent(w.Table.RefName())
	if t := enforced[0].Parent; t.View != nil {
		alias, fromWhere = viewRows(t, alias, enforced[0].RefColumns, fromWhere)
	}
	sql := conflictCheckSQL(enforced[0], alias, with, fromWhere)
	if also != "" {
		sql += ", " + also
	}
	step := &Step{SQL: sql, Check: check, Source: w, Command: b.command()}
	if b.env.Extended {
		b.bindClientParams(step)
	}
	b.plan.Before = append(b.plan.Before, step)
	return true
}

// updateParent plans an UPDATE that may change referenced keys: a locking
// query captures each row's old key and the key it is about to get, the
// statement runs, then each relationship's ON UPDATE action runs. Where
// the table's BEFORE UPDATE triggers may change a key, the key it is
// about to get cannot be known: see updateParentByTriggers. counted says
// the statement's RETURNING list may be extended (it is not a WITH
// query's): see capturedAll.
func (b *planBuilder) updateParent(w *parser.Write, rels []*Rel, counted bool) {
	var touched, triggered []*Rel
	for _, r := range rels {
		switch {
		case r.OnUpdate == config.NoAction && r.Parent.updateTriggersMayChange(r.RefColumns):
			triggered = append(triggered, r)
		case r.OnUpdate != config.NoAction && r.Parent.updateTriggersMayOverride(r.RefColumns, setsAny(w, r.Parent, r.RefColumns)):
			b.plan.Unverifiable = &Unverifiable{Reason: "UPDATE of a table whose BEFORE UPDATE triggers may change a key referenced ON UPDATE " +
				strings.ToUpper(string(r.OnUpdate)), Rel: r}
			return
		case setsAny(w, r.Parent, r.RefColumns):
			touched = append(touched, r)
		}
	}
	if len(triggered) > 0 && !b.updateParentByTriggers(w, triggered) || len(touched) == 0 {
		return
	}
	cols := refColumnsOf(touched)
	ref := config.QuoteIdent(w.Table.RefName())
	newKeys, reason := newKeyExprs(ref, w.SetValue, touched[0].Parent, cols, needsNewKey(touched))
	if reason != "" {
		b.plan.Unverifiable = &Unverifiable{Reason: reason, Rel: touched[0]}
		return
	}
	// Where the keys the rows get can be evaluated again alike, each row is
	// locked as the UPDATE will lock it (see captureStep).
	changed := ""
	if exact, why := newKeyExprs(ref, w.SetValue, touched[0].Parent, cols, true); why == "" {
		changed = "ROW(" + strings.Join(rowTexts(ref, touched[0].Parent, cols), ", ") + ") IS DISTINCT FROM ROW(" + strings.Join(exact, ", ") + ")"
	}
	step, err := b.captureStep(w, append(rowTexts(ref, touched[0].Parent, cols), newKeys...), changed)
	if err != nil {
		b.plan.Unverifiable = &Unverifiable{Reason: "UPDATE softfk cannot analyse: " + err.Error(), Rel: touched[0]}
		return
	}
	if !b.conflictCheck(w, touched) {
		return
	}
	n, parent := len(cols), touched[0].Parent
	capturedAll := b.capturedAll(touched, counted)
	b.capture(step, func(rows [][]*string) {
		capturedAll(rows)
		b.work.changed(event{table: parent, guard: guard(w.Table, parent), cols: cols,
			old: columnsOf(rows, 0, n), new: columnsOf(rows, n, n)})
	})
}

// capturedAll guards an UPDATE's capture of the referenced keys it
// changes against READ COMMITTED, where the statement, with a snapshot of
// its own, may write rows the capture did not see: in `WHERE id = (SELECT
// min(id) ...)`, the row the capture found, changed meanwhile by another
// transaction it waited for, drops out of the capture, and the statement
// then re-keys the next one. With counted, the statement returns one
// hidden row per row it writes, and when it wrote more rows than the
// capture saw, the returned function (given the capture's rows) fails the
// statement as a serialization failure, which clients retry, instead of
// leaving the children of the rows it did not see behind. Without
// counted, or in shadow mode, it does nothing (see README's known
// limits).
func (b *planBuilder) capturedAll(rels []*Rel, counted bool) func(captured [][]*string) {
	r := firstEnforced(rels)
	if !counted || r == nil {
		return func([][]*string) {}
	}
	if len(b.plan.Hidden) == 0 {
		b.plan.Hidden = append(b.plan.Hidden, "NULL::text")
	}
	written := 0
	b.hiddenUse = append(b.hiddenUse, hiddenUse{apply: func(rows [][]*string) { written = len(rows) }})
	return func(captured [][]*string) {
		if written > len(captured) {
			b.work.add(&Step{SQL: "SELECT CAST(" + conflictSignal(r) + " AS int4)", Check: &Check{rels: map[int]*Rel{r.Index: r}, Side: ParentSide}}, nil)
		}
	}
}

// updateParentByTriggers plans an UPDATE of referenced rows whose BEFORE
// UPDATE triggers may change the NO ACTION relationships rels' keys, as
// they may whether or not it assigns them: a locking query captures each
// row's old key, and after the statement each is checked as a key that
// went away. NO ACTION looks for the key in the table first, so a row
// that kept its key passes, and a key that did go away is checked as
// Postgres checks it. It reports false when the UPDATE is unverifiable.
func (b *planBuilder) updateParentByTriggers(w *parser.Write, rels []*Rel) bool {
	cols := refColumnsOf(rels)
	parent := rels[0].Parent
	step, err := b.captureStep(w, rowTexts(config.QuoteIdent(w.Table.RefName()), parent, cols), "")
	if err != nil {
		b.plan.Unverifiable = &Unverifiable{Reason: "UPDATE softfk cannot analyse: " + err.Error(), Rel: rels[0]}
		return false
	}
	if !b.conflictCheck(w, rels) {
		return false
	}
	b.capture(step, func(rows [][]*string) {
		b.work.changed(event{table: parent, guard: guard(w.Table, parent), cols: cols, old: rows, updated: true})
	})
	return true
}

// newKeyExprs renders, as text, each of t's columns cols as an UPDATE (of
// the rows named ref) is about to set it: the value set assigns, or the
// column as it is; NULL for a row of a table that inherits from t (see
// ownRows). With exact, an expression softfk cannot evaluate again
// with the same result is refused; reason then says why.
func newKeyExprs(ref string, set func(column string) (parser.Value, bool), t *Table, cols []string, exact bool) (exprs []string, reason string) {
	set = t.assignments(set)
	for _, c := range cols {
		expr := rowText(ref, t, c)
		if v, ok := set(c); ok {
			if expr, reason = assignedText(v, t, c, exact); reason != "" {
				return nil, reason
			}
			expr = ownRows(ref, t, expr)
		}
		exprs = append(exprs, expr)
	}
	return exprs, ""
}

// assignedText renders as text the value v a write assigns to column c of
// t, cast to the column's type as the assignment casts it (so a bare
// parameter gets the same type in both statements). DEFAULT and
// expressions the parser cannot render are refused, and with exact an
// expression that may give another result when evaluated again; reason
// then says why.
func assignedText(v parser.Value, t *Table, c string, exact bool) (text, reason string) {
	if t.Columns[c].Generated {
		return "", "a generated key column"
	}
	if exact && !v.Deterministic() {
		return "", "a key set by a non-deterministic expression"
	}
	sql, err := v.SQL()
	if err != nil || v.Kind == parser.Default {
		return "", "a key set by an expression softfk cannot evaluate"
	}
	return "(" + castTo("("+sql+")", t.Columns[c].Type) + ")::text", ""
}

// capture adds a collecting Before step whose rows apply receives after
// the statement.
func (b *planBuilder) capture(step *Step, apply func(rows [][]*string)) {
	collected := 0
	for _, s := range b.plan.Before {
		if s.Collect {
			collected++
		}
	}
	step.Collect = true
	b.plan.Before = append(b.plan.Before, step)
	b.ensureWork()
	b.work.captured = append(b.work.captured, capture{step: collected, apply: apply})
}

// captureStep builds the step that reads, locking them, the rows an
// UPDATE or DELETE is about to write: sel are its output expressions. It
// locks them as the statement will: a DELETE FOR UPDATE; an UPDATE FOR
// UPDATE the rows whose key it changes, which wait for children's FOR
// KEY SHARE locks, and FOR NO KEY UPDATE the others, which do not. Where
// changed, the condition that a row's key changes, is "", all of an
// UPDATE's rows are locked FOR NO KEY UPDATE (the UPDATE itself then
// takes FOR UPDATE of those whose key it changes).
func (b *planBuilder) captureStep(w *parser.Write, sel []string, changed string) (*Step, error) {
	ref := config.QuoteIdent(w.Table.RefName())
	rows := func(cond, lock string) (with, sql string, err error) {
		with, fromWhere, err := w.FromWhereAnd(cond)
		return with, "SELECT " + strings.Join(sel, ", ") + " " + fromWhere + lock + ref, err
	}
	var with, sql string
	var err error
	switch {
	case w.Kind != parser.Update:
		with, sql, err = rows("", " FOR UPDATE OF ")
	case changed == "":
		with, sql, err = rows("", " FOR NO KEY UPDATE OF ")
	default:
		var changing, keeping string
		if with, changing, err = rows(changed, " FOR UPDATE OF "); err == nil {
			_, keeping, err = rows("NOT ("+changed+")", " FOR NO KEY UPDATE OF ")
		}
		sql = "SELECT softfk_changing.* FROM (" + changing + ") softfk_changing UNION ALL SELECT softfk_keeping.* FROM (" + keeping + ") softfk_keeping"
	}
	if err != nil {
		return nil, err
	}
	step := &Step{SQL: with + sql, Source: w, Command: b.command()}
	if b.env.Extended {
		b.bindClientParams(step)
	}
	return step, nil
}

// command is the name Postgres gives the client's statement when it
// refuses it in a read-only transaction.
func (b *planBuilder) command() string {
	switch b.st.Kind {
	case parser.Insert, parser.Update, parser.Delete, parser.Merge:
		return b.st.Kind.String()
	}
	return "SELECT"
}

// bindClientParams gives a step the client's parameters, under the same
// numbers; parameters the step does not reference are sent as NULL text so
// their types need not be known.
func (b *planBuilder) bindClientParams(s *Step) {
	used, err := parser.ParamsUsed(s.SQL)
	if err != nil || len(used) == 0 {
		return
	}
	max := 0
	isUsed := map[int]bool{}
	for _, n := range used {
		isUsed[n] = true
		if n > max {
			max = n
		}
	}
	for n := 1; n <= max; n++ {
		var typ uint32
		if n <= len(b.env.ParamTypes) {
			typ = b.env.ParamTypes[n-1]
		}
		if isUsed[n] {
			s.Args = append(s.Args, Arg{ClientParam: n})
		} else {
			s.Args = append(s.Args, Arg{Null: true})
			if typ == 0 {
				typ = oidText
			}
		}
		s.Types = append(s.Types, typ)
	}
	if key := StatementKey(s.SQL, s.Types); key != s.SQL {
		s.typedKey = key
	}
}

// The OIDs of types text and bytea.
const (
	oidText  = 25
	oidBytea = 17
)

// needsNewKey reports whether an ON UPDATE action needs the new key value.
func needsNewKey(rels []*Rel) bool {
	for _, r := range rels {
		if r.OnUpdate != config.NoAction {
			return true
		}
	}
	return false
}

// finish turns the accumulated checks into steps.
func (b *planBuilder) finish() {
	if len(b.childChecks) > 0 {
		b.plan.After = append(b.plan.After, b.knownChecks()...)
	}
	if b.work != nil {
		b.work.hidden = b.hiddenUse
		b.plan.Continue = b.work
	}
}

// knownValueCount returns how many key values the known-key checks hold.
func (b *planBuilder) knownValueCount() int {
	n := 0
	for _, cc := range b.childChecks {
		for _, vals := range cc.values {
			n += len(vals)
		}
	}
	return n
}

// knownChecks combines the known-key checks into one enforced and one
// shadow step. In the extended protocol the values are the client's own
// parameters and the literals of its prepared statement, so the check is
// fixed for that statement. In the simple protocol every value becomes a
// parameter of the check, so one prepared check serves every execution of
// the same statement shape, and its SQL is built once per shape.
func (b *planBuilder) knownChecks() []*Step {
	var steps []*Step
	for _, shadow := range []bool{false, true} {
		var checks []childCheck
		var args []Arg
		check := &Check{rels: map[int]*Rel{}, Shadow: shadow, Side: ChildSide}
		shape := fmt.Sprint(shadow)
		for _, cc := range b.childChecks {
			if (cc.rel.Mode == config.Shadow) != shadow {
				continue
			}
			checks = append(checks, cc)
			check.rels[cc.rel.Index] = cc.rel
			if !b.env.Extended {
				if args == nil {
					args = make([]Arg, 0, b.knownValueCount())
				}
				shape += fmt.Sprintf(" %d %d %q", cc.rel.Index, len(cc.values), cc.guard)
				for _, vals := range cc.values {
					for _, v := range vals {
						args = append(args, Arg{Expr: v.expr})
					}
				}
			}
		}
		if len(checks) == 0 {
			continue
		}
		build := func() string { return knownCheckSQL(checks, b.env.Extended, shadow) }
		var sql string
		if b.env.Extended {
			sql = build()
		} else {
			sql = b.shapes.get(shape, build)
		}
		step := &Step{SQL: sql, Check: check, Args: args}
		if b.env.Extended {
			b.bindClientParams(step)
		}
		steps = append(steps, step)
	}
	return steps
}

// knownCheckSQL renders the check of the known keys of checks. With
// params, the values stand in the SQL as they are (the client's
// parameters, literals); otherwise each value is a parameter of the check,
// numbered check by check, row by row.
func knownCheckSQL(checks []childCheck, params bool, shadow bool) string {
	var width, n int
	var rows [][]string
	var violations []violationQuery
	for _, cc := range checks {
		idx := make([]int, len(cc.rel.Columns))
		for j := range idx {
			idx[j] = width + j
		}
		for i, vals := range cc.values {
			if i >= len(rows) {
				rows = append(rows, make([]string, 0, width+len(vals)))
			}
			for _, v := range vals {
				expr := v.expr
				if !params {
					n++
					expr = "$" + strconv.Itoa(n)
				}
				rows[i] = append(rows[i], castTo(expr, v.typ))
			}
		}
		width += len(cc.rel.Columns)
		rel, guard := cc.rel, cc.guard
		violations = append(violations, func(from string) string { return childViolations(rel, from, idx, guard, !shadow) })
	}
	return checkSQL(valuesSource(rows), violations, shadow)
}

// updatesKey reports whether an UPDATE (or DO UPDATE) of t may change
// any of cols: it assigns one, or t's BEFORE UPDATE triggers may change
// them.
func updatesKey(w *parser.Write, t *Table, cols []string) bool {
	return setsAny(w, t, cols) || t.updateTriggersMayChange(cols)
}

// changesReferencedKey reports whether an UPDATE, or an INSERT's ON
// CONFLICT DO UPDATE, may change a key of asParent, the relationships that
// reference the table it writes.
func changesReferencedKey(w *parser.Write, asParent []*Rel) bool {
	return (w.Kind == parser.Update || w.OnConflict == parser.DoUpdate) && len(asParent) > 0 &&
		updatesKey(w, asParent[0].Parent, refColumnsOf(asParent))
}

// setsAny reports whether an UPDATE (or DO UPDATE) of t assigns any of
// cols (see Table.assignments).
func setsAny(w *parser.Write, t *Table, cols []string) bool {
	return setsAnyOf(t.assignments(w.SetValue), cols)
}

// assignments returns what set, the assignments of an UPDATE of t, assigns
// each column: its own value, except that a stored generated column is
// assigned a value only the server computes when set assigns a column it
// is computed from (Postgres computes it again), and nothing otherwise.
func (t *Table) assignments(set func(column string) (parser.Value, bool)) func(column string) (parser.Value, bool) {
	return func(column string) (parser.Value, bool) {
		c := t.Columns[column]
		if !c.Generated {
			return set(column)
		}
		return parser.Value{Kind: parser.Computed}, setsAnyOf(set, c.DependsOn)
	}
}

// refColumnsOf lists the referenced columns of the relationships, once each.
func refColumnsOf(rels []*Rel) []string {
	return unionColumns(rels, func(r *Rel) []string { return r.RefColumns })
}

// unionColumns lists the columns pick returns for the relationships, once
// each, in order of first appearance.
func unionColumns(rels []*Rel, pick func(*Rel) []string) []string {
	var cols []string
	for _, r := range rels {
		for _, c := range pick(r) {
			if !contains(cols, c) {
				cols = append(cols, c)
			}
		}
	}
	return cols
}

// indexOf maps each name to its position.
func indexOf(names []string) map[string]int {
	m := make(map[string]int, len(names))
	for i, n := range names {
		m[n] = i
	}
	return m
}
