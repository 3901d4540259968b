package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrKeyFileMode is returned for a key file that others than its owner
// may read.
var ErrKeyFileMode = errors.New("config: key file is readable by others (chmod 600 it)")

// LoadOrCreateKey returns the secret kept in path, creating it (32 random
// bytes, hex, mode 0600, in a 0700 directory if that is new) when it does
// not exist yet. The data directory holds such keys so that they never
// travel on the bus.
func LoadOrCreateKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		fi, serr := os.Stat(path)
		if serr != nil {
			return "", fmt.Errorf("config: key file %s: %w", path, serr)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("%w: %s is %v", ErrKeyFileMode, path, fi.Mode().Perm())
		}
		key := strings.TrimSpace(string(b))
		if len(key) < 32 {
			return "", fmt.Errorf("config: key file %s holds less than 32 characters", path)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("config: key file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("config: key file directory: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("config: key file: %w", err)
	}
	key := hex.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it first; use theirs.
		return LoadOrCreateKey(path)
	}
	if err != nil {
		return "", fmt.Errorf("config: key file: %w", err)
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("config: key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("config: key file: %w", err)
	}
	return key, nil
}
