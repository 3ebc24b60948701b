package proxy

import (
	"bytes"
	"sync"
)

// frontend handles the messages a client sends: it decides what goes
// upstream and queues, for each request, who will receive its answers.
type frontend struct {
	s       *session
	out     *[]byte   // bytes for upstream, written by flush
	pending []pending // requests in out, queued in the router by flush
}

func newFrontend(s *session) *frontend {
	return &frontend{s: s}
}

// outPool recycles upstream write buffers so an idle session holds none.
var outPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// handle processes one client message.
func (f *frontend) handle(typ byte, body []byte) error {
	switch typ {
	case 'Q':
		f.forward(reqQuery, typ, body)
	case 'P':
		f.forward(reqParse, typ, body)
	case 'B':
		f.forward(reqBind, typ, body)
	case 'D':
		f.forward(reqDescribe, typ, body)
	case 'E':
		f.forward(reqExecute, typ, body)
	case 'C':
		f.forward(reqClose, typ, body)
	case 'S':
		f.forward(reqSync, typ, body)
	case 'F':
		f.forward(reqFunctionCall, typ, body)
	default:
		// Flush, CopyData/CopyDone/CopyFail, Terminate and anything the
		// server will judge itself: no answer of their own to route.
		f.send(typ, body)
	}
	return nil
}

// forward sends a client message whose answers go to the client.
func (f *frontend) forward(kind requestKind, typ byte, body []byte) {
	f.pending = append(f.pending, pending{kind: kind})
	f.send(typ, body)
}

// send appends a message for upstream.
func (f *frontend) send(typ byte, body []byte) {
	if f.out == nil {
		f.out = outPool.Get().(*[]byte)
	}
	*f.out = appendMessage(*f.out, typ, body)
}

// flush queues the pending requests in the router and writes the bytes.
func (f *frontend) flush() error {
	if f.out == nil {
		return nil
	}
	if len(f.pending) > 0 {
		f.s.router.push(f.pending...)
		clear(f.pending)
		f.pending = f.pending[:0]
	}
	err := f.s.writeUpstream(*f.out)
	*f.out = (*f.out)[:0]
	if cap(*f.out) <= writeFlushThreshold {
		outPool.Put(f.out)
	}
	f.out = nil
	return err
}

// noteParameterStatus records the server parameters the session relies on.
func (s *session) noteParameterStatus(body []byte) {
	name, rest, ok := cutNul(body)
	if !ok {
		return
	}
	value, _, _ := cutNul(rest)
	if bytes.Equal(name, []byte("standard_conforming_strings")) {
		s.standardStrings.Store(string(value) == "on")
	}
}
