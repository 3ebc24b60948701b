package policy

import (
	"encoding/base64"
	"regexp"
	"slices"
	"strings"
)

// triggerFunc is the function of a BEFORE ROW trigger: the events it
// fires on, its language and its source.
type triggerFunc struct {
	insert, update bool
	lang, src      string
}

// parseTriggerFuncs reads the catalog's list of trigger functions
// (events chr(31) language chr(31) base64 source, chr(30) between
// functions). A source that does not decode is kept empty with an unknown
// language: it may change anything.
func parseTriggerFuncs(s string) []triggerFunc {
	var out []triggerFunc
	for _, f := range strings.Split(s, "\x1e") {
		parts := strings.SplitN(f, "\x1f", 3)
		tf := triggerFunc{insert: true, update: true}
		if len(parts) == 3 {
			src, err := base64.StdEncoding.DecodeString(parts[2])
			if err == nil {
				tf = triggerFunc{insert: strings.Contains(parts[0], "i"), update: strings.Contains(parts[0], "u"), lang: parts[1], src: string(src)}
			}
		}
		out = append(out, tf)
	}
	return out
}

// insertTriggersMayChange reports whether the table's BEFORE ROW INSERT
// triggers may change any of cols in the rows they let through, or skip
// a row (see triggersMayChange).
func (t *Table) insertTriggersMayChange(cols []string) bool {
	return t.BeforeInsertTrigger && t.triggersMayChange(cols, func(f triggerFunc) bool { return f.insert }, "new")
}

// updateTriggersMayChange reports whether the table's BEFORE ROW UPDATE
// triggers may change any of cols in the rows they write (returning the
// old row, or none, changes nothing).
func (t *Table) updateTriggersMayChange(cols []string) bool {
	return t.BeforeUpdateTrigger && t.triggersMayChange(cols, func(f triggerFunc) bool { return f.update }, "new", "old", "null")
}

// updateTriggersMayOverride reports whether the table's BEFORE ROW UPDATE
// triggers may write, in cols, other values than an UPDATE would: change
// them, or, when it assigns one of them (assigns), also return the old
// row or skip the row.
func (t *Table) updateTriggersMayOverride(cols []string, assigns bool) bool {
	if !assigns {
		return t.updateTriggersMayChange(cols)
	}
	return t.BeforeUpdateTrigger && t.triggersMayChange(cols, func(f triggerFunc) bool { return f.update }, "new")
}

// triggersMayChange reports whether some trigger function that fires
// (see fires) may change cols: true unless each is a PL/pgSQL function
// that plainly cannot, returning only one of returns (see
// plpgsqlKeepsColumns). Triggers the catalog counted but whose functions
// it did not list may change anything.
func (t *Table) triggersMayChange(cols []string, fires func(triggerFunc) bool, returns ...string) bool {
	n := 0
	for _, f := range t.triggers {
		if !fires(f) {
			continue
		}
		n++
		if f.lang != "plpgsql" || !plpgsqlKeepsColumns(f.src, cols, returns...) {
			return true
		}
	}
	return n == 0
}

// Patterns of a PL/pgSQL body, lower-cased, that may change the row a
// trigger returns otherwise than by assigning one of its fields by name
// (whole-row targets of an assignment, INTO, FOR or FOREACH; a variable
// of its own named new; CALL, whose INOUT arguments are targets; ALIAS,
// which renames NEW; Unicode-escaped names, which hide a column's).
var rowChangers = []*regexp.Regexp{
	regexp.MustCompile(`\bnew\s*:?=`),
	regexp.MustCompile(`\binto\s+(strict\s+)?([a-z_][a-z0-9_$]*\.)?new(\s|,|;|\)|$)`),
	regexp.MustCompile(`\bfor(each)?\s+([a-z_][a-z0-9_$]*\.)?new(\s|,)`),
	regexp.MustCompile(`\bnew\s+[a-z_"]`),
	regexp.MustCompile(`"new"`),
	regexp.MustCompile(`\bcall\b`),
	regexp.MustCompile(`\balias\b`),
	regexp.MustCompile(`u&`),
}

// returnStmt finds what each RETURN statement returns; word finds words
// (identifiers, keywords, numbers) and isWord tells a name that is one.
var (
	returnStmt = regexp.MustCompile(`\breturn\b([^;]*)`)
	word       = regexp.MustCompile(`[a-z0-9_$\x80-\x{10ffff}]+`)
	isWord     = regexp.MustCompile(`^[a-z0-9_$\x80-\x{10ffff}]+$`)
)

// plpgsqlKeepsColumns reports whether a PL/pgSQL trigger function's body
// src plainly returns rows with cols as it was given them. The reading
// is lexical and errs on the side of "no": no word of the body, in
// comments and strings too, may be one of cols (in any case), none may
// change the whole row (rowChangers), and every RETURN must return one of
// returns (for an INSERT, only NEW: RETURN NULL would skip a row whose
// keys softfk reads from a COPY's data all the same).
func plpgsqlKeepsColumns(src string, cols []string, returns ...string) bool {
	body := strings.ToLower(src)
	for _, re := range rowChangers {
		if re.MatchString(body) {
			return false
		}
	}
	words := map[string]bool{}
	for _, w := range word.FindAllString(body, -1) {
		words[w] = true
	}
	for _, c := range cols {
		if c = strings.ToLower(c); words[c] || !isWord.MatchString(c) {
			return false
		}
	}
	found := false
	for _, m := range returnStmt.FindAllStringSubmatch(body, -1) {
		if !slices.Contains(returns, strings.Trim(m[1], " \t\r\n()")) {
			return false
		}
		found = true
	}
	return found
}
