package proxy

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// The event loop serves, on Linux, every session whose two connections are
// plain TCP sockets, without goroutines for its pumps: one goroutine per
// poller waits in epoll for all of their sockets and runs each session's
// pump (pumpClient, pumpUpstream) on what a socket brings, then waits
// again, as a single-threaded C proxy does.
//
// Why: a goroutine per direction waits in Go's network poller, which has
// every socket registered for reading and writing. Each answer then wakes
// a sleeping thread of the runtime twice or more (the data, the write
// space coming back, the goroutine to run), and on a small virtual machine
// those wake-ups cost more than everything softfk does with the message.
// The event loop's sockets are taken out of Go's poller (duplicated, the
// net.Conn closed), so one epoll_wait covers a whole burst of sessions.
//
// A pump may have to wait: for the answers to softfk's own checks, or for
// a client that does not read. Before it waits it calls session.yield,
// which hands the loop to a new goroutine (the leader/follower pattern):
// the waiting pump keeps the goroutine it runs on, finishes its work there
// and lets that goroutine end, while the new leader goes on with the other
// sessions' events.

// eventLoops are the process's pollers, made on first use; sessions are
// spread over them in turn, one poller for every four processors.
var (
	eventLoopsOnce sync.Once
	eventLoops     []*poller
	eventLoopTurn  atomic.Uint32
)

// eventLoop returns the poller for a new session, nil when epoll is not
// available (the session then runs goroutines of its own).
func eventLoop() *poller {
	eventLoopsOnce.Do(func() {
		count := (runtime.GOMAXPROCS(0) + 3) / 4
		for i := 0; i < count; i++ {
			p, err := newPoller(count)
			if err != nil {
				eventLoops = nil
				return
			}
			eventLoops = append(eventLoops, p)
		}
	})
	if len(eventLoops) == 0 {
		return nil
	}
	return eventLoops[int(eventLoopTurn.Add(1))%len(eventLoops)]
}

// epollET asks epoll for edge-triggered events (syscall.EPOLLET is negative).
const epollET = 1 << 31

// eventBatch is how many events one epoll_wait returns at most.
const eventBatch = 128

// poller is one epoll instance and the lanes registered in it.
type poller struct {
	ep    int
	loops int // how many pollers the process runs
	mu    sync.RWMutex
	lanes map[uint64]*lane
	last  uint64 // the last lane id given out
	// running is the lane whose pump a leader runs now, and runs counts
	// the pumps leaders have started: the watchdog's view.
	running atomic.Pointer[lane]
	runs    atomic.Uint64
}

// stuckAfter is how long a leader may run one pump before the watchdog
// hands the loop on without it: a safety net for a wait softfk did not
// foresee (a pump that waits calls session.yield first).
const stuckAfter = 100 * time.Millisecond

func newPoller(loops int) (*poller, error) {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	p := &poller{ep: ep, loops: loops, lanes: map[uint64]*lane{}}
	go p.lead(&leader{p: p, events: make([]syscall.EpollEvent, eventBatch)})
	go p.watch()
	return p, nil
}

// watch passes the lead on when a leader has run the same pump since the
// last look.
func (p *poller) watch() {
	var seen uint64
	for range time.Tick(stuckAfter) {
		runs := p.runs.Load()
		if ln := p.running.Load(); ln != nil && runs == seen {
			ln.passLead()
		}
		seen = runs
	}
}

