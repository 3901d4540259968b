package service

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// listen opens the unixgram socket systemd would, and points
// NOTIFY_SOCKET at it.
func listen(t *testing.T) <-chan string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sd") // short: socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOTIFY_SOCKET", path)
	out := make(chan string, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(out)
				return
			}
			out <- string(buf[:n])
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return out
}

func next(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case s, ok := <-ch:
		if !ok {
			t.Fatal("notify socket closed")
		}
		return s
	case <-time.After(30 * time.Second):
		t.Fatal("no sd_notify message in 30s")
	}
	return ""
}

func TestNotifierSendsReadyAndStopping(t *testing.T) {
	msgs := listen(t)
	n := NewNotifier(nil)
	n.Ready()
	n.Stopping()
	if got := next(t, msgs); got != "READY=1" {
		t.Fatalf("first message %q, want READY=1", got)
	}
	if got := next(t, msgs); got != "STOPPING=1" {
		t.Fatalf("second message %q, want STOPPING=1", got)
	}
}

// A failing health check withholds the ping: the datagrams are exactly the
// unhealthy status, then (when the check passes again) the healthy status
// and the first ping.
func TestWatchdogPingsOnlyWhileHealthy(t *testing.T) {
	msgs := listen(t)
	t.Setenv("WATCHDOG_USEC", "2000") // 2ms: pings every 1ms
	calls := 0
	check := func(context.Context) error {
		calls++
		if calls <= 3 {
			return errors.New("bus gone")
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewNotifier(nil).Watchdog(ctx, check) }()
	want := []string{"STATUS=unhealthy: bus gone", "STATUS=healthy", "WATCHDOG=1", "WATCHDOG=1"}
	for i, w := range want {
		if got := next(t, msgs); got != w {
			t.Fatalf("message %d = %q, want %q", i, got, w)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestWatchdogOffWithoutWatchdogSec(t *testing.T) {
	listen(t)
	t.Setenv("WATCHDOG_USEC", "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- NewNotifier(nil).Watchdog(ctx, func(context.Context) error { t.Error("check ran without a watchdog"); return nil })
	}()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type fixedStatus nats.Status

func (s fixedStatus) Status() nats.Status { return nats.Status(s) }

func TestHealthReportsDisconnectedAndMissingStream(t *testing.T) {
	srv := bustest.Start(t)
	ctx := context.Background()
	h := &Health{Conn: fixedStatus(nats.RECONNECTING), JS: srv.JS, Stream: bus.StreamRaw}
	if err := h.Check(ctx); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("reconnecting: %v, want ErrDisconnected", err)
	}
	h = &Health{Conn: srv.Conn, JS: srv.JS, Stream: "NO_SUCH"}
	if err := h.Check(ctx); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("missing stream: %v", err)
	}
	h = &Health{Conn: srv.Conn, JS: srv.JS, Stream: bus.StreamRaw}
	if err := h.Check(ctx); err != nil {
		t.Fatalf("healthy: %v", err)
	}
}

// A consumer holding messages that nobody takes is stalled once StallAfter
// has passed on the clock; taking one is progress and clears it; an idle
// consumer with nothing to do is never stalled.
func TestHealthFindsAStalledConsumer(t *testing.T) {
	srv := bustest.Start(t)
	ctx := context.Background()
	cons, err := srv.JS.CreateOrUpdateConsumer(ctx, bus.StreamRaw, jetstream.ConsumerConfig{Durable: "work", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := &Health{Conn: srv.Conn, JS: srv.JS, Stream: bus.StreamRaw, Consumer: "work", StallAfter: time.Minute, Now: func() time.Time { return now }}
	if err := h.Check(ctx); err != nil {
		t.Fatalf("idle: %v", err)
	}
	now = now.Add(time.Hour)
	if err := h.Check(ctx); err != nil {
		t.Fatalf("idle an hour later: %v", err)
	}
	for i := range 3 {
		if _, err := srv.JS.Publish(ctx, bus.RawSubject("rss", "s"), []byte(strings.Repeat("x", i+1))); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Check(ctx); err != nil {
		t.Fatalf("work just arrived: %v", err)
	}
	now = now.Add(30 * time.Second)
	if err := h.Check(ctx); err != nil {
		t.Fatalf("within StallAfter: %v", err)
	}
	now = now.Add(31 * time.Second)
	if err := h.Check(ctx); !errors.Is(err, ErrStalled) {
		t.Fatalf("past StallAfter: %v, want ErrStalled", err)
	}
	batch, err := cons.Fetch(1)
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The server's consumer state may show the ack a moment after the ack
	// is confirmed; a floor that moves later would count as progress in
	// the middle of the checks below and restart their stall clock.
	for deadline := time.Now().Add(10 * time.Second); ; {
		ci, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ci.NumAckPending == 0 && ci.AckFloor.Stream == ci.Delivered.Stream && ci.Delivered.Stream > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ack never reached the consumer's state: %+v", ci)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := h.Check(ctx); err != nil {
		t.Fatalf("after progress: %v", err)
	}

	// A process still warming up (not consuming yet) is not stalled, and
	// its stall clock starts when it begins to consume.
	consuming := false
	h.Consuming = func() bool { return consuming }
	now = now.Add(time.Hour)
	if err := h.Check(ctx); err != nil {
		t.Fatalf("warming up: %v", err)
	}
	consuming = true
	now = now.Add(30 * time.Second)
	if err := h.Check(ctx); err != nil {
		t.Fatalf("just started consuming: %v", err)
	}
	now = now.Add(31 * time.Second)
	if err := h.Check(ctx); !errors.Is(err, ErrStalled) {
		t.Fatalf("consuming and stuck past StallAfter: %v, want ErrStalled", err)
	}
}
