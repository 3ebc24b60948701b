package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestWatchConfigNeedsAFile(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"serve", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:5432", "--watch-config"}, &out, &errOut)
	if code != exitUsage || !strings.Contains(errOut.String(), "--watch-config: there is no configuration file to watch") {
		t.Fatalf("exit %d: %q", code, errOut.String())
	}
}
