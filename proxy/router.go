package proxy

import (
	"encoding/binary"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/softfk/softfk/policy"
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
	// reqCopyEnd is the client's CopyDone or CopyFail. It has no answer
	// of its own; it marks where the client's COPY data ends, since the
	// server ignores the client's Syncs before it (see startCopyIn).
	reqCopyEnd
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
// have given their verdict: released (by every check that guards it),
// they reach the client in order; dropped, the client sees the check's
// error instead.
type hold struct {
	buf     []byte
	closed  bool
	waiting int // verdicts still to come
}

// round tracks the requests of one batch the proxy waits on: it ends when
// all have completed or one has failed.
type round struct {
	mu        sync.Mutex
	remaining int
	failed    bool
	done      chan struct{}
}

func newRound(n int) *round {
	r := &round{remaining: n, done: make(chan struct{})}
	if n == 0 {
		close(r.done)
	}
	return r
}

// complete records one request's success.
func (rd *round) complete() {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if rd.remaining > 0 {
		rd.remaining--
		if rd.remaining == 0 && !rd.failed {
			close(rd.done)
		}
	}
}

// fail records a failure: the round is over.
func (rd *round) fail() {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if !rd.failed && rd.remaining > 0 {
		rd.failed = true
		close(rd.done)
	}
}

// state reports, without waiting, whether the round is over and whether
// all succeeded.
func (rd *round) state() (done, ok bool) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	return rd.failed || rd.remaining == 0, !rd.failed
}

// wait blocks until the round is over and reports whether all succeeded.
func (rd *round) wait() bool {
	<-rd.done
	rd.mu.Lock()
	defer rd.mu.Unlock()
	return !rd.failed
}

// watch follows a client request the proxy depends on: it collects the
// hidden columns of its rows and reports its end to a round.
type watch struct {
	hidden int         // trailing columns to collect
	rows   [][]*string // their values, as text (nil is NULL)
	round  *round
	// copyBegun, when not nil, is closed when the request starts a COPY
	// from the client (CopyInResponse).
	copyBegun chan struct{}
}

// copyStarted reports whether the request started a COPY from the client.
func (w *watch) copyStarted() bool {
	select {
	case <-w.copyBegun: // never, when nil
		return true
	default:
		return false
	}
}

// part is one statement of a simple Query (or the whole of an extended
// request): who gets its responses and how to adjust them.
type part struct {
	proxy  responder // non-nil: the proxy's own statement
	hold   *hold     // non-nil: client responses wait for a verdict
	hidden int       // trailing result columns the proxy added, stripped for the client
	noRows bool      // the client's statement returns no rows: all columns are hidden
	// remap, when set, maps an error position in the text softfk sent
	// upstream back to the client's text (0: none there).
	remap func(int) int
	// paramAt, when set, gives the position in the text softfk sent of
	// the parameter that stands for the client's constant n (see
	// placeParamError).
	paramAt func(n int) int
	watch   *watch // non-nil: the proxy waits on this client request
	// rows, when set, reads the verdicts of the checks the statement makes
	// of its own rows.
	rows *rowCheck
	// simple says the client sent the statement as a simple Query, which
	// softfk runs through the extended protocol: only its RowDescription,
	// rows, completion and errors are for the client, and its completion
	// is one of the verdicts its hold waits for.
	simple bool
	// notices are messages to send the client just before the statement's
	// completion (for a statement softfk rewrote).
	notices []byte
	// rename, when set, is how the error of a statement softfk rewrote
	// must name what the client wrote.
	rename *policy.Rename
	// failed, when set, is set when the request fails or is skipped.
	failed *atomic.Bool
}

// pending is one request sent upstream whose responses have not all arrived.
type pending struct {
	kind  requestKind
	part  part   // for extended-protocol requests and one-statement queries
	parts []part // for a rewritten simple Query: one per statement
	// For Query, Sync and FunctionCall: hideReady keeps the ReadyForQuery
	// from the client (the proxy's own, or not the last of a split query),
	// and ready is told the transaction status it carries.
	hideReady bool
	ready     func(status byte)
}

