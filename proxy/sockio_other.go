//go:build !linux

package proxy

import (
	"io"
	"net"
)

// newSockIO returns the connection itself: the raw socket I/O of
// sockio_linux.go is written for Linux.
func newSockIO(c net.Conn) io.ReadWriter {
	return c
}
