// Package policy knows the soft relationships and what they demand of a
// write: it resolves them against each database's catalog and turns a
// parsed write into the checks, locks and actions the proxy runs around it,
// and the error Postgres would raise when one fails.
package policy

import (
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/parser"
)

// Policy is a configuration's relationships, resolved per database on
// first use.
type Policy struct {
	Config *config.Config

	mu  sync.Mutex
	dbs map[string]*DB
}

// New prepares the policy of cfg.
func New(cfg *config.Config) *Policy {
	return &Policy{Config: cfg, dbs: map[string]*DB{}}
}

// Database returns the relationships of database name (a DB with none when
// no relationship applies there).
func (p *Policy) Database(name string) *DB {
	p.mu.Lock()
	defer p.mu.Unlock()
	if db, ok := p.dbs[name]; ok {
		return db
	}
	db := &DB{Name: name, unverifiable: p.Config.Unverifiable}
	for _, r := range p.Config.Relationships {
		if r.Database == "" || r.Database == name {
			db.configured = append(db.configured, r)
		}
	}
	db.names.Store(tableNames(db.configured, nil))
	p.dbs[name] = db
	return db
}

// guardedNames are the unqualified names of the guarded tables and of
// their partitions.
type guardedNames struct {
	all []string
	// precheck leaves out the names that contain another, and adds those
	// of the tables' unique indexes (see DB.MentionNames).
	precheck []string
}

// tableNames lists the distinct table names (without schema) the
// relationships mention, and those of their partitions and unique indexes
// in cat (when not nil).
func tableNames(rels []config.Relationship, cat *Catalog) *guardedNames {
	seen := map[string]bool{}
	var names []string
	for _, t := range TablesOf(rels) {
		if !seen[t.Name] {
			seen[t.Name] = true
			names = append(names, t.Name)
		}
	}
	sort.Strings(names)
	g := &guardedNames{all: names, precheck: names}
	if cat == nil {
		return g
	}
	g.all, g.precheck = slices.Clone(names), slices.Clone(names)
	for name, t := range cat.Tables {
		if len(t.PartitionOf) == 0 && t.View == nil || seen[name.Name] {
			continue
		}
		seen[name.Name] = true
		g.all = append(g.all, name.Name)
		if !parser.MentionsAny(name.Name, names) {
			g.precheck = append(g.precheck, name.Name)
		}
	}
	for _, t := range cat.Tables {
		for _, idx := range t.Indexes {
			if idx.UniqueKey() && !seen[idx.Name] && !parser.MentionsAny(idx.Name, names) {
				seen[idx.Name] = true
				g.precheck = append(g.precheck, idx.Name)
			}
		}
	}
	sort.Strings(g.all)
	sort.Strings(g.precheck)
	return g
}

// DB is the relationships of one database, with the catalog facts that
// turn them into SQL.
type DB struct {
	Name         string
	configured   []config.Relationship
	unverifiable config.Unverifiable
	// names are the unqualified names of the guarded tables and of the
	// partitions the last catalog read found (kept when it is
	// invalidated).
	names atomic.Pointer[guardedNames]

	mu         sync.RWMutex
	catalog    *Catalog
	rels       []*Rel
	shapes     *sqlCache // check statements built from rels, by shape
	loaded     time.Time // when catalog was read
	refreshing bool      // a session is reading the catalog again
	missing    []string  // relationships the last read could not resolve
	// generation names the catalog state: a new number, unique among all
	// DBs, at each change (SetCatalog, Invalidate). Every Bind of a
	// prepared write reads it, so it needs no lock.
	generation atomic.Uint64
}

// generations numbers catalog changes across all DBs, so that a plan made
// with one DB's facts is never taken as current for another's.
var generations atomic.Uint64

// Private returns a DB with db's relationships and no catalog facts yet,
// for one session whose open transaction changed the schema: facts read
// inside it see that uncommitted DDL, which other sessions must not plan
// with.
func (db *DB) Private() *DB {
	p := &DB{Name: db.Name, configured: db.configured, unverifiable: db.unverifiable}
	p.names.Store(db.names.Load())
	p.generation.Store(generations.Add(1))
	return p
}

// Generation names the state of the catalog the relationships were
// resolved against: a plan made at another generation may be out of date.
func (db *DB) Generation() uint64 { return db.generation.Load() }

// Active reports whether any relationship applies to this database.
func (db *DB) Active() bool { return len(db.configured) > 0 }

// MentionNames are the unqualified names of the tables the relationships
// name, of their partitions, and of the unique indexes of those the last
// catalog read found (but those that contain one of the others, such as
// orders_2024): a statement mentioning none of them (see
// parser.MentionsAny) cannot touch a relationship, nor drop an index one
// relies on.
func (db *DB) MentionNames() []string { return db.names.Load().precheck }

