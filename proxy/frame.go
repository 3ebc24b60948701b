package proxy

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Buffer sizes: small enough that an idle session costs little, growing for
// bursts and large messages and shrinking back when the connection idles.
const (
	readBufMin = 2 << 10
	readBufMax = 64 << 10
)

// frameReader splits a byte stream into protocol messages (a type byte, a
// 4-byte length that counts itself, a body). It reads in large chunks into
// one reusable buffer, so a burst of small messages costs one read call and
// no allocation. A message's body is valid until the next call to next.
type frameReader struct {
	r          io.Reader
	buf        []byte
	start, end int
	maxBody    int   // longest body accepted; longer ones are an error
	full       bool  // the last read filled the buffer: more is likely waiting
	bytesRead  int64 // total bytes read, for the session log
}

func newFrameReader(r io.Reader, maxBody int) *frameReader {
	return &frameReader{r: r, buf: make([]byte, readBufMin), maxBody: maxBody}
}

// errMessageTooLong reports a message whose announced length exceeds the limit.
type errMessageTooLong struct {
	typ  byte
	size int
	max  int
}

// Error says which message was too long.
func (e *errMessageTooLong) Error() string {
	return fmt.Sprintf("message of type %q announces %d bytes, more than max_message_bytes (%d)", e.typ, e.size, e.max)
}

// errMalformedLength reports a length field that cannot be valid.
type errMalformedLength struct {
	typ  byte
	size int32
}

// Error says which message had an impossible length.
func (e *errMalformedLength) Error() string {
	return fmt.Sprintf("message of type %q has invalid length %d", e.typ, e.size)
}

// buffered reports whether a whole message is already in the buffer, i.e.
// whether next will return without reading.
func (f *frameReader) buffered() bool {
	n := f.end - f.start
	if n < 5 {
		return false
	}
	size := int(binary.BigEndian.Uint32(f.buf[f.start+1:]))
	return n >= size+1
}

// next returns the next message's type and body.
func (f *frameReader) next() (byte, []byte, error) {
	if err := f.fill(5); err != nil {
		return 0, nil, err
	}
	typ := f.buf[f.start]
	size := int32(binary.BigEndian.Uint32(f.buf[f.start+1:]))
	if size < 4 {
		return 0, nil, &errMalformedLength{typ, size}
	}
	if int(size)-4 > f.maxBody {
		return 0, nil, &errMessageTooLong{typ, int(size) - 4, f.maxBody}
	}
	total := int(size) + 1
	if err := f.fill(total); err != nil {
		return 0, nil, err
	}
	body := f.buf[f.start+5 : f.start+total]
	f.start += total
	return typ, body, nil
}

// fill makes sure at least n bytes are buffered, reading as needed. The
// buffer doubles while reads keep filling it (a large result streaming in)
// and drops back to its minimum once a burst is consumed, so an idle session
// holds only a small buffer.
func (f *frameReader) fill(n int) error {
	if f.end-f.start >= n {
		return nil
	}
	if f.start == f.end {
		f.start, f.end = 0, 0
		switch {
		case f.full && len(f.buf) < readBufMax:
			f.buf = make([]byte, 2*len(f.buf))
		case !f.full && len(f.buf) > readBufMin:
			f.buf = make([]byte, readBufMin)
		}
	}
	if n > len(f.buf)-f.start {
		nb := f.buf
		if n > len(f.buf) {
			nb = make([]byte, max(n, min(2*len(f.buf), readBufMax)))
		}
		f.end = copy(nb, f.buf[f.start:f.end])
		f.start = 0
		f.buf = nb
	}
	for f.end-f.start < n {
		m, err := f.r.Read(f.buf[f.end:])
		f.full = f.end+m == len(f.buf)
		f.end += m
		f.bytesRead += int64(m)
		if err != nil {
			if err == io.EOF && f.end > f.start {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// remaining returns the bytes read but not yet consumed, for handing the
// connection over to a plain byte copy.
func (f *frameReader) remaining() io.Reader {
	return bytes.NewReader(f.buf[f.start:f.end])
}

// appendMessage appends a whole message (type, length, body) to dst.
func appendMessage(dst []byte, typ byte, body []byte) []byte {
	dst = append(dst, typ, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(dst[len(dst)-4:], uint32(len(body)+4))
	return append(dst, body...)
}

// decodeExact decodes a client message's body into msg, and reports
// whether the body is exactly that message encoded, nothing missing and
// nothing left over. softfk re-encodes the messages it changes, so it
// must not read leniently what Postgres would refuse: it would mend it.
// scratch is where the message is encoded again to compare; the grown
// buffer is returned for the next call.
func decodeExact(msg pgproto3.FrontendMessage, body, scratch []byte) (bool, []byte) {
	if msg.Decode(body) != nil {
		return false, scratch
	}
	enc, err := msg.Encode(scratch[:0])
	return err == nil && len(enc) == 5+len(body) && bytes.Equal(enc[5:], body), enc
}

// beginMessage starts a message of type typ in dst and returns the offset of
// its length field, to be completed by finishMessage.
func beginMessage(dst []byte, typ byte) ([]byte, int) {
	dst = append(dst, typ, 0, 0, 0, 0)
	return dst, len(dst) - 4
}

// finishMessage writes the length of the message begun at lenAt.
func finishMessage(dst []byte, lenAt int) []byte {
	binary.BigEndian.PutUint32(dst[lenAt:], uint32(len(dst)-lenAt))
	return dst
}

// appendCString appends s and a NUL terminator.
func appendCString(dst []byte, s string) []byte {
	return append(append(dst, s...), 0)
}

// appendInt16 appends a big-endian int16.
func appendInt16(dst []byte, v int) []byte {
	return append(dst, byte(v>>8), byte(v))
}

// appendInt32 appends a big-endian int32.
func appendInt32(dst []byte, v int32) []byte {
	return append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}
