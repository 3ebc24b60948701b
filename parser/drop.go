package parser

import pg_query "github.com/pganalyze/pg_query_go/v6"

// Drop describes a DROP TABLE, which Postgres refuses while a foreign key
// references one of its tables from a table it does not drop, or a DROP
// INDEX, refused while a foreign key relies on the unique index.
type Drop struct {
	Tables    []Relation // the tables (or indexes) named, as written
	Indexes   bool       // DROP INDEX: Tables name indexes
	Cascade   bool       // DROP ... CASCADE
	MissingOK bool       // DROP ... IF EXISTS
	// Concurrently is DROP INDEX CONCURRENTLY, which Postgres refuses
	// inside a transaction block.
	Concurrently bool
}

// dropInfo describes a DROP statement, or returns nil when it drops
// neither tables nor indexes.
func dropInfo(s *pg_query.DropStmt) *Drop {
	if s.RemoveType != pg_query.ObjectType_OBJECT_TABLE && s.RemoveType != pg_query.ObjectType_OBJECT_INDEX {
		return nil
	}
	d := &Drop{Indexes: s.RemoveType == pg_query.ObjectType_OBJECT_INDEX,
		Cascade: s.Behavior == pg_query.DropBehavior_DROP_CASCADE, MissingOK: s.MissingOk, Concurrently: s.Concurrent}
	for _, obj := range s.Objects {
		var names []string
		for _, item := range obj.GetList().GetItems() {
			names = append(names, item.GetString_().GetSval())
		}
		var r Relation
		switch n := len(names); {
		case n == 0:
			continue
		case n >= 2:
			r.Schema = names[n-2]
			fallthrough
		default:
			r.Name = names[n-1]
		}
		r.Inh = true
		d.Tables = append(d.Tables, r)
	}
	return d
}
