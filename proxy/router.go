package proxy

import (
	"encoding/binary"
	"strconv"
	"sync"

	"github.com/jackc/pgx/v5/pgproto3"
)

// requestKind names the frontend message a pending response belongs to.
type requestKind uint8

const (
	reqQuery        requestKind = iota // simple Query: until ReadyForQuery
	reqParse                           // ParseComplete
	reqBind                            // BindComplete
	reqDescribe                        // [ParameterDescription] RowDescription | NoData
	reqExecute                         // rows, then CommandComplete | EmptyQuery | PortalSuspended
	reqClose                           // CloseComplete
	reqSync                            // ReadyForQuery
	reqFunctionCall                    // FunctionCallResponse, then ReadyForQuery
)

// A responder consumes the responses to a request the proxy sent on its own
// behalf. The client never sees them; the responder decides what, if
// anything, the client sees instead.
type responder interface {
	// row receives one DataRow body (valid only during the call).
	row(body []byte)
	// succeeded is called when the request completed without error.
	succeeded(r *router)
	// failed is called with the server's error for the request. The
	// responder writes what the client must see instead (if anything)
	// through r.
	failed(r *router, e *pgproto3.ErrorResponse)
	// skipped is called when an earlier error made the server skip the
	// request.
	skipped(r *router)
}

// A hold keeps a client request's responses back until the proxy's checks
// have given their verdict: released, they reach the client in order;
// dropped, the client sees the check's error instead.
type hold struct {
	buf    []byte
	closed bool
}

// part is one statement of a simple Query (or the whole of an extended
// request): who gets its responses and how to adjust them.
type part struct {
	proxy  responder // non-nil: the proxy's own statement
	hold   *hold     // non-nil: client responses wait for a verdict
	hidden int       // trailing result columns the proxy added, stripped for the client
	noRows bool      // the client's statement returns no rows: all columns are hidden
	// posShift is subtracted from error positions: the number of characters
	// the proxy inserted before this statement in the query text.
	posShift int
}

// pending is one request sent upstream whose responses have not all arrived.
type pending struct {
	kind  requestKind
	part  part   // for extended-protocol requests and one-statement queries
	parts []part // for a rewritten simple Query: one per statement
}

// router delivers each server response to the owner of the request it
// answers: the client (directly or through a hold) or the proxy. Requests are
// queued by the goroutine that sends them, and answered in order by the
// server, so the queue tells the router who owns each response.
type router struct {
	mu    sync.Mutex
	queue []pending
	head  int

	// Owned by the goroutine reading the server:
	out      []byte            // bytes for the client, flushed by the caller
	partIdx  int               // current statement within the head Query
	skipping bool              // after an extended-protocol error: skip requests until Sync
	txStatus byte              // status of the last ReadyForQuery (guarded by mu)
	onParam  func(body []byte) // sees every ParameterStatus
	fatal    bool              // the server sent a FATAL error: it is closing the connection
}

func newRouter(onParam func(body []byte)) *router {
	return &router{txStatus: 'I', onParam: onParam}
}

// push queues requests about to be sent upstream, in sending order. It must
// be called before the bytes are written so the answers always find them.
func (r *router) push(reqs ...pending) {
	r.mu.Lock()
	r.queue = append(r.queue, reqs...)
	r.mu.Unlock()
}

// current returns the oldest unanswered request, if any.
func (r *router) current() (*pending, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.head == len(r.queue) {
		return nil, false
	}
	return &r.queue[r.head], true
}

// pop removes the oldest request, recycling the queue's storage when empty.
func (r *router) pop() {
	r.mu.Lock()
	r.queue[r.head] = pending{}
	r.head++
	if r.head == len(r.queue) {
		r.head = 0
		r.queue = r.queue[:0]
	}
	r.mu.Unlock()
	r.partIdx = 0
}

// setStatus records the transaction status of a ReadyForQuery.
func (r *router) setStatus(s byte) {
	r.mu.Lock()
	r.txStatus = s
	r.mu.Unlock()
}

// status returns the transaction status of the last ReadyForQuery: 'I'
// idle, 'T' in a transaction, 'E' in a failed transaction.
func (r *router) status() byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.txStatus
}

// idle reports whether no request is waiting for an answer.
func (r *router) idle() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.head == len(r.queue)
}

// currentPart returns the statement of req that the next response belongs to.
func (r *router) currentPart(req *pending) *part {
	if req.parts != nil {
		if r.partIdx < len(req.parts) {
			return &req.parts[r.partIdx]
		}
		return &part{} // more statements than the proxy knew of: the client's
	}
	return &req.part
}

