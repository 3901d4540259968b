package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/newswire/newswire/bus"
)

// startPasswordServer runs a JetStream server that wants user/password,
// on port (-1: any) with its store in dir.
func startPasswordServer(t *testing.T, port int, dir, user, pass string) *server.Server {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir,
		Username: user, Password: pass, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	return srv
}

// captureStderr sends what the process writes to stderr (the logs) to a
// file until the returned function restores it and gives the text.
func captureStderr(t *testing.T) func() string {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = f
	return func() string {
		os.Stderr = old
		f.Close()
		b, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
}

// TestSecretsStayOutOfLogs runs a stage against a server that wants the
// password written in nats.urls, makes it reconnect (which logs the URL)
// and fail to connect (which names the URL in the error), and looks for
// the password and the env: token in everything it wrote.
func TestSecretsStayOutOfLogs(t *testing.T) {
	const user, pass, token = "newswire", "Hunter2-pass-8d1f", "tok-5f0c2b9e77a1"
	t.Setenv("NEWSWIRE_TEST_TG_HASH", token)
	store := t.TempDir()
	srv := startPasswordServer(t, -1, store, user, pass)
	port := srv.Addr().(interface{ String() string }).String()
	_, portNum, _ := strings.Cut(port, ":")
	url := fmt.Sprintf("nats://%s:%s@127.0.0.1:%s", user, pass, portNum)
	metricsPort := freePort(t)
	cfgFile := writeFile(t, "secrets.yaml", fmt.Sprintf(`data_dir: %s
log: {level: debug, format: json}
nats:
  urls: [%s]
metrics:
  listen: 127.0.0.1:%d
telegram:
  api_hash: env:NEWSWIRE_TEST_TG_HASH
`, t.TempDir(), url, metricsPort))

	restore := captureStderr(t)
	logs := ""
	defer func() {
		if logs == "" {
			restore()
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dispatch(ctx, []string{"normalize", "--config", cfgFile}) }()

	// The stage is running once its consumer exists and its metrics
	// listener answers (the last thing it starts).
	waitRunning := func() {
		t.Helper()
		nc, err := nats.Connect(url)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		deadline := time.Now().Add(60 * time.Second)
		for {
			if _, err := js.Consumer(ctx, bus.StreamRaw, "normalize"); err == nil {
				if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)); err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						return
					}
				}
			}
			if time.Now().After(deadline) {
				t.Fatal("the normalizer never got running")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitRunning()
	// A restart of the server makes the client reconnect and log where to.
	srv.Shutdown()
	srv.WaitForShutdown()
	srv = startPasswordServer(t, mustAtoi(t, portNum), store, user, pass)
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := os.ReadFile(os.Stderr.Name())
		if strings.Contains(string(b), "nats reconnected") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reconnection logged:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("normalize: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("normalize did not stop within 2 minutes of its cancellation")
	}
	unreachable := writeFile(t, "unreachable.yaml", fmt.Sprintf("data_dir: %s\nnats:\n  urls: [nats://%s:%s@127.0.0.1:1]\n", t.TempDir(), user, pass))
	uctx, ucancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ucancel()
	err := dispatch(uctx, []string{"tail", "--config", unreachable})
	logs = restore()

	if err == nil || strings.Contains(err.Error(), pass) || !strings.Contains(err.Error(), "nats://newswire:[redacted]@127.0.0.1:1") {
		t.Errorf("unreachable NATS error: %v", err)
	}
	if !strings.Contains(logs, "nats reconnected") || !strings.Contains(logs, "[redacted]") {
		t.Errorf("the reconnection was not logged with its URL redacted:\n%s", logs)
	}
	for _, secret := range []string{pass, token} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs hold the secret %q:\n%s", secret, logs)
		}
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRunEmbeddedServerWantsItsToken: the embedded server of `run` takes
// no client without the token kept (0600) in the data directory, and the
// other commands find that token there.
func TestRunEmbeddedServerWantsItsToken(t *testing.T) {
	dir := t.TempDir()
	natsPort, httpPort := freePort(t), freePort(t)
	cfgFile := writeFile(t, "run.yaml", fmt.Sprintf("data_dir: %s\nlog: {level: warn}\nnats:\n  embedded: {port: %d}\n  urls: [nats://127.0.0.1:%d]\nhttp:\n  listen: 127.0.0.1:%d\n",
		dir, natsPort, natsPort, httpPort))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dispatch(ctx, []string{"run", "--config", cfgFile}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	url := fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	tokenFile := filepath.Join(dir, "nats.token")
	var nc *nats.Conn
	deadline := time.Now().Add(60 * time.Second)
	for nc == nil {
		if b, err := os.ReadFile(tokenFile); err == nil {
			nc, _ = nats.Connect(url, nats.Token(strings.TrimSpace(string(b))))
		}
		if nc == nil && time.Now().After(deadline) {
			t.Fatal("could not connect to the embedded server with its token")
		}
		time.Sleep(50 * time.Millisecond)
	}
	nc.Close()
	// Wait until run is up (its API answers) so that stopping it later
	// does not cut its start-up short.
	for {
		if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", httpPort)); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("run's API never answered")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if fi, err := os.Stat(tokenFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file: %v, %v", fi.Mode(), err)
	}
	if nc, err := nats.Connect(url); err == nil {
		nc.Close()
		t.Fatal("the embedded server took a client without the token")
	} else if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Errorf("connecting without the token: %v", err)
	}
	// `sources` connects with the token it finds in the data directory.
	if err := dispatch(ctx, []string{"sources", "--config", cfgFile}); err != nil {
		t.Errorf("sources against the running embedded server: %v", err)
	}
}
