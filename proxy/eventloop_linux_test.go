package proxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// eventPair returns an event socket and the other end of its loopback
// connection.
func eventPair(t *testing.T) (*eventSocket, *net.TCPConn) {
	t.Helper()
	a, b := tcpPair(t)
	e, err := takeSocket(a)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	t.Cleanup(func() { e.Close() })
	return e, b
}

func TestEventSocketWriteWaitsForTheReader(t *testing.T) {
	e, peer := eventPair(t)
	var blocked atomic.Int32
	e.onBlock = func() { blocked.Add(1) }
	// Far more than the kernel buffers hold: writes must wait for room.
	want := make([]byte, 16<<20)
	for i := range want {
		want[i] = byte(i * 7)
	}
	written := make(chan error, 1)
	go func() {
		n, err := e.Write(want)
		if err == nil && n != len(want) {
			err = io.ErrShortWrite
		}
		e.Close()
		written <- err
	}()
	got, err := io.ReadAll(peer)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := <-written; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, not the %d written", len(got), len(want))
	}
	if blocked.Load() == 0 {
		t.Fatal("the writer never waited, so it never said so first")
	}
}

func TestEventSocketCloseEndsAWaitingWrite(t *testing.T) {
	e, _ := eventPair(t) // the peer never reads
	done := make(chan error, 1)
	go func() {
		_, err := e.Write(make([]byte, 64<<20))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the write fill the buffers and wait
	e.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("write after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("write still waiting after Close")
	}
}

func TestEventSocketReadNeverWaits(t *testing.T) {
	e, peer := eventPair(t)
	buf := make([]byte, 100)
	if _, err := e.Read(buf); err != errWouldBlock {
		t.Fatalf("read of an empty socket: %v, want errWouldBlock", err)
	}
	peer.Write([]byte("hello"))
	time.Sleep(20 * time.Millisecond)
	if _, err := e.Read(buf); err != errWouldBlock {
		t.Fatalf("read while drained and before an event: %v, want errWouldBlock", err)
	}
	e.drained = false // what an event does
	if n, err := e.Read(buf); err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read = %q, %v", buf[:n], err)
	}
	peer.Close()
	e.hangup.Store(true) // what the peer's end of stream does
	if _, err := e.Read(buf); err != io.EOF {
		t.Fatalf("read after the peer closed: %v, want io.EOF", err)
	}
	e.Close()
	e.drained = false
	if _, err := e.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after Close: %v, want net.ErrClosed", err)
	}
}

// bigResultUpstream is a fake backend that answers a Query naming "big"
// with rows of size bytes in all, and any other Query with one row.
func bigResultUpstream(t *testing.T, size int) string {
	return fakeBackend(t, func(conn net.Conn) {
		defer conn.Close()
		be := pgproto3.NewBackend(conn, conn)
		if _, err := be.ReceiveStartupMessage(); err != nil {
			return
		}
		be.Send(&pgproto3.AuthenticationOk{})
		be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
		be.Flush()
		value := bytes.Repeat([]byte("x"), 8000)
		for {
			msg, err := be.Receive()
			if err != nil {
				return
			}
			q, ok := msg.(*pgproto3.Query)
			if !ok {
				continue
			}
			rows := 1
			if strings.Contains(q.String, "big") {
				rows = size / len(value)
			}
			for i := 0; i < rows; i++ {
				be.Send(&pgproto3.DataRow{Values: [][]byte{value}})
				if i%64 == 63 && be.Flush() != nil {
					return
				}
			}
			be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT")})
			be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
			if be.Flush() != nil {
				return
			}
		}
	})
}

// A client that stops reading a large result makes its session wait to
// write; the event loop must go on serving every other session meanwhile.
func TestEventLoopServesOthersWhileOneClientDoesNotRead(t *testing.T) {
	servesOthersWhileOneClientDoesNotRead(t, func(*session) {})
}

// The same when the wait is not announced (as if softfk had a wait it did
// not foresee): the watchdog hands the loop on.
func TestWatchdogServesOthersWhenAPumpWaitsUnannounced(t *testing.T) {
	servesOthersWhileOneClientDoesNotRead(t, func(sess *session) {
		// The client has its ReadyForQuery just before the session
		// moves onto the loop.
		for i := 0; sess.events.Load() == nil && i < 1000; i++ {
			time.Sleep(5 * time.Millisecond)
		}
		sess.clientWriteMu.Lock() // (its writes happen under it)
		sess.events.Load().client.sock.onBlock = nil
		sess.clientWriteMu.Unlock()
	})
}

