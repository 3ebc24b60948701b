package proxy

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"os"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/softfk/softfk/copydata"
	"github.com/softfk/softfk/parser"
	"github.com/softfk/softfk/policy"
)

// A COPY ... FROM STDIN into a referencing table: the data passes through
// unchanged while softfk reads the key fields out of it and keeps the
// distinct keys (spilling batches to a temporary file, so memory does not
// grow with the stream). When the client ends the COPY, softfk waits for the
// COPY to complete, checks the keys batch by batch in the same transaction
// and only then lets the COPY's success through; a violation fails it with
// Postgres's 23503 error and nothing of it remains.

// Bounds of a COPY's key bookkeeping.
const (
	copyBatchKeys  = 5000  // keys per check statement
	copyMemoryKeys = 50000 // distinct keys remembered for de-duplication
)

// copyIn follows one COPY FROM STDIN while its data flows.
type copyIn struct {
	plan    *policy.CopyPlan
	decoder *copydata.Decoder
	keys    *keySet
	err     error // the data could not be read: the COPY will be failed
	hold    *hold // the COPY's completion, released when the checks pass
	stmt    string
	watch   *watch // the COPY statement's completion
	// simple says the client sent the COPY as a simple Query: softfk ends
	// it with a Sync of its own.
	simple bool
}

func newCopyIn(plan *policy.CopyPlan, stmt string) *copyIn {
	c := &copyIn{plan: plan, keys: newKeySet(), hold: &hold{waiting: 1}, stmt: stmt,
		watch: &watch{round: newRound(1), copyBegun: make(chan struct{})}}
	c.decoder = copydata.NewDecoder(plan.Options, plan.Fields, func(row []copydata.Field) error {
		return c.keys.add(row)
	})
	return c
}

// feed reads the key fields of one CopyData message.
func (c *copyIn) feed(data []byte) {
	if c.err == nil {
		c.err = c.decoder.Write(data)
	}
}

// startCopySimple sends a simple-protocol COPY statement softfk checks
// as extended-protocol messages (Parse, Bind, Execute), so that its
// transaction stays open for the checks once it completes, as an
// extended-protocol COPY's does, and waits for the server to start it.
// When the COPY fails before it starts, a Sync gives the client the
// ReadyForQuery that ends its Query. Once it has started, the Sync comes
// after the checks (endCopy): a Sync sent with the Execute would be ignored
// by a COPY that reads it, but would end the error of one that fails before
// reading anything (a COPY into a view, or with FREEZE where it cannot
// apply), which cannot be told apart.
func (f *frontend) startCopySimple(sql string, plan *policy.CopyPlan, stmt string) error {
	c := newCopyIn(plan, stmt)
	c.simple = true
	f.bindSimpleCopy(sql)
	f.forwardPart(reqExecute, 'E', unlimitedExecute, part{hold: c.hold, watch: c.watch})
	f.copy = c
	started, err := f.awaitCopyStart(c.watch, c.watch.round.done)
	if err == nil && !started {
		f.forward(reqSync, 'S', nil)
	}
	return err
}

// unlimitedExecute is the body of an Execute of the unnamed portal with no
// row limit.
var unlimitedExecute = []byte{0, 0, 0, 0, 0}

// bindSimpleCopy sends a simple-protocol COPY's Parse and Bind as the
// unnamed statement and portal (a Query replaces both), whose answers the
// client does not see.
func (f *frontend) bindSimpleCopy(sql string) {
	f.pending = append(f.pending, pending{kind: reqParse, part: part{simple: true}})
	f.sendMsg(&pgproto3.Parse{Query: sql})
	f.pending = append(f.pending, pending{kind: reqBind, part: part{simple: true}})
	f.sendMsg(&pgproto3.Bind{})
	f.closeUnnamed('S')
}

// awaitCopyStart sends what is queued and waits until the server starts
// the COPY w watches or ends its request otherwise (ended is closed);
// started says whether it started (see copyStarted).
func (f *frontend) awaitCopyStart(w *watch, ended <-chan struct{}) (started bool, err error) {
	f.send('H', nil)
	if err := f.flushBeforeWait(); err != nil {
		return false, err
	}
	return copyStarted(w, ended, f.s.done)
}

// copyStarted waits until the COPY w watches has started or its request
// has ended otherwise (ended is closed), and says whether it started. A
// COPY can do both before softfk looks: one into a view starts, then
// fails at once, before it reads any data. It started all the same, as
// far as its end goes: endCopy, which asks w the same question, then
// ends the client's Query.
func copyStarted(w *watch, ended, closed <-chan struct{}) (bool, error) {
	select {
	case <-w.copyBegun:
	case <-ended:
	case <-closed:
		return false, errSessionClosed
	}
	return w.copyStarted(), nil
}

// startCopyExtended forwards the Execute of an extended-protocol COPY
// softfk checks.
func (f *frontend) startCopyExtended(body []byte, plan *policy.CopyPlan, stmt string, result part) {
	c := newCopyIn(plan, stmt)
	result.hold, result.watch = c.hold, c.watch
	f.forwardPart(reqExecute, 'E', body, result)
	f.copy = c
}

