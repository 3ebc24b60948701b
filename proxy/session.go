package proxy

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/softfk/softfk/metrics"
	"github.com/softfk/softfk/policy"
)

// errAuthFailed ends a session whose authentication the server refused (the
// client already has the server's error).
var errAuthFailed = errors.New("authentication refused by upstream")

// errSessionClosed stops work waiting on a session that has ended.
var errSessionClosed = errors.New("session closed")

// session is one client connection and the upstream connection that serves
// it for its whole life: no pooling, so every session property (prepared
// statements, SET, temp tables, locks) behaves as with a direct connection.
type session struct {
	srv       *Server
	client    net.Conn
	clientTLS bool
	upstream  net.Conn
	// clientIO and upstreamIO read and write the two connections (raw
	// socket I/O for plain TCP, see sockio_linux.go; once on the event
	// loop, the sockets it serves, see eventloop_linux.go).
	clientIO   io.ReadWriter
	upstreamIO io.ReadWriter
	// events are the session's lanes on the event loop, nil while it
	// starts and when it runs goroutines of its own.
	events     atomic.Pointer[sessionEvents]
	clientIn   *frameReader
	upstreamIn *frameReader
	router     *router
	handler    *frontend
	log        *zap.Logger

	params          map[string]string // startup parameters (user, database, ...)
	backendPID      uint32
	cancelKey       []byte       // BackendKeyData body: process id and secret
	standardStrings atomic.Bool  // standard_conforming_strings is on
	catalogKeys     atomic.Bool  // server_version is 14 or later (see policy.Env.CatalogKeys)
	mergesViews     atomic.Bool  // server_version is 17 or later (see policy.Env.MergesViews)
	clientEncoding  atomic.Value // client_encoding (a string)
	started         time.Time

	clientWriteMu sync.Mutex // serialises writes to the client
	bytesToClient int64
	bytesUpstream int64

	closeOnce sync.Once
	closed    atomic.Bool
	done      chan struct{} // closed when the session ends
	// The relationships of the session's database, for the policy in
	// force when they were looked up (refreshed after a reload).
	dbPolicy *policy.Policy
	dbRules  *policy.DB
	// txRules are the session's own catalog facts while its open
	// transaction has run DDL on a guarded table (see schemaChanged).
	txRules  atomic.Pointer[policy.DB]
	draining atomic.Bool // the server is shutting down: close when idle
	// terminated says the client sent Terminate: the server's end of the
	// connection that follows is no loss to report.
	terminated atomic.Bool
}

func newSession(srv *Server, conn net.Conn) *session {
	s := &session{
		srv:      srv,
		client:   conn,
		clientIO: newSockIO(conn),
		log:      srv.log,
		started:  time.Now(),
		done:     make(chan struct{}),
	}
	s.router = newRouter(s.noteParameterStatus)
	s.router.onReady = s.noteReady
	s.standardStrings.Store(true)
	s.catalogKeys.Store(true)
	return s
}

