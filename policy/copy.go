package policy

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/copydata"
	"github.com/softfk/softfk/parser"
)

// CopyPlan says how to check a COPY ... FROM STDIN into a referencing
// table: softfk reads the key columns out of the data stream as it passes,
// and once the COPY is done checks the distinct keys in batches, inside
// the same transaction, before the COPY's success reaches the client.
type CopyPlan struct {
	// Options and Fields tell the decoder how to read the data and which
	// fields (positions in the COPY's column list) hold keys.
	Options copydata.Options
	Fields  []int

	rels    []*Rel
	ref     parser.Relation
	keyCols []string // the key columns, those in Fields first, then those the COPY leaves NULL
	binary  bool
	// where is the COPY's WHERE condition (see parser.Copy.Where),
	// fieldCols the columns of Fields: the listed key columns, then the
	// other listed columns where reads, and nullCols the columns where
	// reads that the COPY leaves NULL.
	where               string
	fieldCols, nullCols []string
	// encoding is the text or CSV data's ENCODING option, when given:
	// its keys are converted from it on the server, as the COPY does.
	encoding string
}

// copyTarget plans a COPY FROM into a table that references others.
func (b *planBuilder) copyTarget(st *parser.Statement, t *parser.Target, rels []*Rel) {
	c := st.Copy
	child := rels[0].Child
	fail := func(reason string) {
		b.plan.Unverifiable = &Unverifiable{Reason: "COPY " + reason, Rel: rels[0]}
	}
	// (COPY FROM does not apply rules: the rows it reads are the rows it
	// writes.)
	if child.insertTriggersMayChange(unionColumns(rels, func(r *Rel) []string { return r.Columns })) {
		fail("into a table whose BEFORE INSERT triggers may change the keys")
		return
	}
	opts, err := copyOptions(c, b.env.ClientEncoding)
	if err != nil {
		fail(err.Error())
		return
	}
	columns := c.Columns
	if columns == nil {
		columns = columnsInOrder(child)
	}
	position := indexOf(columns)
	plan := &CopyPlan{rels: rels, ref: t.Relation, binary: opts.Format == copydata.Binary}
	if !plan.binary {
		plan.encoding = c.Options["encoding"]
	}
	var absent []string
	for _, col := range unionColumns(rels, func(r *Rel) []string { return r.Columns }) {
		cat := child.Columns[col]
		pos, listed := position[col]
		switch {
		case cat.Generated:
			fail("into a table whose key column " + col + " is generated")
			return
		case listed:
			plan.Fields = append(plan.Fields, pos)
			plan.keyCols = append(plan.keyCols, col)
		case cat.Default:
			fail("that leaves key column " + col + " to its default")
			return
		default:
			absent = append(absent, col) // NULL in every row
		}
	}
	plan.fieldCols = slices.Clone(plan.keyCols)
	plan.keyCols = append(plan.keyCols, absent...)
	plan.where = c.Where
	for _, col := range c.WhereColumns {
		pos, listed := position[col]
		switch {
		case !listed && (child.Columns[col].Default || child.Columns[col].Generated):
			fail("with a WHERE on column " + col + ", which it leaves to its default")
			return
		case !listed:
			plan.nullCols = append(plan.nullCols, col)
		case !slices.Contains(plan.fieldCols, col):
			plan.Fields = append(plan.Fields, pos)
			plan.fieldCols = append(plan.fieldCols, col)
		}
	}
	for name, cols := range map[string][]string{"force_null": c.ForceNull, "force_not_null": c.ForceNotNull} {
		set := map[int]bool{}
		for _, col := range cols {
			if col == "*" {
				for i := range columns {
					set[i] = true
				}
			} else if pos, ok := position[col]; ok {
				set[pos] = true
			}
		}
		if name == "force_null" {
			opts.ForceNull = set
		} else {
			opts.ForceNotNull = set
		}
	}
	plan.Options = opts
	b.plan.Copy = plan
}

// copyOptions turns a COPY's options into the decoder's, or says why the
// data cannot be read reliably.
func copyOptions(c *parser.Copy, clientEncoding string) (copydata.Options, error) {
	var opts copydata.Options
	switch c.Format {
	case "text":
		opts = copydata.DefaultOptions(copydata.Text)
	case "csv":
		opts = copydata.DefaultOptions(copydata.CSV)
	case "binary":
		opts = copydata.DefaultOptions(copydata.Binary)
	default:
		return opts, fmt.Errorf("in format %q", c.Format)
	}
	if unsafeEncoding(clientEncoding) && opts.Format != copydata.Binary {
		return opts, fmt.Errorf("in client encoding %s, whose characters may contain delimiter bytes", clientEncoding)
	}
	for name, v := range c.Options {
		switch name {
		case "delimiter", "quote", "escape":
			if len(v) != 1 {
				return opts, fmt.Errorf("with a %s of %d bytes", name, len(v))
			}
			switch name {
			case "delimiter":
				opts.Delimiter = v[0]
			case "quote":
				opts.Quote = v[0]
				if _, ok := c.Options["escape"]; !ok {
					opts.Escape = v[0]
				}
			default:
				opts.Escape = v[0]
			}
		case "null":
			opts.Null = v
		case "header":
			// Postgres reads false, off and 0, in any case, as no header
			// (and rejects values other than these, true, on, 1 and match).
			opts.Header = !strings.EqualFold(v, "false") && !strings.EqualFold(v, "off") && v != "0"
		case "encoding":
			if unsafeEncoding(v) && opts.Format != copydata.Binary {
				return opts, fmt.Errorf("with encoding %s", v)
			}
		case "freeze":
		default:
			return opts, fmt.Errorf("with option %s", strings.ToUpper(name))
		}
	}
	return opts, nil
}

