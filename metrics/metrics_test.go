package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
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

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
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

	code, body := get(t, srv.URL+"/metrics")
	for _, want := range []string{
		`softfk_violations_total{mode="shadow",relationship="orders_user_id_fkey"} 1`,
		`softfk_bytes_relayed_total{direction="to_client"} 42`,
		"softfk_sessions_open 0",
		"go_goroutines",
	} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("/metrics (%d) lacks %q:\n%s", code, want, body)
		}
	}
	if code, body := get(t, srv.URL+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("/healthz with the upstream up: %d %q", code, body)
	}
	down.Store(true)
	if code, body := get(t, srv.URL+"/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "connection refused") {
		t.Fatalf("/healthz with the upstream down: %d %q", code, body)
	}
}
