// Package parser turns SQL text into softfk's own small description of what
// each statement writes: its kind, target tables, the key values it carries
// when they are literals or parameters, and enough of its text to build
// companion statements. It is the only package that touches pg_query; no
// pg_query node leaves it.
package parser

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// Kind classifies a statement by what softfk has to do about it.
type Kind uint8

// The statement kinds.
const (
	Other       Kind = iota // reads, DDL, session commands: nothing to check
	Insert                  // INSERT
	Update                  // UPDATE
	Delete                  // DELETE
	Merge                   // MERGE
	Truncate                // TRUNCATE
	CopyFrom                // COPY ... FROM
	Prepare                 // SQL-level PREPARE name AS statement
	Execute                 // SQL-level EXECUTE name(...)
	Deallocate              // DEALLOCATE name | ALL, DISCARD ALL
	Transaction             // BEGIN, COMMIT, ROLLBACK, SAVEPOINT, ...
	Schema                  // DDL that may change the facts softfk reads from the catalog
)

var kindNames = [...]string{"other", "INSERT", "UPDATE", "DELETE", "MERGE", "TRUNCATE", "COPY", "PREPARE", "EXECUTE", "DEALLOCATE", "transaction control", "DDL"}

// String names the kind for logs and tests.
func (k Kind) String() string { return kindNames[k] }

// Relation names a table as a statement wrote it.
type Relation struct {
	Schema string // empty when unqualified (resolved by search_path)
	Name   string
	Inh    bool   // false for ONLY t
	Alias  string // the name the statement refers to it by, if aliased
}

// RefName is how the statement's own expressions refer to the table.
func (r Relation) RefName() string {
	if r.Alias != "" {
		return r.Alias
	}
	return r.Name
}

// Statement is one statement of a query string.
type Statement struct {
	Kind Kind
	// Start and End delimit the statement's text (End excludes the ';'
	// separating it from the next one).
	Start, End int
	// TokenEnd is the end of the statement's last token: where a clause can
	// be appended without landing inside a trailing comment.
	TokenEnd int
	// Targets are the tables the statement writes, each with what softfk
	// knows about the write.
	Targets []Target
	// Name is the prepared statement name of PREPARE, EXECUTE, DEALLOCATE
	// ("" with DEALLOCATE ALL / DISCARD ALL).
	Name string
	// Inner is the statement a PREPARE prepares, and Body its text.
	Inner *Statement
	Body  string
	// Args are the arguments of an EXECUTE as the client wrote them, when
	// softfk may evaluate them in its stead: a constant (perhaps cast) or
	// a parameter of the EXECUTE itself; "" for anything else. ArgsAt are
	// their offsets in the query string.
	Args   []string
	ArgsAt []int
	// Wrapper names the statement an EXECUTE runs inside, which softfk
	// cannot extend with its checks ("EXPLAIN ANALYZE", "CREATE TABLE
	// AS"); "" for an EXECUTE of its own.
	Wrapper string
	// Text is the statement's own SQL.
	Text string
	// Copy describes a COPY FROM statement.
	Copy *Copy
	// Alter describes an ALTER TABLE after which PostgreSQL validates
	// foreign keys again.
	Alter *Alter
	// Drop describes a DROP TABLE.
	Drop *Drop
	// SetConstraints describes a SET CONSTRAINTS naming constraints.
	SetConstraints *SetConstraints

	truncate *pg_query.TruncateStmt
	// keepsNames, changesTables, namesRelation, creates and
	// changesWritesOf are the answers of the methods of those names.
	keepsNames, changesTables, namesRelation bool
	creates                                  *Creation
	changesWritesOf                          *Relation
	definesFunction                          bool
}

// DefinesFunction reports whether the statement creates or replaces a
// function or procedure, which may be a trigger's.
func (st *Statement) DefinesFunction() bool { return st.definesFunction }

// TruncatedTable is a table TruncateWith adds to a TRUNCATE: its schema
// and name, and Only to truncate it without the tables that inherit from
// it.
type TruncatedTable struct {
	Schema, Name string
	Only         bool
}