// run is the whole life of a session: startup, authentication relayed to
// the upstream, then the message pumps until either side ends.
func (s *session) run(ctx context.Context) {
	defer s.close()
	startup, err := s.readStartup()
	if err != nil {
		if err != errCancelHandled && !isDisconnect(err) {
			s.log.Debug("startup failed", zap.String("client", s.client.RemoteAddr().String()), zap.Error(err))
		}
		return
	}
	s.params = startup.params
	s.log = s.log.With(
		zap.String("client", s.client.RemoteAddr().String()),
		zap.String("user", s.params["user"]),
		zap.String("database", s.database()),
		zap.String("application_name", s.params["application_name"]),
	)
	s.clientIn = newFrameReader(s.clientIO, s.srv.cfg.MaxMessageBytes)
	if err := s.connectUpstream(ctx); err != nil {
		s.srv.metrics.Upstream(metrics.UpstreamConnect)
		s.log.Warn("cannot reach upstream", zap.Error(err))
		s.writeClient(appendError(nil, fatalError(codeCannotConnect,
			"softfk could not connect to the upstream database: "+err.Error(),
			"Check that PostgreSQL is running at "+s.srv.cfg.Upstream+" and that softfk's upstream setting is right.")))
		return
	}
	if err := s.relayAuthentication(startup); err != nil {
		if err != errAuthFailed && !isDisconnect(err) {
			s.log.Info("authentication did not complete", zap.Error(err))
		}
		return
	}
	s.log.Info("session started", zap.Uint32("backend_pid", s.backendPID))
	s.srv.metrics.SessionStarted()
	err = s.serve()
	s.srv.metrics.SessionEnded()
	// A shutdown may still write to the client from another goroutine.
	s.clientWriteMu.Lock()
	toClient := s.bytesToClient
	s.clientWriteMu.Unlock()
	s.log.Info("session ended",
		zap.Duration("duration", time.Since(s.started)),
		zap.Int64("bytes_from_client", s.clientIn.bytesRead),
		zap.Int64("bytes_to_client", toClient),
		zap.Int64("bytes_from_upstream", s.upstreamIn.bytesRead),
		zap.Int64("bytes_to_upstream", s.bytesUpstream),
		zap.NamedError("reason", quietError(err)),
	)
}

// rules returns the relationships of the session's database under the
// policy in force now (a reload swaps it for new statements).
func (s *session) rules() *policy.DB {
	if p := s.srv.policy(); p != s.dbPolicy {
		s.dbPolicy, s.dbRules = p, p.Database(s.database())
		if s.txRules.Load() != nil {
			// Still inside the transaction: the reload's relationships,
			// with facts of the session's own.
			s.txRules.Store(s.dbRules.Private())
		}
	}
	if db := s.txRules.Load(); db != nil {
		return db
	}
	return s.dbRules
}

// schemaChanged is the ReadyForQuery hook of DDL on a guarded table, told
// the transaction status: every session reads the catalog again. Inside a
// transaction block the DDL is the session's alone until it commits, so
// the session plans with facts of its own (read on its connection, they
// see the DDL) until the transaction ends, and other sessions keep the
// committed schema's, as a real FOREIGN KEY's checks in their
// transactions do.
func (s *session) schemaChanged(status byte) {
	db := s.rules()
	db.Invalidate()
	if status != 'I' && s.txRules.Load() == nil {
		s.txRules.Store(db.Private())
	}
}

// noteReady ends the session's own catalog facts with its transaction:
// committed, its DDL is everyone's; rolled back, it is no one's. Inside
// the transaction they are read again after each statement, which may
// have rolled back to a savepoint before the DDL.
func (s *session) noteReady(status byte) {
	switch db := s.txRules.Load(); {
	case db == nil:
	case status == 'I':
		s.txRules.Store(nil)
		s.rules().Invalidate()
	default:
		db.Invalidate()
	}
}

// database is the session's database name (defaults to the user name, as in
// Postgres).
func (s *session) database() string {
	if db := s.params["database"]; db != "" {
		return db
	}
	return s.params["user"]
}

// connectUpstream dials the real Postgres for this session.
func (s *session) connectUpstream(ctx context.Context) error {
	conn, err := s.srv.dialer.dial(ctx)
	if err != nil {
		return err
	}
	s.upstream = conn
	s.upstreamIO = newSockIO(conn)
	// Server messages are not limited by max_message_bytes (it protects
	// softfk from clients); the protocol's own 1 GB ceiling applies.
	s.upstreamIn = newFrameReader(s.upstreamIO, 1<<30)
	return nil
}

// serve runs the two pumps until one side closes or fails: on the event
// loop when it can (eventloop_linux.go), else each in a goroutine.
func (s *session) serve() error {
	if isReplication(s.params) {
		return s.relayRaw()
	}
	s.handler = newFrontend(s)
	defer s.handler.release()
	errc := make(chan error, 2)
	if !s.startEvents(errc) {
		go func() { errc <- s.pumpUpstream() }()
		go func() { errc <- s.pumpClient() }()
	}
	err := <-errc
	s.close()
	<-errc
	if err == errTerminated {
		return nil
	}
	return err
}

