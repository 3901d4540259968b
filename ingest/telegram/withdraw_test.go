package telegram

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/wire"
)

// testClock is the collectors' clock in tests that need time to pass
// between polls without waiting for it.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// withdrawal is a Deleted raw item with the Nats-Msg-Id the bus stored it under.
type withdrawal struct {
	item  wire.RawItem
	msgID string
}

func withdrawals(t *testing.T, f *fixture) []withdrawal {
	t.Helper()
	ctx := testCtx(t)
	s, err := f.bus.JS.Stream(ctx, bus.StreamRaw)
	if err != nil {
		t.Fatal(err)
	}
	var out []withdrawal
	items := rawItems(t, f.bus.JS)
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, it := range items {
		if !it.Deleted {
			continue
		}
		m, err := s.GetMsg(ctx, info.State.FirstSeq+uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, withdrawal{item: it, msgID: m.Header.Get(bus.HeaderMsgID)})
	}
	return out
}

func TestDeletedPostIsWithdrawnOnce(t *testing.T) {
	f := newFixture(t)
	ch := f.chn.ID
	clk := &testClock{t: time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)}
	f.now = clk.Now
	// Each run is one poll (the interval is an hour); a new post per run
	// tells when that poll, re-check included, is done.
	run := func(newest int, chans ...Channel) *Collector {
		t.Helper()
		f.w.post(ch, textMsg(ch, newest, "post"))
		c := f.collector(t, chans...)
		if err := runUntil(t, c, func() bool { return c.Stats()["reuters"].LastID == newest }); err != nil {
			t.Fatal(err)
		}
		return c
	}
	lastGetMessages := func() []int {
		f.w.mu.Lock()
		defer f.w.mu.Unlock()
		if len(f.w.getMsgReqs) == 0 {
			return nil
		}
		return f.w.getMsgReqs[len(f.w.getMsgReqs)-1]
	}

	f.w.post(ch, textMsg(ch, 1, "one"), textMsg(ch, 2, "two"))
	run(3)
	if n := f.w.count("channels.getMessages"); n != 0 {
		t.Fatalf("first poll asked getMessages %d times; it has nothing to re-check", n)
	}
	if st := state(t, f.kv, "reuters"); !slices.Equal(st.Recent, []int{1, 2, 3}) {
		t.Fatalf("recent ids %v, want [1 2 3]", st.Recent)
	}

	f.w.remove(ch, 2)
	clk.advance(time.Minute)
	c := run(4)
	got := withdrawals(t, f)
	if len(got) != 1 {
		t.Fatalf("%d withdrawals, want 1: %+v", len(got), got)
	}
	w := got[0]
	if w.item.NativeID != "reuters/2" || w.item.Kind != Kind || w.item.Source != "reuters" || w.item.URL != "https://t.me/reuters/2" || w.item.Body != "" {
		t.Errorf("withdrawal item %+v", w.item)
	}
	if want := "telegram:reuters:reuters/2:withdrawn"; w.msgID != want {
		t.Errorf("withdrawal Nats-Msg-Id %q, want %q", w.msgID, want)
	}
	if got := lastGetMessages(); !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("re-checked %v, want [1 2 3]", got)
	}
	// The real normalizer makes of it a withdrawal of the post's own entry.
	cfg := normalize.DefaultConfig()
	orig, err := normalize.Normalize(cfg, rawItems(t, f.bus.JS)[1], provenance.RawRef{})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := normalize.Normalize(cfg, w.item, provenance.RawRef{MsgID: w.msgID})
	if err != nil {
		t.Fatal(err)
	}
	if !gone.Withdrawn || gone.ID != orig.ID || orig.URL != "https://t.me/reuters/2" {
		t.Errorf("normalized withdrawal: withdrawn %v id %s, want the entry %s of %s", gone.Withdrawn, gone.ID, orig.ID, orig.URL)
	}
	st := state(t, f.kv, "reuters")
	if !slices.Equal(st.Recent, []int{1, 3, 4}) || st.Withdrawn != 1 || !st.Rechecked.Equal(clk.Now()) {
		t.Errorf("state after withdrawal: recent %v withdrawn %d rechecked %s", st.Recent, st.Withdrawn, st.Rechecked)
	}
	if s := c.Stats()["reuters"]; s.Withdrawn != 1 || s.Rechecks != 1 {
		t.Errorf("stats %+v", s)
	}

	// A restart within recheck_interval does not ask again.
	clk.advance(time.Minute)
	calls := f.w.count("channels.getMessages")
	run(5)
	if n := f.w.count("channels.getMessages"); n != calls {
		t.Errorf("re-checked %d times within the interval", n-calls)
	}

	// Once the interval has passed the withdrawn id is not asked for, and
	// nothing is withdrawn twice.
	clk.advance(10 * time.Minute)
	c = run(6)
	if got := lastGetMessages(); !slices.Equal(got, []int{1, 3, 4, 5}) {
		t.Errorf("re-checked %v, want [1 3 4 5]", got)
	}
	if got := withdrawals(t, f); len(got) != 1 {
		t.Errorf("%d withdrawals after restart, want still 1", len(got))
	}
	if s := c.Stats()["reuters"]; s.Rechecks != 1 || s.Withdrawn != 0 {
		t.Errorf("stats after restart %+v", s)
	}

	// A failed re-check withdraws nothing and leaves the poll's new posts alone.
	f.w.remove(ch, 3)
	f.w.mu.Lock()
	f.w.getMsgErr = "INTERNAL_SERVER_ERROR"
	f.w.mu.Unlock()
	clk.advance(10 * time.Minute)
	calls = f.w.count("channels.getMessages")
	c = run(7)
	if n := f.w.count("channels.getMessages"); n == calls {
		t.Fatal("the re-check was not tried")
	}
	if got := withdrawals(t, f); len(got) != 1 {
		t.Errorf("%d withdrawals after a failed re-check, want still 1", len(got))
	}
	if s := c.Stats()["reuters"]; s.Errors != 1 || s.Withdrawn != 0 {
		t.Errorf("stats after failed re-check %+v", s)
	}
	failedAt := state(t, f.kv, "reuters").Rechecked

	// The failed check is repeated on the next poll, not a whole interval later.
	f.w.mu.Lock()
	f.w.getMsgErr = ""
	f.w.mu.Unlock()
	clk.advance(time.Minute)
	run(8)
	got = withdrawals(t, f)
	if len(got) != 2 || got[1].item.NativeID != "reuters/3" || got[1].msgID != "telegram:reuters:reuters/3:withdrawn" {
		t.Fatalf("withdrawals %+v, want reuters/2 then reuters/3", got)
	}
	if st := state(t, f.kv, "reuters"); st.Withdrawn != 2 || slices.Contains(st.Recent, 3) || !st.Rechecked.After(failedAt) {
		t.Errorf("state %+v", st)
	}

	// recheck: -1 asks nothing and keeps no more ids.
	f.w.remove(ch, 4)
	clk.advance(time.Hour)
	calls = f.w.count("channels.getMessages")
	before := state(t, f.kv, "reuters").Recent
	run(9, Channel{ID: "reuters", Username: "Reuters", Interval: time.Hour, Recheck: -1})
	if n := f.w.count("channels.getMessages"); n != calls || len(withdrawals(t, f)) != 2 {
		t.Errorf("recheck -1: %d getMessages calls, %d withdrawals", n-calls, len(withdrawals(t, f)))
	}
	if st := state(t, f.kv, "reuters"); !slices.Equal(st.Recent, before) {
		t.Errorf("recheck -1 changed the recent ids from %v to %v", before, st.Recent)
	}
}

func TestRememberKeepsTheNewest(t *testing.T) {
	var st State
	for _, id := range []int{5, 3, 9, 9, 7, 11} {
		st.remember(id, 3)
	}
	if !slices.Equal(st.Recent, []int{7, 9, 11}) {
		t.Errorf("recent %v, want [7 9 11]", st.Recent)
	}
	st.forget(9)
	if !slices.Equal(st.Recent, []int{7, 11}) {
		t.Errorf("after forget: %v", st.Recent)
	}
}