// router delivers each server response to the owner of the request it
// answers: the client (directly or through a hold) or the proxy. Requests are
// queued by the goroutine that sends them, and answered in order by the
// server, so the queue tells the router who owns each response.
type router struct {
	mu     sync.Mutex
	queue  []pending
	head   int
	idleCh chan struct{} // closed when the queue empties; see whenIdle

	// Owned by the goroutine reading the server:
	out     []byte // bytes for the client, flushed by the caller
	partIdx int    // current statement within the head Query
	// After an extended-protocol error the server skips every message up
	// to the next Sync. skipping is set until that Sync is answered;
	// syncQueued says the Sync is already in the queue (guarded by mu).
	skipping, syncQueued bool
	// copyIn says the server waits for the COPY data of the client's
	// current request; copyEndQueued, that the client's end of that data
	// is queued (both guarded by mu).
	copyIn, copyEndQueued bool
	// syncEaten says the server ignored the last Sync queued, as it does
	// inside a COPY from the client: what the client sent before it is
	// not ended (guarded by mu).
	syncEaten bool
	txStatus  byte              // status of the last ReadyForQuery (guarded by mu)
	onParam   func(body []byte) // sees every ParameterStatus
	onReady   func(status byte) // sees every ReadyForQuery's status, when set
	fatal     bool              // the server sent a FATAL error: it is closing the connection
}

func newRouter(onParam func(body []byte)) *router {
	return &router{txStatus: 'I', onParam: onParam}
}

// push queues requests about to be sent upstream, in sending order. It must
// be called before the bytes are written so the answers always find them.
// Requests the server is going to skip (an error came back and no Sync has
// been queued since) are settled at once: nobody must wait for them.
func (r *router) push(reqs ...pending) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range reqs {
		switch {
		case reqs[i].kind == reqSync && r.copyIn && !r.copyEndQueued:
			// Inside a COPY from the client the server ignores a Sync.
			r.skipRequest(&reqs[i])
			r.syncEaten = true
			continue
		case reqs[i].kind == reqSync:
			r.syncEaten = false
		case reqs[i].kind == reqCopyEnd && r.head == len(r.queue):
			continue // no COPY runs: the server ignores it
		case reqs[i].kind == reqCopyEnd:
			r.copyEndQueued = r.copyEndQueued || r.copyIn
		}
		if r.skipping && !r.syncQueued {
			if reqs[i].kind != reqSync {
				r.skipRequest(&reqs[i])
				continue
			}
			r.syncQueued = true
		}
		r.queue = append(r.queue, reqs[i])
	}
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
	r.copyIn, r.copyEndQueued = false, false
	for r.head < len(r.queue) && r.queue[r.head].kind == reqCopyEnd {
		r.queue[r.head] = pending{}
		r.head++
	}
	if r.head == len(r.queue) {
		r.head = 0
		r.queue = r.queue[:0]
		r.signalIdle()
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

// signalIdle wakes whoever waits for an empty queue (mu held).
func (r *router) signalIdle() {
	if r.idleCh != nil {
		close(r.idleCh)
		r.idleCh = nil
	}
}

// whenIdle returns a channel closed once no request waits for an answer,
// or once the server waits for the client's COPY data (it will not answer
// before the client speaks).
func (r *router) whenIdle() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.head == len(r.queue) || r.copyIn {
		done := make(chan struct{})
		close(done)
		return done
	}
	if r.idleCh == nil {
		r.idleCh = make(chan struct{})
	}
	return r.idleCh
}

// startCopyIn notes that the server now waits for the client's COPY data.
// It ignores the client's Syncs up to the end of that data: those queued
// already (a client may send the COPY's Sync before its data) are settled
// now, later ones when they are queued. Whoever waits for the server to
// answer everything learns that it will not before the client speaks.
func (r *router) startCopyIn() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.copyIn, r.copyEndQueued = true, false
	kept := r.queue[:r.head+1]
	rest := len(r.queue)
	for i := r.head + 1; i < len(r.queue); i++ {
		if r.queue[i].kind == reqCopyEnd {
			r.copyEndQueued, rest = true, i
			break
		}
		if r.queue[i].kind == reqSync {
			r.skipRequest(&r.queue[i])
			r.syncEaten = true
			continue
		}
		kept = append(kept, r.queue[i])
	}
	kept = append(kept, r.queue[rest:]...)
	clear(r.queue[len(kept):])
	r.queue = kept
	r.signalIdle()
}