// TruncateWith renders a TRUNCATE statement with more tables added to its
// list (schema-qualified names), keeping its other options.
func (st *Statement) TruncateWith(tables []TruncatedTable) (string, error) {
	if st.truncate == nil {
		return "", fmt.Errorf("not a TRUNCATE statement")
	}
	t := &pg_query.TruncateStmt{Relations: append([]*pg_query.Node(nil), st.truncate.Relations...),
		RestartSeqs: st.truncate.RestartSeqs, Behavior: st.truncate.Behavior}
	for _, table := range tables {
		t.Relations = append(t.Relations, &pg_query.Node{Node: &pg_query.Node_RangeVar{RangeVar: &pg_query.RangeVar{
			Schemaname: table.Schema, Relname: table.Name, Inh: !table.Only, Relpersistence: "p"}}})
	}
	tree := &pg_query.ParseResult{Version: treeVersion, Stmts: []*pg_query.RawStmt{{Stmt: &pg_query.Node{Node: &pg_query.Node_TruncateStmt{TruncateStmt: t}}}}}
	return pg_query.Deparse(tree)
}

// Main returns the statement's own INSERT, UPDATE, DELETE or MERGE (not
// one in a WITH query), or nil.
func (st *Statement) Main() *Write {
	switch st.Kind {
	case Insert, Update, Delete, Merge:
		if n := len(st.Targets); n > 0 {
			return st.Targets[n-1].Write
		}
	}
	return nil
}

// KeepsNames reports whether running the statement leaves what an
// unqualified table name denotes as it was: a write (INSERT, UPDATE,
// DELETE, MERGE, TRUNCATE, COPY FROM) or a SELECT (not SELECT INTO)
// whose text does not mention set_config, BEGIN, START TRANSACTION,
// SAVEPOINT or RELEASE. Anything else may change it: DDL, SET
// search_path, a ROLLBACK or COMMIT ending a SET LOCAL. (A function that
// changes the search_path itself, called by a write or a SELECT, goes
// unnoticed.)
func (st *Statement) KeepsNames() bool { return st.keepsNames }

// ChangesTables reports whether the statement is DDL that may change
// existing tables or create one that is not temporary: anything of kind
// Schema, and CREATE TABLE ... AS, but for CREATE TEMP TABLE (a temporary
// namesake of a table changes nothing about the table itself).
func (st *Statement) ChangesTables() bool { return st.changesTables }

// DropsDependencies reports whether the statement drops tables, columns,
// indexes or constraints, which Postgres refuses while a foreign key
// depends on them.
func (st *Statement) DropsDependencies() bool {
	return st.Drop != nil || st.Alter != nil && st.Alter.Drops != nil
}

// NamesRelation reports whether the statement creates a relation or gives
// one a name or schema (CREATE TABLE, CREATE TABLE AS, SELECT INTO, CREATE
// VIEW, ALTER ... RENAME, ALTER ... SET SCHEMA): a name in a statement
// prepared before may then denote another relation than it did, which
// Postgres's plan cache does not notice (it plans a prepared statement
// again when a relation it uses changes or the search_path does, not when
// a namesake appears earlier in the path).
func (st *Statement) NamesRelation() bool { return st.namesRelation }

// Creation is a relation a statement creates over others, which a write
// may reach them through: a partition (Over is its partitioned table) or
// a view (Over are the relations of its FROM list).
type Creation struct {
	Name string
	Over []Relation
}

// Creates describes the partition or view the statement creates, or
// returns nil.
func (st *Statement) Creates() *Creation { return st.creates }

// creation computes Creates for the statement n.
func creation(n *pg_query.Node) *Creation {
	var c Creation
	var over []*pg_query.Node
	switch {
	case n.GetCreateStmt() != nil && n.GetCreateStmt().Partbound != nil:
		c.Name, over = n.GetCreateStmt().Relation.GetRelname(), n.GetCreateStmt().InhRelations
	case n.GetViewStmt() != nil:
		c.Name, over = n.GetViewStmt().View.GetRelname(), n.GetViewStmt().Query.GetSelectStmt().GetFromClause()
	default:
		return nil
	}
	for _, o := range over {
		if rv := o.GetRangeVar(); rv != nil {
			c.Over = append(c.Over, relation(rv))
		}
	}
	return &c
}

// ChangesWritesOf returns the table whose writes the statement changes
// beyond the values they carry: the defaults of its columns (ALTER TABLE
// ... ALTER COLUMN ... SET or DROP DEFAULT) or its triggers (CREATE
// TRIGGER); nil for other statements.
func (st *Statement) ChangesWritesOf() *Relation { return st.changesWritesOf }

