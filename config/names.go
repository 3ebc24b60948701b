package config

import (
	"fmt"
	"strings"
)

// maxIdentifierBytes is Postgres's NAMEDATALEN-1: identifiers longer than
// this are truncated by the server, so the config rejects them instead.
const maxIdentifierBytes = 63

// TableName is a schema-qualified table name after SQL case folding.
type TableName struct {
	Schema string
	Name   string
}

// String renders the name as SQL, quoting each part only where needed.
func (t TableName) String() string {
	return QuoteIdent(t.Schema) + "." + QuoteIdent(t.Name)
}

// ParseIdent parses one SQL identifier: unquoted names fold to lower case,
// double-quoted names keep their case and may contain "" for a quote.
func ParseIdent(s string) (string, error) {
	parts, err := splitQualified(s)
	if err != nil {
		return "", err
	}
	if len(parts) != 1 {
		return "", fmt.Errorf("%q is not a single identifier", s)
	}
	return parts[0], nil
}

// ParseTableName parses "table" or "schema.table"; an unqualified name means
// schema public.
func ParseTableName(s string) (TableName, error) {
	parts, err := splitQualified(s)
	if err != nil {
		return TableName{}, err
	}
	switch len(parts) {
	case 1:
		return TableName{Schema: "public", Name: parts[0]}, nil
	case 2:
		return TableName{Schema: parts[0], Name: parts[1]}, nil
	default:
		return TableName{}, fmt.Errorf("%q has %d dot-separated parts; want table or schema.table", s, len(parts))
	}
}

// splitQualified splits a dotted name into identifiers, applying SQL case
// folding to unquoted parts.
func splitQualified(s string) ([]string, error) {
	var parts []string
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		part, next, err := scanIdent(s, i)
		if err != nil {
			return nil, err
		}
		parts = append(parts, part)
		i = next
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) {
			return parts, nil
		}
		if s[i] != '.' {
			return nil, fmt.Errorf("unexpected %q in name %q", s[i], s)
		}
		i++
	}
}

// scanIdent reads one identifier starting at s[i] and returns it with the
// index just after it.
func scanIdent(s string, i int) (string, int, error) {
	if i >= len(s) {
		return "", i, fmt.Errorf("empty identifier in %q", s)
	}
	var b strings.Builder
	if s[i] == '"' {
		i++
		for {
			j := strings.IndexByte(s[i:], '"')
			if j < 0 {
				return "", i, fmt.Errorf("unterminated quoted identifier in %q", s)
			}
			b.WriteString(s[i : i+j])
			i += j + 1
			if i < len(s) && s[i] == '"' {
				b.WriteByte('"')
				i++
				continue
			}
			break
		}
		if b.Len() == 0 {
			return "", i, fmt.Errorf("zero-length quoted identifier in %q", s)
		}
	} else {
		start := i
		for i < len(s) && isIdentByte(s[i], i == start) {
			c := s[i]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			b.WriteByte(c)
			i++
		}
		if b.Len() == 0 {
			return "", i, fmt.Errorf("invalid identifier in %q", s)
		}
	}
	if b.Len() > maxIdentifierBytes {
		return "", i, fmt.Errorf("identifier %q is longer than %d bytes", b.String(), maxIdentifierBytes)
	}
	return b.String(), i, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// isIdentByte reports whether c may appear in an unquoted identifier (bytes
// >= 0x80 are allowed as Postgres does for multibyte letters).
func isIdentByte(c byte, first bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c >= 0x80:
		return true
	case c >= '0' && c <= '9', c == '$':
		return !first
	}
	return false
}

// QuoteIdent quotes an identifier the way Postgres's quote_ident does: only
// when it is not a plain lower-case name or is a reserved keyword.
func QuoteIdent(s string) string {
	if s != "" && !reservedWords[s] {
		plain := true
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(c >= 'a' && c <= 'z' || c == '_' || (i > 0 && (c >= '0' && c <= '9' || c == '$'))) {
				plain = false
				break
			}
		}
		if plain {
			return s
		}
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// reservedWords are the keywords that must be quoted when used as names
// (Postgres's reserved and type/function-name keywords).
var reservedWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`all analyse analyze and any array as asc asymmetric authorization binary both
		case cast check collate collation column concurrently constraint create cross current_catalog current_date
		current_role current_schema current_time current_timestamp current_user default deferrable desc distinct do
		else end except false fetch for foreign freeze from full grant group having ilike in initially inner intersect
		into is isnull join lateral leading left like limit localtime localtimestamp natural not notnull null offset on
		only or order outer overlaps placing primary references returning right select session_user similar some
		symmetric system_user table tablesample then to trailing true union unique user using variadic verbose when
		where window with`) {
		m[w] = true
	}
	return m
}()

// DefaultConstraintName is the name Postgres gives a FOREIGN KEY on table
// with these columns when none is specified: <table>_<col>_<col>_fkey,
// shortened to fit 63 bytes exactly as the server does.
func DefaultConstraintName(table string, columns []string) string {
	return makeObjectName(table, fkNameAddition(columns), "fkey")
}

// fkNameAddition joins column names with underscores, stopping once the
// result is as long as an identifier (Postgres's
// ChooseForeignKeyConstraintNameAddition).
func fkNameAddition(columns []string) string {
	var b strings.Builder
	for _, c := range columns {
		if b.Len() > 0 {
			b.WriteByte('_')
		}
		b.WriteString(c)
		if b.Len() > maxIdentifierBytes {
			break
		}
	}
	return b.String()
}

// makeObjectName builds name1_name2_label, shortening the longer of name1
// and name2 first until the whole fits in an identifier (Postgres's
// makeObjectName).
func makeObjectName(name1, name2, label string) string {
	avail := maxIdentifierBytes - len(label) - 2
	n1, n2 := len(name1), len(name2)
	for n1+n2 > avail {
		if n1 > n2 {
			n1--
		} else {
			n2--
		}
	}
	return clipUTF8(name1, n1) + "_" + clipUTF8(name2, n2) + "_" + label
}

// clipUTF8 shortens s to at most n bytes without splitting a UTF-8 sequence.
func clipUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