// errTerminated ends the client's pump when the client says Terminate.
var errTerminated = errors.New("client terminated the session")

// yieldAbove is the size of a client message past which handling it may
// take long enough that the event loop goes on without waiting for it.
const yieldAbove = 32 << 10

// pumpClient reads client messages, lets the frontend handler decide what
// to send upstream, and flushes when the client has nothing more buffered.
// On the event loop it returns errWouldBlock when the socket has nothing
// more for now.
func (s *session) pumpClient() error {
	for {
		typ, body, err := s.clientIn.next()
		if err == errWouldBlock {
			return err
		}
		if err != nil {
			return s.clientReadFailed(err)
		}
		if s.draining.Load() && s.drainIfIdle() {
			return errDraining
		}
		if len(body) > yieldAbove {
			s.yield()
		}
		if typ == 'X' {
			s.terminated.Store(true)
		}
		if err := s.handler.handle(typ, body); err != nil {
			return err
		}
		if !s.clientIn.buffered() {
			if err := s.handler.flush(); err != nil {
				return err
			}
		}
		if typ == 'X' {
			return errTerminated
		}
	}
}

// pumpUpstream reads server messages, routes them, and flushes to the client
// when the server has nothing more buffered. On the event loop it returns
// errWouldBlock when the socket has nothing more for now.
func (s *session) pumpUpstream() error {
	for {
		typ, body, err := s.upstreamIn.next()
		if err == errWouldBlock {
			return err
		}
		if err != nil {
			return s.upstreamReadFailed(err)
		}
		s.router.route(typ, body)
		if !s.upstreamIn.buffered() || len(s.router.out) >= writeFlushThreshold {
			if err := s.flushClient(); err != nil {
				return err
			}
			if typ == 'Z' && s.draining.Load() && s.drainIfIdle() {
				return errDraining
			}
		}
	}
}

// writeFlushThreshold bounds how much output is gathered before writing.
const writeFlushThreshold = 64 << 10

// flushClient writes the router's pending output to the client.
func (s *session) flushClient() error {
	if len(s.router.out) == 0 {
		return nil
	}
	err := s.writeClient(s.router.out)
	if cap(s.router.out) > writeFlushThreshold {
		s.router.out = nil
	} else {
		s.router.out = s.router.out[:0]
	}
	return err
}

// writeClient writes bytes to the client.
func (s *session) writeClient(b []byte) error {
	if !s.clientWriteMu.TryLock() {
		s.yield()
		s.clientWriteMu.Lock()
	}
	defer s.clientWriteMu.Unlock()
	n, err := s.clientIO.Write(b)
	s.bytesToClient += int64(n)
	s.srv.metrics.BytesToClient(n)
	return err
}

// writeUpstream writes bytes to the upstream.
func (s *session) writeUpstream(b []byte) error {
	n, err := s.upstreamIO.Write(b)
	s.bytesUpstream += int64(n)
	s.srv.metrics.BytesToUpstream(n)
	return err
}

// clientReadFailed turns a client read error into the session's end: a
// vanished client just ends it (the upstream connection is closed, so
// Postgres rolls back any open transaction); a bad message gets an error.
func (s *session) clientReadFailed(err error) error {
	var tooLong *errMessageTooLong
	var malformed *errMalformedLength
	switch {
	case errors.As(err, &tooLong):
		return s.failSession(codeProtocolViolation, "softfk: "+tooLong.Error())
	case errors.As(err, &malformed):
		return s.failSession(codeProtocolViolation, "softfk: invalid frontend message: "+malformed.Error())
	}
	if !s.router.idle() {
		// The client left with a statement running: cancel it, so the
		// backend does not work on for nobody before noticing.
		s.cancelBackend()
	}
	return fmt.Errorf("client: %w", err)
}