// toClient appends a whole message for the client, through p's hold if any.
func (r *router) toClient(p *part, typ byte, body []byte) {
	if p != nil && p.hold != nil && !p.hold.closed {
		p.hold.buf = appendMessage(p.hold.buf, typ, body)
		return
	}
	r.out = appendMessage(r.out, typ, body)
}

// release sends a hold's responses to the client.
func (r *router) release(h *hold) {
	if h == nil || h.closed {
		return
	}
	r.out = append(r.out, h.buf...)
	h.buf, h.closed = nil, true
}

// drop discards a hold's responses.
func (r *router) drop(h *hold) {
	if h != nil {
		h.buf, h.closed = nil, true
	}
}

// sendError writes an ErrorResponse for the client.
func (r *router) sendError(e *pgproto3.ErrorResponse) {
	r.out = appendError(r.out, e)
}

// route handles one message from the server.
func (r *router) route(typ byte, body []byte) {
	switch typ {
	case 'S':
		// ParameterStatus is asynchronous: the client always gets it.
		r.onParam(body)
		r.out = appendMessage(r.out, typ, body)
		return
	case 'A':
		r.out = appendMessage(r.out, typ, body)
		return
	}
	r.skipSkipped()
	req, ok := r.current()
	if !ok {
		// Nothing outstanding: a FATAL error before closing, or a message
		// we cannot attribute. The client gets it unchanged.
		if typ == 'E' {
			r.fatal = r.fatal || isFatal(body)
		}
		r.out = appendMessage(r.out, typ, body)
		return
	}
	p := r.currentPart(req)
	switch typ {
	case 'N':
		// Notices are caused by the statement running; a client statement's
		// notices are never held back (they precede any error), the proxy's
		// are dropped.
		if p.proxy == nil {
			r.out = appendMessage(r.out, typ, body)
		}
	case 'E':
		r.fatal = r.fatal || isFatal(body)
		r.routeError(req, p, body)
	case 'Z':
		if len(body) > 0 {
			r.setStatus(body[0])
		}
		r.finishRemainingParts(req)
		if req.kind == reqQuery || req.kind == reqSync || req.kind == reqFunctionCall {
			r.out = appendMessage(r.out, typ, body)
			r.pop()
			return
		}
		// ReadyForQuery while an extended request is pending means the
		// server did not send what we expected; resynchronise by treating
		// it as the answer to the next Sync.
		r.out = appendMessage(r.out, typ, body)
		r.popUntilSync()
	case '1', '2', '3':
		r.complete(req, p, typ, body)
	case 't':
		if p.proxy == nil {
			r.toClient(p, typ, body)
		}
	case 'T':
		r.rowDescription(req, p, body)
	case 'n':
		r.complete(req, p, typ, body)
	case 'D':
		if p.proxy != nil {
			p.proxy.row(body)
			return
		}
		if !p.noRows {
			r.toClient(p, typ, stripColumns(body, p.hidden))
		}
	case 'C', 'I', 's':
		r.complete(req, p, typ, body)
	default:
		// CopyInResponse/CopyOutResponse/CopyData/CopyDone, FunctionCall
		// responses and anything newer: part of the current request.
		if p.proxy == nil {
			r.toClient(p, typ, body)
		}
	}
}

// rowDescription handles a RowDescription: the end of a Describe, or the
// start of a result set.
func (r *router) rowDescription(req *pending, p *part, body []byte) {
	if p.proxy != nil {
		if req.kind == reqDescribe {
			r.complete(req, p, 'T', body)
		}
		return
	}
	if p.noRows {
		if req.kind == reqDescribe {
			r.complete(req, p, 'n', nil)
		}
		return // a statement that returns no rows has no RowDescription
	}
	body = stripRowDescription(body, p.hidden)
	if req.kind == reqDescribe {
		r.complete(req, p, 'T', body)
		return
	}
	r.toClient(p, 'T', body)
}

// complete handles the message that ends a request (or, in a Query, one
// statement).
func (r *router) complete(req *pending, p *part, typ byte, body []byte) {
	if p.proxy == nil {
		r.toClient(p, typ, body)
	} else {
		p.proxy.succeeded(r)
	}
	if req.kind == reqQuery {
		r.partIdx++
		return
	}
	r.pop()
}