// add registers a lane's socket for edge-triggered read events.
func (p *poller) add(ln *lane) error {
	p.mu.Lock()
	p.last++
	ln.id = p.last
	p.lanes[ln.id] = ln
	p.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | epollET, Fd: int32(uint32(ln.id)), Pad: int32(ln.id >> 32)}
	if err := syscall.EpollCtl(p.ep, syscall.EPOLL_CTL_ADD, ln.sock.fd, &ev); err != nil {
		p.remove(ln)
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// start registers the lanes, then runs each pump once on the calling
// goroutine, in order, for what the reader holds from before (the
// startup's last bytes, data that came before the registration). Every
// lane is registered before any pump runs: one that waits for another
// lane's answers waits for the loop, which must be serving that lane.
func (p *poller) start(lanes ...*lane) {
	for _, ln := range lanes {
		if err := p.add(ln); err != nil {
			ln.state.Store(laneEnded)
			ln.ended(err)
		}
	}
	for _, ln := range lanes {
		ln.ready(nil)
	}
}

// remove forgets a lane: events already fetched for it are dropped. Its
// socket leaves the epoll set when it is closed.
func (p *poller) remove(ln *lane) {
	p.mu.Lock()
	delete(p.lanes, ln.id)
	p.mu.Unlock()
}

// lookup returns the lane an event is for, nil if it is gone.
func (p *poller) lookup(ev *syscall.EpollEvent) *lane {
	id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
	p.mu.RLock()
	ln := p.lanes[id]
	p.mu.RUnlock()
	return ln
}

// leader is the goroutine that currently waits in epoll for a poller and
// runs the lanes its events are for. events[next:n] are fetched events not
// yet handled; a leader that hands the loop on hands them on too.
type leader struct {
	p       *poller
	events  []syscall.EpollEvent
	next, n int
}

// lead runs the loop until the lead passes to another goroutine.
func (p *poller) lead(l *leader) {
	for {
		for l.next < l.n {
			ev := &l.events[l.next]
			l.next++
			ln := p.lookup(ev)
			if ln == nil {
				continue
			}
			if ev.Events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
				ln.sock.hangup.Store(true)
			}
			if !ln.ready(l) {
				return
			}
		}
		n, errno := p.wait(l.events)
		if errno != 0 {
			if errno == syscall.EINTR {
				continue
			}
			panic("softfk: epoll_wait failed: " + errno.Error())
		}
		l.next, l.n = 0, n
	}
}

// heldWait is how long a leader waits for events keeping its processor
// (see wait).
const heldWait = time.Millisecond

// wait waits in epoll_wait for events. A wait made as an ordinary system
// call hands the goroutine's processor (P) back to the runtime, which may
// give it to another thread meanwhile: the leader then wakes without one,
// and the loop goes on later, on another thread. So while the process has
// a processor to spare beyond its pollers' (GOMAXPROCS), a leader first
// waits up to heldWait keeping its processor, and only after that long
// without an event waits as a system call, so that an idle proxy costs
// nothing. The runtime still preempts a wait that keeps its processor (to
// stop the world for the garbage collector, say): its signal interrupts
// the wait, and the leader yields before it waits again.
func (p *poller) wait(events []syscall.EpollEvent) (int, syscall.Errno) {
	ep, ptr, size := uintptr(p.ep), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events))
	if runtime.GOMAXPROCS(0) > p.loops {
		n, _, errno := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, ep, ptr, size, uintptr(heldWait.Milliseconds()), 0, 0)
		if errno == syscall.EINTR {
			runtime.Gosched()
		}
		if n > 0 || errno != 0 {
			return int(n), errno
		}
	}
	n, _, errno := syscall.Syscall6(syscall.SYS_EPOLL_PWAIT, ep, ptr, size, ^uintptr(0), 0, 0)
	return int(n), errno
}

// Lane states.
const (
	laneIdle    = iota // waiting for an event
	laneRunning        // its pump runs
	laneAgain          // its pump runs, and events came meanwhile
	laneEnded          // the direction is over
)

// lane is one direction of an evented session: a socket and the pump that
// handles what it brings. At most one goroutine runs a lane's pump at a
// time; events that come meanwhile make it go round again.
type lane struct {
	id       uint64
	sock     *eventSocket
	pump     func() error // returns errWouldBlock when the socket has nothing more for now
	ended    func(error)  // told once, with the pump's error, when the lane ends
	state    atomic.Int32
	stopping atomic.Bool
	// lead is the leader running the pump, nil when none does or when
	// the pump passed the lead on before waiting.
	lead atomic.Pointer[leader]
}

// ready runs the lane's pump for an event on leader l (nil: on the
// session's own goroutine), or makes a running pump go round again. It
// reports whether l is still the leader afterwards.
func (ln *lane) ready(l *leader) bool {
	for {
		switch ln.state.Load() {
		case laneIdle:
			if ln.state.CompareAndSwap(laneIdle, laneRunning) {
				return ln.run(l)
			}
		case laneRunning:
			if ln.state.CompareAndSwap(laneRunning, laneAgain) {
				return true
			}
		default:
			return true
		}
	}
}