// upstreamReadFailed tells the client the server connection is gone.
func (s *session) upstreamReadFailed(err error) error {
	s.flushClient()
	if s.closed.Load() || s.router.fatal || s.terminated.Load() {
		// We closed it, the server said why it was closing, or the
		// client asked it to (its Terminate may reach the server before
		// the client's pump has ended the session).
		s.close()
		return err
	}
	s.srv.metrics.Upstream(metrics.UpstreamLost)
	s.failSession(codeConnectionFailure, "softfk: lost connection to the upstream database: "+err.Error())
	return fmt.Errorf("upstream: %w", err)
}

// cancelBackend asks the upstream to cancel this session's running
// statement, as a client's own CancelRequest would.
func (s *session) cancelBackend() {
	if len(s.cancelKey) < 8 {
		return
	}
	s.yield() // it connects to the server
	packet := make([]byte, 8, 8+len(s.cancelKey))
	binary.BigEndian.PutUint32(packet, uint32(8+len(s.cancelKey)))
	binary.BigEndian.PutUint32(packet[4:], codeCancelRequest)
	s.srv.forwardCancel(append(packet, s.cancelKey...))
}

// failSession sends a FATAL error to the client, then ends the session.
func (s *session) failSession(code, msg string) error {
	s.log.Warn("closing session", zap.String("sqlstate", code), zap.String("error", msg))
	s.writeClient(appendError(nil, fatalError(code, msg, "")))
	s.close()
	return errors.New(msg)
}

// close ends both connections once; Postgres rolls back whatever the session
// left open when its connection goes.
func (s *session) close() {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.done)
		// A polite Terminate lets the backend exit without logging an
		// unexpected EOF.
		terminate := []byte{'X', 0, 0, 0, 4}
		if !s.closeEvents(terminate) {
			if s.upstream != nil {
				s.upstream.SetWriteDeadline(time.Now().Add(time.Second))
				s.upstream.Write(terminate)
				s.upstream.Close()
			}
			s.client.Close()
		}
		s.srv.forget(s)
	})
}

// errDraining ends a session closed by the server's shutdown.
var errDraining = errors.New("server shutting down")

// drainIfIdle closes the session when the server is shutting down and the
// session has no transaction open and nothing in flight.
func (s *session) drainIfIdle() bool {
	if !s.draining.Load() || !s.router.idle() || s.router.status() != 'I' {
		return false
	}
	s.writeClient(appendError(nil, fatalError(codeAdminShutdown,
		"terminating connection because softfk is shutting down", "Reconnect to continue.")))
	s.close()
	return true
}

// startDraining marks the session for closing at its next idle moment and
// closes it now if it is idle already.
func (s *session) startDraining() {
	s.draining.Store(true)
	s.drainIfIdle()
}

// relayRaw copies bytes both ways, for replication connections whose
// CopyBoth stream softfk does not interpret.
func (s *session) relayRaw() error {
	errc := make(chan error, 2)
	go func() {
		n, err := io.Copy(s.upstream, io.MultiReader(s.clientIn.remaining(), s.client))
		s.srv.metrics.BytesToUpstream(int(n))
		errc <- err
	}()
	go func() {
		n, err := io.Copy(s.client, io.MultiReader(s.upstreamIn.remaining(), s.upstream))
		s.srv.metrics.BytesToClient(int(n))
		errc <- err
	}()
	err := <-errc
	s.close()
	<-errc
	return err
}

// isReplication reports whether the startup asked for a replication
// connection.
func isReplication(params map[string]string) bool {
	switch strings.ToLower(params["replication"]) {
	case "", "false", "off", "no", "0":
		return false
	}
	return true
}

// isDisconnect reports errors that just mean the peer went away.
func isDisconnect(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

// quietError hides the ordinary end of a session (a Terminate or a closed
// connection) from the log.
func quietError(err error) error {
	if err == nil || isDisconnect(err) {
		return nil
	}
	return err
}
