package synth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/wire"
)

// testStream is a deterministic entry stream with a few topics and
// realistic word overlap, timed around now so catch-up windows hold it.
func testStream(n int) []wire.Entry {
	topics := [][]string{
		{"wildfire", "california", "evacuation", "acres", "firefighters"},
		{"election", "moldova", "president", "sandu", "runoff"},
		{"bitcoin", "exchange", "bankruptcy", "gox", "creditors"},
		{"earthquake", "japan", "tsunami", "fukushima", "magnitude"},
		{"merger", "airline", "regulators", "antitrust", "shares"},
	}
	return topicStream("e", topics, n, time.Now().UTC().Add(-time.Hour).Truncate(time.Second))
}

// topicStream is n entries, one a second from base, going round the
// topics (five words each); ids are prefix and a number.
func topicStream(prefix string, topics [][]string, n int, base time.Time) []wire.Entry {
	out := make([]wire.Entry, n)
	for i := range n {
		w := topics[i%len(topics)]
		h := fmt.Sprintf("%s %s %s %s", w[0], w[1+i%4], w[1+(i/5)%4], w[4-i%3])
		e := entry(fmt.Sprintf("%s%04x", prefix, i), fmt.Sprintf("src%d", i%13), h, h, 0)
		e.PublishedAt = base.Add(time.Duration(i) * time.Second)
		e.ObservedAt = e.PublishedAt.Add(time.Second)
		out[i] = e
	}
	return out
}

