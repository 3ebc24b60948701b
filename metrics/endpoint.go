package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HealthTimeout bounds how long /healthz waits for the upstream.
const HealthTimeout = 2 * time.Second

// HealthCheck reports whether the upstream accepts connections.
type HealthCheck func(ctx context.Context) error

// Handler serves /metrics (m's registry in Prometheus's format) and
// /healthz: 200 "ok" when health succeeds within HealthTimeout, otherwise
// 503 with the error.
func (m *Metrics) Handler(health HealthCheck) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), HealthTimeout)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := health(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "upstream unreachable: %v\n", err)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// Endpoint is a running HTTP server of Handler.
type Endpoint struct {
	srv *http.Server
	ln  net.Listener
}

// Listen starts serving Handler(health) on addr (host:port; port 0 picks a
// free one).
func (m *Metrics) Listen(addr string, health HealthCheck) (*Endpoint, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	e := &Endpoint{srv: &http.Server{Handler: m.Handler(health), ReadHeaderTimeout: 10 * time.Second}, ln: ln}
	go e.srv.Serve(ln)
	return e, nil
}

// Addr is the address the endpoint listens on.
func (e *Endpoint) Addr() string { return e.ln.Addr().String() }

// Close stops the endpoint, letting requests in progress finish until ctx
// ends.
func (e *Endpoint) Close(ctx context.Context) error {
	if err := e.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
