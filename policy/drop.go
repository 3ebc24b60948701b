package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/parser"
)

// drop plans a DROP TABLE as Postgres treats one with foreign keys: while
// a table it drops is referenced from a table it does not drop, Postgres
// refuses it, unless CASCADE is given, which drops the constraint
// (reported by a NOTICE) and the table with it. Shadow relationships only
// report. The names must be resolved (Env.Resolved): a name that denotes
// no table is Postgres's own error, before any foreign key is looked at,
// so softfk leaves such a statement to it. A DROP INDEX goes to
// dropIndexes.
func (b *planBuilder) drop(d *parser.Drop) {
	if b.env.NamesMayMove {
		// What the names denote is known only once the statements before
		// it have run; softfk does not stand in the way (see README).
		return
	}
	if d.Indexes {
		b.dropIndexes(d)
		return
	}
	dropped := map[*Table]bool{}
	existing := 0
	var skipped []Notice // Postgres's for the names IF EXISTS skips
	for _, ref := range d.Tables {
		if _, ok := b.env.Resolved[regclassText(ref.Schema, ref.Name)]; !ok {
			if !d.MissingOK {
				return
			}
			skipped = append(skipped, Notice{Message: fmt.Sprintf("table \"%s\" does not exist, skipping", nameList(ref))})
			continue
		}
		existing++
		if t := b.resolvedTable(ref); t != nil {
			dropped[t] = true
		}
	}
	rels := b.dependents(func(r *Rel) bool { return dropped[r.Parent] && !dropped[r.Child] })
	parents := make([]string, len(rels))
	for i, r := range rels {
		parents[i] = b.describe(r.Parent)
	}
	b.dropDependents(d, existing, skipped, rels, parents)
}

// dropDependents plans what Postgres does about the foreign keys (rels)
// that depend on what a DROP drops (on: what each depends on, as
// Postgres's messages name it; found: how many of the objects it names
// exist): with CASCADE, the notice that they go too; otherwise the
// statement's refusal, after the notices of the names IF EXISTS skipped.
func (b *planBuilder) dropDependents(d *parser.Drop, found int, skipped []Notice, rels []*Rel, on []string) {
	if len(rels) == 0 {
		return
	}
	dependents := b.constraintsOn(rels)
	if d.Cascade {
		b.plan.Notices = append(b.plan.Notices, cascadeNotice(dependents))
		return
	}
	message := "cannot drop desired object(s) because other objects depend on them"
	if found == 1 {
		message = fmt.Sprintf("cannot drop %s because other objects depend on it", on[0])
	}
	b.refuseDrop(rels[0], skipped, message, dependents, on, d.Tables)
}

// constraintsOn names the relationships as Postgres's messages name the
// foreign keys: constraint name on table.
func (b *planBuilder) constraintsOn(rels []*Rel) []string {
	names := make([]string, len(rels))
	for i, r := range rels {
		names[i] = fmt.Sprintf("constraint %s on %s", r.Name, b.describe(r.Child))
	}
	return names
}

// dependents returns the enforced relationships for which depends holds,
// as the foreign keys Postgres finds depending on what a statement drops;
// shadow ones only report that they would be.
func (b *planBuilder) dependents(depends func(*Rel) bool) []*Rel {
	var enforced []*Rel
	for _, r := range b.rels {
		// Relationships derived for a referencing partition or a view
		// are the configured one's, which Postgres names alone.
		if !r.usable() || r.childOnly || r.reported != nil || r.Parent.View != nil || !depends(r) {
			continue
		}
		if r.Mode == config.Shadow {
			b.plan.Shadowed = append(b.plan.Shadowed, ShadowEvent{Rel: r, Action: "drop"})
			continue
		}
		enforced = append(enforced, r)
	}
	return enforced
}

// refuseDrop refuses a drop as Postgres does when objects depend on what it
// drops, after the notices it sent first: its DETAIL has a line for each
// dependent, saying which object it depends on. named are the relations
// the statement names, which the user must own.
func (b *planBuilder) refuseDrop(first *Rel, notices []Notice, message string, dependents, on []string, named []parser.Relation) {
	b.plan.Notices = notices
	detail := make([]string, len(dependents))
	for i, dep := range dependents {
		detail[i] = dep + " depends on " + on[i]
	}
	b.plan.Refuse = &Refusal{Rel: first, Code: "2BP01", Message: message,
		Detail: strings.Join(detail, "\n"), Hint: "Use DROP ... CASCADE to drop the dependent objects too.",
		Unless: refusedFirst(owns, named)}
}

