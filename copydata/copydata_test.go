package copydata

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// decodeAll feeds data in chunks of size n and returns the rows rendered as
// strings ("NULL" for NULL).
func decodeAll(t testing.TB, opts Options, want []int, data []byte, n int) ([]string, error) {
	var rows []string
	d := NewDecoder(opts, want, func(row []Field) error {
		var parts []string
		for _, f := range row {
			if f == nil {
				parts = append(parts, "NULL")
			} else {
				parts = append(parts, fmt.Sprintf("%q", string(f)))
			}
		}
		rows = append(rows, strings.Join(parts, ","))
		return nil
	})
	for len(data) > 0 {
		k := min(n, len(data))
		if err := d.Write(data[:k]); err != nil {
			return rows, err
		}
		data = data[k:]
	}
	return rows, d.Close()
}

func check(t *testing.T, opts Options, want []int, data string, expect ...string) {
	t.Helper()
	for _, n := range []int{1, 2, 3, 7, len(data) + 1} {
		rows, err := decodeAll(t, opts, want, []byte(data), n)
		if err != nil {
			t.Fatalf("chunks of %d: %v", n, err)
		}
		if !reflect.DeepEqual(rows, expect) {
			t.Fatalf("chunks of %d:\n got %q\nwant %q", n, rows, expect)
		}
	}
}

func TestText(t *testing.T) {
	o := DefaultOptions(Text)
	check(t, o, []int{1, 2}, "1\t42\tx\n2\t\\N\ty\r\n3\t4\\t2\t\\x41\\101\\\\\n4\t5\ta\\\nb\n\\.\nignored\n",
		`"42","x"`, `NULL,"y"`, `"4\t2","AA\\"`, `"5","a\nb"`)
	o.Header = true
	o.Delimiter = '|'
	o.Null = "NULL"
	check(t, o, []int{0}, "id|x\n7|a\nNULL|b\n8|c", `"7"`, `NULL`, `"8"`)
	// Postgres ends the data at \. before a newline anywhere in a line,
	// keeping what precedes it on that line as the last row; \. before
	// another byte is an escaped dot.
	o = DefaultOptions(Text)
	check(t, o, []int{0, 1}, "1\tx\\.y\n2\t3\\.\r\nignored\n", `"1","x.y"`, `"2","3"`)
	check(t, o, []int{0}, "1\\.\n", `"1"`)
	check(t, o, []int{0}, "1\n\\.", `"1"`)
}

func TestCSV(t *testing.T) {
	o := DefaultOptions(CSV)
	check(t, o, []int{0, 1}, "1,\"a,b\"\n,\"\"\n\"x\"\"y\",\"multi\nline\"\r\n3,plain\n",
		`"1","a,b"`, `NULL,""`, `"x\"y","multi\nline"`, `"3","plain"`)
	o.Escape = '\\'
	o.ForceNull = map[int]bool{0: true}
	o.ForceNotNull = map[int]bool{1: true}
	check(t, o, []int{0, 1}, "\"\",\n\"a\\\"b\",x\n", `NULL,""`, `"a\"b","x"`)
}

func binaryStream(rows ...[]any) []byte {
	out := append([]byte{}, binarySignature...)
	out = binary.BigEndian.AppendUint32(out, 0)
	out = binary.BigEndian.AppendUint32(out, 0)
	for _, r := range rows {
		out = binary.BigEndian.AppendUint16(out, uint16(len(r)))
		for _, v := range r {
			switch v := v.(type) {
			case nil:
				out = binary.BigEndian.AppendUint32(out, 0xffffffff)
			case int64:
				out = binary.BigEndian.AppendUint32(out, 8)
				out = binary.BigEndian.AppendUint64(out, uint64(v))
			case string:
				out = binary.BigEndian.AppendUint32(out, uint32(len(v)))
				out = append(out, v...)
			}
		}
	}
	return binary.BigEndian.AppendUint16(out, 0xffff)
}

func TestBinary(t *testing.T) {
	data := binaryStream([]any{int64(1), "a"}, []any{nil, "bc"}, []any{int64(258), nil})
	check(t, DefaultOptions(Binary), []int{0, 1}, string(data),
		`"\x00\x00\x00\x00\x00\x00\x00\x01","a"`, `NULL,"bc"`, `"\x00\x00\x00\x00\x00\x00\x01\x02",NULL`)
}

func TestMalformed(t *testing.T) {
	for name, tc := range map[string]struct {
		opts Options
		data string
	}{
		"too few columns":    {DefaultOptions(Text), "1\n"},
		"unterminated quote": {DefaultOptions(CSV), "1,\"open\n"},
		"bad signature":      {DefaultOptions(Binary), "PGCOPY\nXXXXXXXXXXXXXXXX"},
		"truncated tuple":    {DefaultOptions(Binary), string(binaryStream([]any{int64(1), "a"})[:25])},
		"trailing backslash": {DefaultOptions(Text), "1\tx\\"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := decodeAll(t, tc.opts, []int{0, 1}, []byte(tc.data), 4)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v, want ErrMalformed", err)
			}
		})
	}
}

// FuzzDecoder checks that the decoder never panics and that splitting the
// stream into different CopyData messages never changes what it decodes.
func FuzzDecoder(f *testing.F) {
	f.Add(uint8(0), []byte("1\t42\n2\t\\N\n\\.\n"), uint8(3))
	f.Add(uint8(1), []byte("1,\"a\"\"b\"\n2,\"x\ny\"\r\n"), uint8(2))
	f.Add(uint8(2), binaryStream([]any{int64(1), "a"}, []any{nil, nil}), uint8(5))
	f.Fuzz(func(t *testing.T, format uint8, data []byte, chunk uint8) {
		opts := DefaultOptions(Format(format % 3))
		whole, errWhole := decodeAll(t, opts, []int{0, 1}, data, len(data)+1)
		split, errSplit := decodeAll(t, opts, []int{0, 1}, data, int(chunk%16)+1)
		if (errWhole == nil) != (errSplit == nil) {
			t.Fatalf("whole: %v, split: %v", errWhole, errSplit)
		}
		if errWhole == nil && !reflect.DeepEqual(whole, split) {
			t.Fatalf("chunking changed the rows:\n%q\n%q", whole, split)
		}
	})
}
