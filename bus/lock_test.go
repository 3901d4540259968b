//go:build unix

package bus

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// A second lock on a held directory fails at once and names the holder;
// after Unlock the directory can be taken again.
func TestLockDirIsExclusive(t *testing.T) {
	dir := t.TempDir()
	l, err := LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to open file descriptions, so a second open in
	// this process conflicts just as another process would.
	_, err = LockDir(dir)
	if !errors.Is(err, ErrDirLocked) || !strings.Contains(err.Error(), "newswire process "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second lock: %v", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("the message is not one line: %q", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	l2, err := LockDir(dir)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	defer l2.Unlock()
	// Another process sees it too (util-linux flock, where installed).
	if _, err := exec.LookPath("flock"); err == nil {
		out, err := exec.Command("flock", "-n", dir+"/newswire.lock", "true").CombinedOutput()
		if err == nil {
			t.Errorf("flock -n in another process took the held lock: %s", out)
		}
	}
}
