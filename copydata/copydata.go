// Package copydata decodes the data stream of COPY ... FROM STDIN in its
// three formats (text, CSV, binary) incrementally: CopyData messages are fed
// as they arrive, with rows split across messages, and the fields softfk
// needs (the key columns) come out row by row without the stream being held
// in memory.
package copydata

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Format is a COPY data format.
type Format uint8

// The formats.
const (
	Text Format = iota
	CSV
	Binary
)

// Options are the COPY options that shape the data.
type Options struct {
	Format    Format
	Delimiter byte   // text: tab, CSV: comma
	Null      string // text: \N, CSV: empty
	Header    bool   // the first line is a header (text, CSV)
	Quote     byte   // CSV: "
	Escape    byte   // CSV: the quote
	// ForceNull and ForceNotNull are, per column index, CSV's FORCE_NULL
	// (quoted null strings are NULL too) and FORCE_NOT_NULL (the null string
	// is an empty value, not NULL).
	ForceNull, ForceNotNull map[int]bool
}

// DefaultOptions returns Postgres's defaults for a format.
func DefaultOptions(f Format) Options {
	o := Options{Format: f, Delimiter: '\t', Null: `\N`, Quote: '"', Escape: '"'}
	if f == CSV {
		o.Delimiter, o.Null = ',', ""
	}
	return o
}

// Field is one decoded value: nil for NULL.
type Field []byte

// Decoder extracts chosen columns from a COPY data stream.
type Decoder struct {
	opts    Options
	want    []int // column indexes to extract, in the order given
	maxCol  int
	emit    func(row []Field) error
	pending []byte // bytes of an incomplete row or binary tuple
	started bool   // header line / binary signature consumed
	done    bool   // end marker or binary trailer seen
	row     []Field
	lineNo  int
}

// ErrMalformed reports data the decoder cannot read; Postgres would reject
// it too.
var ErrMalformed = errors.New("malformed COPY data")

// NewDecoder returns a decoder calling emit for each row with the values of
// columns want (0-based positions in the COPY's column list). The row slice
// and its fields are valid only during the call.
func NewDecoder(opts Options, want []int, emit func(row []Field) error) *Decoder {
	d := &Decoder{opts: opts, want: want, emit: emit, row: make([]Field, len(want))}
	for _, c := range want {
		d.maxCol = max(d.maxCol, c)
	}
	return d
}

// Write feeds the payload of one CopyData message.
func (d *Decoder) Write(data []byte) error {
	if d.done {
		return nil // Postgres ignores what follows the end marker
	}
	if len(d.pending) > 0 {
		d.pending = append(d.pending, data...)
		data = d.pending
	}
	var rest []byte
	var err error
	switch d.opts.Format {
	case Binary:
		rest, err = d.binary(data)
	case CSV:
		rest, err = d.csv(data, false)
	default:
		rest, err = d.text(data, false)
	}
	if err != nil {
		return err
	}
	// Keep the incomplete tail; copy it, since data may be reused.
	d.pending = append(d.pending[:0], rest...)
	return nil
}

// Close ends the stream (CopyDone): a last line without a newline counts.
func (d *Decoder) Close() error {
	if d.done || len(d.pending) == 0 {
		return nil
	}
	data := d.pending
	d.pending = nil
	var err error
	switch d.opts.Format {
	case Binary:
		return fmt.Errorf("%w: binary data ends inside a tuple", ErrMalformed)
	case CSV:
		_, err = d.csv(data, true)
	default:
		_, err = d.text(data, true)
	}
	return err
}

// text decodes text-format lines; it returns the unconsumed tail.
func (d *Decoder) text(data []byte, final bool) ([]byte, error) {
	for len(data) > 0 {
		i, marker := textLineEnd(data, final)
		if i < 0 && !final {
			return data, nil
		}
		if marker {
			// The bytes before the marker, if any, are the last row.
			d.done = true
			if i == 0 || d.countLine(data[:i]) == lineHeader {
				return nil, nil
			}
			return nil, d.textLine(data[:i])
		}
		line, next := data, []byte(nil)
		if i >= 0 {
			line, next = data[:i], data[i+1:]
			if data[i] == '\r' && len(next) > 0 && next[0] == '\n' {
				next = next[1:]
			} else if data[i] == '\r' && len(next) == 0 && !final {
				return data, nil // a \r\n may be split across messages
			}
		}
		data = next
		switch d.countLine(line) {
		case lineHeader:
			continue
		case lineEnd:
			return nil, nil
		}
		if err := d.textLine(line); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// lineKind is what a line (or CSV record) of text or CSV data is.
type lineKind uint8

const (
	lineData   lineKind = iota
	lineHeader          // the first line, skipped under HEADER
	lineEnd             // \. alone: the end of the data
)

// countLine counts a line (or CSV record) of text or CSV data and tells
// what it is; after lineEnd the decoder is done.
func (d *Decoder) countLine(line []byte) lineKind {
	d.lineNo++
	if !d.started {
		d.started = true
		if d.opts.Header {
			return lineHeader
		}
	}
	if bytes.Equal(line, []byte(`\.`)) {
		d.done = true
		return lineEnd
	}
	return lineData
}

// textLineEnd finds the end of the first text-format line, or -1 when data
// (not final) may not hold all of it yet: the newline that ends it, or an
// end marker, \. before a newline, which Postgres takes for the end of the
// data wherever it is in a line (marker is then true). Otherwise a
// backslash escapes the byte after it, newlines included.
func textLineEnd(data []byte, final bool) (end int, marker bool) {
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '\\':
			if i+1 < len(data) && data[i+1] == '.' {
				switch {
				case i+2 < len(data) && (data[i+2] == '\n' || data[i+2] == '\r'), i+2 == len(data) && final:
					return i, true
				case i+2 == len(data):
					return -1, false
				}
			}
			i++
		case '\n', '\r':
			return i, false
		}
	}
	return -1, false
}

