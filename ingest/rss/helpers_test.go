package rss

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/ingest/egress"
	"github.com/newswire/newswire/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeClock moves only when told to.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	at := c.now.Add(d)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{at: at, ch: ch})
	return ch
}

// waiting counts the waiters not yet fired.
func (c *fakeClock) waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// Advance moves the clock and fires the waiters now due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			keep = append(keep, w)
		}
	}
	c.waiters = keep
}

// allowLoopback lets the collector reach the tests' httptest servers,
// which listen on loopback, refused by default.
var allowLoopback = egress.MustNew("127.0.0.0/8", "::1/128")

var t0 = time.Date(2024, 6, 11, 12, 0, 0, 0, time.UTC)

// rig is a collector on a real embedded JetStream server.
type rig struct {
	t     *testing.T
	srv   *bustest.Server
	kv    jetstream.KeyValue
	c     *Collector
	clock *fakeClock
}

func newRig(t *testing.T, cfg Config) *rig {
	t.Helper()
	return newRigOn(t, bustest.Start(t), cfg)
}

func newRigOn(t *testing.T, srv *bustest.Server, cfg Config) *rig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := srv.JS.KeyValue(ctx, bus.BucketSource)
	if err != nil {
		t.Fatalf("kv: %v", err)
	}
	clock, _ := cfg.Clock.(*fakeClock)
	if clock == nil {
		clock = newFakeClock(t0)
		cfg.Clock = clock
	}
	if cfg.Jitter == 0 {
		cfg.Jitter = -1
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Egress == nil {
		cfg.Egress = allowLoopback
	}
	c, err := New(cfg, ingest.NewJetStreamPublisher(srv.JS), kv, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.fetch.close)
	if err := c.loadStates(ctx); err != nil {
		t.Fatalf("loadStates: %v", err)
	}
	return &rig{t: t, srv: srv, kv: kv, c: c, clock: clock}
}

// pollFeed polls feed i once, as a worker would.
func (r *rig) pollFeed(i int) time.Time {
	r.t.Helper()
	// The context outlives the poll, as Run's does: a poll may start work
	// that finishes after it (a WebSub subscription request).
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	r.t.Cleanup(cancel)
	return r.c.poll(ctx, r.c.feeds[i])
}

func (r *rig) state(i int) *State {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := LoadState(ctx, r.kv, r.c.feeds[i].feed.ID)
	if err != nil {
		r.t.Fatalf("LoadState: %v", err)
	}
	return st
}

// rawItems reads every raw item on WIRE_RAW, in stream order, with its Nats-Msg-Id.
func rawItems(t *testing.T, js jetstream.JetStream) ([]wire.RawItem, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, bus.StreamRaw)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	var items []wire.RawItem
	var ids []string
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get %d: %v", seq, err)
		}
		var it wire.RawItem
		if err := json.Unmarshal(m.Data, &it); err != nil {
			t.Fatalf("decode %d: %v", seq, err)
		}
		items = append(items, it)
		ids = append(ids, m.Header.Get(bus.HeaderMsgID))
	}
	return items, ids
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("testdata: %v", err)
	}
	return b
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}

func nopLogger() *zap.Logger { return zap.NewNop() }
