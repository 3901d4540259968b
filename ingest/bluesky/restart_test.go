package bluesky

import (
	"strconv"
	"testing"
)

// TestRestartResumesFromStoredCursor runs the collector on a real
// embedded NATS, stops it and the server, starts both again on the same
// store, and checks that the new collector subscribes from the stored
// cursor less the rewind and publishes nothing it published before,
// though the server sends those events again.
func TestRestartResumesFromStoredCursor(t *testing.T) {
	e := newEnv(t)
	c1 := e.collector(e.config(flowAccounts()...))
	stop := e.run(c1)
	waitFor(t, "the captured events", func() bool { return c1.Stats().Events >= 10 })
	stop()
	before := e.state("thread")
	if before.Cursor == 0 || before.Published != 3 {
		t.Fatalf("first run stored %+v", before)
	}
	stored, _ := e.items()

	e.bus.Stop()
	e.startBus(e.dir)
	c2 := e.collector(e.config(flowAccounts()...))
	stop2 := e.run(c2)
	waitFor(t, "the replayed events", func() bool { return c2.Stats().Events >= 10 })
	stop2()

	qs := e.js.Queries()
	last := qs[len(qs)-1].Get("cursor")
	if want := strconv.FormatInt(before.Cursor-c2.cfg.Rewind.Microseconds(), 10); last != want {
		t.Errorf("restart subscribed from cursor %s, want %s (stored %d less the rewind)", last, want, before.Cursor)
	}
	if n := len(e.pub.Items()); n != 0 {
		t.Errorf("the restart published %d items again", n)
	}
	if s := c2.Stats(); s.Published != 0 || s.Duplicates != 6 || s.Backfills != 7 {
		t.Errorf("restart stats %+v", s)
	}
	after, _ := e.items()
	if len(after) != len(stored) {
		t.Errorf("%d items on the bus after the restart, %d before", len(after), len(stored))
	}
	if st := e.state("thread"); st.Published != before.Published || st.Cursor < before.Cursor || st.NeedsFill {
		t.Errorf("state after restart %+v", st)
	}
}