// servesOthersWhileOneClientDoesNotRead changes the session of a client
// with tweak, has that client ask for a large result it does not read,
// and checks that another session is served meanwhile.
func servesOthersWhileOneClientDoesNotRead(t *testing.T, tweak func(*session)) {
	srv, addr := startPassThrough(t, bigResultUpstream(t, 256<<20))

	stuck, stuckFE := benchClient(t, addr)
	defer stuck.Close()
	srv.mu.Lock()
	for sess := range srv.sessions {
		tweak(sess)
	}
	srv.mu.Unlock()
	stuckFE.Send(&pgproto3.Query{String: "SELECT big"})
	if err := stuckFE.Flush(); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() {
		conn, fe := benchClient(t, addr)
		defer conn.Close()
		for i := 0; i < 200; i++ {
			fe.Send(&pgproto3.Query{String: "SELECT 1"})
			if err := fe.Flush(); err != nil {
				done <- err
				return
			}
			for {
				msg, err := fe.Receive()
				if err != nil {
					done <- err
					return
				}
				if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
					break
				}
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a session got no answers while another client did not read its result")
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for sess := range srv.sessions {
		if sess.events.Load() == nil {
			t.Error("a plain TCP session is not on the event loop")
		}
	}
}

// A lane's first pump may wait for another lane's data (a client's first
// statement waits for the server's answers): start must have registered
// the other lane by then.
func TestStartRegistersEveryLaneBeforeAnyPumpRuns(t *testing.T) {
	waiterSock, _ := eventPair(t)
	answerSock, answerPeer := eventPair(t)
	answered := make(chan struct{})
	ended := func(error) {}
	waiter := &lane{sock: waiterSock, ended: ended, pump: func() error {
		select {
		case <-answered:
		case <-time.After(10 * time.Second):
			t.Error("the answer never came: its lane was not served while the first pump waited")
		}
		return errWouldBlock
	}}
	var once atomic.Bool
	answers := &lane{sock: answerSock, ended: ended, pump: func() error {
		buf := make([]byte, 16)
		if n, _ := answerSock.Read(buf); n > 0 && once.CompareAndSwap(false, true) {
			close(answered)
		}
		return errWouldBlock
	}}
	answerPeer.Write([]byte("answer"))
	p := eventLoop()
	p.start(waiter, answers)
	t.Cleanup(func() { p.remove(waiter); p.remove(answers) })
}

// Closing a session whose upstream write waits for room must not wait for
// that write to end: only the close ends it.
func TestCloseEventsDoesNotWaitForAWaitingWrite(t *testing.T) {
	upstream, _ := eventPair(t) // the peer never reads
	client, _ := eventPair(t)
	s := &session{done: make(chan struct{})}
	ended := func(error) {}
	s.events.Store(&sessionEvents{p: eventLoop(),
		client:   &lane{sock: client, ended: ended},
		upstream: &lane{sock: upstream, ended: ended}})
	writing := make(chan error, 1)
	go func() {
		_, err := upstream.Write(make([]byte, 64<<20))
		writing <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the write fill the buffers and wait
	closed := make(chan struct{})
	go func() {
		s.closeEvents([]byte{'X', 0, 0, 0, 4})
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("closing waited for a write that only the close can end")
	}
	if err := <-writing; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("the waiting write ended with %v, want net.ErrClosed", err)
	}
}

// TestPollerWaitOutlastsTheHeldWait checks both ways a leader waits: with
// a processor to spare it first holds its processor for heldWait, and a
// wait that outlasts that must go on as an ordinary one, never come back
// empty; without one to spare it waits as an ordinary system call only.
func TestPollerWaitOutlastsTheHeldWait(t *testing.T) {
	for _, spare := range []bool{true, false} {
		ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			t.Fatal(err)
		}
		defer syscall.Close(ep)
		var fds [2]int
		if err := syscall.Pipe2(fds[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
			t.Fatal(err)
		}
		defer syscall.Close(fds[0])
		defer syscall.Close(fds[1])
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: 7}
		if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fds[0], &ev); err != nil {
			t.Fatal(err)
		}
		p := &poller{ep: ep, loops: runtime.GOMAXPROCS(0)}
		if spare {
			p.loops = runtime.GOMAXPROCS(0) - 1
		}
		got := make(chan int, 1)
		go func() {
			events := make([]syscall.EpollEvent, 4)
			for {
				n, errno := p.wait(events)
				if errno == syscall.EINTR {
					continue
				}
				if errno != 0 || n != 1 || events[0].Fd != 7 {
					n = -1
				}
				got <- n
				return
			}
		}()
		time.Sleep(10 * heldWait) // the wait has outlasted the held part
		select {
		case n := <-got:
			t.Fatalf("spare processor %v: wait returned %d before any event", spare, n)
		default:
		}
		if _, err := syscall.Write(fds[1], []byte{1}); err != nil {
			t.Fatal(err)
		}
		if n := <-got; n != 1 {
			t.Fatalf("spare processor %v: wait did not return the one event", spare)
		}
	}
}