// judgedFirst reports whether the server judges a write softfk refuses
// before softfk refuses it: a COPY FROM STDIN, which the server can start
// and softfk fail before any data flows (see refuseCopy).
func judgedFirst(st *parser.Statement, p *policy.Plan) bool {
	return p.Refuse == nil && p.Unverifiable != nil && st.Kind == parser.CopyFrom && st.Copy.Stdin
}

// refuseCopySimple refuses a simple-protocol COPY FROM STDIN (the Query's
// body) that softfk cannot verify, once the server has judged it (see
// refuseCopy). It runs as extended-protocol messages, as startCopySimple's
// COPY does, so that the COPY can be failed before the Query ends. A COPY
// let through runs as the client sent it.
func (f *frontend) refuseCopySimple(body []byte, u *policy.Unverifiable, stmt string, ready func(byte)) error {
	through, ok, err := f.uncheckedLetsThrough(u, stmt)
	switch {
	case err != nil:
		return err
	case !ok:
		f.endFailedQuery(ready)
		return nil
	case through:
		f.pending = append(f.pending, pending{kind: reqQuery, ready: ready})
		f.send('Q', body)
		return nil
	}
	f.bindSimpleCopy(string(body[:len(body)-1]))
	if err := f.failCopy(unlimitedExecute, u, stmt); err != nil {
		return err
	}
	f.forward(reqSync, 'S', nil)
	return nil
}

// refuseCopy refuses the Execute (body) of an extended-protocol COPY FROM
// STDIN that softfk cannot verify (see failCopy); a COPY let through runs
// unchecked.
func (f *frontend) refuseCopy(body []byte, u *policy.Unverifiable, stmt string) error {
	through, ok, err := f.uncheckedLetsThrough(u, stmt)
	if err != nil {
		return err
	}
	if !ok || through {
		f.forward(reqExecute, 'E', body) // the server skips it, or runs it
		return nil
	}
	return f.failCopy(body, u, stmt)
}

// uncheckedLetsThrough asks the server whether a real FOREIGN KEY would
// check a COPY now (see policy.Unverifiable.Enforced) before softfk
// refuses one it cannot verify: while session_replication_role is
// replica, or after a superuser disabled the table's triggers, Postgres
// fires no RI trigger, so the COPY goes through (through), reported as
// let through.
// ok is false when softfk's question failed: the client has the server's
// error, and the server skips what follows up to the next Sync.
func (f *frontend) uncheckedLetsThrough(u *policy.Unverifiable, stmt string) (through, ok bool, err error) {
	rd := newRound(1)
	resp := &stepResponder{round: rd, collect: true}
	f.sendStep(&policy.Step{SQL: "SELECT " + u.Enforced(), Collect: true}, resp, nil)
	if ok, err := f.await(rd); err != nil || !ok {
		return false, false, err
	}
	rows := resp.rows
	through = len(rows) == 1 && len(rows[0]) == 1 && rows[0][0] != nil && *rows[0][0] == "f"
	if through {
		f.s.reportUnverifiable(u, stmt, false)
	}
	return through, true, nil
}

// failCopy sends the Execute (body) of a COPY FROM STDIN that softfk
// refuses (u), and fails the COPY as soon as the server starts it, before
// the client sends any data: the client then gets softfk's refusal, which
// is reported then. A COPY the server refuses itself (an option, column
// or table it does not know, a missing privilege, a view) fails before it
// reads anything, and the client gets Postgres's own error, as it would
// directly.
func (f *frontend) failCopy(body []byte, u *policy.Unverifiable, stmt string) error {
	resp := &copyRefuser{err: unverifiableError(u, stmt), done: make(chan struct{}),
		refused: func() { f.s.reportUnverifiable(u, stmt, true) }}
	w := &watch{copyBegun: make(chan struct{})}
	f.forwardPart(reqExecute, 'E', body, part{proxy: resp, watch: w})
	started, err := f.awaitCopyStart(w, resp.done)
	if started {
		f.pending = append(f.pending, pending{kind: reqCopyEnd})
		f.sendMsg(&pgproto3.CopyFail{Message: rejectMarker})
	}
	return err
}

// endCopy handles the client's CopyDone (done) or CopyFail, then, if the
// COPY succeeded, checks its keys.
func (f *frontend) endCopy(typ byte, body []byte) error {
	c := f.copy
	f.copy = nil
	defer c.keys.close()
	if typ != 'f' && c.err == nil {
		c.err = c.decoder.Close()
	}
	f.pending = append(f.pending, pending{kind: reqCopyEnd})
	if typ == 'f' || c.err == nil {
		f.send(typ, body)
	} else {
		// softfk cannot know what the data says: the COPY must not pass.
		f.sendMsg(&pgproto3.CopyFail{Message: "softfk could not read the COPY data to check its keys: " + c.err.Error()})
	}
	ok, err := f.await(c.watch.round) // the COPY statement's own end
	if err != nil {
		return err
	}
	if ok {
		ok, err = f.checkCopyKeys(c)
		if err != nil {
			return err
		}
	}
	if ok {
		f.releaseHeld(c.hold)
	}
	if c.simple && c.watch.copyStarted() {
		// The Query's end: its portal goes, its transaction ends. (A
		// COPY that never started ended with a Sync at once.)
		f.closeUnnamed('P')
		f.forward(reqSync, 'S', nil)
	}
	return nil
}

