package parser

import "strings"

// writeKeywords are the words without which a statement can write no table
// softfk guards: INSERT, UPDATE, DELETE, MERGE, TRUNCATE, COPY ... FROM,
// SQL-level PREPARE/EXECUTE of such statements, the ALTER TABLE after
// which PostgreSQL validates foreign keys again (see Alter), and the DROP
// TABLE it refuses while a foreign key needs the table (see Drop).
var writeKeywords = []string{"insert", "update", "delete", "merge", "truncate", "copy", "execute", "alter", "drop"}

// MayWrite is the cheap pre-check that keeps most statements out of the
// parser: it reports whether sql contains one of the write keywords as a
// word (in any case). False positives (a keyword in a string or comment)
// only cost a parse.
func MayWrite(sql string) bool {
	return hasAnyWord(sql, writeKeywords...)
}

// MayChangePrepared reports whether sql may PREPARE or drop SQL-level
// prepared statements (PREPARE, DEALLOCATE, DISCARD ALL).
func MayChangePrepared(sql string) bool {
	return hasAnyWord(sql, "prepare", "deallocate", "discard")
}

// MayExecute reports whether sql may EXECUTE an SQL-level prepared
// statement.
func MayExecute(sql string) bool {
	return hasWord(sql, "execute")
}

// MaySetConstraints reports whether sql may be a SET CONSTRAINTS.
func MaySetConstraints(sql string) bool {
	return hasWord(sql, "constraints")
}

// MayNameRelation reports whether sql may create or name a relation (see
// Statement.NamesRelation): CREATE, ALTER, or SELECT ... INTO (a SELECT
// with INTO but no INSERT or MERGE).
func MayNameRelation(sql string) bool {
	return hasAnyWord(sql, "create", "alter") ||
		hasWord(sql, "into") && hasWord(sql, "select") && !hasAnyWord(sql, "insert", "merge")
}

// MayChangeSchema reports whether sql may be DDL (CREATE, ALTER, DROP) that
// changes the catalog facts softfk relies on.
func MayChangeSchema(sql string) bool {
	return hasAnyWord(sql, "alter", "drop", "create")
}

// MayDefineFunction reports whether sql may create or replace a function
// or procedure.
func MayDefineFunction(sql string) bool {
	return hasWord(sql, "create") && hasAnyWord(sql, "function", "procedure")
}

// hasAnyWord reports whether sql contains one of the words (lower-case
// ASCII letters) as a whole word, in any case.
func hasAnyWord(sql string, words ...string) bool {
	for _, w := range words {
		if hasWord(sql, w) {
			return true
		}
	}
	return false
}

// hasWord reports whether sql contains the word w (lower-case ASCII
// letters) as a whole word, in any case. It jumps between the occurrences
// of w's first letter with IndexByte, so long stretches without that
// letter (a VALUES list of numbers) cost next to nothing.
func hasWord(sql, w string) bool {
	lower, upper := w[0], w[0]-('a'-'A')
	nextLower, nextUpper := nextByte(sql, 0, lower), nextByte(sql, 0, upper)
	for {
		i := min(nextLower, nextUpper)
		if i == len(sql) {
			return false
		}
		if (i == 0 || !isWordByte(sql[i-1])) && hasWordAt(sql, i, w) {
			return true
		}
		if i == nextLower {
			nextLower = nextByte(sql, i+1, lower)
		} else {
			nextUpper = nextByte(sql, i+1, upper)
		}
	}
}

// nextByte returns the position of the first c in s at or after from, or
// len(s).
func nextByte(s string, from int, c byte) int {
	if j := strings.IndexByte(s[from:], c); j >= 0 {
		return from + j
	}
	return len(s)
}

// MentionsAny reports whether sql contains any of the names (compared
// without regard to ASCII case; a name with a double quote as SQL spells
// it, the quote doubled), or a Unicode-escaped identifier
// (U&"\006Frders"), which may spell any of them. Statements that mention no
// guarded table cannot write one directly.
func MentionsAny(sql string, names []string) bool {
	if containsFold(sql, `u&"`) {
		return true
	}
	for _, name := range names {
		if strings.Contains(name, `"`) {
			name = strings.ReplaceAll(name, `"`, `""`)
		}
		if containsFold(sql, name) {
			return true
		}
	}
	return false
}

// hasWordAt reports whether kw (lower case) appears at sql[i:] as a whole
// word.
func hasWordAt(sql string, i int, kw string) bool {
	if len(sql)-i < len(kw) {
		return false
	}
	for j := 0; j < len(kw); j++ {
		if sql[i+j]|0x20 != kw[j] {
			return false
		}
	}
	return i+len(kw) == len(sql) || !isWordByte(sql[i+len(kw)])
}

// isWordByte reports whether c may stand inside a word of SQL: a keyword,
// a name, a number, or a parameter's $n.
func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c >= 0x80
}

// containsFold reports whether s contains sub, ignoring ASCII case.
func containsFold(s, sub string) bool {
	n := len(sub)
	if n == 0 {
		return true
	}
	first := lower(sub[0])
	for i := 0; i+n <= len(s); i++ {
		if lower(s[i]) != first {
			continue
		}
		j := 1
		for j < n && lower(s[i+j]) == lower(sub[j]) {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