// RelationshipNames are the names of the configured relationships: a SET
// CONSTRAINTS mentioning none of them (see parser.MentionsAny) names none.
func (db *DB) RelationshipNames() []string {
	names := make([]string, len(db.configured))
	for i, r := range db.configured {
		names[i] = r.Name
	}
	return names
}

// CatalogQuery is the query whose rows SetCatalog needs.
func (db *DB) CatalogQuery() string { return CatalogQuery(TablesOf(db.configured)) }

// HasCatalog reports whether the catalog has been loaded.
func (db *DB) HasCatalog() bool {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.catalog != nil
}

// SetCatalog resolves the relationships against the catalog rows read by
// CatalogQuery. It returns the relationships whose tables or columns are
// missing (they stay unenforceable until the catalog is read again) when
// they differ from the last read's, so that they are reported once.
func (db *DB) SetCatalog(rows [][]string) ([]string, error) {
	cat, err := ParseCatalog(rows)
	if err != nil {
		return nil, err
	}
	var rels []*Rel
	var missing []string
	for i, r := range db.configured {
		rel, ok := resolve(i, r, cat)
		if !ok {
			missing = append(missing, r.Name)
		}
		rels = append(rels, rel)
	}
	rels = append(rels, partitionRels(db.configured, cat, len(rels))...)
	rels = append(rels, viewRels(rels, cat, len(rels))...)
	db.names.Store(tableNames(db.configured, cat))
	db.mu.Lock()
	db.catalog, db.rels, db.shapes = cat, rels, newSQLCache()
	db.loaded, db.refreshing = time.Now(), false
	db.generation.Store(generations.Add(1))
	if slices.Equal(missing, db.missing) {
		missing = nil
	} else {
		db.missing = missing
	}
	db.mu.Unlock()
	return missing, nil
}

// ClaimRefresh reports whether the catalog, loaded more than maxAge ago,
// should be read again by the caller: true for one caller at a time, while
// the others go on with the catalog as it is. The caller then calls
// SetCatalog, and ReleaseRefresh in any case.
func (db *DB) ClaimRefresh(maxAge time.Duration) bool {
	db.mu.RLock()
	due := db.catalog != nil && !db.refreshing && time.Since(db.loaded) > maxAge
	db.mu.RUnlock()
	if !due {
		return false
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.refreshing || db.catalog == nil {
		return false
	}
	db.refreshing = true
	return true
}

// ReleaseRefresh ends a claim of ClaimRefresh; if the catalog could not
// be read, another session tries later.
func (db *DB) ReleaseRefresh() {
	db.mu.Lock()
	db.refreshing = false
	db.mu.Unlock()
}

// Invalidate forgets the catalog (after DDL on a guarded table), so the
// next session reloads it.
func (db *DB) Invalidate() {
	db.mu.Lock()
	db.catalog, db.rels, db.shapes = nil, nil, nil
	db.generation.Store(generations.Add(1))
	db.mu.Unlock()
}

// relationships returns the resolved relationships, and the cache of
// check statements built from them.
func (db *DB) relationships() ([]*Rel, *sqlCache) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.rels, db.shapes
}

// sqlCache remembers SQL by a key describing its shape. Building a check
// statement costs more than the rest of planning a statement, and a
// simple-protocol statement is planned every time it runs.
type sqlCache struct {
	mu  sync.Mutex
	sql map[string]string
}

// maxCachedSQL bounds a cache; when full it starts afresh.
const maxCachedSQL = 4096

func newSQLCache() *sqlCache { return &sqlCache{sql: map[string]string{}} }

// get returns the SQL of shape key, building it the first time.
func (c *sqlCache) get(key string, build func() string) string {
	c.mu.Lock()
	sql, ok := c.sql[key]
	c.mu.Unlock()
	if ok {
		return sql
	}
	sql = build()
	c.mu.Lock()
	if len(c.sql) >= maxCachedSQL {
		clear(c.sql)
	}
	c.sql[key] = sql
	c.mu.Unlock()
	return sql
}

// Rel is a relationship with the catalog facts about its two tables.
type Rel struct {
	config.Relationship
	Index      int    // position in the database's relationships: orders checks like FK creation order
	Child      *Table // nil when the table is missing
	Parent     *Table
	ChildCols  []Column
	ParentCols []Column
	// childOnly or parentOnly says the relationship was derived for a
	// partition or a view on that side (see partitionRels, viewRels): it
	// applies only to writes that name the partition or view.
	childOnly, parentOnly bool
	// reported, for a relationship derived for a view, is the one whose
	// names its errors carry: the relation the view writes.
	reported *config.Relationship
	// hidden says the relationship was derived for a view that does not
	// show all the key columns on its side: a write through the view that
	// adds or removes such keys cannot be verified.
	hidden bool
}

