// Package examples holds the example schema and configuration shared by
// softfk demo and docker-compose.yml.
package examples

import _ "embed"

// Schema is the SQL of the example tables and rows (schema.sql).
//
//go:embed schema.sql
var Schema string

// Config is the softfk configuration declaring the example relationships
// (softfk.yaml).
//
//go:embed softfk.yaml
var Config string