// textLine splits one text-format line into fields and emits the wanted
// ones, unescaped.
func (d *Decoder) textLine(line []byte) error {
	col := 0
	start := 0
	for i := 0; i <= len(line); i++ {
		if i < len(line) && line[i] == '\\' {
			i++ // an escaped byte never ends a field
			continue
		}
		if i < len(line) && line[i] != d.opts.Delimiter {
			continue
		}
		raw := line[start:i]
		if idx := d.wanted(col); idx >= 0 {
			if string(raw) == d.opts.Null {
				d.setAll(col, nil)
			} else {
				v, err := unescapeText(raw)
				if err != nil {
					return fmt.Errorf("%w: line %d: %v", ErrMalformed, d.lineNo, err)
				}
				d.setAll(col, v)
			}
		}
		col++
		start = i + 1
	}
	if col <= d.maxCol {
		return fmt.Errorf("%w: line %d has %d columns", ErrMalformed, d.lineNo, col)
	}
	return d.emit(d.row)
}

// wanted returns the first position of column col in want, or -1.
func (d *Decoder) wanted(col int) int {
	for i, c := range d.want {
		if c == col {
			return i
		}
	}
	return -1
}

// setAll stores v for every wanted position of column col.
func (d *Decoder) setAll(col int, v Field) {
	for i, c := range d.want {
		if c == col {
			d.row[i] = v
		}
	}
}

// unescapeText resolves the backslash escapes of the text format.
func unescapeText(raw []byte) (Field, error) {
	if bytes.IndexByte(raw, '\\') < 0 {
		return append(Field{}, raw...), nil
	}
	out := make(Field, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i == len(raw) {
			return nil, errors.New("backslash at end of field")
		}
		switch c = raw[i]; c {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'v':
			out = append(out, '\v')
		case 'x':
			v, n := 0, 0
			for n < 2 && i+1 < len(raw) && isHex(raw[i+1]) {
				v = v*16 + hexVal(raw[i+1])
				i++
				n++
			}
			if n == 0 {
				out = append(out, 'x')
			} else {
				out = append(out, byte(v))
			}
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(c - '0')
			for n := 1; n < 3 && i+1 < len(raw) && raw[i+1] >= '0' && raw[i+1] <= '7'; n++ {
				v = v*8 + int(raw[i+1]-'0')
				i++
			}
			out = append(out, byte(v))
		default:
			out = append(out, c)
		}
	}
	return out, nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) int {
	switch {
	case c >= 'a':
		return int(c-'a') + 10
	case c >= 'A':
		return int(c-'A') + 10
	}
	return int(c - '0')
}

