// Package violationlog appends softfk's violation events to a file, one JSON
// object per line, and rotates the file by size: when the next event would
// make it larger than the limit, PATH becomes PATH.1 (PATH.1 becomes
// PATH.2, and so on, up to the number of files kept) and a new PATH starts.
package violationlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// The kinds of events.
const (
	KindViolation    = "violation"    // a write that violates a relationship, or an action shadow mode would apply
	KindUnverifiable = "unverifiable" // a write softfk could not check
)

// Event is one line of the log. Fields that do not apply to an event are
// left out.
type Event struct {
	Time            time.Time `json:"time"`
	Event           string    `json:"event"` // KindViolation or KindUnverifiable
	Relationship    string    `json:"relationship,omitempty"`
	Table           string    `json:"table,omitempty"`
	Key             string    `json:"key,omitempty"`
	Statement       string    `json:"statement"` // pg_query fingerprint
	Mode            string    `json:"mode,omitempty"`
	Action          string    `json:"action,omitempty"`
	Reason          string    `json:"reason,omitempty"`
	Rejected        *bool     `json:"rejected,omitempty"` // unverifiable writes: refused or let through
	Database        string    `json:"database"`
	User            string    `json:"user"`
	ApplicationName string    `json:"application_name"`
	Client          string    `json:"client"`
}

// Log is a rotating JSON-lines file, safe for concurrent use. The zero Log
// writes nowhere until Configure gives it a file.
type Log struct {
	mu       sync.Mutex
	path     string
	maxBytes int64
	keep     int
	file     *os.File
	size     int64
}

// Configure makes the log write to path, rotating it at maxBytes and
// keeping keep older files; an empty path turns the log off. A file
// already open at the same path stays open. On error nothing changes.
func (l *Log) Configure(path string, maxBytes int64, keep int) error {
	if path != "" && maxBytes <= 0 {
		return fmt.Errorf("violation log %s: the size limit must be positive", path)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if path != l.path {
		var file *os.File
		var size int64
		if path != "" {
			var err error
			if file, size, err = open(path); err != nil {
				return err
			}
		}
		if l.file != nil {
			l.file.Close()
		}
		l.path, l.file, l.size = path, file, size
	}
	l.maxBytes, l.keep = maxBytes, keep
	return nil
}

// open opens path for appending and returns its current size.
func open(path string) (*os.File, int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, 0, fmt.Errorf("violation log: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("violation log: %w", err)
	}
	return f, info.Size(), nil
}

// Write appends e as one line, rotating first when the line would take
// the file over its limit. It does nothing when the log is off.
func (l *Log) Write(e *Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file == nil {
		return nil
	}
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	if l.size > 0 && l.size+int64(len(line)) > l.maxBytes {
		if err := l.rotate(); err != nil {
			return err
		}
	}
	n, err := l.file.Write(line)
	l.size += int64(n)
	return err
}

// rotate shifts PATH.i to PATH.i+1 for the files kept, PATH to PATH.1, and
// opens a new PATH. With nothing kept the old file is removed.
func (l *Log) rotate() error {
	if err := l.file.Close(); err != nil {
		return fmt.Errorf("violation log: %w", err)
	}
	l.file = nil
	var err error
	if l.keep == 0 {
		err = os.Remove(l.path)
	}
	for i := l.keep; i >= 1 && err == nil; i-- {
		from := l.path
		if i > 1 {
			from += "." + strconv.Itoa(i-1)
		}
		if err = os.Rename(from, l.path+"."+strconv.Itoa(i)); errors.Is(err, os.ErrNotExist) {
			err = nil
		}
	}
	if err != nil {
		// Keep writing to the current file rather than losing events.
		l.file, l.size, _ = open(l.path)
		return fmt.Errorf("violation log: rotating: %w", err)
	}
	l.file, l.size, err = open(l.path)
	return err
}

// Close closes the file; the log is then off.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file == nil {
		return nil
	}
	err := l.file.Close()
	l.path, l.file, l.size = "", nil, 0
	return err
}
