// Package filewatch tells when one file changes. It watches the file's
// directory rather than the file, because editors and deployment tools
// often replace a file (write a new one, rename it over the old) instead of
// writing to it, and a watch on the old file would see nothing more. Bursts
// of events (an editor's write, chmod and rename) are debounced into one
// notification.
package filewatch

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watcher reports changes of one file on Changes.
type Watcher struct {
	changes chan struct{}
	fs      *fsnotify.Watcher
	done    chan struct{}
}

// Watch starts watching path. A change is reported once the file has been
// quiet for debounce; onError learns of errors of the watch itself.
func Watch(path string, debounce time.Duration, onError func(error)) (*Watcher, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	fs, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", path, err)
	}
	if err := fs.Add(filepath.Dir(abs)); err != nil {
		fs.Close()
		return nil, fmt.Errorf("watching %s: %w", path, err)
	}
	w := &Watcher{changes: make(chan struct{}, 1), fs: fs, done: make(chan struct{})}
	go w.loop(abs, debounce, onError)
	return w, nil
}

// Changes receives a value after each (debounced) change of the file.
// Changes that come while one is still unread are merged into it.
func (w *Watcher) Changes() <-chan struct{} { return w.changes }

// loop turns the directory's events about the file into notifications.
func (w *Watcher) loop(path string, debounce time.Duration, onError func(error)) {
	defer close(w.done)
	timer := time.NewTimer(debounce)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			if filepath.Clean(ev.Name) == path && ev.Has(fsnotify.Write|fsnotify.Create|fsnotify.Rename) {
				timer.Reset(debounce)
			}
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			onError(err)
		case <-timer.C:
			select {
			case w.changes <- struct{}{}:
			default: // one is pending already
			}
		}
	}
}

// Close stops watching.
func (w *Watcher) Close() error {
	err := w.fs.Close()
	<-w.done
	return err
}
