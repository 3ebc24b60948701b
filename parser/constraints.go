package parser

import pg_query "github.com/pganalyze/pg_query_go/v6"

// SetConstraints describes a SET CONSTRAINTS statement that names its
// constraints (not ALL), which Postgres looks up one by one, in order.
type SetConstraints struct {
	Names    []ConstraintName
	Deferred bool // DEFERRED; false for IMMEDIATE
}

// ConstraintName is a constraint's name as a statement wrote it, parts
// not given empty.
type ConstraintName struct {
	Catalog, Schema, Name string
}

// setConstraintsInfo describes a SET CONSTRAINTS statement, or returns nil
// for SET CONSTRAINTS ALL.
func setConstraintsInfo(s *pg_query.ConstraintsSetStmt) *SetConstraints {
	if len(s.Constraints) == 0 {
		return nil
	}
	sc := &SetConstraints{Deferred: s.Deferred}
	for _, n := range s.Constraints {
		rv := n.GetRangeVar()
		sc.Names = append(sc.Names, ConstraintName{Catalog: rv.GetCatalogname(), Schema: rv.GetSchemaname(), Name: rv.GetRelname()})
	}
	return sc
}
