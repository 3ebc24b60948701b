package ops

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/softfk/softfk/config"
)

// writeSuggestions writes the suggestions as a configuration document with
// each one's evidence in a comment above it, then the skipped candidates.
// softfk needs unique relationship names: a hard foreign key whose name an
// earlier one took (Postgres only makes them unique per table) is written
// without a name, after the named ones, so config gives it its default.
func writeSuggestions(w io.Writer, db string, sugs []suggestion, skipped []string) {
	comment(w, "", fmt.Sprintf("softfk discover: suggested relationships for database %s.", config.QuoteIdent(db)))
	comment(w, "", "Review each one before use: the comment above it gives the evidence.")
	used := map[string]bool{}
	var named, unnamed []suggestion
	for _, s := range sugs {
		if s.explicit && used[s.rel.Name] {
			s.explicit = false
			s.evidence = append(s.evidence, fmt.Sprintf("note: the name %s is taken above, so softfk names this one by default", config.QuoteIdent(s.rel.Name)))
		}
		if s.explicit {
			used[s.rel.Name] = true
			named = append(named, s)
		} else {
			unnamed = append(unnamed, s)
		}
	}
	if len(sugs) == 0 {
		fmt.Fprintln(w, "relationships: []")
	} else {
		fmt.Fprintln(w, "relationships:")
	}
	for _, s := range append(named, unnamed...) {
		writeRelationship(w, s)
	}
	if len(skipped) > 0 {
		comment(w, "", "Not suggested:")
		for _, line := range skipped {
			comment(w, "", "  "+line)
		}
	}
}

// writeRelationship writes one entry of the relationships list, leaving out
// the settings that have their default value.
func writeRelationship(w io.Writer, s suggestion) {
	r := s.rel
	for _, e := range s.evidence {
		comment(w, "  ", e)
	}
	item := "  - "
	if s.explicit {
		fmt.Fprintf(w, "%sname: %s\n", item, yamlScalar(r.Name))
		item = "    "
	}
	fmt.Fprintf(w, "%stable: %s\n", item, yamlScalar(r.Table.String()))
	fmt.Fprintf(w, "    columns: %s\n", yamlColumns(r.Columns))
	fmt.Fprintf(w, "    references:\n      table: %s\n      columns: %s\n", yamlScalar(r.RefTable.String()), yamlColumns(r.RefColumns))
	if r.OnDelete != config.NoAction {
		fmt.Fprintf(w, "    on_delete: %s\n", r.OnDelete)
	}
	if r.OnUpdate != config.NoAction {
		fmt.Fprintf(w, "    on_update: %s\n", r.OnUpdate)
	}
	if r.Match != config.MatchSimple {
		fmt.Fprintf(w, "    match: %s\n", r.Match)
	}
}

// comment writes text as a YAML comment line.
func comment(w io.Writer, indent, text string) {
	fmt.Fprintf(w, "%s# %s\n", indent, strings.ReplaceAll(text, "\n", " "))
}

// yamlColumns writes column names as a flow sequence of SQL identifiers.
func yamlColumns(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = yamlScalar(config.QuoteIdent(c))
	}
	return "[" + strings.Join(q, ", ") + "]"
}

var (
	plainScalar = regexp.MustCompile(`^[a-z_][a-z0-9_$.]*$`)
	// yamlWords would not read back as strings if written plain.
	yamlWords = map[string]bool{"null": true, "true": true, "false": true, "yes": true, "no": true, "on": true, "off": true, "y": true, "n": true}
)

// yamlScalar renders s as a YAML scalar that reads back as the same
// string in block and flow context: plain when it is a simple name,
// single-quoted when printable, double-quoted otherwise.
func yamlScalar(s string) string {
	if plainScalar.MatchString(s) && !yamlWords[s] {
		return s
	}
	if strconv.CanBackquote(s) { // printable, no newline or tab
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return strconv.Quote(s)
}
