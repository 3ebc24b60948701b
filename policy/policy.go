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
	db.names = tableNames(db.configured)
	p.dbs[name] = db
	return db
}

// tableNames lists the distinct table names (without schema) the
// relationships mention, for the pre-check.
func tableNames(rels []config.Relationship) []string {
	seen := map[string]bool{}
	var names []string
	for _, t := range TablesOf(rels) {
		if !seen[t.Name] {
			seen[t.Name] = true
			names = append(names, t.Name)
		}
	}
	sort.Strings(names)
	return names
}

// DB is the relationships of one database, with the catalog facts that
// turn them into SQL.
type DB struct {
	Name         string
	configured   []config.Relationship
	names        []string
	unverifiable config.Unverifiable

	mu         sync.RWMutex
	catalog    *Catalog
	rels       []*Rel
	shapes     *sqlCache // check statements built from rels, by shape
	loaded     time.Time // when catalog was read
	refreshing bool      // a session is reading the catalog again
	missing    []string  // relationships the last read could not resolve
	// generation counts catalog changes (SetCatalog, Invalidate); every
	// Bind of a prepared write reads it, so it needs no lock.
	generation atomic.Uint64
}

// Generation counts the changes of the catalog the relationships were
// resolved against: a plan made at another generation may be out of date.
func (db *DB) Generation() uint64 { return db.generation.Load() }

// Active reports whether any relationship applies to this database.
func (db *DB) Active() bool { return len(db.configured) > 0 }

// TableNames are the unqualified names of the tables the relationships
// name: a statement mentioning none of them cannot touch a relationship.
func (db *DB) TableNames() []string { return db.names }

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
	db.mu.Lock()
	db.catalog, db.rels, db.shapes = cat, rels, newSQLCache()
	db.loaded, db.refreshing = time.Now(), false
	db.generation.Add(1)
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
	db.generation.Add(1)
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
}

// resolve attaches catalog facts to a relationship; ok is false when a table
// or column does not exist.
func resolve(i int, r config.Relationship, cat *Catalog) (*Rel, bool) {
	rel := &Rel{Relationship: r, Index: i, Child: cat.Tables[r.Table], Parent: cat.Tables[r.RefTable]}
	if rel.Child == nil || rel.Parent == nil {
		return rel, false
	}
	for j := range r.Columns {
		cc, ok1 := rel.Child.Columns[r.Columns[j]]
		pc, ok2 := rel.Parent.Columns[r.RefColumns[j]]
		if !ok1 || !ok2 {
			return rel, false
		}
		rel.ChildCols = append(rel.ChildCols, cc)
		rel.ParentCols = append(rel.ParentCols, pc)
	}
	return rel, true
}

// usable reports whether the relationship's tables and columns exist.
func (r *Rel) usable() bool {
	return r.Child != nil && r.Parent != nil && len(r.ChildCols) == len(r.Columns)
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

// mentions reports whether a name occurs in names.
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
