package proxy

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestFrameReaderSplitsMessages(t *testing.T) {
	var stream []byte
	stream = appendMessage(stream, 'Q', []byte("SELECT 1\x00"))
	stream = appendMessage(stream, 'S', nil)
	big := bytes.Repeat([]byte("x"), 100_000)
	stream = appendMessage(stream, 'd', big)
	stream = appendMessage(stream, 'X', nil)
	// One byte per read: every boundary falls mid-header or mid-body.
	f := newFrameReader(iotest.OneByteReader(bytes.NewReader(stream)), 1<<20)
	for _, want := range []struct {
		typ  byte
		body []byte
	}{{'Q', []byte("SELECT 1\x00")}, {'S', nil}, {'d', big}, {'X', nil}} {
		typ, body, err := f.next()
		if err != nil || typ != want.typ || !bytes.Equal(body, want.body) {
			t.Fatalf("got %q (%d bytes), %v; want %q (%d bytes)", typ, len(body), err, want.typ, len(want.body))
		}
	}
	if _, _, err := f.next(); err != io.EOF {
		t.Fatalf("at end: %v", err)
	}
	if f.bytesRead != int64(len(stream)) {
		t.Fatalf("counted %d bytes, want %d", f.bytesRead, len(stream))
	}
}

func TestFrameReaderRejectsBadLengths(t *testing.T) {
	f := newFrameReader(bytes.NewReader([]byte{'Q', 0x7f, 0xff, 0xff, 0xff}), 1024)
	var tooLong *errMessageTooLong
	if _, _, err := f.next(); !errors.As(err, &tooLong) {
		t.Fatalf("2 GiB announcement: %v", err)
	}
	f = newFrameReader(bytes.NewReader([]byte{'Q', 0, 0, 0, 3}), 1024)
	var malformed *errMalformedLength
	if _, _, err := f.next(); !errors.As(err, &malformed) {
		t.Fatalf("length 3: %v", err)
	}
	f = newFrameReader(bytes.NewReader([]byte{'Q', 0, 0, 0, 10, 'a'}), 1024)
	if _, _, err := f.next(); err != io.ErrUnexpectedEOF {
		t.Fatalf("truncated message: %v", err)
	}
}

func TestFrameReaderShrinksWhenIdle(t *testing.T) {
	var stream []byte
	stream = appendMessage(stream, 'd', bytes.Repeat([]byte("x"), 200_000))
	stream = appendMessage(stream, 'S', nil)
	f := newFrameReader(bytes.NewReader(stream), 1<<20)
	if _, _, err := f.next(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.next(); err != nil {
		t.Fatal(err)
	}
	f.fill(1) // the next read starts from an empty buffer
	if len(f.buf) > readBufMin {
		t.Fatalf("buffer still %d bytes after the burst", len(f.buf))
	}
}

func FuzzFrameReader(f *testing.F) {
	f.Add(appendMessage(appendMessage(nil, 'Q', []byte("SELECT 1\x00")), 'S', nil))
	f.Add([]byte{'Q', 0, 0, 0, 2})
	f.Add([]byte{'B', 0x7f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := newFrameReader(bytes.NewReader(data), 4096)
		consumed := 0
		for {
			typ, body, err := fr.next()
			if err != nil {
				return
			}
			if len(body) > 4096 {
				t.Fatalf("body of %d bytes over the limit", len(body))
			}
			consumed += 5 + len(body)
			if consumed > len(data) || data[consumed-5-len(body)] != typ {
				t.Fatalf("message framing out of step with the input")
			}
		}
	})
}
