package policy

import (
	"fmt"
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
	for _, r := range b.rels {
		// Relationships derived for a referencing partition or a view
		// are the configured one's, which Postgres names alone.
		if !r.usable() || r.childOnly || r.reported != nil || r.Parent.View != nil || !dropped[r.Parent] || dropped[r.Child] {
			continue
		}
		if r.Mode == config.Shadow {
			b.plan.Shadowed = append(b.plan.Shadowed, ShadowEvent{Rel: r, Action: "drop"})
			continue
		}
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
		b.plan.Notices = skipped
		message := "cannot drop desired object(s) because other objects depend on them"
		if existing == 1 {
			message = fmt.Sprintf("cannot drop %s because other objects depend on it", parents[0])
		}
		detail := make([]string, len(dependents))
		for i, dep := range dependents {
			detail[i] = dep + " depends on " + parents[i]
		}
		b.plan.Refuse = &Refusal{Rel: first, Code: "2BP01", Message: message,
			Detail: strings.Join(detail, "\n"), Hint: "Use DROP ... CASCADE to drop the dependent objects too."}
	}
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
