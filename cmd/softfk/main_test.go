package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestUnknownCommandAndHelp(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"frobnicate"}, &out, &errOut); code != exitUsage || !strings.Contains(errOut.String(), "unknown command") {
		t.Fatalf("unknown command: exit %d, %q", code, errOut.String())
	}
	out.Reset()
	if code := run([]string{"help"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "check-config") {
		t.Fatalf("help: exit %d, %q", code, out.String())
	}
}

func TestCheckConfigExitStatus(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("relationships:\n  - table: orders\n    columns: [user_id]\n    references: {table: users, columns: [id]}\n"), 0o644)
	os.WriteFile(bad, []byte("relationships:\n  - table: orders\n    columns: [user_id]\n    references: {table: users, columns: [id, x]}\n"), 0o644)
	var out, errOut bytes.Buffer
	if code := run([]string{"check-config", "--config", good}, &out, &errOut); code != 0 {
		t.Fatalf("good config: exit %d: %s", code, errOut.String())
	}
	errOut.Reset()
	code := run([]string{"check-config", "--config", bad}, &out, &errOut)
	if code != exitUsage || !strings.Contains(errOut.String(), "bad.yaml:3: relationships[0].columns: has 1 column(s) but references.columns has 2") {
		t.Fatalf("bad config: exit %d: %s", code, errOut.String())
	}
}

func TestServeNeedsConfigOrBothAddresses(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"serve", "--listen", "127.0.0.1:0"}, &out, &errOut); code != exitUsage {
		t.Fatalf("exit %d, want %d", code, exitUsage)
	}
	if !strings.Contains(errOut.String(), "--upstream") {
		t.Fatalf("message does not say what is missing: %q", errOut.String())
	}
}

func TestDemoStartsAndCleansUp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Postgres server")
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() { done <- demo(ctx, "127.0.0.1:0", &out, &errOut) }()
	var port string
	deadline := time.Now().Add(time.Minute)
	for port == "" {
		if time.Now().After(deadline) {
			t.Fatalf("demo did not start:\n%s\n%s", out.String(), errOut.String())
		}
		if m := regexp.MustCompile(`-h 127\.0\.0\.1 -p (\d+) -U postgres`).FindStringSubmatch(out.String()); m != nil {
			port = m[1]
		}
		time.Sleep(50 * time.Millisecond)
	}
	conn, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:"+port+"/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	var orders int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM orders").Scan(&orders); err != nil || orders != 3 {
		t.Fatalf("example data: %d orders, %v", orders, err)
	}
	conn.Close(ctx)
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("demo exit %d: %s", code, errOut.String())
	}
	m := regexp.MustCompile(`removed (\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("demo did not report its cleanup:\n%s", out.String())
	}
	if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
		t.Fatalf("demo left %s behind", m[1])
	}
}
