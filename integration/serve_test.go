package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/metrics/metricstest"
	"github.com/softfk/softfk/pgcluster"
)

// softfkProcess is `softfk serve` running as its own process, as operators
// run it.
type softfkProcess struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs []map[string]any // its JSON log lines
	exit chan error
}

// startSoftfk builds the binary and runs `softfk serve` with args; it is
// killed when the test ends if still running.
func startSoftfk(t *testing.T, args ...string) *softfkProcess {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "softfk")
	build := exec.Command("go", "build", "-o", bin, "./cmd/softfk")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	p := &softfkProcess{cmd: exec.Command(bin, append([]string{"serve"}, args...)...), exit: make(chan error, 1)}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				line = map[string]any{"msg": sc.Text()}
			}
			p.mu.Lock()
			p.logs = append(p.logs, line)
			p.mu.Unlock()
		}
		p.exit <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
		}
	})
	return p
}

// field waits for the first log line with message msg and returns its
// field key.
func (p *softfkProcess) field(t *testing.T, msg, key string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		for _, l := range p.logs {
			if l["msg"] == msg {
				p.mu.Unlock()
				return fmt.Sprint(l[key])
			}
		}
		p.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("softfk never logged %q; its log: %v", msg, p.logs)
	return ""
}

// writeConfig replaces the file as editors do (a new file renamed over
// it) or rewrites it in place.
func writeConfig(t *testing.T, path, content string, replace bool) {
	t.Helper()
	target := path
	if replace {
		target = path + ".tmp"
	}
	if err := os.WriteFile(target, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if replace {
		if err := os.Rename(target, path); err != nil {
			t.Fatal(err)
		}
	}
}

func TestServeWatchesConfigAndServesMetrics(t *testing.T) {
	db := newDatabase(t)
	createOpsSchema(t, db)
	path := filepath.Join(t.TempDir(), "softfk.yaml")
	settings := fmt.Sprintf("listen: 127.0.0.1:0\nupstream: %s\nmetrics_listen: 127.0.0.1:0\nlog_format: json\n", cluster.Addr())
	writeConfig(t, path, settings+relationshipIn(config.Enforce), false)
	p := startSoftfk(t, "--config", path, "--watch-config")
	addr := p.field(t, "softfk listening", "listen")
	url := "http://" + p.field(t, "metrics listening", "metrics_listen")
	// reloaded waits for another reload with result (ok or rejected).
	counted := map[string]float64{}
	reloaded := func(result string) {
		t.Helper()
		s := scrapeUntil(t, url, func(s metricstest.Scrape) bool {
			return s.Value("softfk_config_reloads_total", "result", result) > counted[result]
		})
		counted[result] = s.Value("softfk_config_reloads_total", "result", result)
	}

	load := startInsertLoad(t, pgcluster.DSN(addr, cluster.User, cluster.Password, db), 8)
	mode := config.Enforce
	for i := 0; i < 20; i++ {
		mode = map[config.Mode]config.Mode{config.Enforce: config.Shadow, config.Shadow: config.Enforce}[mode]
		writeConfig(t, path, settings+relationshipIn(mode), i%2 == 0)
		reloaded("ok")
		load.waitProgress(t)
	}
	if mode != config.Enforce {
		t.Fatal("the test must end in enforce mode")
	}
	// An invalid file is rejected and the configuration in force stays.
	writeConfig(t, path, settings+relationshipIn("loud"), true)
	reloaded("rejected")
	load.waitProgress(t)
	// SIGHUP takes the same path.
	writeConfig(t, path, settings+relationshipIn(config.Enforce), false)
	reloaded("ok")
	p.cmd.Process.Signal(syscall.SIGHUP)
	reloaded("ok")
	load.waitProgress(t)
	load.finish(t)

	conn := connect(t, pgcluster.DSN(addr, cluster.User, cluster.Password, db))
	if _, err := conn.Exec(t.Context(), "INSERT INTO orders VALUES (1, 42)"); !violates(err) {
		t.Fatalf("after the last reload (enforce), an orphan insert: %v", err)
	}
	s := scrapeUntil(t, url, func(s metricstest.Scrape) bool { return s.Value("softfk_sessions_total") >= 9 })
	if v := s.Value("softfk_violations_total", "relationship", "orders_user_id_fkey", "mode", "enforce"); v != 1 {
		t.Errorf("softfk_violations_total for the orphan insert = %v, want 1", v)
	}
	if code, body := health(t, url); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}

	conn.Close(t.Context())
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exit:
		if err != nil {
			t.Fatalf("softfk serve exited with %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("softfk serve did not stop on SIGTERM")
	}
}
