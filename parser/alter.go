package parser

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// Alter describes an ALTER TABLE after which PostgreSQL validates the
// foreign keys of a table again (one that attaches or detaches a
// partition, or changes the type of columns), that drops columns or
// constraints, which Postgres refuses while a foreign key references one
// (or the unique index of one), or that switches all the table's
// triggers, a foreign key's RI triggers included, off or on.
type Alter struct {
	Table Relation // the table the statement alters
	// Attach is the partition ATTACH PARTITION adds to Table; Detach the
	// one DETACH PARTITION removes from it. Concurrently says the detach
	// spans transactions (DETACH ... CONCURRENTLY, or its FINALIZE).
	Attach, Detach *Relation
	Concurrently   bool
	// Retyped are the columns ALTER COLUMN ... TYPE changes, and RetypedTo
	// their new types as SQL, without modifiers (a name to_regtype reads;
	// "" when softfk cannot render it).
	Retyped, RetypedTo []string
	// Drops are the DROP COLUMN and DROP CONSTRAINT subcommands, in the
	// order written (Postgres runs them in that order).
	Drops []AlterDrop
	// Triggers is what DISABLE TRIGGER ALL or ENABLE TRIGGER ALL does
	// (the last one written counts).
	Triggers TriggerSwitch
}

// TriggerSwitch is what an ALTER TABLE does to all of a table's triggers.
type TriggerSwitch uint8

// The switches.
const (
	TriggersKept     TriggerSwitch = iota // no DISABLE or ENABLE TRIGGER ALL
	TriggersDisabled                      // DISABLE TRIGGER ALL
	TriggersEnabled                       // ENABLE TRIGGER ALL
)

// AlterDrop is one DROP COLUMN or DROP CONSTRAINT of an ALTER TABLE.
type AlterDrop struct {
	Name       string // the column's or the constraint's
	Constraint bool   // DROP CONSTRAINT
	Cascade    bool   // DROP ... CASCADE
	MissingOK  bool   // DROP ... IF EXISTS
}

// alterInfo describes an ALTER TABLE, or returns nil when it changes
// nothing a foreign key is validated for or depends on.
func alterInfo(s *pg_query.AlterTableStmt) *Alter {
	if s.Objtype != pg_query.ObjectType_OBJECT_TABLE || s.Relation == nil {
		return nil
	}
	a := &Alter{Table: relation(s.Relation)}
	for _, n := range s.Cmds {
		c := n.GetAlterTableCmd()
		if c == nil {
			continue
		}
		switch c.Subtype {
		case pg_query.AlterTableType_AT_AlterColumnType:
			a.Retyped, a.RetypedTo = append(a.Retyped, c.Name), append(a.RetypedTo, typeOnly(c.Def.GetColumnDef().GetTypeName()))
		case pg_query.AlterTableType_AT_DropColumn, pg_query.AlterTableType_AT_DropConstraint:
			a.Drops = append(a.Drops, AlterDrop{Name: c.Name, Constraint: c.Subtype == pg_query.AlterTableType_AT_DropConstraint,
				Cascade: c.Behavior == pg_query.DropBehavior_DROP_CASCADE, MissingOK: c.MissingOk})
		case pg_query.AlterTableType_AT_DisableTrigAll:
			a.Triggers = TriggersDisabled
		case pg_query.AlterTableType_AT_EnableTrigAll:
			a.Triggers = TriggersEnabled
		case pg_query.AlterTableType_AT_AttachPartition:
			if p := c.Def.GetPartitionCmd(); p != nil {
				r := relation(p.Name)
				a.Attach = &r
			}
		case pg_query.AlterTableType_AT_DetachPartition, pg_query.AlterTableType_AT_DetachPartitionFinalize:
			if p := c.Def.GetPartitionCmd(); p != nil {
				r := relation(p.Name)
				a.Detach = &r
				a.Concurrently = p.Concurrent || c.Subtype == pg_query.AlterTableType_AT_DetachPartitionFinalize
			}
		}
	}
	if a.Attach == nil && a.Detach == nil && a.Retyped == nil && a.Drops == nil && a.Triggers == TriggersKept {
		return nil
	}
	return a
}

// typeOnly renders a type name without its modifiers (their validity is
// the statement's business), "" when it cannot. A name of one part is
// quoted: unquoted, a keyword such as char or bit would name the
// SQL-standard type (character, bit) rather than "char" or "bit".
func typeOnly(tn *pg_query.TypeName) string {
	if tn == nil || tn.Setof || tn.PctType {
		return ""
	}
	if len(tn.Names) == 1 {
		name := tn.Names[0].GetString_().GetSval()
		return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` + strings.Repeat("[]", len(tn.ArrayBounds))
	}
	typ, _ := typeNameSQL(&pg_query.TypeName{Names: tn.Names, ArrayBounds: tn.ArrayBounds})
	return typ
}

// OnlySwitchesTriggers reports whether the ALTER TABLE (nil for another
// statement) does nothing softfk plans for but switch all the table's
// triggers off or on: its plan does not depend on what the table looks
// like.
func (a *Alter) OnlySwitchesTriggers() bool {
	return a != nil && a.Triggers != TriggersKept && a.Attach == nil && a.Detach == nil && a.Retyped == nil && a.Drops == nil
}
