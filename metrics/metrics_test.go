package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/softfk/softfk/metrics/metricstest"
)

func TestNilRecordsNothing(t *testing.T) {
	var m *Metrics
	m.SessionStarted()
	m.SessionEnded()
	m.StatementChecked()
	m.CheckAnswered(time.Millisecond)
	m.CountCheck("r", OutcomeOK)
	m.Violation("r", "shadow")
	m.Upstream(UpstreamLost)
	m.BytesToClient(10)
	m.BytesToUpstream(10)
	m.Reloaded(true)
}

func TestHandlerServesMetricsAndHealth(t *testing.T) {
	m := New()
	m.Violation("orders_user_id_fkey", "shadow")
	m.BytesToClient(42)
	var down atomic.Bool
	srv := httptest.NewServer(m.Handler(func(context.Context) error {
		if down.Load() {
			return errors.New("connection refused")
		}
		return nil
	}))
	defer srv.Close()

	s, err := metricstest.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if v := s.Value("softfk_violations_total", "relationship", "orders_user_id_fkey", "mode", "shadow"); v != 1 {
		t.Errorf("softfk_violations_total = %v, want 1", v)
	}
	if v := s.Value("softfk_bytes_relayed_total", "direction", "to_client"); v != 42 {
		t.Errorf("bytes to clients = %v, want 42", v)
	}
	if s["softfk_sessions_open"] == nil || s["go_goroutines"] == nil {
		t.Errorf("families missing: %v", s)
	}
	if code, body, err := metricstest.Health(srv.URL + "/healthz"); err != nil || code != http.StatusOK || body != "ok\n" {
		t.Fatalf("/healthz with the upstream up: %d %q %v", code, body, err)
	}
	down.Store(true)
	if code, body, err := metricstest.Health(srv.URL + "/healthz"); err != nil || code != http.StatusServiceUnavailable || !strings.Contains(body, "connection refused") {
		t.Fatalf("/healthz with the upstream down: %d %q %v", code, body, err)
	}
}
