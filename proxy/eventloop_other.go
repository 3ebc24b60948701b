//go:build !linux

package proxy

import "errors"

// sessionEvents is empty where there is no event loop (eventloop_linux.go):
// every session runs goroutines of its own.
type sessionEvents struct{}

// startEvents reports that the session must run goroutines of its own.
func (s *session) startEvents(chan<- error) bool { return false }

// yield has no event loop to hand on.
func (s *session) yield() {}

// closeEvents reports that the session is not on an event loop.
func (s *session) closeEvents([]byte) bool { return false }

// errWouldBlock is never returned without the event loop.
var errWouldBlock = errors.New("would block")
