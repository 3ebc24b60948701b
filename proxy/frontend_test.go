package proxy

import "testing"

func TestMajorVersion(t *testing.T) {
	for v, want := range map[string]int{"15.18 (Debian 15.18-0+deb12u1)": 15, "9.6.24": 9, "14beta1": 14, "13.0": 13, "": 0, "devel": 0} {
		if got := majorVersion(v); got != want {
			t.Errorf("majorVersion(%q) = %d, want %d", v, got, want)
		}
	}
}

// A COPY that started and failed before softfk looked (one into a view)
// counts as started, however the wait learns of it: the end of the
// client's Query waits for the client's end of the data, and comes once.
func TestCopyStartedAndFailed(t *testing.T) {
	begun, ended := make(chan struct{}), make(chan struct{})
	close(begun)
	close(ended)
	for range 200 {
		if started, err := copyStarted(&watch{copyBegun: begun}, ended, nil); !started || err != nil {
			t.Fatalf("copyStarted = %v, %v; want true", started, err)
		}
	}
	if started, err := copyStarted(&watch{copyBegun: make(chan struct{})}, ended, nil); started || err != nil {
		t.Fatalf("a COPY that never started: copyStarted = %v, %v", started, err)
	}
	closed := make(chan struct{})
	close(closed)
	if _, err := copyStarted(&watch{copyBegun: make(chan struct{})}, make(chan struct{}), closed); err != errSessionClosed {
		t.Fatalf("a closed session: %v", err)
	}
}
