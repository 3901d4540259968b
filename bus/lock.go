//go:build unix

package bus

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrDirLocked is returned when another process holds a data directory.
var ErrDirLocked = errors.New("bus: data directory in use")

// DirLock is an exclusive lock on a data directory, held until Unlock or
// the process's end (the kernel drops a flock with its last descriptor).
type DirLock struct{ f *os.File }

// LockDir takes an exclusive, non-blocking flock on dir/newswire.lock and
// writes this process's id into it, so that a second process that would
// open the same JetStream store says in one line who has it, instead of
// failing later with a port or store error.
func LockDir(dir string) (*DirLock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("bus: create data directory: %w", err)
	}
	path := filepath.Join(dir, "newswire.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("bus: open %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := "another newswire process"
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b[:n]))); perr == nil {
				who = fmt.Sprintf("newswire process %d", pid)
			}
			return nil, fmt.Errorf("%w: %s is used by %s; stop it, or give this one another data_dir", ErrDirLocked, dir, who)
		}
		return nil, fmt.Errorf("bus: lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &DirLock{f: f}, nil
}

// Unlock releases the lock.
func (l *DirLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