// routeError delivers an ErrorResponse and starts skipping what the server
// will skip.
func (r *router) routeError(req *pending, p *part, body []byte) {
	if p.proxy != nil {
		var e pgproto3.ErrorResponse
		if err := e.Decode(body); err != nil {
			e = pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: codeInternalError, Message: "softfk: undecodable error from server"}
		}
		p.proxy.failed(r, &e)
	} else {
		if p.hold != nil {
			r.release(p.hold)
		}
		if p.posShift != 0 {
			body = shiftErrorPosition(body, p.posShift)
		}
		r.out = appendMessage(r.out, 'E', body)
	}
	switch req.kind {
	case reqQuery:
		// The rest of the query is skipped; ReadyForQuery follows.
		r.partIdx++
		r.finishRemainingParts(req)
	case reqSync, reqFunctionCall:
		// ReadyForQuery follows and answers this request.
	default:
		r.pop()
		r.skipping = true
	}
}

// finishRemainingParts tells the proxy statements of a Query that ended early
// (after an error) that they were skipped.
func (r *router) finishRemainingParts(req *pending) {
	for r.partIdx < len(req.parts) {
		p := &req.parts[r.partIdx]
		if p.proxy != nil {
			p.proxy.skipped(r)
		}
		r.partIdx++
	}
}

// skipSkipped drops the extended-protocol requests the server skips after an
// error, up to the next Sync.
func (r *router) skipSkipped() {
	for r.skipping {
		req, ok := r.current()
		if !ok {
			return
		}
		if req.kind == reqSync {
			r.skipping = false
			return
		}
		if req.part.proxy != nil {
			req.part.proxy.skipped(r)
		}
		r.pop()
	}
}

// popUntilSync discards requests up to and including the next Sync.
func (r *router) popUntilSync() {
	for {
		req, ok := r.current()
		if !ok {
			return
		}
		kind := req.kind
		if req.part.proxy != nil && kind != reqSync {
			req.part.proxy.skipped(r)
		}
		r.pop()
		if kind == reqSync {
			r.skipping = false
			return
		}
	}
}

// isFatal reports whether an ErrorResponse body has severity FATAL or PANIC
// (judged by the unlocalized severity when the server sends it).
func isFatal(body []byte) bool {
	severity := ""
	for i := 0; i < len(body) && body[i] != 0; {
		end := i + 1
		for end < len(body) && body[end] != 0 {
			end++
		}
		switch body[i] {
		case 'V':
			severity = string(body[i+1 : end])
			i = len(body)
			continue
		case 'S':
			severity = string(body[i+1 : end])
		}
		i = end + 1
	}
	return severity == "FATAL" || severity == "PANIC"
}

// columnCount reads the field count of a RowDescription or DataRow body.
func columnCount(body []byte) int {
	if len(body) < 2 {
		return 0
	}
	return int(binary.BigEndian.Uint16(body))
}

// stripColumns removes the last n values from a DataRow body.
func stripColumns(body []byte, n int) []byte {
	if n == 0 || len(body) < 2 {
		return body
	}
	total := columnCount(body)
	keep := total - n
	if keep < 0 {
		return body
	}
	pos := 2
	for i := 0; i < keep && pos+4 <= len(body); i++ {
		size := int32(binary.BigEndian.Uint32(body[pos:]))
		pos += 4
		if size > 0 {
			pos += int(size)
		}
	}
	out := make([]byte, pos)
	copy(out, body[:pos])
	binary.BigEndian.PutUint16(out, uint16(keep))
	return out
}

// stripRowDescription removes the last n fields from a RowDescription body.
func stripRowDescription(body []byte, n int) []byte {
	if n == 0 {
		return body
	}
	total := columnCount(body)
	keep := total - n
	if keep < 0 {
		return body
	}
	pos := 2
	for i := 0; i < keep; i++ {
		for pos < len(body) && body[pos] != 0 {
			pos++
		}
		pos += 1 + 18 // NUL, table oid, attnum, type oid, size, typmod, format
	}
	if pos > len(body) {
		return body
	}
	out := make([]byte, pos)
	copy(out, body[:pos])
	binary.BigEndian.PutUint16(out, uint16(keep))
	return out
}

// shiftErrorPosition rewrites the Position field of an ErrorResponse body,
// subtracting shift characters.
func shiftErrorPosition(body []byte, shift int) []byte {
	var out []byte
	for i := 0; i < len(body) && body[i] != 0; {
		field := body[i]
		end := i + 1
		for end < len(body) && body[end] != 0 {
			end++
		}
		value := body[i+1 : end]
		if field == 'P' {
			if n, err := strconv.Atoi(string(value)); err == nil && n > shift {
				out = make([]byte, 0, len(body))
				out = append(out, body[:i+1]...)
				out = strconv.AppendInt(out, int64(n-shift), 10)
				out = append(out, body[end:]...)
				return out
			}
		}
		i = end + 1
	}
	return body
}