// dropIndexes plans a DROP INDEX as Postgres treats one with foreign
// keys: while one depends on an index it drops (see dependsOnIndex),
// Postgres refuses it, unless CASCADE is given, which drops the constraint
// (reported by a NOTICE). The names must be resolved (Env.Resolved, see
// indexKey): a name that denotes no index (but with IF EXISTS), or an
// index Postgres will not drop alone (a constraint's, a partition's), is
// Postgres's own error, before any foreign key is looked at.
func (b *planBuilder) dropIndexes(d *parser.Drop) {
	if d.Concurrently && b.env.TransactionBlock {
		return // Postgres refuses it there before it looks any further
	}
	var skipped []Notice // Postgres's for the names IF EXISTS skips
	var indexes []string // the indexes named, as Postgres's messages name them
	var rels [][]*Rel    // the dependents of each
	for _, ref := range d.Tables {
		schema, ok := b.env.Resolved[indexKey(ref)]
		switch {
		case !ok && d.MissingOK:
			skipped = append(skipped, Notice{Message: fmt.Sprintf("index \"%s\" does not exist, skipping", nameList(ref))})
			continue
		case !ok, schema == "":
			return
		}
		indexes = append(indexes, b.describeIndex(schema, ref.Name))
		rels = append(rels, b.dependents(func(r *Rel) bool {
			return r.Parent.Name.Schema == schema && dependsOnIndex(r, ref.Name)
		}))
	}
	// Postgres lists the dependents of the last index named first.
	var dependents []*Rel
	var on []string
	for i := len(rels) - 1; i >= 0; i-- {
		for _, r := range rels[i] {
			dependents = append(dependents, r)
			on = append(on, indexes[i])
		}
	}
	b.dropDependents(d, len(indexes), skipped, dependents, on)
}

// dependsOnIndex reports whether a FOREIGN KEY like r would depend on its
// referenced table's index of that name: the first unique index, in OID
// order, whose key columns are the referenced ones in any order, as
// Postgres picks one when it makes the constraint. (A relationship derived
// for a partition of the referenced table is the configured one's, which
// depends on the partitioned table's index.)
func dependsOnIndex(r *Rel, name string) bool {
	if r.parentOnly {
		return false
	}
	for _, idx := range r.Parent.Indexes {
		if idx.UniqueKey() && hasKey([][]string{idx.Prefix}, r.RefColumns, true) {
			return idx.Name == name
		}
	}
	return false
}

// indexKey is the Env.Resolved key of an index name: the schema of the
// index it denotes, "" when it denotes a relation DROP INDEX cannot drop
// alone (not an index, a constraint's, a partition's).
func indexKey(ref parser.Relation) string {
	return "index " + regclassText(ref.Schema, ref.Name)
}

// describeIndex names an index as Postgres's messages about objects do:
// qualified unless its name alone denotes it in the session.
func (b *planBuilder) describeIndex(schema, name string) string {
	if b.env.Resolved[config.QuoteIdent(name)] == schema {
		return "index " + config.QuoteIdent(name)
	}
	return "index " + regclassText(schema, name)
}

