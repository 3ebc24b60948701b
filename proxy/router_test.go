package proxy

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// fakeResponder records what the router tells it and, on failure, writes a
// replacement error and drops the hold it guards.
type fakeResponder struct {
	rows   int
	events []string
	guards *hold
}

func (f *fakeResponder) row([]byte) { f.rows++ }
func (f *fakeResponder) succeeded(r *router) {
	f.events = append(f.events, "ok")
	r.release(f.guards)
}
func (f *fakeResponder) failed(r *router, e *pgproto3.ErrorResponse) {
	f.events = append(f.events, "failed:"+e.Code)
	r.drop(f.guards)
	r.sendError(&pgproto3.ErrorResponse{Severity: "ERROR", Code: "23503", Message: "replaced"})
}
func (f *fakeResponder) skipped(r *router) { f.events = append(f.events, "skipped") }

// msg encodes a backend message.
func msg(m pgproto3.BackendMessage) (byte, []byte) {
	b, err := m.Encode(nil)
	if err != nil {
		panic(err)
	}
	return b[0], b[5:]
}

// feed routes messages and returns what the client received, decoded.
func feed(r *router, msgs ...pgproto3.BackendMessage) []string {
	for _, m := range msgs {
		typ, body := msg(m)
		r.route(typ, body)
	}
	return decodeClient(r)
}

func decodeClient(r *router) []string {
	var out []string
	b := r.out
	for len(b) >= 5 {
		size := int(binary.BigEndian.Uint32(b[1:5]))
		typ, body := b[0], b[5:1+size]
		switch typ {
		case 'E':
			var e pgproto3.ErrorResponse
			e.Decode(body)
			out = append(out, fmt.Sprintf("E:%s:%s:pos=%d", e.Code, e.Message, e.Position))
		case 'D':
			out = append(out, fmt.Sprintf("D%d", columnCount(body)))
		case 'T':
			out = append(out, fmt.Sprintf("T%d", columnCount(body)))
		case 'C':
			out = append(out, "C:"+strings.TrimRight(string(body), "\x00"))
		case 'Z':
			out = append(out, "Z:"+string(body))
		default:
			out = append(out, string(typ))
		}
		b = b[1+size:]
	}
	r.out = r.out[:0]
	return out
}

func check(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("client saw %q\nwant %q", got, want)
	}
}

func rowDesc(n int) *pgproto3.RowDescription {
	rd := &pgproto3.RowDescription{}
	for i := 0; i < n; i++ {
		rd.Fields = append(rd.Fields, pgproto3.FieldDescription{Name: []byte(fmt.Sprintf("c%d", i)), DataTypeOID: 23, DataTypeSize: 4, TypeModifier: -1})
	}
	return rd
}

func dataRow(n int) *pgproto3.DataRow {
	dr := &pgproto3.DataRow{}
	for i := 0; i < n; i++ {
		dr.Values = append(dr.Values, []byte(fmt.Sprint(i)))
	}
	return dr
}

func TestRouterPassThroughQuery(t *testing.T) {
	r := newRouter(func([]byte) {})
	r.push(pending{kind: reqQuery})
	got := feed(r, rowDesc(1), dataRow(1), &pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")},
		&pgproto3.ParameterStatus{Name: "x", Value: "y"}, &pgproto3.ReadyForQuery{TxStatus: 'T'})
	check(t, got, "T1", "D1", "C:SELECT 1", "S", "Z:T")
	if !r.idle() || r.status() != 'T' {
		t.Fatalf("idle %v status %c", r.idle(), r.status())
	}
}

func TestRouterExtendedErrorSkipsToSync(t *testing.T) {
	r := newRouter(func([]byte) {})
	proxyStep := &fakeResponder{}
	r.push(pending{kind: reqParse}, pending{kind: reqBind}, pending{kind: reqExecute},
		pending{kind: reqBind, part: part{proxy: proxyStep}}, pending{kind: reqExecute, part: part{proxy: proxyStep}},
		pending{kind: reqSync})
	got := feed(r, &pgproto3.ParseComplete{}, &pgproto3.ErrorResponse{Severity: "ERROR", Code: "22P02", Message: "bad"},
		&pgproto3.ReadyForQuery{TxStatus: 'I'})
	check(t, got, "1", "E:22P02:bad:pos=0", "Z:I")
	if want := []string{"skipped", "skipped"}; !reflect.DeepEqual(proxyStep.events, want) {
		t.Fatalf("proxy step events %v", proxyStep.events)
	}
	if !r.idle() {
		t.Fatal("requests left over")
	}
}

func TestRouterHoldReleasedAfterCheck(t *testing.T) {
	r := newRouter(func([]byte) {})
	h := &hold{}
	chk := &fakeResponder{guards: h}
	r.push(pending{kind: reqQuery, parts: []part{{hold: h}, {proxy: chk}}})
	got := feed(r,
		&pgproto3.NoticeResponse{Severity: "NOTICE", Message: "from trigger"},
		&pgproto3.CommandComplete{CommandTag: []byte("INSERT 0 1")},
		rowDesc(1), dataRow(1), &pgproto3.NoticeResponse{Severity: "NOTICE", Message: "from proxy"},
		&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")},
		&pgproto3.ReadyForQuery{TxStatus: 'I'})
	check(t, got, "N", "C:INSERT 0 1", "Z:I")
	if chk.rows != 1 || !reflect.DeepEqual(chk.events, []string{"ok"}) {
		t.Fatalf("check saw %d rows, events %v", chk.rows, chk.events)
	}
}