// run pumps until the socket has nothing more and no event came meanwhile.
func (ln *lane) run(l *leader) bool {
	ln.lead.Store(l)
	if l != nil {
		l.p.runs.Add(1)
		l.p.running.Store(ln)
		defer l.p.running.CompareAndSwap(ln, nil)
	}
	for {
		ln.sock.drained = false
		if err := ln.pump(); err != errWouldBlock {
			ln.state.Store(laneEnded)
			ln.ended(err)
			break
		}
		if ln.state.CompareAndSwap(laneRunning, laneIdle) {
			if ln.stopping.Load() && ln.state.CompareAndSwap(laneIdle, laneEnded) {
				ln.ended(errSessionClosed)
			}
			break
		}
		ln.state.Store(laneRunning)
	}
	return ln.lead.CompareAndSwap(l, nil)
}

// passLead hands the loop to a new goroutine if a leader runs this lane's
// pump now (when another goroutine of the session calls it, that leader
// loses the lead needlessly but harmlessly).
func (ln *lane) passLead() {
	if l := ln.lead.Load(); l != nil && ln.lead.CompareAndSwap(l, nil) {
		go l.p.lead(&leader{p: l.p, events: l.events, next: l.next, n: l.n})
	}
}

// stop ends the lane: at once when its pump is idle, else when the pump
// returns.
func (ln *lane) stop() {
	ln.stopping.Store(true)
	if ln.state.CompareAndSwap(laneIdle, laneEnded) {
		ln.ended(errSessionClosed)
	}
}

// sessionEvents are an evented session's two lanes.
type sessionEvents struct {
	p                *poller
	client, upstream *lane
}

// startEvents moves the session onto the event loop when both of its
// connections are plain TCP sockets; the pumps' ends are sent to errc.
// It reports false when the session must run goroutines of its own.
func (s *session) startEvents(errc chan<- error) bool {
	p := eventLoop()
	if p == nil {
		return false
	}
	clientSock, err := takeSocket(s.client)
	if err != nil {
		return false
	}
	upstreamSock, err := takeSocket(s.upstream)
	if err != nil {
		clientSock.Close()
		return false
	}
	// From here on only the duplicates serve the connections.
	s.client.Close()
	s.upstream.Close()
	clientSock.onBlock, upstreamSock.onBlock = s.yield, s.yield
	s.clientWriteMu.Lock()
	s.clientIO = clientSock
	s.clientWriteMu.Unlock()
	s.upstreamIO = upstreamSock
	s.clientIn.r, s.upstreamIn.r = clientSock, upstreamSock
	ended := func(err error) { errc <- err }
	ev := &sessionEvents{p: p,
		client:   &lane{sock: clientSock, pump: s.pumpClient, ended: ended},
		upstream: &lane{sock: upstreamSock, pump: s.pumpUpstream, ended: ended}}
	s.events.Store(ev)
	if s.closed.Load() {
		// The server closed the session meanwhile, maybe before it
		// could see the lanes.
		s.closeEvents(nil)
	}
	// The upstream's pump first: the client's may wait for answers.
	p.start(ev.upstream, ev.client)
	return true
}

// yield is called before a pump waits: if it runs on the event loop, the
// loop goes on in a new goroutine.
func (s *session) yield() {
	if ev := s.events.Load(); ev != nil {
		ev.client.passLead()
		ev.upstream.passLead()
	}
}

// closeEvents ends the lanes and closes the sockets, telling the server
// first that the session ends (a Terminate, if the socket takes it at
// once). It reports false for a session not on the event loop.
func (s *session) closeEvents(terminate []byte) bool {
	ev := s.events.Load()
	if ev == nil {
		return false
	}
	for _, ln := range []*lane{ev.client, ev.upstream} {
		ev.p.remove(ln)
		ln.stop()
	}
	if len(terminate) > 0 {
		ev.upstream.sock.tryWrite(terminate)
	}
	ev.upstream.sock.Close()
	ev.client.sock.Close()
	return true
}

// errWouldBlock: the socket has nothing to read now.
var errWouldBlock = errors.New("would block")

// eventSocket is a TCP socket served by the event loop, outside Go's
// network poller: non-blocking reads, writes that wait in poll(2) when the
// peer does not read.
type eventSocket struct {
	fd int
	// mu is held shared around every system call on fd and exclusively
	// to close it, so that fd is never used after its number is reused.
	mu        sync.RWMutex
	closed    atomic.Bool
	closeOnce sync.Once
	wmu       sync.Mutex // serialises writes
	onBlock   func()     // called before a write waits
	// drained says the last read emptied the socket: an edge-triggered
	// epoll reports new data, so reading again before the next event
	// would only find nothing. The pump's goroutine alone uses it.
	drained bool
	// hangup says the peer ended its stream or the connection failed:
	// read until that shows, whatever drained says.
	hangup atomic.Bool
}