// csv decodes CSV records (quoted fields may span lines); it returns the
// unconsumed tail.
func (d *Decoder) csv(data []byte, final bool) ([]byte, error) {
	for len(data) > 0 {
		end, ok, err := d.csvRecordEnd(data, final)
		if err != nil {
			return nil, err
		}
		if !ok {
			return data, nil
		}
		rec := data[:end]
		data = data[end:]
		if len(data) > 0 && (data[0] == '\n' || data[0] == '\r') {
			if data[0] == '\r' && len(data) > 1 && data[1] == '\n' {
				data = data[1:]
			}
			data = data[1:]
		}
		switch d.countLine(rec) {
		case lineHeader:
			continue
		case lineEnd:
			return nil, nil
		}
		if err := d.csvRecord(rec); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// csvRecordEnd finds the end of the first record: a newline outside quotes.
// ok is false when the record is not complete yet.
func (d *Decoder) csvRecordEnd(data []byte, final bool) (int, bool, error) {
	inQuote := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inQuote {
			if n, ok := d.csvEscaped(data, i); ok {
				i += n - 1
				continue
			}
			if c == d.opts.Quote {
				if d.opts.Escape == d.opts.Quote && i+1 == len(data) && !final {
					return 0, false, nil // the next message may hold a second quote
				}
				inQuote = false
			}
			continue
		}
		switch {
		case c == d.opts.Quote:
			inQuote = true
		case c == '\n' || c == '\r':
			if c == '\r' && i+1 == len(data) && !final {
				return 0, false, nil
			}
			return i, true, nil
		}
	}
	if final {
		if inQuote {
			return 0, false, fmt.Errorf("%w: unterminated CSV quoted field", ErrMalformed)
		}
		return len(data), true, nil
	}
	return 0, false, nil
}

// csvEscaped reports whether data[i], inside quotes, starts an escape
// sequence (the escape character before a quote, or before itself when it
// is not the quote), and its length.
func (d *Decoder) csvEscaped(data []byte, i int) (int, bool) {
	if data[i] != d.opts.Escape || i+1 >= len(data) {
		return 0, false
	}
	next := data[i+1]
	if next == d.opts.Quote || d.opts.Escape != d.opts.Quote && next == d.opts.Escape {
		return 2, true
	}
	return 0, false
}

// csvRecord splits one CSV record into fields and emits the wanted ones.
func (d *Decoder) csvRecord(rec []byte) error {
	col := 0
	i := 0
	for {
		var val []byte
		quoted := false
		if i < len(rec) && rec[i] == d.opts.Quote {
			quoted = true
			i++
			for {
				if i >= len(rec) {
					return fmt.Errorf("%w: line %d: unterminated quoted field", ErrMalformed, d.lineNo)
				}
				if n, ok := d.csvEscaped(rec, i); ok {
					val = append(val, rec[i+n-1])
					i += n
					continue
				}
				if rec[i] == d.opts.Quote {
					i++
					break
				}
				val = append(val, rec[i])
				i++
			}
			// Unquoted text may follow the closing quote ("a"b is a"b).
			for i < len(rec) && rec[i] != d.opts.Delimiter {
				val = append(val, rec[i])
				i++
			}
		} else {
			j := i
			for j < len(rec) && rec[j] != d.opts.Delimiter {
				j++
			}
			val = append(val, rec[i:j]...)
			i = j
		}
		if d.wanted(col) >= 0 {
			isNull := !quoted && string(val) == d.opts.Null && !d.opts.ForceNotNull[col] ||
				quoted && d.opts.ForceNull[col] && string(val) == d.opts.Null
			if isNull {
				d.setAll(col, nil)
			} else {
				d.setAll(col, append(Field{}, val...))
			}
		}
		col++
		if i >= len(rec) {
			break
		}
		i++ // the delimiter
	}
	if col <= d.maxCol {
		return fmt.Errorf("%w: line %d has %d columns", ErrMalformed, d.lineNo, col)
	}
	return d.emit(d.row)
}

// binarySignature starts every binary COPY stream.
var binarySignature = []byte("PGCOPY\n\xff\r\n\x00")

// binary decodes binary-format tuples; it returns the unconsumed tail.
func (d *Decoder) binary(data []byte) ([]byte, error) {
	if !d.started {
		if len(data) < len(binarySignature)+8 {
			return data, nil
		}
		if !bytes.Equal(data[:len(binarySignature)], binarySignature) {
			return nil, fmt.Errorf("%w: bad binary COPY signature", ErrMalformed)
		}
		ext := int(binary.BigEndian.Uint32(data[len(binarySignature)+4:]))
		skip := len(binarySignature) + 8 + ext
		if ext < 0 || len(data) < skip {
			return data, nil
		}
		data = data[skip:]
		d.started = true
	}
	for len(data) >= 2 {
		n := int(int16(binary.BigEndian.Uint16(data)))
		if n == -1 {
			d.done = true
			return nil, nil
		}
		if n < 0 || n <= d.maxCol {
			return nil, fmt.Errorf("%w: tuple with %d fields", ErrMalformed, n)
		}
		pos := 2
		for i := range d.row {
			d.row[i] = nil
		}
		complete := true
		for col := 0; col < n; col++ {
			if len(data) < pos+4 {
				complete = false
				break
			}
			size := int(int32(binary.BigEndian.Uint32(data[pos:])))
			pos += 4
			if size < -1 {
				return nil, fmt.Errorf("%w: field length %d", ErrMalformed, size)
			}
			if size == -1 {
				continue
			}
			if len(data) < pos+size {
				complete = false
				break
			}
			if d.wanted(col) >= 0 {
				d.setAll(col, data[pos:pos+size])
			}
			pos += size
		}
		if !complete {
			return data, nil
		}
		if err := d.emit(d.row); err != nil {
			return nil, err
		}
		data = data[pos:]
	}
	return data, nil
}