func TestRouterHoldDroppedOnViolation(t *testing.T) {
	r := newRouter(func([]byte) {})
	h := &hold{}
	chk := &fakeResponder{guards: h}
	r.push(pending{kind: reqQuery, parts: []part{{hold: h}, {proxy: chk}, {}}})
	got := feed(r,
		&pgproto3.CommandComplete{CommandTag: []byte("INSERT 0 1")},
		&pgproto3.ErrorResponse{Severity: "ERROR", Code: "22P02", Message: "softfk signal"},
		&pgproto3.ReadyForQuery{TxStatus: 'I'})
	check(t, got, "E:23503:replaced:pos=0", "Z:I")
}

func TestRouterClientErrorInHeldStatement(t *testing.T) {
	r := newRouter(func([]byte) {})
	h := &hold{}
	chk := &fakeResponder{guards: h}
	shift := func(pos int) int { return pos - 10 }
	r.push(pending{kind: reqQuery, parts: []part{{hold: h, remap: shift}, {proxy: chk}}})
	got := feed(r, dataRow(2),
		&pgproto3.ErrorResponse{Severity: "ERROR", Code: "23505", Message: "dup", Position: 15},
		&pgproto3.ReadyForQuery{TxStatus: 'E'})
	check(t, got, "D2", "E:23505:dup:pos=5", "Z:E")
	if !reflect.DeepEqual(chk.events, []string{"skipped"}) {
		t.Fatalf("check events %v", chk.events)
	}
}

func TestRouterHiddenColumns(t *testing.T) {
	r := newRouter(func([]byte) {})
	r.push(pending{kind: reqDescribe, part: part{hidden: 1}}, pending{kind: reqExecute, part: part{hidden: 1}},
		pending{kind: reqDescribe, part: part{hidden: 1, noRows: true}}, pending{kind: reqExecute, part: part{hidden: 1, noRows: true}},
		pending{kind: reqSync})
	got := feed(r, rowDesc(3), dataRow(3), &pgproto3.CommandComplete{CommandTag: []byte("INSERT 0 1")},
		rowDesc(1), dataRow(1), &pgproto3.CommandComplete{CommandTag: []byte("INSERT 0 1")},
		&pgproto3.ReadyForQuery{TxStatus: 'I'})
	check(t, got, "T2", "D2", "C:INSERT 0 1", "n", "C:INSERT 0 1", "Z:I")
}

func TestRouterIgnoresSyncsInsideCopy(t *testing.T) {
	r := newRouter(func([]byte) {})
	// An extended COPY with its Sync sent before the data (tokio-postgres,
	// PQexecParams), a second Sync inside the data, then the real one.
	r.push(pending{kind: reqBind}, pending{kind: reqExecute}, pending{kind: reqSync})
	got := feed(r, &pgproto3.BindComplete{}, &pgproto3.CopyInResponse{})
	check(t, got, "2", "G")
	if r.idle() {
		t.Fatal("idle while the COPY runs")
	}
	r.push(pending{kind: reqSync}, pending{kind: reqCopyEnd}, pending{kind: reqSync})
	got = feed(r, &pgproto3.CommandComplete{CommandTag: []byte("COPY 1")}, &pgproto3.ReadyForQuery{TxStatus: 'I'})
	check(t, got, "C:COPY 1", "Z:I")
	if !r.idle() {
		t.Fatal("requests left over")
	}
	// The end of data sent with the COPY, before the server answered.
	r.push(pending{kind: reqQuery}, pending{kind: reqSync}, pending{kind: reqCopyEnd}, pending{kind: reqSync})
	got = feed(r, &pgproto3.CopyInResponse{}, &pgproto3.CommandComplete{CommandTag: []byte("COPY 1")},
		&pgproto3.ReadyForQuery{TxStatus: 'I'}, &pgproto3.ReadyForQuery{TxStatus: 'I'})
	check(t, got, "G", "C:COPY 1", "Z:I", "Z:I")
	if !r.idle() {
		t.Fatal("requests left over")
	}
	// A CopyDone when no COPY runs is ignored by the server.
	r.push(pending{kind: reqCopyEnd})
	if !r.idle() {
		t.Fatal("waiting for an answer to a lone CopyDone")
	}
}

func TestRouterUnexpectedMessagesGoToClient(t *testing.T) {
	r := newRouter(func([]byte) {})
	got := feed(r, &pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "57P01", Message: "terminating"})
	check(t, got, "E:57P01:terminating:pos=0")
	if !r.fatal {
		t.Fatal("FATAL error not noticed")
	}
}

func TestMapErrorPosition(t *testing.T) {
	_, body := msg(&pgproto3.ErrorResponse{Severity: "ERROR", Code: "42601", Message: "syntax", Position: 42, Routine: "scanner_yyerror"})
	for _, tc := range []struct {
		remap func(int) int
		want  int32
	}{
		{func(n int) int { return n - 40 }, 2},
		{func(n int) int { return n + 3 }, 45},
		{func(n int) int { return n * 2 }, 84},
		{func(int) int { return 0 }, 0},
	} {
		var e pgproto3.ErrorResponse
		if err := e.Decode(mapErrorPosition(body, tc.remap)); err != nil {
			t.Fatal(err)
		}
		if e.Position != tc.want || e.Routine != "scanner_yyerror" || e.Message != "syntax" || e.Code != "42601" {
			t.Errorf("got %+v, want position %d", e, tc.want)
		}
	}
}