// lastSyncEaten reports whether the server ignored the last Sync queued
// (see syncEaten).
func (r *router) lastSyncEaten() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.syncEaten
}

// copyRunning reports whether the server waits for the client's COPY data.
func (r *router) copyRunning() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.copyIn
}

// skipsQueries reports whether the server will not run a Query the
// client sends now: it skips everything up to a Sync after an
// extended-protocol error, and takes any message in a COPY from the client
// as the COPY's failure.
func (r *router) skipsQueries() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.skipping && !r.syncQueued || r.copyIn
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

// verdict records one check's success on a hold and releases it when no
// verdict is still to come.
func (r *router) verdict(h *hold) {
	if h == nil {
		return
	}
	if h.waiting--; h.waiting <= 0 {
		r.release(h)
	}
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
			if r.onReady != nil {
				r.onReady(body[0])
			}
		}
		r.finishRemainingParts(req)
		if req.kind == reqQuery || req.kind == reqSync || req.kind == reqFunctionCall {
			if !req.hideReady {
				r.out = appendMessage(r.out, typ, body)
			}
			if req.ready != nil && len(body) > 0 {
				req.ready(body[0])
			}
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
		if p.watch != nil && p.watch.hidden > 0 {
			p.watch.rows = append(p.watch.rows, lastValues(body, p.watch.hidden))
		}
		if p.rows != nil {
			p.rows.row(body)
		}
		if !p.noRows {
			r.toClient(p, typ, stripColumns(body, p.hidden))
		}
	case 'C', 'I', 's':
		r.complete(req, p, typ, body)
	case 'G':
		// CopyInResponse: the client must start sending data now, held
		// responses or not.
		// softfk's own COPY (see refuseCopy) gets no data from the client.
		if p.proxy == nil {
			r.out = appendMessage(r.out, typ, body)
			r.startCopyIn()
		}
		if p.watch != nil && p.watch.copyBegun != nil {
			close(p.watch.copyBegun)
		}
	default:
		// CopyOutResponse/CopyData/CopyDone, FunctionCall responses and
		// anything newer: part of the current request.
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
		if len(p.notices) > 0 && (typ == 'C' || typ == 'I') {
			r.out = append(r.out, p.notices...)
		}
		if !p.simple || typ == 'C' || typ == 'T' {
			r.toClient(p, typ, body)
		}
		if p.simple && typ == 'C' {
			r.verdict(p.hold)
		}
		if p.watch != nil && typ != 'n' && typ != 'T' {
			p.watch.round.complete()
		}
		if p.rows != nil && (typ == 'C' || typ == 's') {
			// A one-row INSERT has run to its end even when a row limit
			// suspends its portal.
			p.rows.succeeded(r)
		}
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
		switch {
		case p.hold != nil && p.simple:
			// All a failed Query shows is its error: not the
			// RowDescription softfk's Describe brought.
			r.drop(p.hold)
		case p.hold != nil:
			r.release(p.hold)
		}
		if p.rename != nil {
			body = renameInError(body, p.rename)
		}
		switch {
		case p.rows != nil && p.rows.failed(r, body):
		case p.remap != nil:
			if req.kind == reqBind && p.paramAt != nil {
				body = placeParamError(body, p.paramAt)
			}
			r.out = appendMessage(r.out, 'E', mapErrorPosition(body, p.remap))
		default:
			r.out = appendMessage(r.out, 'E', body)
		}
		if p.watch != nil {
			p.watch.round.fail()
		}
		if p.failed != nil {
			p.failed.Store(true)
		}
	}
	switch req.kind {
	case reqQuery:
		// The rest of the query is skipped; ReadyForQuery follows.
		r.partIdx++
		r.finishRemainingParts(req)
	case reqSync, reqFunctionCall:
		// ReadyForQuery follows and answers this request.
	default:
		// Skipping shows before the queue may look idle: a Query
		// waiting for the answers (serverSkipsQuery) must learn that
		// the server will skip it.
		r.mu.Lock()
		r.skipping, r.syncQueued = true, false
		r.mu.Unlock()
		r.pop()
		r.startSkipping()
	}
}

