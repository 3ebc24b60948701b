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
// so softfk leaves such a statement to it.
func (b *planBuilder) drop(d *parser.Drop) {
	if b.env.NamesMayMove {
		// What the names denote is known only once the statements before
		// it have run; softfk does not stand in the way (see README).
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
	var dependents, parents []string
	var first *Rel
	for _, r := range b.dependents(func(r *Rel) bool { return dropped[r.Parent] && !dropped[r.Child] }) {
		if first == nil {
			first = r
		}
		dependents = append(dependents, fmt.Sprintf("constraint %s on %s", r.Name, b.describe(r.Child)))
		parents = append(parents, b.describe(r.Parent))
	}
	switch {
	case first == nil:
	case d.Cascade:
		b.plan.Notices = append(b.plan.Notices, cascadeNotice(dependents))
	default:
		message := "cannot drop desired object(s) because other objects depend on them"
		if existing == 1 {
			message = fmt.Sprintf("cannot drop %s because other objects depend on it", parents[0])
		}
		b.refuseDrop(first, skipped, message, dependents, parents)
	}
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
// dependent, saying which object it depends on.
func (b *planBuilder) refuseDrop(first *Rel, notices []Notice, message string, dependents, on []string) {
	b.plan.Notices = notices
	detail := make([]string, len(dependents))
	for i, dep := range dependents {
		detail[i] = dep + " depends on " + on[i]
	}
	b.plan.Refuse = &Refusal{Rel: first, Code: "2BP01", Message: message,
		Detail: strings.Join(detail, "\n"), Hint: "Use DROP ... CASCADE to drop the dependent objects too."}
}

// dropColumns plans the DROP COLUMN subcommands of an ALTER TABLE as
// Postgres runs them, in order, before the rest of the statement: while a
// foreign key from another table (or from another column of the same
// one) references a column it drops, Postgres refuses the statement,
// unless CASCADE is given, which drops the constraint (reported by a
// NOTICE). A foreign key whose own referencing column goes is dropped
// silently. It returns the relationships the statement drops. The table's
// name must be resolved (Env.Resolved); a column that is not there is
// Postgres's own error, or notice with IF EXISTS.
func (b *planBuilder) dropColumns(a *parser.Alter) map[*Rel]bool {
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
	gone := map[*Rel]bool{}
	columnGone := map[string]bool{}
	var notices []Notice // Postgres's, up to where it refuses
	for _, d := range a.Drops {
		if _, ok := t.Columns[d.Column]; !ok || columnGone[d.Column] {
			if !d.MissingOK {
				return nil
			}
			notices = append(notices, Notice{Message: fmt.Sprintf("column \"%s\" of relation \"%s\" does not exist, skipping", d.Column, t.Name.Name)})
			continue
		}
		columnGone[d.Column] = true
		for _, r := range b.rels {
			if r.usable() && r.Child.Name == t.Name && slices.Contains(r.Columns, d.Column) {
				gone[r] = true
			}
		}
		rels := b.dependents(func(r *Rel) bool {
			return r.Parent.Name == t.Name && !gone[r] && slices.Contains(r.RefColumns, d.Column)
		})
		if rels == nil {
			continue
		}
		column := fmt.Sprintf("column %s of %s", d.Column, b.describe(t))
		dependents, on := make([]string, len(rels)), make([]string, len(rels))
		for i, r := range rels {
			dependents[i] = fmt.Sprintf("constraint %s on %s", r.Name, b.describe(r.Child))
			on[i] = column
			gone[r] = true
		}
		if !d.Cascade {
			b.refuseDrop(rels[0], notices, fmt.Sprintf("cannot drop %s because other objects depend on it", column), dependents, on)
			return gone
		}
		cascade := cascadeNotice(dependents)
		notices = append(notices, cascade)
		b.plan.Notices = append(b.plan.Notices, cascade)
	}
	return gone
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
