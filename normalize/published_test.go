package normalize

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/wire"
)

// shortWindow is a topology whose duplicate window a test can wait out.
func shortWindow(t *testing.T) *bustest.Server {
	t.Helper()
	topo := bus.DefaultTopology()
	topo.DuplicateWindow = time.Second
	return bustest.StartWith(t, t.TempDir(), topo)
}

// publishPastWindow publishes raw until WIRE_RAW takes it as a new
// message, which it does once the duplicate window of the earlier copy
// has passed; it returns the new message's sequence.
func publishPastWindow(t *testing.T, js jetstream.JetStream, raw wire.RawItem) uint64 {
	t.Helper()
	raw.Schema = wire.SchemaRaw
	data, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	msgID := bus.RawMsgID(raw.Kind, raw.Source, raw.NativeID)
	if raw.Deleted {
		msgID = bus.WithdrawalMsgID(msgID)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := nats.NewMsg(bus.RawSubject(raw.Kind, raw.Source))
		m.Data = data
		m.Header.Set(bus.HeaderMsgID, msgID)
		pa, err := js.PublishMsg(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		if !pa.Duplicate {
			return pa.Sequence
		}
		if time.Now().After(deadline) {
			t.Fatal("WIRE_RAW kept taking the copy for a duplicate")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitHandled waits until the normalizer's consumer has acked every raw
// message up to seq.
func waitHandled(t *testing.T, js jetstream.JetStream, seq uint64) {
	t.Helper()
	waitFor(t, func() bool {
		cons, err := js.Consumer(context.Background(), bus.StreamRaw, ConsumerName)
		if err != nil {
			return false
		}
		info, err := cons.Info(context.Background())
		return err == nil && info.AckFloor.Stream >= seq && info.NumAckPending == 0 && info.NumPending == 0
	})
}

func entryCount(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	return streamState(t, js, bus.StreamEntry).Msgs
}

func streamState(t *testing.T, js jetstream.JetStream, stream string) jetstream.StreamState {
	t.Helper()
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State
}

func marker(t *testing.T, js jetstream.JetStream, key string) string {
	t.Helper()
	kv, err := js.KeyValue(context.Background(), bus.BucketFingerprint)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("marker %s: %v", key, err)
	}
	return string(e.Value())
}

// TestEntryOnceBeyondTheDuplicateWindow publishes a raw item, then the
// same item again after WIRE_RAW's duplicate window (as a collector that
// restarted, and as a second collector on its own connection), then the
// same post from another source kind: one entry, ever.
func TestEntryOnceBeyondTheDuplicateWindow(t *testing.T) {
	srv := shortWindow(t)
	w, stop := startWorker(t, srv.JS, testConfig())
	defer stop()
	raw := wire.RawItem{Kind: "rss", Source: "allafrica", NativeID: "1", URL: "https://allafrica.com/stories/1.html",
		Body: story, Published: "Tue, 11 Jun 2024 09:30:00 GMT", ObservedAt: time.Date(2024, 6, 11, 10, 0, 0, 0, time.UTC)}
	publishRaw(t, srv.JS, raw)
	waitFor(t, func() bool { return w.Stats().Entries.Load() == 1 })
	first := entriesByNative(t, srv.JS, 1)["1"]
	if got := marker(t, srv.JS, "pub."+first.ID); !strings.HasPrefix(got, "published ") {
		t.Fatalf("marker after publishing = %q", got)
	}

	seq := publishPastWindow(t, srv.JS, raw)
	waitHandled(t, srv.JS, seq)
	_, js2 := srv.Connect(t)
	raw.ObservedAt = raw.ObservedAt.Add(time.Hour) // a second collector saw it later
	seq = publishPastWindow(t, js2, raw)
	waitHandled(t, srv.JS, seq)
	if got := w.Stats().AlreadyPublished.Load(); got != 2 {
		t.Errorf("copies acked as already published = %d, want 2", got)
	}

	other := raw
	other.Kind, other.Source = "tgweb", "allafrica_tg"
	seq = publishPastWindow(t, srv.JS, other)
	waitHandled(t, srv.JS, seq)
	if got := w.Stats().Folded.Load(); got != 1 {
		t.Errorf("folded = %d, want 1 (same text and URL from another source)", got)
	}
	if n := entryCount(t, srv.JS); n != 1 {
		t.Fatalf("WIRE_ENTRY holds %d entries, want 1", n)
	}

	// A withdrawal is its own publication, once.
	gone := raw
	gone.Deleted = true
	seq = publishPastWindow(t, srv.JS, gone)
	waitHandled(t, srv.JS, seq)
	seq = publishPastWindow(t, srv.JS, gone)
	waitHandled(t, srv.JS, seq)
	if n := entryCount(t, srv.JS); n != 2 {
		t.Fatalf("WIRE_ENTRY holds %d entries after two withdrawals, want the entry and one withdrawal", n)
	}
}

// claimsOldAtOnce makes every pending marker old at once, as a crashed
// writer's is after claimTimeout.
func claimsOldAtOnce(w *Worker) { w.claimTimeout = 0 }

// TestPendingMarkerLeftByACrash plays a normalizer that died between its
// claim and the marker update, once after its publish reached
// WIRE_ENTRY and once before: the copy that comes next publishes the
// entry exactly once in both cases.
func TestPendingMarkerLeftByACrash(t *testing.T) {
	srv := shortWindow(t)
	kv, err := srv.JS.KeyValue(context.Background(), bus.BucketFingerprint)
	if err != nil {
		t.Fatal(err)
	}
	w, stop := startWorkerSet(t, srv.JS, testConfig(), claimsOldAtOnce)
	defer stop()
	obs := time.Date(2024, 6, 11, 10, 0, 0, 0, time.UTC)
	published := wire.RawItem{Kind: "rss", Source: "allafrica", NativeID: "1", URL: "https://allafrica.com/stories/1.html",
		Body: story, Published: "Tue, 11 Jun 2024 09:30:00 GMT", ObservedAt: obs}
	publishRaw(t, srv.JS, published)
	waitFor(t, func() bool { return w.Stats().Entries.Load() == 1 })
	id := EntryID(bus.RawMsgID("rss", "allafrica", "1"))
	// The crash came after the PubAck, before "published" was written.
	if _, err := kv.Put(context.Background(), "pub."+id, []byte("pending 999")); err != nil {
		t.Fatal(err)
	}
	seq := publishPastWindow(t, srv.JS, published)
	waitHandled(t, srv.JS, seq)
	if n := entryCount(t, srv.JS); n != 1 {
		t.Fatalf("WIRE_ENTRY holds %d entries, want 1", n)
	}
	if got := w.Stats().Recovered.Load(); got != 1 {
		t.Errorf("recovered = %d, want 1", got)
	}
	if got := marker(t, srv.JS, "pub."+id); got != "published 1" {
		t.Errorf("marker = %q, want it resolved to the entry's sequence", got)
	}

	// The crash came after the claim, before the publish.
	lost := wire.RawItem{Kind: "rss", Source: "allafrica", NativeID: "2", URL: "https://allafrica.com/stories/2.html",
		Body: "Lilongwe: parliament adjourned its budget debate until Thursday.", Published: "Tue, 11 Jun 2024 11:30:00 GMT", ObservedAt: obs}
	lostID := EntryID(bus.RawMsgID("rss", "allafrica", "2"))
	if _, err := kv.Create(context.Background(), "pub."+lostID, []byte("pending 998")); err != nil {
		t.Fatal(err)
	}
	publishRaw(t, srv.JS, lost)
	waitFor(t, func() bool { return w.Stats().Entries.Load() == 2 })
	seq = publishPastWindow(t, srv.JS, lost)
	waitHandled(t, srv.JS, seq)
	if n := entryCount(t, srv.JS); n != 2 {
		t.Fatalf("WIRE_ENTRY holds %d entries, want 2", n)
	}
	if got := marker(t, srv.JS, "pub."+lostID); got != "published 2" {
		t.Errorf("marker = %q", got)
	}
}

// TestPendingMarkerOfAnotherDeliveryWaits: a copy that meets a young
// claim of another raw message is retried, not published, until the
// claim is resolved.
func TestPendingMarkerOfAnotherDeliveryWaits(t *testing.T) {
	srv := shortWindow(t)
	kv, err := srv.JS.KeyValue(context.Background(), bus.BucketFingerprint)
	if err != nil {
		t.Fatal(err)
	}
	w, stop := startWorker(t, srv.JS, testConfig())
	defer stop()
	raw := wire.RawItem{Kind: "rss", Source: "allafrica", NativeID: "3", URL: "https://allafrica.com/stories/3.html",
		Body: story, Published: "Tue, 11 Jun 2024 09:30:00 GMT", ObservedAt: time.Date(2024, 6, 11, 10, 0, 0, 0, time.UTC)}
	id := EntryID(bus.RawMsgID("rss", "allafrica", "3"))
	rev, err := kv.Create(context.Background(), "pub."+id, []byte("pending 997"))
	if err != nil {
		t.Fatal(err)
	}
	publishRaw(t, srv.JS, raw)
	waitFor(t, func() bool { return w.Stats().Retried.Load() >= 1 })
	if n := entryCount(t, srv.JS); n != 0 {
		t.Fatalf("published %d entries while another delivery held the claim", n)
	}
	// The other delivery finishes: its entry is out and marked.
	if _, err := kv.Update(context.Background(), "pub."+id, []byte("published 42"), rev); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return w.Stats().AlreadyPublished.Load() == 1 })
	if n := entryCount(t, srv.JS); n != 0 {
		t.Fatalf("WIRE_ENTRY holds %d entries, want none from this delivery", n)
	}
}

// TestRedeliveryResolvesItsOwnPendingMarker: the raw message whose
// delivery wrote a pending marker and stopped (a crash, a failed publish)
// is redelivered; it need not wait out claimTimeout: it looks on
// WIRE_ENTRY, finds nothing, and publishes the entry once.
func TestRedeliveryResolvesItsOwnPendingMarker(t *testing.T) {
	srv := shortWindow(t)
	ctx := context.Background()
	kv, err := srv.JS.KeyValue(ctx, bus.BucketFingerprint)
	if err != nil {
		t.Fatal(err)
	}
	raws, err := srv.JS.Stream(ctx, bus.StreamRaw)
	if err != nil {
		t.Fatal(err)
	}
	info, err := raws.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	next := info.State.LastSeq + 1 // the raw message published below
	id := EntryID(bus.RawMsgID("rss", "allafrica", "5"))
	if _, err := kv.Create(ctx, "pub."+id, []byte(fmt.Sprintf("pending %d", next))); err != nil {
		t.Fatal(err)
	}
	w, stop := startWorker(t, srv.JS, testConfig())
	defer stop()
	publishRaw(t, srv.JS, wire.RawItem{Kind: "rss", Source: "allafrica", NativeID: "5", URL: "https://allafrica.com/stories/5.html",
		Body: story, Published: "Tue, 11 Jun 2024 09:30:00 GMT", ObservedAt: time.Date(2024, 6, 11, 10, 0, 0, 0, time.UTC)})
	waitFor(t, func() bool { return w.Stats().Entries.Load() == 1 })
	if n := entryCount(t, srv.JS); n != 1 {
		t.Fatalf("WIRE_ENTRY holds %d entries, want 1", n)
	}
	if got := w.Stats().Retried.Load(); got != 0 {
		t.Errorf("retried %d times; its own claim should not make it wait", got)
	}
}

// TestSearchesLeaveNoConsumers: after a crash every item the dead worker
// held comes back to a pending marker and is looked up on WIRE_ENTRY. A
// search deletes its consumer when it ends, so a burst of them leaves the
// stream as it was and cannot run into the server's limit of consumers
// per stream (a CI run once stalled the normalizer that way).
func TestSearchesLeaveNoConsumers(t *testing.T) {
	srv := shortWindow(t)
	w, stop := startWorkerSet(t, srv.JS, testConfig(), claimsOldAtOnce)
	defer stop()
	const n = 24
	obs := time.Date(2024, 6, 11, 10, 0, 0, 0, time.UTC)
	places := []string{"Lilongwe", "Blantyre", "Mzuzu", "Zomba", "Kasungu", "Mangochi"}
	raws := make([]wire.RawItem, n)
	for i := range raws {
		id := strconv.Itoa(100 + i)
		raws[i] = wire.RawItem{Kind: "rss", Source: "allafrica", NativeID: id, URL: "https://allafrica.com/stories/" + id + ".html",
			Body:      fmt.Sprintf("%s: council meeting %d approved %d new boreholes for the district.", places[i%len(places)], i, 3*i+7),
			Published: "Tue, 11 Jun 2024 09:30:00 GMT", ObservedAt: obs}
		publishRaw(t, srv.JS, raws[i])
	}
	waitFor(t, func() bool { return w.Stats().Entries.Load() == n })
	kv, err := srv.JS.KeyValue(context.Background(), bus.BucketFingerprint)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range raws {
		// Each crash came after the PubAck, before "published" was written.
		id := EntryID(bus.RawMsgID(raw.Kind, raw.Source, raw.NativeID))
		if _, err := kv.Put(context.Background(), "pub."+id, []byte("pending 999")); err != nil {
			t.Fatal(err)
		}
	}
	before := streamState(t, srv.JS, bus.StreamEntry).Consumers
	var seq uint64
	for _, raw := range raws {
		seq = publishPastWindow(t, srv.JS, raw)
	}
	waitHandled(t, srv.JS, seq)
	if got := entryCount(t, srv.JS); got != n {
		t.Fatalf("WIRE_ENTRY holds %d entries, want %d", got, n)
	}
	if got := w.Stats().Recovered.Load(); got != n {
		t.Errorf("recovered %d entries, want %d", got, n)
	}
	if after := streamState(t, srv.JS, bus.StreamEntry).Consumers; after != before {
		t.Errorf("WIRE_ENTRY has %d consumers after the searches, %d before", after, before)
	}
}
