package proxy

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// sockIO reads and writes a plain TCP socket with raw system calls, still
// waiting in Go's network poller when the socket is not ready (so deadlines
// and Close from another goroutine work as with net.Conn).
//
// Why: net.Conn marks every read and write as a possibly blocking system
// call. On a busy machine a write that wakes PostgreSQL often gets the
// thread preempted inside the call, the runtime's monitor then takes the
// Go processor away and wakes another thread to run it, and each of those
// hand-offs costs more than the write. The socket is non-blocking, so a raw
// call returns at once (EAGAIN at worst) and needs none of that.
type sockIO struct {
	rc syscall.RawConn

	// Read state, used only by the one goroutine that reads.
	rbuf   []byte
	rn     int
	rerrno syscall.Errno
	readFn func(fd uintptr) bool

	// Write state, serialised by wmu.
	wmu     sync.Mutex
	wbuf    []byte
	wn      int
	werrno  syscall.Errno
	writeFn func(fd uintptr) bool
}

// recvSocket makes one recvfrom system call into p, which must not be
// empty. On a socket recvfrom and sendto do what read and write do
// without passing through the file layer (fdget_pos, vfs_read and
// vfs_write took 4% of softfk's CPU under pgbench -S, against 2.8% for
// these).
func recvSocket(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), 0, 0, 0)
	return int(n), e
}

// sendSocket makes one sendto system call from p, which must not be
// empty; MSG_NOSIGNAL makes a write to a closed connection fail with
// EPIPE without raising SIGPIPE.
func sendSocket(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), syscall.MSG_NOSIGNAL, 0, 0)
	return int(n), e
}

// newSockIO returns raw socket I/O for a TCP connection, and the connection
// itself for anything else (TLS, a Unix socket). Other systems than Linux
// use the connection as it is (sockio_other.go).
func newSockIO(c net.Conn) io.ReadWriter {
	tcp, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tcp.SyscallConn()
	if err != nil {
		return c
	}
	s := &sockIO{rc: rc}
	s.readFn = s.readReady
	s.writeFn = s.writeReady
	return s
}

// readReady tries one read; false means the socket has nothing yet.
func (s *sockIO) readReady(fd uintptr) bool {
	for {
		n, e := recvSocket(fd, s.rbuf)
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		s.rn, s.rerrno = n, e
		return true
	}
}

// Read reads what the socket has, waiting until it has something.
func (s *sockIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.rbuf, s.rn, s.rerrno = p, 0, 0
	err := s.rc.Read(s.readFn)
	s.rbuf = nil
	switch {
	case err != nil:
		return 0, err
	case s.rerrno != 0:
		return 0, os.NewSyscallError("read", s.rerrno)
	case s.rn == 0:
		return 0, io.EOF
	}
	return s.rn, nil
}

// writeReady writes as much as the socket takes; false means it is full and
// the rest waits until it drains.
func (s *sockIO) writeReady(fd uintptr) bool {
	for s.wn < len(s.wbuf) {
		rest := s.wbuf[s.wn:]
		n, e := sendSocket(fd, rest)
		switch e {
		case 0:
			s.wn += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			s.werrno = e
			return true
		}
	}
	return true
}

// Write writes all of p, waiting while the socket is full.
func (s *sockIO) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.wbuf, s.wn, s.werrno = p, 0, 0
	err := s.rc.Write(s.writeFn)
	n := s.wn
	s.wbuf = nil
	if err == nil && s.werrno != 0 {
		err = os.NewSyscallError("write", s.werrno)
	}
	return n, err
}
