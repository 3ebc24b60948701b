package ops

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/softfk/softfk/config"
)

// KeyColumn is a key column's name and type (as format_type renders it).
type KeyColumn struct{ Name, Type string }

// KeyTypesRefused asks PostgreSQL whether it would let column child
// reference a uniquely indexed column parent with a FOREIGN KEY named
// constraint, and returns its refusal, in its words ("" when it accepts):
// an integer may reference a bigint, but a text column may not reference
// a citext one, though the two compare with =. (PostgreSQL's rule is
// about the equality operators of the referenced type's operator class
// and the implicit casts between the types.) It creates two temporary
// tables with columns of those names and types in a transaction and adds
// the foreign key between them, then rolls everything back: the real
// tables are left alone, since adding a foreign key to them, even one
// rolled back, would lock them against writes meanwhile. err reports a
// check that could not run: a lost connection, or a role or server that
// cannot create temporary tables (no TEMPORARY privilege, a hot standby).
func KeyTypesRefused(ctx context.Context, conn *pgx.Conn, constraint string, child, parent KeyColumn) (refusal string, err error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(ctx)
	pc, cc := config.QuoteIdent(parent.Name), config.QuoteIdent(child.Name)
	if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE TEMPORARY TABLE softfk_key_parent (%s %s)", pc, parent.Type)); err != nil {
		return "", err
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE UNIQUE INDEX ON softfk_key_parent (%s)", pc)); err != nil {
		return refusalOf(err)
	}
	_, err = tx.Exec(ctx, fmt.Sprintf("CREATE TEMPORARY TABLE softfk_key_child (%s %s CONSTRAINT %s REFERENCES softfk_key_parent (%s))",
		cc, child.Type, config.QuoteIdent(constraint), pc))
	return refusalOf(err)
}

// refusalOf turns PostgreSQL's error into a refusal, with its detail
// when it has one; any other error stays an error.
func refusalOf(err error) (string, error) {
	var pe *pgconn.PgError
	switch {
	case err == nil:
		return "", nil
	case !errors.As(err, &pe):
		return "", err
	case pe.Detail != "":
		return pe.Message + ": " + pe.Detail, nil
	default:
		return pe.Message, nil
	}
}
