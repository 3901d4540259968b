package telegram

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/gotd/td/session"
)

// FileSession stores the MTProto session (the account's auth key) in one
// file. gotd's own file storage writes in place, so a crash mid-write
// leaves a truncated key and the account must log in again; this one
// writes a temporary file beside it, syncs it and renames it over the old
// one, so the file is always either the old or the new session. The file
// is mode 0600 and its contents are never logged.
type FileSession struct {
	Path string
	mu   sync.Mutex
}

// ErrNoSession is returned by LoadSession when no session file exists yet.
var ErrNoSession = session.ErrNotFound

// LoadSession reads the session file; it implements session.Storage.
//
// Like StoreSession it ignores ctx: gotd loads the stored data before it
// saves a new key, from its connection goroutine, and when a short run
// has just ended that load sees a cancelled context. Failing it would
// drop the save, and with it the login.
func (f *FileSession) LoadSession(_ context.Context) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	data, err := os.ReadFile(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("telegram: read session file: %w", err)
	}
	return data, nil
}

// StoreSession replaces the session file atomically; it implements
// session.Storage.
//
// It ignores ctx on purpose: gotd saves a new key just as a short run
// may be ending, and an interrupted save would lose the login.
func (f *FileSession) StoreSession(_ context.Context, data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	dir := filepath.Dir(f.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("telegram: session directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.Path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("telegram: write session: %w", err)
	}
	done := false
	defer func() {
		if !done {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	// CreateTemp already uses 0600; Chmod states it rather than relying on it.
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("telegram: write session: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("telegram: write session: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("telegram: sync session: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("telegram: write session: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.Path); err != nil {
		return fmt.Errorf("telegram: replace session file: %w", err)
	}
	done = true
	// The rename is durable only once the directory entry is on disk.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// String never shows the session.
func (f *FileSession) String() string { return "telegram session " + f.Path }
