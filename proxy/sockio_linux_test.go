package proxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	dialed, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	other := <-accepted
	if other == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { dialed.Close(); other.Close() })
	return dialed.(*net.TCPConn), other.(*net.TCPConn)
}

func TestSockIOMovesMoreThanTheSocketBuffers(t *testing.T) {
	a, b := tcpPair(t)
	w, r := newSockIO(a), newSockIO(b)
	if _, ok := w.(*sockIO); !ok {
		t.Fatalf("newSockIO(TCP) = %T, want raw socket I/O", w)
	}
	// Far more than the kernel buffers hold, so writes come back partial
	// and with EAGAIN and must wait for the reader.
	want := make([]byte, 16<<20)
	for i := range want {
		want[i] = byte(i * 7)
	}
	written := make(chan error, 1)
	go func() {
		n, err := w.Write(want)
		if err == nil && n != len(want) {
			err = io.ErrShortWrite
		}
		a.CloseWrite()
		written <- err
	}()
	var got bytes.Buffer
	buf := make([]byte, 3000)
	for {
		n, err := r.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
	}
	if err := <-written; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("read %d bytes, not the %d written", got.Len(), len(want))
	}
}

func TestSockIOReadEndsWhenClosedElsewhere(t *testing.T) {
	a, _ := tcpPair(t)
	r := newSockIO(a)
	done := make(chan error, 1)
	go func() {
		_, err := r.Read(make([]byte, 10))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the read wait in the poller
	a.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("read still waiting after Close")
	}
}

func TestSockIOWriteToResetPeerFails(t *testing.T) {
	a, b := tcpPair(t)
	b.SetLinger(0)
	b.Close() // sends RST
	w := newSockIO(a)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = w.Write(make([]byte, 64<<10))
		time.Sleep(time.Millisecond)
	}
	if err == nil {
		t.Fatal("writes to a reset connection kept succeeding")
	}
}