// childSide reports whether the relationship applies to writes of its
// referencing table.
func (r *Rel) childSide() bool { return !r.parentOnly }

// parentSide reports whether the relationship applies to writes of its
// referenced table.
func (r *Rel) parentSide() bool { return !r.childOnly }

// reportedAs is the relationship whose table and column names r's errors
// carry.
func (r *Rel) reportedAs() *config.Relationship {
	if r.reported != nil {
		return r.reported
	}
	return &r.Relationship
}

// resolve attaches catalog facts to a relationship; ok is false when a table
// or column does not exist, or when PostgreSQL would refuse a FOREIGN KEY
// between the key columns' types (after an ALTER ... TYPE made directly
// on the server): its checks could not compare the keys.
func resolve(i int, r config.Relationship, cat *Catalog) (*Rel, bool) {
	rel := &Rel{Relationship: r, Index: i, Child: cat.Tables[r.Table], Parent: cat.Tables[r.RefTable]}
	if rel.Child == nil || rel.Parent == nil {
		return rel, false
	}
	var childCols, parentCols []Column
	for j := range r.Columns {
		cc, ok1 := rel.Child.Columns[r.Columns[j]]
		pc, ok2 := rel.Parent.Columns[r.RefColumns[j]]
		if !ok1 || !ok2 || !pc.keyType.accepts(cc.keyType) {
			return rel, false
		}
		childCols, parentCols = append(childCols, cc), append(parentCols, pc)
	}
	rel.ChildCols, rel.ParentCols = childCols, parentCols
	return rel, true
}

// partitionRels derives, from each relationship, one for every partition
// in cat of either of its tables, as Postgres
// clones a FOREIGN KEY onto partitions: a write that names a partition is
// then checked (and its errors name the partition) as a real FOREIGN KEY
// would check it. Each partition takes its table's place on its side; the
// other side stays the whole table. Their positions start at first.
func partitionRels(configured []config.Relationship, cat *Catalog, first int) []*Rel {
	names := make([]config.TableName, 0, len(cat.Tables))
	for name, t := range cat.Tables {
		if len(t.PartitionOf) > 0 {
			names = append(names, name)
		}
	}
	sort.Slice(names, func(i, j int) bool { return names[i].String() < names[j].String() })
	var rels []*Rel
	derive := func(r config.Relationship, childSide bool) {
		if rel, ok := resolve(first+len(rels), r, cat); ok {
			rel.childOnly, rel.parentOnly = childSide, !childSide
			rels = append(rels, rel)
		}
	}
	for _, r := range configured {
		for _, name := range names {
			of := cat.Tables[name].PartitionOf
			if slices.Contains(of, r.Table) {
				derived := r
				derived.Table = name
				derive(derived, true)
			}
			if slices.Contains(of, r.RefTable) {
				derived := r
				derived.RefTable = name
				derive(derived, false)
			}
		}
	}
	return rels
}

// usable reports whether the relationship's tables and columns exist (and
// are shown, for a view's).
func (r *Rel) usable() bool {
	return !r.hidden && r.Child != nil && r.Parent != nil && len(r.ChildCols) == len(r.Columns)
}

// matches reports whether a statement's table reference can denote t:
// same name, and same schema when the statement qualifies it.
func matches(ref parser.Relation, t config.TableName) bool {
	return ref.Name == t.Name && (ref.Schema == "" || ref.Schema == t.Schema)
}

// guard returns an SQL condition true when the statement's unqualified
// reference resolves (through the session's search_path) to table t, or ""
// when the reference is qualified and needs no guard.
func guard(ref parser.Relation, t *Table) string {
	if ref.Schema != "" {
		return ""
	}
	return "to_regclass(" + parser.QuoteLiteral(config.QuoteIdent(ref.Name)) + ") = " + liveOID(t)
}

// RelOfAny returns a relationship whose referencing or referenced table
// (or a partition or view of one) one of refs may denote, or nil.
func (db *DB) RelOfAny(refs []parser.Relation) *Rel {
	rels, _ := db.relationships()
	for _, r := range rels {
		if !r.usable() {
			continue
		}
		for _, ref := range refs {
			if matches(ref, r.Table) || matches(ref, r.RefTable) {
				return r
			}
		}
	}
	return nil
}

// contains reports whether a name occurs in names.
func contains(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// joinNonEmpty joins the non-empty parts with sep.
func joinNonEmpty(sep string, parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, sep)
}
