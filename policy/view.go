package policy

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/parser"
)

// View is how an automatically updatable view writes the relation it
// selects from: PostgreSQL turns an INSERT, UPDATE or DELETE of the view
// into one of that relation, so a real FOREIGN KEY of the relation checks
// writes through the view too.
type View struct {
	Base *Table // the table or view it selects from
	// Shows maps each view column that is a plain column of Base to that
	// column's name there; expressions, which no write assigns, are absent.
	Shows map[string]string
}

// viewDef is what the catalog query says about a view: its definition
// and the relations it reads, among which the one it selects from.
type viewDef struct {
	def   string
	reads []viewRead
}

// viewRead is a relation a view's definition reads.
type viewRead struct {
	name    config.TableName
	visible bool // found through the search_path without its schema
}

// parseViewReads reads the catalog query's list of the relations a view
// reads: schema, name and visibility separated by chr(31), the relations
// by chr(30).
func parseViewReads(s string) []viewRead {
	var out []viewRead
	for _, item := range strings.Split(s, "\x1e") {
		if f := strings.Split(item, "\x1f"); len(f) == 3 {
			out = append(out, viewRead{name: config.TableName{Schema: f[0], Name: f[1]}, visible: f[2] == "true"})
		}
	}
	return out
}

// resolveViews works out, for each view in cat, the relation it writes
// and what its columns show of it, and gives the view the facts of that
// relation a write through it meets: its columns' defaults and NOT NULL,
// its generated columns, its unique keys and its triggers. A view that is
// not a plain SELECT of one relation in cat is left out of cat: writes
// through it reach no relationship, or fail in PostgreSQL.
func resolveViews(cat *Catalog, defs map[*Table]*viewDef) {
	done := map[*Table]bool{}
	var resolve func(t *Table) bool
	resolve = func(t *Table) bool {
		if ok, seen := done[t]; seen {
			return ok
		}
		done[t] = false // a cycle, impossible in PostgreSQL, resolves to nothing
		d := defs[t]
		if d == nil {
			return false
		}
		src, shown, ok := parser.ViewSource(d.def)
		columns := columnsInOrder(t)
		if !ok || len(shown) != len(columns) {
			return false
		}
		base := cat.Tables[readsOf(src, d.reads)]
		if base == nil || base.Kind == 'v' && !resolve(base) {
			return false
		}
		t.View = &View{Base: base, Shows: map[string]string{}}
		for i, col := range columns {
			if _, ok := base.Columns[shown[i]]; ok {
				t.View.Shows[col] = shown[i]
			}
		}
		t.takeFacts(base)
		done[t] = true
		return true
	}
	for t := range defs {
		if !resolve(t) {
			delete(cat.Tables, t.Name)
		}
	}
}

// readsOf names the relation that a view's FROM item src denotes, among
// the relations the view reads.
func readsOf(src parser.Relation, reads []viewRead) config.TableName {
	for _, r := range reads {
		if r.name.Name == src.Name && (src.Schema == r.name.Schema || src.Schema == "" && r.visible) {
			return r.name
		}
	}
	return config.TableName{}
}

// takeFacts gives view t what a write through it meets of base.
func (t *Table) takeFacts(base *Table) {
	named := t.viewNames()
	for col, bc := range t.View.Shows {
		c, b := t.Columns[col], base.Columns[bc]
		c.NotNull = b.NotNull
		c.Default = c.Default || b.Default
		if b.Generated {
			c.Generated = true
			for _, d := range b.DependsOn {
				if n, ok := named[d]; ok {
					c.DependsOn = append(c.DependsOn, n)
				}
			}
		}
		t.Columns[col] = c
	}
	for _, key := range base.UniqueKeys {
		if cols, ok := renamed(key, named); ok {
			t.UniqueKeys = append(t.UniqueKeys, cols)
		}
	}
	for _, key := range base.IndexPrefixes {
		cols := make([]string, 0, len(key))
		for _, c := range key {
			n, ok := named[c]
			if !ok {
				break
			}
			cols = append(cols, n)
		}
		if len(cols) > 0 {
			t.IndexPrefixes = append(t.IndexPrefixes, cols)
		}
	}
	// Its own rule is the SELECT that makes it a view (views with other
	// rules are not in cat); its table's rules and triggers apply to
	// writes through it.
	t.HasRules, t.rules = base.HasRules, base.rules
	t.BeforeInsertTrigger, t.BeforeUpdateTrigger = base.BeforeInsertTrigger, base.BeforeUpdateTrigger
	t.triggers = base.triggers
}

// viewNames maps each column of view t's base it shows to the view's name
// for it (the first, in column order, when it shows one twice).
func (t *Table) viewNames() map[string]string {
	named := map[string]string{}
	for _, col := range columnsInOrder(t) {
		if bc, ok := t.View.Shows[col]; ok {
			if _, seen := named[bc]; !seen {
				named[bc] = col
			}
		}
	}
	return named
}