// unsafeEncoding reports client encodings whose multibyte characters may
// contain ASCII bytes (such as a backslash or the delimiter).
func unsafeEncoding(enc string) bool {
	switch strings.ToUpper(strings.ReplaceAll(enc, "_", "")) {
	case "SJIS", "SHIFTJIS", "SHIFTJIS2004", "BIG5", "GBK", "UHC", "GB18030", "JOHAB", "WIN932", "WIN936", "WIN949", "WIN950", "MSKANJI":
		return true
	}
	return false
}

// Steps builds the checks of one batch of distinct rows read from the
// data (one row of Fields values each, nil for NULL, in first-seen order).
// Rows the COPY's WHERE leaves out are not checked.
func (c *CopyPlan) Steps(rows [][]copydata.Field) []*Step {
	if len(rows) == 0 {
		return nil
	}
	child := c.rels[0].Child
	var unnest, aliases, exprs []string
	var args []Arg
	for i, col := range c.fieldCols {
		typ := child.Columns[col].Type
		alias := "a" + strconv.Itoa(i)
		aliases = append(aliases, alias)
		values := make([][]byte, len(rows))
		for r, row := range rows {
			values[r] = row[i]
		}
		elem := uint32(oidText)
		if c.binary {
			// Binary COPY values are already in the column type's binary
			// form: an array of that type takes them as they are.
			elem = child.Columns[col].TypeOID
			unnest = append(unnest, "$"+strconv.Itoa(len(args)+1)+"::"+typ+"[]")
			exprs = append(exprs, "u."+alias)
		} else if c.encoding != "" {
			// The bytes as they came, read in the data's encoding.
			elem = oidBytea
			unnest = append(unnest, "$"+strconv.Itoa(len(args)+1)+"::bytea[]")
			exprs = append(exprs, castTo("convert_from(u."+alias+", "+parser.QuoteLiteral(c.encoding)+")", typ))
		} else {
			unnest = append(unnest, "$"+strconv.Itoa(len(args)+1)+"::text[]")
			exprs = append(exprs, castTo("u."+alias, typ))
		}
		args = append(args, Arg{Binary: binaryArray(elem, values)})
	}
	from := " FROM unnest(" + strings.Join(unnest, ", ") + ") WITH ORDINALITY AS u(" + strings.Join(aliases, ", ") + ", n)"
	keys := make([]string, len(c.keyCols))
	for i, col := range c.keyCols {
		switch {
		case !slices.Contains(c.fieldCols, col):
			keys[i] = castTo("NULL", child.Columns[col].Type) // the COPY leaves it NULL
		case c.where != "":
			keys[i] = "w." + config.QuoteIdent(col)
		default:
			keys[i] = exprs[i]
		}
	}
	body := "SELECT u.n, " + strings.Join(keys, ", ") + from
	if c.where != "" {
		// The rows as the WHERE reads them: under the columns' own names.
		var names []string
		for _, col := range c.fieldCols {
			names = append(names, config.QuoteIdent(col))
		}
		for _, col := range c.nullCols {
			names = append(names, config.QuoteIdent(col))
			exprs = append(exprs, castTo("NULL", child.Columns[col].Type))
		}
		body = "SELECT w.softfk_n, " + strings.Join(keys, ", ") + " FROM (SELECT u.n, " + strings.Join(exprs, ", ") + from +
			") AS w(softfk_n, " + strings.Join(names, ", ") + ") WHERE " + c.where
	}
	src := keySource{body: body, width: len(c.keyCols), rows: len(rows)}
	return childCheckSteps(c.rels, c.ref, indexOf(c.keyCols), -1, src, args)
}

// binaryArray encodes a one-dimensional array of elem values in Postgres's
// binary array format (nil values are NULL).
func binaryArray(elem uint32, values [][]byte) []byte {
	hasNull := uint32(0)
	size := 20
	for _, v := range values {
		if v == nil {
			hasNull = 1
		}
		size += 4 + len(v)
	}
	out := make([]byte, 0, size)
	out = binary.BigEndian.AppendUint32(out, 1) // dimensions
	out = binary.BigEndian.AppendUint32(out, hasNull)
	out = binary.BigEndian.AppendUint32(out, elem)
	out = binary.BigEndian.AppendUint32(out, uint32(len(values)))
	out = binary.BigEndian.AppendUint32(out, 1) // lower bound
	for _, v := range values {
		if v == nil {
			out = binary.BigEndian.AppendUint32(out, 0xffffffff)
			continue
		}
		out = binary.BigEndian.AppendUint32(out, uint32(len(v)))
		out = append(out, v...)
	}
	return out
}

// Mode of the COPY's checks, for the proxy: shadow only when every
// relationship involved is in shadow mode.
func (c *CopyPlan) Shadow() bool {
	for _, r := range c.rels {
		if r.Mode == config.Enforce {
			return false
		}
	}
	return true
}