// changesWritesOf computes ChangesWritesOf for the statement n.
func changesWritesOf(n *pg_query.Node) *Relation {
	switch {
	case n.GetAlterTableStmt() != nil:
		s := n.GetAlterTableStmt()
		for _, c := range s.Cmds {
			if c.GetAlterTableCmd().GetSubtype() == pg_query.AlterTableType_AT_ColumnDefault && s.Relation != nil {
				r := relation(s.Relation)
				return &r
			}
		}
	case n.GetCreateTrigStmt() != nil && n.GetCreateTrigStmt().Relation != nil:
		r := relation(n.GetCreateTrigStmt().Relation)
		return &r
	}
	return nil
}

// namesRelation computes NamesRelation for the statement n.
func namesRelation(n *pg_query.Node) bool {
	switch {
	case n.GetCreateStmt() != nil, n.GetCreateTableAsStmt() != nil, n.GetViewStmt() != nil,
		n.GetRenameStmt() != nil, n.GetAlterObjectSchemaStmt() != nil, n.GetCreateForeignTableStmt() != nil:
		return true
	case n.GetSelectStmt() != nil:
		return n.GetSelectStmt().IntoClause != nil
	}
	return false
}

// changesTables computes ChangesTables for the statement n of kind.
func changesTables(n *pg_query.Node, kind Kind) bool {
	switch {
	case n.GetCreateStmt() != nil:
		return n.GetCreateStmt().Relation.GetRelpersistence() != "t"
	case n.GetCreateTableAsStmt() != nil:
		return n.GetCreateTableAsStmt().Into.GetRel().GetRelpersistence() != "t"
	}
	return kind == Schema
}

// keepsNames computes KeepsNames for the statement n of kind, whose SQL
// is text.
func keepsNames(n *pg_query.Node, kind Kind, text string) bool {
	switch {
	case kind == Insert, kind == Update, kind == Delete, kind == Merge, kind == Truncate, kind == CopyFrom,
		n.GetSelectStmt() != nil && n.GetSelectStmt().IntoClause == nil:
		return !containsFold(text, "set_config")
	case n.GetTransactionStmt() != nil:
		switch n.GetTransactionStmt().Kind {
		case pg_query.TransactionStmtKind_TRANS_STMT_BEGIN, pg_query.TransactionStmtKind_TRANS_STMT_START,
			pg_query.TransactionStmtKind_TRANS_STMT_SAVEPOINT, pg_query.TransactionStmtKind_TRANS_STMT_RELEASE:
			return true
		}
	}
	return false
}

// Returns reports whether the statement's own write has a RETURNING list.
func (st *Statement) Returns() bool {
	w := st.Main()
	return w != nil && w.Returning
}

// Target is one table a statement writes.
type Target struct {
	Kind     Kind // Insert, Update, Delete, Merge, Truncate, CopyFrom
	Relation Relation
	// Write describes an INSERT, UPDATE or DELETE softfk can plan checks
	// for; nil otherwise.
	Write *Write
	// Unsupported says why the write cannot be verified ("" if it can).
	Unsupported string
	// Cascade is TRUNCATE ... CASCADE.
	Cascade bool
	// InWith says the write is a data-modifying WITH query.
	InWith bool
}

// Result is the analysis of a whole query string.
type Result struct {
	Statements []Statement
}

// Analyze parses sql and describes each statement. A parse error is
// returned as is: the server will report its own syntax error.
func Analyze(sql string) (*Result, error) {
	if res, ok := fastInsert(sql); ok {
		return res, nil
	}
	return analyzeTree(sql)
}

// analyzeTree is Analyze through pg_query's parse tree.
func analyzeTree(sql string) (*Result, error) {
	tree, err := pg_query.Parse(sql)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	for _, raw := range tree.Stmts {
		start := int(raw.StmtLocation)
		end := len(sql)
		if raw.StmtLen > 0 {
			end = start + int(raw.StmtLen)
		}
		st := analyzeStatement(raw.Stmt, sql[start:end], start, analyzer{})
		st.Start, st.End = start, end
		st.TokenEnd = start + lastTokenEnd(sql[start:end])
		res.Statements = append(res.Statements, st)
	}
	return res, nil
}

// lastTokenEnd returns the offset just after the last token of text that is
// not a comment.
func lastTokenEnd(text string) int {
	scan, err := pg_query.Scan(text)
	if err != nil {
		return len(strings.TrimRight(text, " \t\r\n"))
	}
	for i := len(scan.Tokens) - 1; i >= 0; i-- {
		switch scan.Tokens[i].Token {
		case pg_query.Token_SQL_COMMENT, pg_query.Token_C_COMMENT:
			continue
		}
		return int(scan.Tokens[i].End)
	}
	return 0
}