// takeSocket duplicates a plain TCP connection's descriptor (the caller
// then closes the connection, which takes it out of Go's poller).
func takeSocket(c net.Conn) (*eventSocket, error) {
	tcp, ok := c.(*net.TCPConn)
	if !ok {
		return nil, errors.New("not a plain TCP connection")
	}
	rc, err := tcp.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd, errno := -1, syscall.Errno(0)
	if err := rc.Control(func(f uintptr) {
		r, _, e := syscall.Syscall(syscall.SYS_FCNTL, f, syscall.F_DUPFD_CLOEXEC, 0)
		fd, errno = int(r), e
	}); err != nil {
		return nil, err
	}
	if errno != 0 {
		return nil, os.NewSyscallError("fcntl", errno)
	}
	return &eventSocket{fd: fd}, nil
}

// Read reads what the socket has without waiting; errWouldBlock when it
// has nothing (or, drained, cannot have anything new before an event).
func (e *eventSocket) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if e.drained && !e.hangup.Load() {
		return 0, errWouldBlock
	}
	n, errno := e.rw(recvSocket, p)
	switch {
	case errno == syscall.EAGAIN:
		e.drained = true
		return 0, errWouldBlock
	case errno != 0:
		return 0, errnoError("read", errno)
	case n == 0:
		return 0, io.EOF
	}
	e.drained = n < len(p)
	return n, nil
}

// Write writes all of p, waiting in poll(2) while the socket is full.
func (e *eventSocket) Write(p []byte) (int, error) {
	e.wmu.Lock()
	defer e.wmu.Unlock()
	written := 0
	for written < len(p) {
		n, errno := e.rw(sendSocket, p[written:])
		switch errno {
		case 0:
			written += n
		case syscall.EAGAIN:
			if e.onBlock != nil {
				e.onBlock()
			}
			if errno := e.awaitWritable(); errno != 0 {
				return written, errnoError("poll", errno)
			}
		default:
			return written, errnoError("write", errno)
		}
	}
	return written, nil
}

// tryWrite writes p if the socket takes it at once, else nothing (also
// when another write waits for room: Close is what ends that wait).
func (e *eventSocket) tryWrite(p []byte) {
	if !e.wmu.TryLock() {
		return
	}
	defer e.wmu.Unlock()
	e.rw(sendSocket, p)
}

// errClosedSocket stands for a closed socket among system call errors.
const errClosedSocket = syscall.EBADF

// rw makes one recvSocket or sendSocket call (EINTR retried).
func (e *eventSocket) rw(call func(fd uintptr, p []byte) (int, syscall.Errno), p []byte) (int, syscall.Errno) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed.Load() {
		return 0, errClosedSocket
	}
	for {
		n, errno := call(uintptr(e.fd), p)
		if errno != syscall.EINTR {
			return n, errno
		}
	}
}

// pollFd is struct pollfd.
type pollFd struct {
	fd      int32
	events  int16
	revents int16
}

// awaitWritable waits until the socket has room (or fails, or is closed:
// Close shuts it down, which ends the wait).
func (e *eventSocket) awaitWritable() syscall.Errno {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed.Load() {
		return errClosedSocket
	}
	pfd := pollFd{fd: int32(e.fd), events: syscall.EPOLLOUT}
	_, _, errno := syscall.Syscall(syscall.SYS_POLL, uintptr(unsafe.Pointer(&pfd)), 1, ^uintptr(0))
	if errno == syscall.EINTR {
		errno = 0
	}
	return errno
}

// Close shuts the socket down, waking a write waiting for room, and closes
// it once no system call uses it.
func (e *eventSocket) Close() error {
	e.closeOnce.Do(func() {
		e.mu.RLock()
		e.closed.Store(true)
		syscall.Shutdown(e.fd, syscall.SHUT_RDWR)
		e.mu.RUnlock()
		e.mu.Lock()
		syscall.Close(e.fd)
		e.mu.Unlock()
	})
	return nil
}

// errnoError turns a system call's error into what the pumps expect: a
// closed socket is net.ErrClosed (a disconnect, see isDisconnect).
func errnoError(call string, errno syscall.Errno) error {
	if errno == errClosedSocket {
		return net.ErrClosed
	}
	return os.NewSyscallError(call, errno)
}
