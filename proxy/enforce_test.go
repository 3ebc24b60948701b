package proxy

import (
	"bytes"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/softfk/softfk/policy"
)

// TestSendBindEncodesLikePgproto3 checks the hand-written Bind of a
// check against pgproto3's encoding of the same message, for every kind
// of argument a check can have.
func TestSendBindEncodesLikePgproto3(t *testing.T) {
	bp := &boundPortal{formats: []int16{0, 1}, values: [][]byte{[]byte("42"), {0, 0, 0, 7}}}
	args := []policy.Arg{
		{ClientParam: 1},                   // the client's text value
		{ClientParam: 2},                   // the client's binary value
		{ClientParam: 3},                   // a parameter the client did not send: NULL
		{Null: true},                       // NULL
		{Binary: []byte{1, 2}},             // a binary constant
		{Text: "it's"},                     // a text constant
		{Text: ""},                         // the empty string, not NULL
		{Null: true, Binary: []byte{9, 9}}, // NULL wins
	}
	f := &frontend{}
	f.sendBind("softfk_stmt_1", args, bp)
	got := *f.out

	want, err := (&pgproto3.Bind{
		DestinationPortal:    ownPortal,
		PreparedStatement:    "softfk_stmt_1",
		ParameterFormatCodes: []int16{0, 1, 0, 0, 1, 0, 0, 0},
		Parameters:           [][]byte{[]byte("42"), {0, 0, 0, 7}, nil, nil, {1, 2}, []byte("it's"), {}, nil},
		ResultFormatCodes:    []int16{0},
	}).Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("sendBind wrote\n%v\nwant\n%v", got, want)
	}
}

func TestOwnLockRefusedAsReadOnlyNamesTheClientsCommand(t *testing.T) {
	for _, msg := range []string{
		"cannot execute SELECT FOR UPDATE in a read-only transaction",
		"no se puede ejecutar SELECT FOR UPDATE en una transacción de sólo lectura",
	} {
		e := &pgproto3.ErrorResponse{Code: codeReadOnlyTransaction, Message: msg, Position: 12}
		got := ownStatementError(e, nil, "DELETE")
		if want := strings.Replace(msg, "SELECT FOR UPDATE", "DELETE", 1); got.Message != want || got.Position != 0 {
			t.Errorf("got %q at %d, want %q at 0", got.Message, got.Position, want)
		}
		if other := ownStatementError(e, nil, ""); other.Message != msg {
			t.Errorf("a step with no command changed the message to %q", other.Message)
		}
	}
}
