// Package policy knows the soft relationships and what they demand of a
// write: it resolves them against each database's catalog and turns a
// parsed write into the checks, locks and actions the proxy runs around it,
// and the error Postgres would raise when one fails.
package policy
