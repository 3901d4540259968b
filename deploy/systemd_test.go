package deploy_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// unit reads a unit file into section → key → values.
func unit(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := map[string]map[string][]string{}
	sec := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			sec = strings.Trim(line, "[]")
			u[sec] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: line %q is not KEY=VALUE", path, line)
			}
			u[sec][k] = append(u[sec][k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

// units are the shipped newswire units and the command each runs.
var units = map[string]string{
	"newswire.service":           "run",
	"newswire-collect.service":   "collect",
	"newswire-collect@.service":  "collect",
	"newswire-normalize.service": "normalize",
	"newswire-synth.service":     "synth",
	"newswire-serve.service":     "serve",
}

// TestSystemdUnitsFollowTheContract checks what the binary relies on and
// what hardening promises, in every shipped unit.
func TestSystemdUnitsFollowTheContract(t *testing.T) {
	files, err := filepath.Glob("systemd/*.service")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(units) {
		t.Fatalf("systemd/ holds %v, want exactly the units %v", files, units)
	}
	for name, cmd := range units {
		u := unit(t, filepath.Join("systemd", name))
		s := u["Service"]
		one := func(k string) string {
			if len(s[k]) != 1 {
				t.Errorf("%s: %s set %d times, want once", name, k, len(s[k]))
				return ""
			}
			return s[k][0]
		}
		for k, want := range map[string]string{
			"Type": "notify", "NotifyAccess": "main", "Restart": "on-failure", "DynamicUser": "yes",
			"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "KillSignal": "SIGTERM",
		} {
			if got := one(k); got != want {
				t.Errorf("%s: %s=%s, want %s", name, k, got, want)
			}
		}
		exec := strings.Fields(one("ExecStart"))
		if len(exec) < 2 || exec[0] != "/usr/local/bin/newswire" || exec[1] != cmd {
			t.Errorf("%s: ExecStart %v does not run `newswire %s`", name, exec, cmd)
		}
		if sd := one("StateDirectory"); sd == "" || !strings.Contains(one("WorkingDirectory"), sd) {
			t.Errorf("%s: the working directory is not the state directory", name)
		}
		// The drain takes at most 30s of in-flight work and 10s of connection
		// drain; systemd must not kill the process before that.
		if stop, err := time.ParseDuration(one("TimeoutStopSec")); err != nil || stop < 60*time.Second {
			t.Errorf("%s: TimeoutStopSec=%v (%v), want at least 60s", name, stop, err)
		}
		if wd, err := time.ParseDuration(one("WatchdogSec")); err != nil || wd < 10*time.Second {
			t.Errorf("%s: WatchdogSec %v (%v), want at least 10s: a health check takes up to half of it", name, wd, err)
		}
		if u["Unit"]["StartLimitBurst"] == nil || u["Unit"]["StartLimitIntervalSec"] == nil {
			t.Errorf("%s: no StartLimitBurst/StartLimitIntervalSec in [Unit]", name)
		}
		if cmd != "run" {
			if lc := strings.Join(s["LoadCredential"], " "); !strings.HasPrefix(lc, "nats-password:") {
				t.Errorf("%s: the stage's NATS password is not loaded as a credential (LoadCredential=%s)", name, lc)
			}
		}
	}
}

// TestSystemdAnalyzeVerify runs `systemd-analyze verify` on every unit,
// nats-server's too, with a real executable in place of the programs they
// start (verify checks that ExecStart's program exists). It fails on any warning, since verify
// still exits 0 for keys it ignores.
func TestSystemdAnalyzeVerify(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		skipOrFail(t, "systemd-analyze is not installed (apt-get install systemd; .ci/run installs it)")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var args []string
	all := map[string]string{"nats-server.service": "nats"}
	for name := range units {
		all[name] = "systemd"
	}
	for name, sub := range all {
		b, err := os.ReadFile(filepath.Join(sub, name))
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte("/usr/local/bin/newswire"), []byte(self))
		b = bytes.ReplaceAll(b, []byte("/usr/local/bin/nats-server"), []byte(self))
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, "@.service") {
			name = strings.Replace(name, "@", "@feeds", 1) // verify takes instances of a template
		}
		args = append(args, filepath.Join(dir, name))
	}
	cmd := exec.Command(sa, append([]string{"verify", "--man=no"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