// analyzeStatement describes one parsed statement; text is its SQL and base
// its offset in the query string (node locations are relative to the whole
// string).
func analyzeStatement(n *pg_query.Node, text string, base int, a analyzer) Statement {
	st := Statement{Kind: Other, Text: text}
	a.base, a.text = base, text
	switch {
	case n.GetInsertStmt() != nil:
		st.Kind = Insert
		st.Targets = a.insert(n.GetInsertStmt())
	case n.GetUpdateStmt() != nil:
		st.Kind = Update
		st.Targets = a.update(n.GetUpdateStmt())
	case n.GetDeleteStmt() != nil:
		st.Kind = Delete
		st.Targets = a.delete(n.GetDeleteStmt())
	case n.GetMergeStmt() != nil:
		st.Kind = Merge
		st.Targets = a.merge(n.GetMergeStmt())
	case n.GetTruncateStmt() != nil:
		st.Kind = Truncate
		t := n.GetTruncateStmt()
		st.truncate = t
		for _, r := range t.Relations {
			st.Targets = append(st.Targets, Target{Kind: Truncate, Relation: relation(r.GetRangeVar()),
				Cascade: t.Behavior == pg_query.DropBehavior_DROP_CASCADE})
		}
	case n.GetCopyStmt() != nil:
		c := n.GetCopyStmt()
		if c.IsFrom && c.Relation != nil {
			st.Kind = CopyFrom
			st.Copy = copyInfo(c)
			t := Target{Kind: CopyFrom, Relation: relation(c.Relation)}
			switch {
			case !st.Copy.Stdin:
				t.Unsupported = "COPY FROM a server file or program"
			case st.Copy.WhereUnsupported != "":
				t.Unsupported = "COPY FROM with " + st.Copy.WhereUnsupported
			}
			st.Targets = []Target{t}
		} else if c.Query != nil {
			// COPY (query) TO runs its query, which may write.
			st.Targets = a.nested(c.Query, "COPY (%s ... RETURNING) TO")
		}
	case n.GetSelectStmt() != nil:
		st.Targets = a.withTargets(n.GetSelectStmt().WithClause)
	case n.GetExplainStmt() != nil:
		if e, x := n.GetExplainStmt(), executed(n.GetExplainStmt().Query); explainsAnalyze(e) && x != nil {
			st.Kind, st.Name, st.Wrapper = Execute, x.Name, "EXPLAIN ANALYZE"
			if e.Query.GetCreateTableAsStmt() != nil {
				st.Wrapper = CreateTableAs
			}
		} else {
			st.Targets = a.explain(e)
		}
	case n.GetPrepareStmt() != nil:
		p := n.GetPrepareStmt()
		st.Kind, st.Name, st.Body = Prepare, p.Name, preparedBody(text)
		inner := analyzeStatement(p.Query, text, base, analyzer{})
		st.Inner = &inner
	case n.GetExecuteStmt() != nil:
		st.Kind, st.Name = Execute, n.GetExecuteStmt().Name
		st.Args, st.ArgsAt = executeArgs(n.GetExecuteStmt(), text, base)
	case n.GetDeallocateStmt() != nil:
		st.Kind, st.Name = Deallocate, n.GetDeallocateStmt().Name
	case n.GetDiscardStmt() != nil:
		if n.GetDiscardStmt().Target == pg_query.DiscardMode_DISCARD_ALL {
			st.Kind = Deallocate
		}
	case n.GetTransactionStmt() != nil:
		st.Kind = Transaction
	case n.GetConstraintsSetStmt() != nil:
		st.SetConstraints = setConstraintsInfo(n.GetConstraintsSetStmt())
	case n.GetCreateFunctionStmt() != nil:
		// A trigger's function may be redefined (see DefinesFunction).
		st.Kind, st.definesFunction = Schema, true
	case n.GetAlterTableStmt() != nil:
		st.Kind = Schema
		st.Alter = alterInfo(n.GetAlterTableStmt())
	case n.GetDropStmt() != nil:
		st.Kind = Schema
		st.Drop = dropInfo(n.GetDropStmt())
	case n.GetCreateStmt() != nil, n.GetIndexStmt() != nil,
		n.GetRenameStmt() != nil, n.GetAlterObjectSchemaStmt() != nil, n.GetCreateTrigStmt() != nil, n.GetRuleStmt() != nil,
		n.GetViewStmt() != nil:
		st.Kind = Schema
	case n.GetCreateTableAsStmt() != nil:
		// CREATE TABLE AS / SELECT INTO write a new table; a WITH inside
		// may still write existing ones, unless WITH NO DATA keeps the
		// query from running. An EXECUTE runs even then.
		c := n.GetCreateTableAsStmt()
		if x := executed(n); x != nil {
			st.Kind, st.Name, st.Wrapper = Execute, x.Name, CreateTableAs
		} else if q := c.Query.GetSelectStmt(); q != nil && !c.Into.GetSkipData() {
			st.Targets = a.withTargets(q.WithClause)
		}
	}
	st.keepsNames = keepsNames(n, st.Kind, text)
	st.changesTables = changesTables(n, st.Kind)
	st.namesRelation = namesRelation(n)
	st.creates = creation(n)
	st.changesWritesOf = changesWritesOf(n)
	return st
}