// startSkipping settles at once every queued request the server will now
// skip, up to the next Sync, so whoever waits on one learns it now rather
// than when the client finally sends its Sync.
func (r *router) startSkipping() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.skipping, r.syncQueued = true, false
	for r.head < len(r.queue) {
		req := &r.queue[r.head]
		if req.kind == reqSync {
			r.syncQueued = true
			return
		}
		r.skipRequest(req)
		r.queue[r.head] = pending{}
		r.head++
	}
	r.head, r.queue = 0, r.queue[:0]
	r.signalIdle()
}

// finishRemainingParts tells the proxy statements of a Query that ended early
// (after an error) that they were skipped.
func (r *router) finishRemainingParts(req *pending) {
	for r.partIdx < len(req.parts) {
		r.skipPart(&req.parts[r.partIdx])
		r.partIdx++
	}
}

// skipSkipped ends the skipping once its Sync reaches the head of the
// queue (the requests before it were settled when they were skipped).
func (r *router) skipSkipped() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.skipping && r.head < len(r.queue) && r.queue[r.head].kind == reqSync {
		r.skipping, r.syncQueued = false, false
	}
}

// skipRequest settles a request the server skipped: every statement of it,
// and whoever waits for its ReadyForQuery.
func (r *router) skipRequest(req *pending) {
	r.skipPart(&req.part)
	for i := range req.parts {
		r.skipPart(&req.parts[i])
	}
	if req.ready != nil {
		req.ready('E')
	}
}

// skipPart tells whoever waits on a request the server skipped.
func (r *router) skipPart(p *part) {
	switch {
	case p.proxy != nil:
		p.proxy.skipped(r)
	case p.watch != nil:
		p.watch.round.fail()
	}
	if p.failed != nil {
		p.failed.Store(true)
	}
	if p.hold != nil {
		r.drop(p.hold)
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
		if kind != reqSync {
			r.skipRequest(req)
		}
		r.pop()
		if kind == reqSync {
			r.mu.Lock()
			r.skipping, r.syncQueued = false, false
			r.mu.Unlock()
			return
		}
	}
}

// lastValues decodes the last n values of a DataRow body as text.
func lastValues(body []byte, n int) []*string {
	total := columnCount(body)
	vals := make([]*string, 0, n)
	pos := 2
	for i := 0; i < total && pos+4 <= len(body); i++ {
		size := int(int32(binary.BigEndian.Uint32(body[pos:])))
		pos += 4
		var v *string
		if size >= 0 && pos+size <= len(body) {
			s := string(body[pos : pos+size])
			v = &s
			pos += size
		}
		if i >= total-n {
			vals = append(vals, v)
		}
	}
	return vals
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

// renameInError returns an ErrorResponse body whose message names rn.To
// where the server's named rn.From.
func renameInError(body []byte, rn *policy.Rename) []byte {
	var e pgproto3.ErrorResponse
	if e.Decode(body) != nil || !strings.Contains(e.Message, rn.From) {
		return body
	}
	e.Message = strings.Replace(e.Message, rn.From, rn.To, 1)
	out, err := e.Encode(nil)
	if err != nil {
		return body
	}
	return out[5:]
}

// mapErrorPosition returns an ErrorResponse body with its position field
// mapped through remap, or dropped when that gives 0.
func mapErrorPosition(body []byte, remap func(int) int) []byte {
	for i := 0; i < len(body) && body[i] != 0; {
		field := body[i]
		end := i + 1
		for end < len(body) && body[end] != 0 {
			end++
		}
		if field == 'P' {
			n, err := strconv.Atoi(string(body[i+1 : end]))
			if err != nil {
				return body
			}
			out := make([]byte, 0, len(body))
			out = append(out, body[:i]...)
			if m := remap(n); m > 0 {
				out = append(out, 'P')
				out = strconv.AppendInt(out, int64(m), 10)
				out = append(out, 0)
			}
			return append(out, body[min(end+1, len(body)):]...)
		}
		i = end + 1
	}
	return body
}
