package filewatch

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// wait returns whether a change arrives within d.
func wait(w *Watcher, d time.Duration) bool {
	select {
	case <-w.Changes():
		return true
	case <-time.After(d):
		return false
	}
}

func TestWriteAndReplaceAreReportedOnceEach(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "softfk.yaml")
	if err := os.WriteFile(path, []byte("mode: enforce\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := Watch(path, 200*time.Millisecond, func(err error) { t.Errorf("watch error: %v", err) })
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	// A burst of writes is one change.
	for i := 0; i < 5; i++ {
		if err := os.WriteFile(path, []byte("mode: shadow\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !wait(w, 10*time.Second) {
		t.Fatal("a write was not reported")
	}
	if wait(w, time.Second) {
		t.Fatal("one burst of writes was reported twice")
	}

	// An editor's save: a new file renamed over the old one.
	tmp := filepath.Join(dir, ".softfk.yaml.swp")
	if err := os.WriteFile(tmp, []byte("mode: enforce\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if !wait(w, 10*time.Second) {
		t.Fatal("replacing the file was not reported")
	}

	// Other files in the directory do not count.
	if err := os.WriteFile(filepath.Join(dir, "other.yaml"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if wait(w, time.Second) {
		t.Fatal("a change of another file was reported")
	}
}

func TestWatchOfMissingDirectoryFails(t *testing.T) {
	if _, err := Watch(filepath.Join(t.TempDir(), "nope", "softfk.yaml"), time.Millisecond, func(error) {}); err == nil {
		t.Fatal("watching a file in a missing directory succeeded")
	}
}
