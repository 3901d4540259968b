package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/run"
	"go.uber.org/zap"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/service"
	"github.com/newswire/newswire/web"
)

// TestMain lets a test run this test binary as the newswire command: with
// NEWSWIRE_TEST_EXEC=1 it is main() with the arguments it was given.
func TestMain(m *testing.M) {
	if os.Getenv("NEWSWIRE_TEST_EXEC") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSystemdNotifyProtocol runs `newswire normalize` as systemd would run
// a Type=notify unit with WatchdogSec=: it must say READY=1 once connected
// with the topology in place, ping WATCHDOG=1 while healthy, and say
// STOPPING=1 on SIGTERM before it exits cleanly. Once ready, its metrics
// listener answers /readyz.
func TestSystemdNotifyProtocol(t *testing.T) {
	srv := bustest.Start(t)
	metricsPort := freePort(t)
	cfgFile := writeFile(t, "stage.yaml", fmt.Sprintf("log: {level: info, format: auto}\nnats:\n  urls: [%s]\nmetrics: {listen: 127.0.0.1:%d}\n",
		srv.Embedded.ClientURL(), metricsPort))

	dir, err := os.MkdirTemp("", "sd") // socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 1024)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()

	// stderr is "the journal": a file JOURNAL_STREAM names, as systemd
	// sets it for a unit whose output goes to journald.
	stderrFile, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderrFile.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(stderrFile.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "normalize", "--config", cfgFile)
	cmd.Env = append(os.Environ(), "NEWSWIRE_TEST_EXEC=1", "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=400000",
		fmt.Sprintf("JOURNAL_STREAM=%d:%d", st.Dev, st.Ino))
	cmd.Stderr = stderrFile
	stderr := func() string { b, _ := os.ReadFile(stderrFile.Name()); return string(b) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("stderr:\n%s", stderr())
		}
	}()

	// next waits for the next message that is not a STATUS= line.
	next := func(what string) string {
		t.Helper()
		for {
			select {
			case m, ok := <-msgs:
				if !ok {
					t.Fatalf("notify socket closed while waiting for %s", what)
				}
				if strings.HasPrefix(m, "STATUS=") {
					t.Logf("status: %s", m)
					continue
				}
				return m
			case err := <-exited:
				exited <- err
				t.Fatalf("newswire exited (%v) while waiting for %s", err, what)
			case <-time.After(60 * time.Second):
				t.Fatalf("no %s within 60s", what)
			}
		}
	}
	if m := next("READY=1"); m != "READY=1" {
		t.Fatalf("first message %q, want READY=1", m)
	}
	// The consumer exists once READY is sent: the process is ready to work.
	if _, err := srv.JS.Consumer(t.Context(), "WIRE_RAW", "normalize"); err != nil {
		t.Fatalf("READY before the normalizer's consumer exists: %v", err)
	}
	// The listener starts with the group, just after READY.
	readyz := fmt.Sprintf("http://127.0.0.1:%d/readyz", metricsPort)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(readyz)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(b) != "ready\n" {
				t.Fatalf("/readyz of a ready normalizer: %d %q", resp.StatusCode, b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz: %v", err)
		}
	}
	for i := range 2 {
		if m := next("WATCHDOG=1"); m != "WATCHDOG=1" {
			t.Fatalf("message %d after READY is %q, want WATCHDOG=1", i+1, m)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for {
		m := next("STOPPING=1")
		if m == "STOPPING=1" {
			break
		}
		if m != "WATCHDOG=1" {
			t.Fatalf("unexpected message %q before STOPPING=1", m)
		}
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("newswire exited with %v after SIGTERM", err)
		}
		// Logged for the journal: every line has a priority and no time.
		lines := strings.Split(strings.TrimSpace(stderr()), "\n")
		for _, l := range lines {
			if len(l) < 3 || l[0] != '<' || l[2] != '>' || strings.Contains(l, time.Now().UTC().Format("2006-01-02T")) {
				t.Errorf("stderr line %q is not an sd-daemon line without a timestamp", l)
			}
		}
		found := false
		for _, l := range lines {
			found = found || strings.HasPrefix(l, "<6>") && strings.Contains(l, "shutting down")
		}
		if !found {
			t.Errorf("no info-priority shutdown line in stderr:\n%s", stderr())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("newswire did not exit within 60s of SIGTERM")
	}
}

// /readyz answers "starting" until the process has told systemd it is
// ready, then the health checks: ready while they pass, and the failing
// check's error once the bus connection is gone.
func TestReadyzFollowsTheHealthChecks(t *testing.T) {
	srv := bustest.Start(t)
	nc, err := nats.Connect(srv.Embedded.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	p := &parts{log: zap.NewNop(), nc: nc, js: js, notify: service.NewNotifier(nil)}
	hs := httptest.NewServer(web.NewMetricsServer("", http.NotFoundHandler(), p.ready, nil).Handler())
	defer hs.Close()
	readyz := func() (int, string) {
		t.Helper()
		resp, err := http.Get(hs.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := readyz(); code != http.StatusServiceUnavailable || body != "starting\n" {
		t.Errorf("before READY: %d %q", code, body)
	}
	var g run.Group
	p.addWatchdog(&g, bus.StreamRaw)
	if code, body := readyz(); code != 200 || body != "ready\n" {
		t.Errorf("after READY: %d %q", code, body)
	}
	nc.Close()
	if code, body := readyz(); code != http.StatusServiceUnavailable || !strings.Contains(body, "not connected to NATS (CLOSED)") {
		t.Errorf("with the connection closed: %d %q", code, body)
	}
}