// renamed maps every column of cols through names; ok is false when one
// has no name there.
func renamed(cols []string, names map[string]string) ([]string, bool) {
	out := make([]string, len(cols))
	for i, c := range cols {
		n, ok := names[c]
		if !ok {
			return nil, false
		}
		out[i] = n
	}
	return out, true
}

// underlying returns the table that rows written through t land in (t
// itself unless it is a view) and the name there of t's column col ("" when
// the view does not show it).
func (t *Table) underlying(col string) (*Table, string) {
	for t.View != nil {
		col = t.View.Shows[col]
		t = t.View.Base
	}
	return t, col
}

// landsIn lists the other relations a row written into t is also in: the
// relations a view writes, down to its table, and a partition's
// partitioned tables.
func (t *Table) landsIn() []config.TableName {
	if t.View == nil {
		return t.PartitionOf
	}
	var out []config.TableName
	for t.View != nil {
		t = t.View.Base
		out = append(out, t.Name)
	}
	return append(out, t.PartitionOf...)
}

// viewSource renders, for a query about the rows of view t (a parent's
// lookup, a child's check), the view's table itself with the view's column
// names: the view's own condition must not hide rows from such a query, as
// it hides none from a real FOREIGN KEY's.
func viewSource(t *Table) string {
	var shown []string
	for _, col := range columnsInOrder(t) {
		if _, bc := t.underlying(col); bc != "" {
			shown = append(shown, config.QuoteIdent(bc)+" AS "+config.QuoteIdent(col))
		}
	}
	base, _ := t.underlying("")
	return fmt.Sprintf("(SELECT %s FROM %s)", strings.Join(shown, ", "), TableRef(base))
}

// baseAlias names the table of a view in softfk's queries about the
// rows a statement writes through the view.
const baseAlias = "softfk_base"

// viewRows turns fromWhere, the rows a statement reaches through view t
// (named ref), into the rows of the view's table they are, reached through
// the alias it returns: the rows whose key, the view's columns cols (a
// referenced key, hence unique), is one of theirs. A view has no system
// columns (xmax) of its own.
func viewRows(t *Table, ref string, cols []string, fromWhere string) (alias, rows string) {
	base, _ := t.underlying("")
	baseCols := make([]string, len(cols))
	for i, c := range cols {
		_, baseCols[i] = t.underlying(c)
	}
	return baseAlias, fmt.Sprintf("FROM %s %s WHERE (%s) IN (SELECT %s %s)",
		TableRef(base), baseAlias, strings.Join(qualified(baseAlias, baseCols), ", "), strings.Join(qualified(ref, cols), ", "), fromWhere)
}

// viewRels derives, from each relationship of rels (configured, or derived
// for a partition), one for every view in cat of either of its tables, the
// way partitionRels does for partitions: the view takes its relation's
// place on its own side, with the view's names for the key columns, and
// errors name the relation, as PostgreSQL's do. A view that does not show
// every key column gets a relationship whose writes through it cannot be
// verified (see Rel.hidden). Views of views come after the views they
// select from, and derive from those. Their positions start at first.
func viewRels(rels []*Rel, cat *Catalog, first int) []*Rel {
	var views []*Table
	for _, t := range cat.Tables {
		if t.View != nil {
			views = append(views, t)
		}
	}
	sort.Slice(views, func(i, j int) bool {
		if di, dj := viewDepth(views[i]), viewDepth(views[j]); di != dj {
			return di < dj
		}
		return views[i].Name.String() < views[j].Name.String()
	})
	all := slices.Clone(rels)
	var out []*Rel
	for _, v := range views {
		named := v.viewNames()
		var made []*Rel
		for _, r := range all {
			if !r.usable() {
				continue
			}
			if r.Table == v.View.Base.Name && r.childSide() {
				made = append(made, deriveForView(r, v, named, true, first+len(out)+len(made), cat))
			}
			if r.RefTable == v.View.Base.Name && r.parentSide() {
				made = append(made, deriveForView(r, v, named, false, first+len(out)+len(made), cat))
			}
		}
		out = append(out, made...)
		all = append(all, made...)
	}
	return out
}

// viewDepth counts the views between view t and its table, t included.
func viewDepth(t *Table) int {
	n := 0
	for ; t.View != nil; t = t.View.Base {
		n++
	}
	return n
}

// deriveForView derives from r the relationship of view v on r's child
// side (childSide) or parent side.
func deriveForView(r *Rel, v *Table, named map[string]string, childSide bool, index int, cat *Catalog) *Rel {
	cfg := r.Relationship
	cols := &cfg.RefColumns
	if childSide {
		cfg.Table, cols = v.Name, &cfg.Columns
	} else {
		cfg.RefTable = v.Name
	}
	names, shown := renamed(*cols, named)
	if shown {
		*cols = names
	}
	derived, _ := resolve(index, cfg, cat)
	derived.childOnly, derived.parentOnly = childSide, !childSide
	derived.reported = r.reportedAs()
	derived.hidden = !shown
	return derived
}
