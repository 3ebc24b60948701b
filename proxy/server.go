// Package proxy is softfk's PostgreSQL wire-protocol server: it accepts
// client connections, relays startup and authentication to the upstream
// Postgres, and pumps every message between the two, routing each server
// response to whoever asked for it (the client, or softfk's own checks).
package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/metrics"
	"github.com/softfk/softfk/parser"
	"github.com/softfk/softfk/policy"
	"github.com/softfk/softfk/violationlog"
)

// Server accepts client connections and runs one session per connection.
type Server struct {
	cfg       *config.Config
	log       *zap.Logger
	dialer    *upstreamDialer
	clientTLS *tls.Config // nil: clients are told TLS is unavailable

	parser *parser.Cache
	rules  atomic.Pointer[policy.Policy]
	// catalogMaxAge is how old a database's catalog facts may grow before
	// a session reads them again.
	catalogMaxAge time.Duration

	metrics    *metrics.Metrics // nil: no metrics
	violations violationlog.Log // off unless violation_log is set

	mu       sync.Mutex
	sessions map[*session]struct{}
	closing  bool
	wg       sync.WaitGroup
	ln       net.Listener
}

// defaultCatalogMaxAge bounds how long softfk works from catalog facts that
// changed directly on the server.
const defaultCatalogMaxAge = 30 * time.Second

// New prepares a server for cfg; it does not listen yet.
func New(cfg *config.Config, log *zap.Logger, opts ...Option) (*Server, error) {
	dialer, err := newUpstreamDialer(cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, dialer: dialer, sessions: map[*session]struct{}{}, parser: parser.NewCache(4096),
		catalogMaxAge: defaultCatalogMaxAge}
	for _, o := range opts {
		o(s)
	}
	if err := s.configureViolationLog(cfg); err != nil {
		return nil, err
	}
	s.rules.Store(policy.New(cfg))
	if cfg.TLS != nil {
		cert, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
		if err != nil {
			return nil, err
		}
		s.clientTLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return s, nil
}

// policy returns the relationships in force.
func (s *Server) policy() *policy.Policy { return s.rules.Load() }

// Reload puts cfg's relationships, modes and logging choices (the
// violation log included) in force for every statement from now on; no
// session is dropped. Settings that shape connections (listen, upstream,
// TLS, limits) need a restart and are reported as ignored. When the new
// violation log cannot be opened, nothing changes and the error says why.
func (s *Server) Reload(cfg *config.Config) error {
	old := s.cfg
	if cfg.Listen != old.Listen || cfg.Upstream != old.Upstream || cfg.UpstreamTLS != old.UpstreamTLS ||
		cfg.UpstreamCAFile != old.UpstreamCAFile || (cfg.TLS == nil) != (old.TLS == nil) ||
		cfg.MaxMessageBytes != old.MaxMessageBytes || cfg.MetricsListen != old.MetricsListen || cfg.WatchConfig != old.WatchConfig {
		s.log.Warn("reload ignores changes to listen, upstream, TLS, max_message_bytes, metrics_listen and watch_config; restart to apply them")
	}
	if err := s.configureViolationLog(cfg); err != nil {
		return err
	}
	s.rules.Store(policy.New(cfg))
	s.log.Info("configuration reloaded", zap.Int("relationships", len(cfg.Relationships)), zap.String("mode", string(cfg.Mode)))
	return nil
}

// Listen opens the configured listen address.
func (s *Server) Listen() (net.Listener, error) {
	return net.Listen("tcp", s.cfg.Listen)
}

// Serve accepts connections on ln until Shutdown is called; it then returns
// nil once every session has ended.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	ctx := context.Background()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if s.isClosing() {
				s.wg.Wait()
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		if tcp, ok := conn.(*net.TCPConn); ok {
			tcp.SetNoDelay(true)
			tcp.SetKeepAlive(true)
		}
		sess := newSession(s, conn)
		if !s.track(sess) {
			conn.Close()
			continue
		}
		go sess.run(ctx)
	}
}

// Shutdown stops accepting connections, closes idle sessions, lets sessions
// inside a transaction finish until ctx ends, then closes the rest. It
// returns once every session is gone.
func (s *Server) Shutdown(ctx context.Context) {
	s.mu.Lock()
	s.closing = true
	ln := s.ln
	all := s.snapshotLocked()
	s.mu.Unlock()
	// Sessions learn of the shutdown before the listener closes: once new
	// connections are refused, an idle session is refused too.
	for _, sess := range all {
		sess.startDraining()
	}
	if ln != nil {
		ln.Close()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.mu.Lock()
		rest := s.snapshotLocked()
		s.mu.Unlock()
		s.log.Warn("shutdown grace period over, closing sessions still in a transaction", zap.Int("sessions", len(rest)))
		for _, sess := range rest {
			sess.failSession(codeAdminShutdown, "terminating connection because softfk's shutdown grace period is over")
		}
		<-done
	}
	s.violations.Close()
}

func (s *Server) snapshotLocked() []*session {
	all := make([]*session, 0, len(s.sessions))
	for sess := range s.sessions {
		all = append(all, sess)
	}
	return all
}

// track registers a new session unless the server is shutting down.
func (s *Server) track(sess *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.sessions[sess] = struct{}{}
	s.wg.Add(1)
	return true
}

// forget unregisters an ended session.
func (s *Server) forget(sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sessions[sess]; ok {
		delete(s.sessions, sess)
		s.wg.Done()
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// forwardCancel passes a CancelRequest to the upstream. The request carries
// the backend's own process id and key, which softfk relays unchanged, so
// the upstream finds the right backend itself.
func (s *Server) forwardCancel(packet []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.dialer.forwardCancel(ctx, packet); err != nil {
		s.log.Warn("could not forward cancel request", zap.Error(err))
	}
}