// checkCopyKeys checks the COPY's keys batch by batch; ok is false when a
// check failed (the client has the error).
func (f *frontend) checkCopyKeys(c *copyIn) (ok bool, err error) {
	err = c.keys.each(func(batch [][]copydata.Field) error {
		steps := c.plan.Steps(batch)
		rd := newRound(len(steps))
		for _, st := range steps {
			f.sendStep(st, &checkResponder{f: f, check: st.Check, hold: c.hold, round: rd, stmt: c.stmt}, nil)
		}
		done, err := f.await(rd)
		if err == nil && !done {
			err = errStopCopyChecks
		}
		return err
	})
	switch {
	case errors.Is(err, errStopCopyChecks):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// errStopCopyChecks ends the key checks after a failed one.
var errStopCopyChecks = errors.New("a COPY check failed")

// keySet keeps the distinct keys of a COPY in first-seen order, in batches;
// full batches go to a temporary file so memory stays bounded however long
// the stream.
type keySet struct {
	seen  map[string]struct{}
	batch [][]copydata.Field
	spill *os.File
	out   *bufio.Writer
	n     int // batches spilled
}

func newKeySet() *keySet { return &keySet{seen: map[string]struct{}{}} }

// add records a row's key fields unless already seen.
func (k *keySet) add(row []copydata.Field) error {
	var key []byte
	for _, f := range row {
		key = appendField(key, f)
	}
	if _, dup := k.seen[string(key)]; dup {
		return nil
	}
	if len(k.seen) >= copyMemoryKeys {
		// Forget older keys: a key seen again is checked again, harmlessly.
		clear(k.seen)
	}
	k.seen[string(key)] = struct{}{}
	fields := make([]copydata.Field, len(row))
	for i, f := range row {
		if f != nil {
			fields[i] = append(copydata.Field{}, f...)
		}
	}
	k.batch = append(k.batch, fields)
	if len(k.batch) == copyBatchKeys {
		return k.spillBatch()
	}
	return nil
}

// appendField encodes a field as a length (-1 for NULL) and its bytes.
func appendField(dst []byte, f copydata.Field) []byte {
	if f == nil {
		return binary.BigEndian.AppendUint32(dst, 0xffffffff)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(f)))
	return append(dst, f...)
}

// spillBatch writes the current batch to the temporary file.
func (k *keySet) spillBatch() error {
	if k.spill == nil {
		f, err := os.CreateTemp("", "softfk-copy-keys-*")
		if err != nil {
			return err
		}
		k.spill, k.out = f, bufio.NewWriter(f)
	}
	var buf []byte
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(k.batch)))
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(k.batch[0])))
	for _, row := range k.batch {
		for _, f := range row {
			buf = appendField(buf, f)
		}
	}
	if _, err := k.out.Write(buf); err != nil {
		return err
	}
	k.batch = k.batch[:0]
	k.n++
	return nil
}

// each calls fn for every batch, spilled ones first, in order.
func (k *keySet) each(fn func([][]copydata.Field) error) error {
	if k.spill != nil {
		if err := k.out.Flush(); err != nil {
			return err
		}
		if _, err := k.spill.Seek(0, io.SeekStart); err != nil {
			return err
		}
		in := bufio.NewReader(k.spill)
		for i := 0; i < k.n; i++ {
			batch, err := readBatch(in)
			if err != nil {
				return err
			}
			if err := fn(batch); err != nil {
				return err
			}
		}
	}
	if len(k.batch) > 0 {
		return fn(k.batch)
	}
	return nil
}

// readBatch reads one spilled batch.
func readBatch(in *bufio.Reader) ([][]copydata.Field, error) {
	var head [8]byte
	if _, err := io.ReadFull(in, head[:]); err != nil {
		return nil, err
	}
	rows, width := int(binary.BigEndian.Uint32(head[:])), int(binary.BigEndian.Uint32(head[4:]))
	batch := make([][]copydata.Field, rows)
	for r := range batch {
		batch[r] = make([]copydata.Field, width)
		for c := range batch[r] {
			var size [4]byte
			if _, err := io.ReadFull(in, size[:]); err != nil {
				return nil, err
			}
			n := binary.BigEndian.Uint32(size[:])
			if n == 0xffffffff {
				continue
			}
			batch[r][c] = make(copydata.Field, n)
			if _, err := io.ReadFull(in, batch[r][c]); err != nil {
				return nil, err
			}
		}
	}
	return batch, nil
}

// close removes the temporary file.
func (k *keySet) close() {
	if k.spill != nil {
		k.spill.Close()
		os.Remove(k.spill.Name())
	}
}
