package policy

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/parser"
)

// truncate plans a TRUNCATE as Postgres treats one with foreign keys:
// truncating a referenced table without its referencing tables is refused,
// unless CASCADE is given, which truncates those too (reported by a NOTICE
// for each). Shadow relationships only report.
func (b *planBuilder) truncate(st *parser.Statement) {
	if r := b.unresolvable(st); r != nil {
		b.plan.Unverifiable = &Unverifiable{Rel: r, Reason: "TRUNCATE of a table named without its schema after a statement " +
			"that may change what the name denotes (DDL, SET, COMMIT, ...) in one query string; send it separately or qualify the name"}
		return
	}
	truncated := map[*Table]bool{}
	cascade := false
	for _, t := range st.Targets {
		cascade = cascade || t.Cascade
		if tbl := b.resolvedTable(t.Relation); tbl != nil {
			truncated[tbl] = true
		}
	}
	// Postgres adds the referencing tables in rounds, each the tables
	// whose foreign keys reference what the rounds before truncate, in
	// the order of their OIDs; a partition, whose constraints are its
	// own, comes in the same round as its partitioned table.
	var added []parser.TruncatedTable
	shadowed := map[*Rel]bool{}
	for {
		named := map[*Table]string{}
		var round []*Table
		for _, r := range b.rels {
			if !r.usable() || !r.parentSide() || r.reported != nil || !truncated[r.Parent] || truncated[r.Child] || shadowed[r] {
				continue
			}
			if r.Mode == config.Shadow {
				shadowed[r] = true
				b.plan.Shadowed = append(b.plan.Shadowed, ShadowEvent{Rel: r, Action: "truncate"})
				continue
			}
			if !cascade {
				names := make([]parser.Relation, len(st.Targets))
				for i, t := range st.Targets {
					names[i] = t.Relation
				}
				b.plan.Refuse = &Refusal{Rel: r, Code: "0A000",
					Message: "cannot truncate a table referenced in a foreign key constraint",
					Detail:  fmt.Sprintf("Table \"%s\" references \"%s\".", r.Table.Name, r.RefTable.Name),
					Hint:    fmt.Sprintf("Truncate table \"%s\" at the same time, or use TRUNCATE ... CASCADE.", r.Table.Name),
					Unless:  refusedFirst(func(rel string) string { return "has_table_privilege(" + rel + ", 'TRUNCATE')" }, names)}
				return
			}
			if _, ok := named[r.Child]; ok {
				continue
			}
			named[r.Child] = r.Table.Name
			// Postgres adds the referencing table itself, not the tables
			// inheriting from it (whose rows its foreign keys do not
			// cover); a partitioned table's partitions are its own.
			added = append(added, parser.TruncatedTable{Schema: r.Table.Schema, Name: r.Table.Name, Only: r.Child.Kind != 'p'})
			for _, p := range append([]*Table{r.Child}, b.partitionsOf(r.Child)...) {
				if !truncated[p] && !slices.Contains(round, p) {
					round = append(round, p)
				}
			}
		}
		if len(round) == 0 {
			break
		}
		slices.SortFunc(round, func(x, y *Table) int { return cmp.Compare(x.OID, y.OID) })
		for _, t := range round {
			truncated[t] = true
			name, ok := named[t]
			if !ok {
				name = t.Name.Name
			}
			b.plan.Notices = append(b.plan.Notices, Notice{Message: fmt.Sprintf("truncate cascades to table \"%s\"", name)})
		}
	}
	if len(added) > 0 {
		sql, err := st.TruncateWith(added)
		if err != nil {
			b.plan.Unverifiable = &Unverifiable{Reason: "TRUNCATE softfk cannot rewrite", Rel: b.rels[0]}
			return
		}
		b.plan.Rewrite = sql
	}
}

// partitionsOf lists the partitions of t that the relationships know.
func (b *planBuilder) partitionsOf(t *Table) []*Table {
	var out []*Table
	for _, r := range b.rels {
		for _, p := range []*Table{r.Child, r.Parent} {
			if p != nil && slices.Contains(p.PartitionOf, t.Name) && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// unresolvable returns, when the names of a TRUNCATE cannot be resolved
// (see Env.NamesMayMove), a relationship whose referenced table one of its
// unqualified names may denote, an enforced one first; nil otherwise.
// (Truncating only referencing tables needs nothing.)
func (b *planBuilder) unresolvable(st *parser.Statement) *Rel {
	if !b.env.NamesMayMove {
		return nil
	}
	var found *Rel
	for _, t := range st.Targets {
		if t.Relation.Schema != "" {
			continue
		}
		for _, r := range b.rels {
			if r.usable() && r.Parent.Name.Name == t.Relation.Name && (found == nil || found.Mode != config.Enforce && r.Mode == config.Enforce) {
				found = r
			}
		}
	}
	return found
}
