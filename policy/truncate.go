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
	var added [][2]string
	for changed := true; changed; {
		changed = false
		for _, r := range b.rels {
			if !r.usable() || !r.parentSide() || r.reported != nil || !truncated[r.Parent] || truncated[r.Child] {
				continue
			}
			if r.Mode == config.Shadow {
				b.plan.Shadowed = append(b.plan.Shadowed, ShadowEvent{Rel: r, Action: "truncate"})
				continue
			}
			if !cascade {
				b.plan.Refuse = &Refusal{Rel: r, Code: "0A000",
					Message: "cannot truncate a table referenced in a foreign key constraint",
					Detail:  fmt.Sprintf("Table \"%s\" references \"%s\".", r.Table.Name, r.RefTable.Name),
					Hint:    fmt.Sprintf("Truncate table \"%s\" at the same time, or use TRUNCATE ... CASCADE.", r.Table.Name)}
				return
			}
			truncated[r.Child] = true
			added = append(added, [2]string{r.Table.Schema, r.Table.Name})
			b.plan.Notices = append(b.plan.Notices, Notice{Message: fmt.Sprintf("truncate cascades to table \"%s\"", r.Table.Name)})
			// Its partitions' own constraints reach the truncated table
			// too: Postgres names each of them as well.
			for _, p := range b.partitionsOf(r.Child) {
				if !truncated[p] {
					truncated[p] = true
					b.plan.Notices = append(b.plan.Notices, Notice{Message: fmt.Sprintf("truncate cascades to table \"%s\"", p.Name.Name)})
				}
			}
			changed = true
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

// partitionsOf lists the partitions of t that the relationships know, in
// the order of their OIDs (as Postgres lists tables it adds).
func (b *planBuilder) partitionsOf(t *Table) []*Table {
	var out []*Table
	for _, r := range b.rels {
		for _, p := range []*Table{r.Child, r.Parent} {
			if p != nil && slices.Contains(p.PartitionOf, t.Name) && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	slices.SortFunc(out, func(x, y *Table) int { return cmp.Compare(x.OID, y.OID) })
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
