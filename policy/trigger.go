package policy

import (
	"encoding/base64"
	"regexp"
	"slices"
	"strings"
)

// triggerFunc is the function of a BEFORE ROW trigger: its language and
// its source.
type triggerFunc struct {
	lang, src string
}

// parseTriggerFuncs reads the catalog's list of trigger functions
// (language chr(31) base64 source, chr(30) between functions). A source
// that does not decode is kept empty with an unknown language: it may
// change anything.
func parseTriggerFuncs(s string) []triggerFunc {
	var out []triggerFunc
	for _, f := range strings.Split(s, "\x1e") {
		lang, enc, _ := strings.Cut(f, "\x1f")
		src, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			lang = ""
		}
		out = append(out, triggerFunc{lang: lang, src: string(src)})
	}
	return out
}

// insertTriggersMayChange reports whether the table's BEFORE ROW INSERT
// triggers may change any of cols in the rows they let through, or skip
// a row: true unless the table has none, or each is a PL/pgSQL function
// that plainly cannot (see plpgsqlKeepsColumns).
func (t *Table) insertTriggersMayChange(cols []string) bool {
	if !t.BeforeInsertTrigger {
		return false
	}
	if len(t.insertTriggers) == 0 {
		return true // the catalog said there are some, but not which
	}
	return slices.ContainsFunc(t.insertTriggers, func(f triggerFunc) bool {
		return f.lang != "plpgsql" || !plpgsqlKeepsColumns(f.src, cols)
	})
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

// returns finds what each RETURN statement returns; word finds words
// (identifiers, keywords, numbers) and isWord tells a name that is one.
var (
	returns = regexp.MustCompile(`\breturn\b([^;]*)`)
	word    = regexp.MustCompile(`[a-z0-9_$\x80-\x{10ffff}]+`)
	isWord  = regexp.MustCompile(`^[a-z0-9_$\x80-\x{10ffff}]+$`)
)

// plpgsqlKeepsColumns reports whether a PL/pgSQL trigger function's body
// src plainly returns every row it is given with cols unchanged. The
// reading is lexical and errs on the side of "no": no word of the body,
// in comments and strings too, may be one of cols (in any case), none
// may change the whole row (rowChangers), and every RETURN must return
// NEW (RETURN NULL would skip the row, whose keys softfk would still
// check).
func plpgsqlKeepsColumns(src string, cols []string) bool {
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
	for _, m := range returns.FindAllStringSubmatch(body, -1) {
		if strings.Trim(m[1], " \t\r\n()") != "new" {
			return false
		}
		found = true
	}
	return found
}
