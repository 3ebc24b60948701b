package violationlog

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// readEvents decodes every line of a log file, failing on a line that is
// not one JSON event.
func readEvents(t *testing.T, path string) []Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var events []Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s: line %q is not a JSON event: %v", path, sc.Text(), err)
		}
		events = append(events, e)
	}
	return events
}

// event is a violation event; events of keys with the same number of
// digits encode to lines of the same length.
func event(i int) *Event {
	return &Event{Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Event: KindViolation, Relationship: "orders_user_id_fkey", Table: "public.orders",
		Key: fmt.Sprintf("(user_id)=(%d)", i), Statement: "a1b2c3", Mode: "shadow", Database: "app", User: "u", Client: "127.0.0.1:5"}
}

func TestOffUntilConfigured(t *testing.T) {
	var l Log
	if err := l.Write(event(1)); err != nil {
		t.Fatalf("a log without a file: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRotationKeepsNFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "violations.jsonl")
	line, _ := json.Marshal(event(100))
	limit := int64(len(line)+1) * 10 // about ten events per file
	var l Log
	if err := l.Configure(path, limit, 2); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const total = 100
	for i := 100; i < 100+total; i++ { // keys of equal width: lines of equal size
		if err := l.Write(event(i)); err != nil {
			t.Fatal(err)
		}
	}
	var kept []Event
	for _, name := range []string{path + ".2", path + ".1", path} {
		info, err := os.Stat(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if info.Size() > limit {
			t.Errorf("%s has %d bytes, over the limit of %d", name, info.Size(), limit)
		}
		kept = append(kept, readEvents(t, name)...)
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Fatalf("a third old file exists with keep 2: %v", err)
	}
	// The files hold the newest events, oldest first, none missing.
	if len(kept) != 30 {
		t.Fatalf("%d events kept, want 30 (three full files)", len(kept))
	}
	for i, e := range kept {
		if want := fmt.Sprintf("(user_id)=(%d)", 100+total-30+i); e.Key != want {
			t.Fatalf("event %d has key %s, want %s", i, e.Key, want)
		}
	}
}

func TestKeepZeroStartsOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.jsonl")
	var l Log
	if err := l.Configure(path, 1024, 0); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := 0; i < 50; i++ {
		l.Write(event(i))
	}
	matches, _ := filepath.Glob(path + "*")
	if len(matches) != 1 {
		t.Fatalf("files %v, want only %s", matches, path)
	}
	if events := readEvents(t, path); len(events) == 0 || events[len(events)-1].Key != "(user_id)=(49)" {
		t.Fatalf("the current file does not end with the last event: %v", events)
	}
}

func TestConcurrentWritersAndReconfigure(t *testing.T) {
	dir := t.TempDir()
	first, second := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	var l Log
	if err := l.Configure(first, 1<<20, 1); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if err := l.Write(event(i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := l.Configure(second, 1<<20, 1); err != nil {
		t.Fatal(err)
	}
	l.Write(event(7))
	l.Close()
	if n := len(readEvents(t, first)); n != 1600 {
		t.Fatalf("%d events in %s, want 1600", n, first)
	}
	if n := len(readEvents(t, second)); n != 1 {
		t.Fatalf("%d events in %s after the switch, want 1", n, second)
	}
}

func TestConfigureFailureChangesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "v.jsonl")
	var l Log
	if err := l.Configure(path, 1<<20, 1); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	err := l.Configure(filepath.Join(dir, "missing", "v.jsonl"), 1<<20, 1)
	if err == nil || !strings.Contains(err.Error(), "violation log") {
		t.Fatalf("opening in a missing directory: %v", err)
	}
	l.Write(event(1))
	if n := len(readEvents(t, path)); n != 1 {
		t.Fatalf("after a failed Configure the old file got %d events, want 1", n)
	}
}