func publishEntries(t testing.TB, js jetstream.JetStream, es []wire.Entry) {
	t.Helper()
	ctx := context.Background()
	for _, e := range es {
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		msg := nats.NewMsg(bus.EntrySubject("rss", e.Source.ID))
		msg.Data = data
		msg.Header.Set(bus.HeaderMsgID, "entry:"+e.ID)
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
}

// reference runs the stream through a clusterer in memory.
func reference(t testing.TB, es []wire.Entry) map[string]string {
	c := newTestClusterer(t)
	for _, e := range es {
		c.Add(e)
	}
	out := make(map[string]string, len(es))
	for _, e := range es {
		out[e.ID], _ = c.StoryOf(e.ID)
	}
	return out
}

type storyLog struct {
	snaps    map[string][]wire.Story // story id → every snapshot, in stream order
	last     map[string]wire.Story   // story id → last snapshot
	versions map[string][]int64      // every version published, in stream order
	of       map[string]string       // entry → story, merges followed
}

// readStoryLog reads every snapshot in WIRE_STORY.
func readStoryLog(t testing.TB, js jetstream.JetStream) storyLog {
	t.Helper()
	ctx := context.Background()
	oc, err := js.OrderedConsumer(ctx, bus.StreamStory, jetstream.OrderedConsumerConfig{FilterSubjects: []string{bus.SubjectStoryAll}})
	if err != nil {
		t.Fatal(err)
	}
	l := storyLog{snaps: map[string][]wire.Story{}, last: map[string]wire.Story{}, versions: map[string][]int64{}, of: map[string]string{}}
	for {
		batch, err := oc.Fetch(1000, jetstream.FetchMaxWait(300*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			var st wire.Story
			if err := json.Unmarshal(m.Data(), &st); err != nil {
				t.Fatal(err)
			}
			l.snaps[st.ID] = append(l.snaps[st.ID], st)
			l.last[st.ID] = st
			l.versions[st.ID] = append(l.versions[st.ID], st.Version)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		if got == 0 {
			break
		}
	}
	for id, st := range l.last {
		if st.MergedInto != "" {
			continue
		}
		for _, r := range st.Provenance {
			l.of[r.EntryID] = id
		}
	}
	return l
}

// checkLog asserts every entry is in the story the reference puts it in
// and that versions of every story strictly rise: nothing lost, nothing doubled.
func checkLog(t *testing.T, l storyLog, want map[string]string) {
	t.Helper()
	for e, s := range want {
		if l.of[e] != s {
			t.Errorf("entry %s: published story %q, reference %q", e, l.of[e], s)
		}
	}
	for id, vs := range l.versions {
		for i := 1; i < len(vs); i++ {
			if vs[i] <= vs[i-1] {
				t.Errorf("story %s versions %v do not rise", id, vs)
				break
			}
		}
	}
}

func startWorker(t *testing.T, srv *bustest.Server) (*Worker, func()) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.SnapshotInterval = 20 * time.Millisecond
	return startWorkerWith(t, srv, cfg)
}

// waitAcked waits until the synth consumer has acknowledged n entries.
func waitAcked(t *testing.T, js jetstream.JetStream, n uint64) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(40 * time.Second)
	for time.Now().Before(deadline) {
		cons, err := js.Consumer(ctx, bus.StreamEntry, ConsumerName)
		if err == nil {
			if info, err := cons.Info(ctx); err == nil && info.AckFloor.Stream >= n {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("synth consumer did not acknowledge %d entries in time", n)
}

func TestRestartRebuildsSameIDs(t *testing.T) {
	srv := bustest.Start(t)
	stream := testStream(400)
	want := reference(t, stream)

	_, stop := startWorker(t, srv)
	publishEntries(t, srv.JS, stream[:200])
	waitAcked(t, srv.JS, 200)
	stop()

	// A new worker has no state: it must rebuild from WIRE_ENTRY and carry on with the same ids.
	publishEntries(t, srv.JS, stream[200:])
	w2, stop2 := startWorker(t, srv)
	waitAcked(t, srv.JS, 400)
	stop2()
	if w2.Stats().CaughtUp.Load() == 0 {
		t.Error("the restarted worker did not rebuild from WIRE_ENTRY")
	}
	checkLog(t, readStoryLog(t, srv.JS), want)
}

func TestStandbyTakesOver(t *testing.T) {
	srv := bustest.Start(t)
	stream := testStream(300)
	want := reference(t, stream)

	// The active worker's connection dies without a clean stop, as in a crash.
	ncA, jsA := srv.Connect(t)
	cfg := DefaultConfig()
	cfg.SnapshotInterval = 20 * time.Millisecond
	wa, err := NewWorker(context.Background(), cfg, ncA, jsA, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctxA, cancelA := context.WithCancel(context.Background())
	doneA := make(chan error, 1)
	go func() { doneA <- wa.Run(ctxA) }()
	publishEntries(t, srv.JS, stream[:150])
	waitAcked(t, srv.JS, 150)

	wb, stopB := startWorker(t, srv)
	time.Sleep(200 * time.Millisecond)
	if wb.Stats().Entries.Load() != 0 {
		t.Fatal("the standby took entries while the active worker was pinned")
	}
	ncA.Close()
	cancelA()
	<-doneA

	publishEntries(t, srv.JS, stream[150:])
	waitAcked(t, srv.JS, 300)
	if wb.Stats().Entries.Load() == 0 {
		t.Fatal("the standby never took over")
	}
	stopB()
	checkLog(t, readStoryLog(t, srv.JS), want)
}

func TestSnapshotOverMaxPayloadIsTruncated(t *testing.T) {
	c := newTestClusterer(t)
	id := ""
	for i := range 300 {
		e := entry(fmt.Sprintf("e%03d", i), fmt.Sprintf("s%d", i), "Storm floods the old town of Prague", "", i)
		e.DuplicateOf = ""
		if i > 0 {
			e.DuplicateOf = "e000"
		}
		id = c.Add(e)
	}
	w := &Worker{cl: c, maxPayload: 16 << 10, log: zapNop()}
	st, _ := c.Snapshot(id)
	data, err := w.encode(&st)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > w.maxPayload-1024 {
		t.Fatalf("encoded snapshot %d bytes, limit %d", len(data), w.maxPayload-1024)
	}
	if st.Truncated == 0 || st.Truncated+len(st.Provenance) != 300 {
		t.Fatalf("truncated %d + kept %d, want 300 with some truncated", st.Truncated, len(st.Provenance))
	}
	if st.Counts.Entries != 300 {
		t.Errorf("counts must cover every entry, not only the records kept: %+v", st.Counts)
	}
	if st.Provenance[0].EntryID != "e000" {
		t.Errorf("the earliest records must be kept, first is %s", st.Provenance[0].EntryID)
	}
	if w.Stats().Truncated.Load() == 0 {
		t.Error("truncation not counted")
	}
}

func TestOrphanWithdrawalIsCountedAndAcked(t *testing.T) {
	srv := bustest.Start(t)
	stream := testStream(20)
	w := entry("e7777", "tg1", "", "", 0) // its post was never seen here
	w.Withdrawn = true
	w.PublishedAt, w.ObservedAt = stream[19].PublishedAt, stream[19].ObservedAt
	wk, stop := startWorker(t, srv)
	publishEntries(t, srv.JS, append(stream, w))
	waitAcked(t, srv.JS, 21)
	stop()
	if n := wk.Stats().OrphanWithdrawals.Load(); n != 1 {
		t.Errorf("orphan withdrawals counted: %d, want 1", n)
	}
	l := readStoryLog(t, srv.JS)
	if _, ok := l.last[StoryID(w.ID)]; ok {
		t.Errorf("the withdrawal founded story %s", StoryID(w.ID))
	}
	if s, ok := l.of[w.ID]; ok {
		t.Errorf("the withdrawn entry appears in story %s", s)
	}
}

// TestStalledWorkerIsFencedOnceAnotherPublished plays the fail-over race
// the cluster test found: worker A publishes a story, stalls, and its pin
// moves to B, which rebuilt from WIRE_ENTRY and publishes the story with
// an entry A never saw. When A wakes with a change of its own, its
// snapshot must not replace B's: WIRE_STORY refuses it (A's last
// sequence for the subject is no longer the subject's last), and A drops
// its state instead of publishing from it.
//
// A's next version is either one B stored already (the server's
// duplicate check answers) or a version B never reached (the subject
// sequence check answers); both must fence.
func TestStalledWorkerIsFencedOnceAnotherPublished(t *testing.T) {
	for _, ahead := range []bool{false, true} {
		t.Run(fmt.Sprintf("version_ahead=%v", ahead), func(t *testing.T) { fencedOnceAnotherPublished(t, ahead) })
	}
}

// twoWorkers makes two workers on one server, each on its own
// connection, driven by hand (no Run): the fencing tests place entries
// and flush them themselves.
func twoWorkers(t *testing.T) (srv *bustest.Server, a, b *Worker) {
	t.Helper()
	srv = bustest.Start(t)
	newWorker := func() *Worker {
		nc, js := srv.Connect(t)
		w, err := NewWorker(context.Background(), DefaultConfig(), nc, js, nil)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	return srv, newWorker(), newWorker()
}

// floodReports are three reports of one event from three sources.
func floodReports() (e1, e2, e3 wire.Entry) {
	head := "Storm floods the old town of Prague as the Vltava rises"
	return entry("e1", "ctk", head, "", 0), entry("e2", "rferl", head, "", 1), entry("e3", "dpa", head, "", 2)
}

func fencedOnceAnotherPublished(t *testing.T, ahead bool) {
	srv, a, b := twoWorkers(t)
	ctx := context.Background()
	e1, e2, e3 := floodReports()
	id := a.cl.Add(e1)
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	b.cl.Add(e1)
	if got := b.cl.Add(e2); got != id {
		t.Fatalf("e2 went to %s, want %s", got, id)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i, version := range []int64{2, 3} { // B publishes twice, past A's next version
		b.cl.dirty[id] = true
		if err := b.Flush(ctx); err != nil {
			t.Fatalf("B's flush %d: %v", i, err)
		}
		if v := readStoryLog(t, srv.JS).last[id].Version; v != version+1 {
			t.Fatalf("after B's flush %d the last version is %d, want %d", i, v, version+1)
		}
	}

	if ahead {
		a.cl.SetVersion(id, 10)
	}
	a.cl.Add(e3)
	err := a.Flush(ctx)
	if err == nil {
		t.Fatal("A's stale snapshot was accepted")
	}
	t.Logf("A's flush: %v", err)
	if a.Stats().Fenced.Load() != 1 {
		t.Errorf("fenced %d times, want 1", a.Stats().Fenced.Load())
	}
	if stories, entries := a.cl.Len(); stories != 0 || entries != 0 || a.applied != 0 {
		t.Errorf("A kept %d stories, %d entries, applied %d after being fenced", stories, entries, a.applied)
	}
	last := readStoryLog(t, srv.JS).last[id]
	members := map[string]bool{}
	for _, p := range last.Provenance {
		members[p.EntryID] = true
	}
	if last.Version != 4 || !members["e1"] || !members["e2"] || members["e3"] {
		t.Errorf("last snapshot of %s: version %d, members %v; want B's version 4 with e1 and e2", id, last.Version, members)
	}
}

// TestFirstSnapshotContinuesTheVersion checks that a worker's first
// snapshot of a story continues from the version on WIRE_STORY, both when
// the look-up runs in the background and when the worker holds so many
// look-ups that Flush makes it in line.
func TestFirstSnapshotContinuesTheVersion(t *testing.T) {
	srv := bustest.Start(t)
	ctx := context.Background()
	for _, held := range []bool{false, true} {
		e := testStream(1)[0]
		e.ID = fmt.Sprintf("e7e57%t", held)
		id := StoryID(e.ID)
		old, err := json.Marshal(wire.Story{Schema: wire.SchemaStory, ID: id, Version: 7})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.JS.Publish(ctx, bus.StorySubject(id), old); err != nil {
			t.Fatal(err)
		}
		nc, js := srv.Connect(t)
		w, err := NewWorker(ctx, DefaultConfig(), nc, js, nil)
		if err != nil {
			t.Fatal(err)
		}
		w.mu.Lock()
		if held {
			w.lookups = make(map[string]*versionLookup)
			for i := range heldLookups {
				w.lookups[fmt.Sprint("held", i)] = &versionLookup{done: make(chan struct{})}
			}
		}
		w.cl.Add(e)
		if !held {
			w.lookUpVersion(id)
		}
		w.mu.Unlock()
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		w.lookingUp.Wait()
		stream, err := srv.JS.Stream(ctx, bus.StreamStory)
		if err != nil {
			t.Fatal(err)
		}
		m, err := stream.GetLastMsgForSubject(ctx, bus.StorySubject(id))
		if err != nil {
			t.Fatal(err)
		}
		var got wire.Story
		if err := json.Unmarshal(m.Data, &got); err != nil {
			t.Fatal(err)
		}
		if got.Version != 8 {
			t.Errorf("held=%t: first snapshot of this worker has version %d, want 8", held, got.Version)
		}
	}
}

// TestWorkerBehindThePublisherIsFenced: a worker that took the pin back
// after a stall, or woke up after losing it, may read a story's last
// snapshot after the other worker published it, and its conditional
// publish would then pass; the snapshot's HeaderApplied tells it that
// the other worker had placed more entries, and it is fenced instead.
func TestWorkerBehindThePublisherIsFenced(t *testing.T) {
	srv, a, b := twoWorkers(t)
	ctx := context.Background()
	e1, e2, e3 := floodReports()
	b.cl.Add(e1)
	id := b.cl.Add(e2)
	b.applied = 2
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	a.cl.Add(e1)
	a.applied = 1
	if got := a.cl.Add(e3); got != id {
		t.Fatalf("e3 went to %s, want %s", got, id)
	}
	if err := a.Flush(ctx); err == nil {
		t.Fatal("the worker behind published")
	}
	if a.Stats().Fenced.Load() != 1 {
		t.Errorf("fenced %d times, want 1", a.Stats().Fenced.Load())
	}
	l := readStoryLog(t, srv.JS)
	if n := len(l.snaps[id]); n != 1 {
		t.Errorf("%d snapshots of %s, want B's one", n, id)
	}
}

// TestWorkerThatMissedAnotherWritersSnapshotIsFenced: two workers that
// each believe they are the active one (the pin moved while one was cut
// off by a partition) publish different stories, so no story's own last
// sequence tells them apart. Every snapshot is published on the
// condition of the stream's last sequence too: A, whose last snapshot is
// no longer the stream's last, is refused and fenced. After a publish of
// unknown outcome the worker reads the stream's last message: its own
// lets it go on, another worker's fences it.
func TestWorkerThatMissedAnotherWritersSnapshotIsFenced(t *testing.T) {
	srv, a, b := twoWorkers(t)
	ctx := context.Background()
	e1, e2, _ := floodReports()
	other := entry("f1", "bbc", "Central bank leaves interest rates unchanged in Oslo", "", 1)
	x := a.cl.Add(e1)
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	y := b.cl.Add(other)
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := a.cl.Add(e2); got != x {
		t.Fatalf("e2 went to %s, want %s", got, x)
	}
	if err := a.Flush(ctx); err == nil {
		t.Fatal("A published although B had written to the stream since A's last snapshot")
	}
	if n := a.Stats().Fenced.Load(); n != 1 {
		t.Errorf("A fenced %d times, want 1", n)
	}
	l := readStoryLog(t, srv.JS)
	if len(l.snaps[x]) != 1 || len(l.snaps[y]) != 1 {
		t.Errorf("%d snapshots of %s and %d of %s, want one each", len(l.snaps[x]), x, len(l.snaps[y]), y)
	}

	// B's publish of unknown outcome, its own snapshot last: B goes on.
	b.mu.Lock()
	b.tailState = tailVerify
	b.tail = 0 // what it knew before: not the stream's end
	b.mu.Unlock()
	b.cl.Add(entry("f2", "nrk", "Central bank leaves interest rates unchanged in Oslo", "", 2))
	if err := b.Flush(ctx); err != nil {
		t.Fatalf("B after its own last snapshot: %v", err)
	}
	// A, rebuilt, publishes; then B's outcome is unknown again: fenced.
	a.cl.Add(e1)
	a.cl.Add(e2)
	if err := a.Flush(ctx); err != nil {
		t.Fatalf("A after its rebuild: %v", err)
	}
	b.mu.Lock()
	b.tailState = tailVerify
	b.mu.Unlock()
	b.cl.Add(entry("f3", "yle", "Central bank leaves interest rates unchanged in Oslo", "", 3))
	if err := b.Flush(ctx); err == nil {
		t.Fatal("B published although A had written the stream's last message")
	}
	if n := b.Stats().Fenced.Load(); n != 1 {
		t.Errorf("B fenced %d times, want 1", n)
	}
}

// TestStoryCountsAndAssignmentLatency: the story counters and the
// assignment latency follow the entries a worker places live, as an
// uninterrupted clusterer counts them, and a restarted worker's rebuild
// from WIRE_ENTRY adds neither counts nor observations.
func TestStoryCountsAndAssignmentLatency(t *testing.T) {
	srv := bustest.Start(t)
	stream := testStream(60)
	// A report long after the others leaves every earlier story stale.
	late := entry("e9001", "src1", "volcano iceland eruption lava reykjavik", "", 0)
	late.ObservedAt = stream[len(stream)-1].ObservedAt.Add(2 * DefaultConfig().StaleAfter)
	late.PublishedAt = late.ObservedAt.Add(-time.Second)
	stream = append(stream, late)
	ref := newTestClusterer(t)
	for _, e := range stream {
		ref.Add(e)
	}
	want := ref.Changes()
	if want.Founded == 0 || want.Stale == 0 {
		t.Fatalf("the stream should found stories and leave some stale: %+v", want)
	}
	t.Logf("story changes %+v, %d active", want, ref.Active())

	w, stop := startWorker(t, srv)
	publishEntries(t, srv.JS, stream)
	waitAcked(t, srv.JS, uint64(len(stream)))
	stop()
	st := w.Stats()
	got := StoryChanges{st.StoriesFounded.Load(), st.StoriesMerged.Load(), st.StoriesStale.Load(), st.StoriesSplit.Load()}
	if got != want {
		t.Errorf("story changes counted %+v, an uninterrupted clusterer made %+v", got, want)
	}
	if n, want := st.StoriesActive.Load(), int64(ref.Active()); n != want {
		t.Errorf("active stories %d, want %d", n, want)
	}
	if n := assignments(t, w); n != uint64(len(stream)) {
		t.Errorf("assignment latency observed %d times, want %d (one per entry)", n, len(stream))
	}

	// The first entry after a restart sets off the rebuild, which places
	// it with the history: nothing is counted. The next is placed live.
	w2, stop2 := startWorker(t, srv)
	defer stop2()
	again := entry("e9002", "src2", "volcano iceland eruption lava flights", "", 0)
	again.PublishedAt, again.ObservedAt = late.PublishedAt.Add(time.Minute), late.ObservedAt.Add(time.Minute)
	publishEntries(t, srv.JS, []wire.Entry{again})
	waitAcked(t, srv.JS, uint64(len(stream)+1))
	if w2.Stats().CaughtUp.Load() == 0 {
		t.Fatal("the restarted worker did not rebuild from WIRE_ENTRY")
	}
	if n := w2.Stats().StoriesFounded.Load() + w2.Stats().StoriesStale.Load(); n != 0 {
		t.Errorf("the rebuild counted %d story changes", n)
	}
	if n := assignments(t, w2); n != 0 {
		t.Errorf("the rebuild observed %d assignment latencies", n)
	}
	fresh := entry("e9003", "src3", "glacier antarctica shelf collapse penguins", "", 0)
	fresh.PublishedAt, fresh.ObservedAt = again.PublishedAt.Add(time.Minute), again.ObservedAt.Add(time.Minute)
	publishEntries(t, srv.JS, []wire.Entry{fresh})
	waitAcked(t, srv.JS, uint64(len(stream)+2))
	if n := w2.Stats().StoriesFounded.Load(); n != 1 {
		t.Errorf("stories founded after the restart: %d, want 1", n)
	}
	if n := assignments(t, w2); n != 1 {
		t.Errorf("assignment latencies after the restart: %d, want 1", n)
	}
}

// assignments is how many assignment latencies the worker observed.
func assignments(t *testing.T, w *Worker) uint64 {
	t.Helper()
	var m dto.Metric
	if err := w.assignment.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}