// alterDrops plans the DROP COLUMN and DROP CONSTRAINT subcommands of an
// ALTER TABLE as Postgres runs them, in order, before the rest of the
// statement: while a foreign key from another table (or from another
// column of the same one) references a column it drops, or relies on the
// unique index of a constraint it drops (see dependsOnIndex), Postgres
// refuses the statement, unless CASCADE is given, which drops the
// constraint (reported by a NOTICE). A foreign key whose own referencing
// column goes is dropped silently. It returns the relationships the
// statement drops. The table's name must be resolved (Env.Resolved); a
// column or constraint that is not there is Postgres's own error, or
// notice with IF EXISTS.
func (b *planBuilder) alterDrops(a *parser.Alter) map[*Rel]bool {
	if a.Drops == nil || b.env.NamesMayMove {
		return nil
	}
	if _, ok := b.env.Resolved[regclassText(a.Table.Schema, a.Table.Name)]; !ok {
		return nil
	}
	t := b.resolvedTable(a.Table)
	if t == nil {
		return nil
	}
	dropped := map[*Rel]bool{}
	columnGone, constraintGone := map[string]bool{}, map[string]bool{}
	var notices []Notice // Postgres's, up to where it refuses
	for _, d := range a.Drops {
		kind, gone := "column", columnGone
		if d.Constraint {
			kind, gone = "constraint", constraintGone
		}
		if exists := d.Constraint && slices.Contains(t.Constraints, d.Name) || !d.Constraint && t.Columns[d.Name].Num > 0; !exists || gone[d.Name] {
			if !d.MissingOK {
				return nil
			}
			notices = append(notices, Notice{Message: fmt.Sprintf("%s \"%s\" of relation \"%s\" does not exist, skipping", kind, d.Name, t.Name.Name)})
			continue
		}
		gone[d.Name] = true
		var object, on string // what goes, and what the dependents depend on
		var rels []*Rel
		switch {
		case d.Constraint:
			i := slices.IndexFunc(t.Indexes, func(idx Index) bool { return idx.Constraint == d.Name })
			if i < 0 {
				continue
			}
			object = fmt.Sprintf("constraint %s on %s", config.QuoteIdent(d.Name), b.describe(t))
			on = b.describeIndex(t.Name.Schema, t.Indexes[i].Name)
			rels = b.dependents(func(r *Rel) bool {
				return r.Parent.Name == t.Name && !dropped[r] && dependsOnIndex(r, t.Indexes[i].Name)
			})
		default:
			for _, idx := range t.Indexes {
				if slices.Contains(idx.Prefix, d.Name) && idx.Constraint != "" {
					constraintGone[idx.Constraint] = true // its index goes with the column
				}
			}
			for _, r := range b.rels {
				if r.usable() && r.Child.Name == t.Name && slices.Contains(r.Columns, d.Name) {
					dropped[r] = true
				}
			}
			object = fmt.Sprintf("column %s of %s", d.Name, b.describe(t))
			on = object
			rels = b.dependents(func(r *Rel) bool {
				return r.Parent.Name == t.Name && !dropped[r] && slices.Contains(r.RefColumns, d.Name)
			})
		}
		if rels == nil {
			continue
		}
		dependents, dependOn := b.constraintsOn(rels), make([]string, len(rels))
		for i, r := range rels {
			dependOn[i] = on
			dropped[r] = true
		}
		if !d.Cascade {
			b.refuseDrop(rels[0], notices, fmt.Sprintf("cannot drop %s because other objects depend on it", object), dependents, dependOn, []parser.Relation{a.Table})
			return dropped
		}
		cascade := cascadeNotice(dependents)
		notices = append(notices, cascade)
		b.plan.Notices = append(b.plan.Notices, cascade)
	}
	return dropped
}

// cascadeNotice is the notice of a DROP ... CASCADE that drops the
// dependents, worded as Postgres words it.
func cascadeNotice(dependents []string) Notice {
	if len(dependents) == 1 {
		return Notice{Message: "drop cascades to " + dependents[0]}
	}
	detail := make([]string, len(dependents))
	for i, dep := range dependents {
		detail[i] = "drop cascades to " + dep
	}
	return Notice{Message: fmt.Sprintf("drop cascades to %d other objects", len(dependents)), Detail: strings.Join(detail, "\n")}
}

// describe names a table as Postgres's messages about objects do:
// qualified unless its name alone denotes it in the session.
func (b *planBuilder) describe(t *Table) string {
	if b.visible(t) {
		return "table " + config.QuoteIdent(t.Name.Name)
	}
	return "table " + regclassText(t.Name.Schema, t.Name.Name)
}

// nameList writes a table reference as Postgres's messages about a name
// that denotes nothing do: its parts joined by dots, unquoted.
func nameList(ref parser.Relation) string {
	if ref.Schema == "" {
		return ref.Name
	}
	return ref.Schema + "." + ref.Name
}
