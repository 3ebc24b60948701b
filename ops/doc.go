// Package ops holds softfk's operator commands, which work on a database
// directly rather than through the proxy: audit finds (and optionally
// cleans) rows that already violate the configured relationships, discover
// suggests relationships from hard foreign keys and naming conventions, and
// ddl prints the SQL that turns soft relationships into hard ones.
package ops