// CreateTableAs is the Wrapper of an EXECUTE whose rows fill a new table,
// which Postgres allows only of a prepared SELECT.
const CreateTableAs = "CREATE TABLE AS"

// executed returns the EXECUTE that n runs: n itself, or the one a CREATE
// TABLE AS runs; nil for anything else.
func executed(n *pg_query.Node) *pg_query.ExecuteStmt {
	if c := n.GetCreateTableAsStmt(); c != nil {
		n = c.Query
	}
	return n.GetExecuteStmt()
}

// explain reports the writes of EXPLAIN ANALYZE, which really runs its
// statement; plain EXPLAIN writes nothing.
func (a *analyzer) explain(e *pg_query.ExplainStmt) []Target {
	if !explainsAnalyze(e) {
		return nil
	}
	return a.nested(e.Query, "EXPLAIN ANALYZE of %s")
}

// nested reports the writes of a statement q that runs inside another one
// (EXPLAIN ANALYZE, COPY (query) TO), where softfk cannot add its checks:
// each is unsupported, for the reason that format makes of its kind.
func (a *analyzer) nested(q *pg_query.Node, format string) []Target {
	targets := analyzeStatement(q, a.text, a.base, analyzer{}).Targets
	for i := range targets {
		if targets[i].Unsupported == "" {
			targets[i].Unsupported = fmt.Sprintf(format, targets[i].Kind)
		}
	}
	return targets
}

// explainsAnalyze reports whether an EXPLAIN runs its statement (ANALYZE).
func explainsAnalyze(e *pg_query.ExplainStmt) bool {
	analyze := false
	for _, o := range e.Options {
		if d := o.GetDefElem(); d != nil && d.Defname == "analyze" {
			analyze = d.Arg == nil || defElemTrue(d.Arg)
		}
	}
	return analyze
}

// defElemTrue reads a boolean EXPLAIN option value.
func defElemTrue(n *pg_query.Node) bool {
	switch {
	case n.GetBoolean() != nil:
		return n.GetBoolean().Boolval
	case n.GetString_() != nil:
		v := strings.ToLower(n.GetString_().Sval)
		return v == "true" || v == "on" || v == "yes" || v == "1"
	case n.GetInteger() != nil:
		return n.GetInteger().Ival != 0
	}
	return true
}

// withTargets reports the writes of data-modifying WITH queries. An
// INSERT, UPDATE or DELETE keeps its description (marked InWith); softfk
// cannot add to its RETURNING list, so it plans them differently.
func (a *analyzer) withTargets(w *pg_query.WithClause) []Target {
	if w == nil {
		return nil
	}
	scope := scopeOf(w)
	inner := analyzer{base: a.base, text: a.text, outer: &scope}
	var out []Target
	for _, cte := range w.Ctes {
		c := cte.GetCommonTableExpr()
		if c == nil {
			continue
		}
		st := analyzeStatement(c.Ctequery, a.text, a.base, inner)
		for _, t := range st.Targets {
			if t.Write != nil {
				t.InWith = true
			} else if t.Unsupported == "" {
				t.Unsupported = fmt.Sprintf("%s inside WITH", t.Kind)
			}
			out = append(out, t)
		}
	}
	return out
}

// relation converts a RangeVar.
func relation(rv *pg_query.RangeVar) Relation {
	if rv == nil {
		return Relation{}
	}
	r := Relation{Schema: rv.Schemaname, Name: rv.Relname, Inh: rv.Inh}
	if rv.Alias != nil {
		r.Alias = rv.Alias.Aliasname
	}
	return r
}

// Fingerprint identifies a statement's shape regardless of its constant
// values (pg_query's fingerprint), for logs; "" if it cannot be computed.
func Fingerprint(sql string) string {
	fp, err := pg_query.Fingerprint(sql)
	if err != nil {
		return ""
	}
	return fp
}
