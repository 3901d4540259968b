package synth

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/wire"
)

// publishPastWindow publishes e with its usual Nats-Msg-Id until
// WIRE_ENTRY takes it as a new message, once the duplicate window of the
// earlier copy has passed, and returns its sequence.
func publishPastWindow(t *testing.T, js jetstream.JetStream, e wire.Entry) uint64 {
	t.Helper()
	data, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		msg := nats.NewMsg(bus.EntrySubject("rss", e.Source.ID))
		msg.Data = data
		msg.Header.Set(bus.HeaderMsgID, "entry:"+e.ID)
		pa, err := js.PublishMsg(context.Background(), msg)
		if err != nil {
			t.Fatal(err)
		}
		if !pa.Duplicate {
			return pa.Sequence
		}
		if time.Now().After(deadline) {
			t.Fatal("WIRE_ENTRY kept taking the copy for a duplicate")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLateDuplicateLeavesStaleStoryAlone: a story goes stale and leaves
// memory; copies of its founding entry and of a member then arrive
// after the duplicate window. Neither founds a story — not a one-member
// story under the old id, replacing its last snapshot, nor one of its
// own — and a restarted worker, replaying the stream with the copies in
// it, publishes nothing either, and skips a copy that arrives after it.
func TestLateDuplicateLeavesStaleStoryAlone(t *testing.T) {
	topo := bus.DefaultTopology()
	topo.DuplicateWindow = time.Second
	srv := bustest.StartWith(t, t.TempDir(), topo)
	founder := entry("e0a01", "reuters", "Wildfire forces evacuation of 3,000 near Santa Clarita", "", 0)
	member := entry("e0a02", "apnews", "Santa Clarita wildfire: 3,000 evacuated as fire spreads", "", 5)
	// Two days of stream time later, on another subject: the wildfire
	// story is stale by then.
	later := entry("e0a03", "bbc", "Moldova's Sandu wins presidential runoff", "", 48*60)
	w, stop := startWorker(t, srv)
	publishEntries(t, srv.JS, []wire.Entry{founder, member, later})
	waitAcked(t, srv.JS, 3)
	before := readStoryLog(t, srv.JS)
	sid := StoryID(founder.ID)
	if got := before.last[sid]; got.Status != wire.StatusStale || got.Counts.Entries != 2 {
		t.Fatalf("story %s before the copies: status %q, %d entries; want stale with 2", sid, got.Status, got.Counts.Entries)
	}
	waitForCond(t, func() bool { return w.Idle() })

	publishPastWindow(t, srv.JS, founder)
	seq := publishPastWindow(t, srv.JS, member)
	waitAcked(t, srv.JS, seq)
	if n := w.Stats().LateDuplicates.Load(); n != 2 {
		t.Errorf("late duplicates counted: %d, want 2", n)
	}
	stop()
	checkUnchanged(t, before, readStoryLog(t, srv.JS))

	// A restarted worker replays the stream, copies included.
	w2, stop2 := startWorker(t, srv)
	defer stop2()
	seq = publishPastWindow(t, srv.JS, founder)
	waitAcked(t, srv.JS, seq)
	if n := w2.Stats().LateDuplicates.Load(); n != 1 {
		t.Errorf("late duplicates counted after the restart: %d, want 1", n)
	}
	waitForCond(t, func() bool { return w2.Idle() })
	checkUnchanged(t, before, readStoryLog(t, srv.JS))
}

// checkUnchanged fails when a story has a snapshot that was not in before.
func checkUnchanged(t *testing.T, before, after storyLog) {
	t.Helper()
	for id, snaps := range after.snaps {
		if !reflect.DeepEqual(before.versions[id], after.versions[id]) {
			t.Errorf("story %s: versions %v, before the copies %v (last snapshot: %d entries)",
				id, after.versions[id], before.versions[id], snaps[len(snaps)-1].Counts.Entries)
		}
	}
}

func waitForCond(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
