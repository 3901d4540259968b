package normalize

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/ingest/replay"
	"github.com/newswire/newswire/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testConfig skips the language model: the worker tests are about the bus.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Detector = ScriptDetector{}
	return cfg
}

func startWorker(t *testing.T, js jetstream.JetStream, cfg Config) (*Worker, func()) {
	t.Helper()
	return startWorkerSet(t, js, cfg, nil)
}

// startWorkerSet is startWorker with set, when given, applied to the
// worker before it runs.
func startWorkerSet(t *testing.T, js jetstream.JetStream, cfg Config, set func(*Worker)) (*Worker, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := NewWorker(ctx, cfg, js, nil)
	if err != nil {
		t.Fatal(err)
	}
	if set != nil {
		set(w)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	return w, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	}
}

func publishRaw(t *testing.T, js jetstream.JetStream, raw wire.RawItem) {
	t.Helper()
	raw.Schema = wire.SchemaRaw
	data, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	publishRawBytes(t, js, raw.Kind, raw.Source, bus.RawMsgID(raw.Kind, raw.Source, raw.NativeID), data)
}

func publishRawBytes(t *testing.T, js jetstream.JetStream, kind, source, msgID string, data []byte) {
	t.Helper()
	m := nats.NewMsg(bus.RawSubject(kind, source))
	m.Data = data
	m.Header.Set(bus.HeaderMsgID, msgID)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
}

// readAll reads n messages of a stream's subjects, failing after a timeout.
func readAll(t *testing.T, js jetstream.JetStream, stream, subject string, n int) [][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for len(out) < n {
		batch, err := cons.Fetch(n-len(out), jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			out = append(out, m.Data())
		}
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d messages from %s", len(out), n, stream)
		}
	}
	return out
}

func entriesByNative(t *testing.T, js jetstream.JetStream, n int) map[string]wire.Entry {
	t.Helper()
	out := map[string]wire.Entry{}
	for _, data := range readAll(t, js, bus.StreamEntry, bus.SubjectEntryAll, n) {
		var e wire.Entry
		if err := json.Unmarshal(data, &e); err != nil {
			t.Fatal(err)
		}
		out[e.Raw.MsgID[strings.LastIndexByte(e.Raw.MsgID, ':')+1:]] = e
	}
	return out
}

const story = "Malawi Vice-President Saulos Chilima and nine others died when their military plane crashed in the Chikangawa forest, the president said on Tuesday after a day-long search."

func TestWorkerEndToEnd(t *testing.T) {
	srv := bustest.Start(t)
	w, stop := startWorker(t, srv.JS, testConfig())
	defer stop()
	obs := time.Date(2024, 6, 11, 10, 0, 0, 0, time.UTC)
	item := func(source, id, url, body string) wire.RawItem {
		return wire.RawItem{Kind: "rss", Source: source, NativeID: id, URL: url, Body: body,
			Published: "Tue, 11 Jun 2024 09:30:00 GMT", ObservedAt: obs}
	}
	publishRaw(t, srv.JS, item("allafrica", "1", "https://allafrica.com/stories/1.html", story))
	// the same story at the same URL, seen again under another id: folded
	publishRaw(t, srv.JS, item("allafrica", "1b", "https://allafrica.com/stories/1.html?utm_source=tw", story))
	// a syndicated copy with an agency tag: a near-duplicate
	publishRaw(t, srv.JS, item("nation", "7", "https://nation.africa/x", story+" (Reuters)"))
	// a Telegram forward of the original: a repost
	fwd := item("chan", "55", "https://t.me/s/chan/55", "Chilima crash: "+story)
	fwd.Kind = "telegram"
	fwd.ForwardOf = &wire.Ref{Kind: "rss", Source: "allafrica", NativeID: "1"}
	publishRaw(t, srv.JS, fwd)
	// poison: not JSON, and JSON with nothing in it
	publishRawBytes(t, srv.JS, "rss", "bad", "rss:bad:x", []byte("{not json"))
	publishRaw(t, srv.JS, wire.RawItem{Kind: "rss", Source: "bad", NativeID: "empty", ObservedAt: obs})

	got := entriesByNative(t, srv.JS, 3)
	orig, copyE, repost := got["1"], got["7"], got["55"]
	if orig.ID == "" || copyE.ID == "" || repost.ID == "" {
		t.Fatalf("entries: %v", got)
	}
	if orig.DuplicateOf != "" || orig.RepostOf != "" {
		t.Errorf("original marked: %+v", orig)
	}
	if copyE.DuplicateOf != orig.ID {
		t.Errorf("copy duplicate_of = %q, want %q", copyE.DuplicateOf, orig.ID)
	}
	if repost.RepostOf != orig.ID || repost.URL != "https://t.me/chan/55" {
		t.Errorf("repost: repost_of %q url %q", repost.RepostOf, repost.URL)
	}
	dl := readAll(t, srv.JS, bus.StreamDLQ, bus.DLQSubject(Stage), 2)
	for _, data := range dl {
		var d wire.DeadLetter
		if err := json.Unmarshal(data, &d); err != nil || d.Reason == "" || d.Stage != Stage {
			t.Errorf("dead letter %s: %v", data, err)
		}
	}
	waitFor(t, func() bool { return w.Stats().Folded.Load() == 1 && w.Stats().DeadLettered.Load() == 2 })
	// nothing left unacknowledged
	waitFor(t, func() bool {
		info, err := w.cons.Info(context.Background())
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	})
}

func TestWorkerRebuildsIndexAndLearnsOtherReplicas(t *testing.T) {
	srv := bustest.Start(t)
	obs := time.Now().UTC()
	cfg := testConfig()
	first, stop := startWorker(t, srv.JS, cfg)
	publishRaw(t, srv.JS, wire.RawItem{Kind: "rss", Source: "a", NativeID: "1", Body: story, ObservedAt: obs, Published: obs.Format(time.RFC3339)})
	orig := entriesByNative(t, srv.JS, 1)["1"]
	waitFor(t, func() bool { return first.Stats().Entries.Load() == 1 })
	stop()

	// A new process has an empty index until it reads WIRE_ENTRY.
	second, stop := startWorker(t, srv.JS, cfg)
	defer stop()
	waitFor(t, func() bool { return second.Stats().Learned.Load() >= 1 })
	publishRaw(t, srv.JS, wire.RawItem{Kind: "rss", Source: "b", NativeID: "2", Body: story + " More to follow.", ObservedAt: obs, Published: obs.Format(time.RFC3339)})

	// Another replica's entry, published while this one runs, is learned too.
	other := orig
	other.ID, other.Text, other.Headline = "eother", "Floods in Porto Alegre: the Guaíba river rose to a record 5.3 metres on Sunday, the city said, and thousands left their homes.", "Floods"
	other.Raw.MsgID = "rss:c:3"
	data, _ := json.Marshal(other)
	m := nats.NewMsg(bus.EntrySubject("rss", "c"))
	m.Data = data
	if _, err := srv.JS.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return second.Stats().Learned.Load() >= 2 })
	publishRaw(t, srv.JS, wire.RawItem{Kind: "rss", Source: "d", NativeID: "4", Body: other.Text + " (AP)", ObservedAt: obs, Published: obs.Format(time.RFC3339)})

	got := entriesByNative(t, srv.JS, 4)
	if got["2"].DuplicateOf != orig.ID {
		t.Errorf("after restart: duplicate_of = %q, want %q", got["2"].DuplicateOf, orig.ID)
	}
	if got["4"].DuplicateOf != "eother" {
		t.Errorf("other replica's entry: duplicate_of = %q, want eother", got["4"].DuplicateOf)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWorkerStartsAfterAQuietSpell: a stream whose entries are all older
// than the near-duplicate window has nothing to learn, and the worker must
// not wait for it.
func TestWorkerStartsAfterAQuietSpell(t *testing.T) {
	srv := bustest.Start(t)
	obs := time.Now().UTC()
	cfg := testConfig()
	first, stop := startWorker(t, srv.JS, cfg)
	publishRaw(t, srv.JS, wire.RawItem{Kind: "rss", Source: "a", NativeID: "1", Body: story, ObservedAt: obs, Published: obs.Format(time.RFC3339)})
	waitFor(t, func() bool { return first.Stats().Entries.Load() == 1 })
	stop()

	later := cfg
	later.Now = func() time.Time { return time.Now().Add(3 * cfg.NearDupWindow) }
	second, stop := startWorker(t, srv.JS, later)
	defer stop()
	publishRaw(t, srv.JS, wire.RawItem{Kind: "rss", Source: "b", NativeID: "2", Body: "A different report entirely, about the harvest.", ObservedAt: obs, Published: obs.Format(time.RFC3339)})
	waitFor(t, func() bool { return second.Stats().Entries.Load() == 1 })
}

func TestHugeBodyIsTruncatedNotLost(t *testing.T) {
	srv := bustest.Start(t)
	w, stop := startWorker(t, srv.JS, testConfig())
	defer stop()
	obs := time.Now().UTC()
	body := strings.Repeat("Слово за словом, строка за строкой. ", 100_000) // ≈ 6 MB, under the test server's 8 MiB payload
	publishRaw(t, srv.JS, wire.RawItem{Kind: "rss", Source: "big", NativeID: "1", Title: "A very long report", Body: body, ObservedAt: obs, Published: obs.Format(time.RFC3339)})
	e := entriesByNative(t, srv.JS, 1)["1"]
	if len(e.Text) > MaxTextBytes || !utf8.ValidString(e.Text) || !slices.Contains(e.Flags, FlagTextTruncated) {
		t.Errorf("text of %d bytes, flags %v", len(e.Text), e.Flags)
	}
	if w.Stats().DeadLettered.Load() != 0 {
		t.Error("a long body was dead-lettered")
	}
}

// TestNearCopyOfAFoldedCopyNamesItsHolder: an exact copy of an entry
// older than the near-duplicate window is indexed as an original, then
// folded when its fingerprint claim comes back (after later items were
// looked up). A near-copy right behind it is a duplicate of the entry the
// copy was folded into, whether the claim came back before its lookup or
// after. Before, some such near-copies named the folded copy, an id never
// on the wire, and the others became originals, by timing.
func TestNearCopyOfAFoldedCopyNamesItsHolder(t *testing.T) {
	srv := bustest.Start(t)
	w, stop := startWorker(t, srv.JS, testConfig())
	defer stop()
	obs := time.Date(2024, 6, 11, 10, 0, 0, 0, time.UTC)
	item := func(id, url, body, published string) wire.RawItem {
		return wire.RawItem{Kind: "rss", Source: "wire", NativeID: id, URL: url, Body: body, Published: published, ObservedAt: obs}
	}
	const old, now = "Sat, 08 Jun 2024 09:30:00 GMT", "Tue, 11 Jun 2024 09:30:00 GMT"
	// Real posts of different events: the bundled Telegram sample's first
	// long posts that are not near-copies of each other (Jaccard well
	// under the threshold, with their rewrites too).
	const rounds = 20
	posts, err := replay.ReadFile("../testdata/replay/telegram-ru-news-sample.jsonl.gz")
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	var sketches []Sketch
	for _, p := range posts {
		if len(texts) == rounds || utf8.RuneCountInString(p.Text) < 300 {
			continue
		}
		sk := SketchOf(&wire.Entry{Text: p.Text})
		if !slices.ContainsFunc(sketches, func(o Sketch) bool { return o.Jaccard(&sk) > 0.2 }) {
			texts, sketches = append(texts, p.Text), append(sketches, sk)
		}
	}
	// The originals, three days old, then a fresh item that moves the
	// near-duplicate window past them.
	for i, s := range texts {
		publishRaw(t, srv.JS, item(fmt.Sprintf("h%d", i), fmt.Sprintf("https://wire.example/%d", i), s, old))
	}
	publishRaw(t, srv.JS, item("fresh", "https://wire.example/fresh", "Floods close the main road north of Lilongwe after two days of rain.", now))
	// Each original republished today at its own link (an exact copy:
	// folded), and a rewrite of it at another link right behind.
	for i, s := range texts {
		publishRaw(t, srv.JS, item(fmt.Sprintf("f%d", i), fmt.Sprintf("https://wire.example/%d", i), s, now))
		publishRaw(t, srv.JS, item(fmt.Sprintf("g%d", i), fmt.Sprintf("https://other.example/%d", i), s+" (ТАСС)", now))
	}
	got := entriesByNative(t, srv.JS, 2*rounds+1)
	ids := map[string]bool{}
	for _, e := range got {
		ids[e.ID] = true
	}
	for i := range texts {
		if _, ok := got[fmt.Sprintf("f%d", i)]; ok {
			t.Errorf("republished copy f%d became an entry", i)
		}
		g, ok := got[fmt.Sprintf("g%d", i)]
		if !ok {
			t.Fatalf("rewrite g%d: no entry", i)
		}
		if h := got[fmt.Sprintf("h%d", i)]; g.DuplicateOf != h.ID {
			t.Errorf("rewrite g%d is a duplicate of %q (an entry: %v), want %s, the entry its exact copy was folded into",
				i, g.DuplicateOf, ids[g.DuplicateOf], h.ID)
		}
	}
	waitFor(t, func() bool { return w.Stats().Folded.Load() == rounds })
}

// TestNearIndexLearnsOnlyInsideTheWindow: an entry read back from
// WIRE_ENTRY after the index evicted it for age stays out (it would sit
// behind newer entries, where eviction, oldest first, would not reach it,
// and lookups would find it); an entry the worker itself adds is indexed
// whatever its age (a new feed's backlog, a replay of another era), as is
// a learned entry inside the window.
func TestNearIndexLearnsOnlyInsideTheWindow(t *testing.T) {
	ix := newNearIndex(0.5, 48*time.Hour, 100)
	t0 := time.Date(2024, 2, 26, 6, 0, 0, 0, time.UTC)
	sketch := func(text string) *Sketch {
		sk := SketchOf(&wire.Entry{Text: text})
		return &sk
	}
	old := sketch(story)
	ix.Add("old", old, t0)
	ix.Add("fresh", sketch("Floods close the main road north of Lilongwe after two days of rain."), t0.Add(72*time.Hour))
	if id, ok := ix.Match(old); ok {
		t.Fatalf("matched %s, evicted", id)
	}
	ix.Learn("old", old, t0)
	if id, ok := ix.Match(old); ok {
		t.Errorf("matched %s after it was learned back past the window", id)
	}
	mid := sketch("Parliament passes the budget after a night of debate in Lilongwe.")
	ix.Learn("mid", mid, t0.Add(40*time.Hour))
	if id, ok := ix.Match(mid); !ok || id != "mid" {
		t.Errorf("a learned entry inside the window: %q %v", id, ok)
	}
	era := sketch("Malaysia Airlines flight MH370 with 239 people on board lost contact over the South China Sea.")
	ix.Add("era", era, t0.AddDate(-10, 0, 0))
	if id, ok := ix.Match(era); !ok || id != "era" {
		t.Errorf("an entry of another era added by the worker: %q %v", id, ok)
	}
}

// TestNearIndexFoldAndFail: a folded copy stands for its holder (a match
// names the holder); a copy whose claim failed is passed by and reported
// unsettled until its next delivery adds it again.
func TestNearIndexFoldAndFail(t *testing.T) {
	ix := newNearIndex(0.5, 48*time.Hour, 100)
	at := time.Date(2024, 6, 11, 9, 30, 0, 0, time.UTC)
	copySketch := SketchOf(&wire.Entry{Text: story})
	ix.Add("copy", &copySketch, at)
	if id, ok := ix.Match(&copySketch); !ok || id != "copy" {
		t.Fatalf("before the claim: %q %v", id, ok)
	}
	ix.Fold("copy", "holder")
	if id, ok := ix.Match(&copySketch); !ok || id != "holder" {
		t.Errorf("a folded copy: match %q %v, want holder", id, ok)
	}
	if h, failed := ix.Outcome("copy"); h != "holder" || failed {
		t.Errorf("outcome of a folded copy: %q %v", h, failed)
	}

	other := SketchOf(&wire.Entry{Text: "Floods close the main road north of Lilongwe after two days of rain."})
	ix.Add("other", &other, at)
	ix.Fail("other")
	if id, ok := ix.Match(&other); ok {
		t.Errorf("an entry whose claim failed matched as %q", id)
	}
	if h, failed := ix.Outcome("other"); h != "" || !failed {
		t.Errorf("outcome after a failed claim: %q %v", h, failed)
	}
	ix.Add("other", &other, at) // its next delivery
	if id, ok := ix.Match(&other); !ok || id != "other" {
		t.Errorf("after its next delivery: %q %v", id, ok)
	}
	if h, failed := ix.Outcome("nobody"); h != "" || failed {
		t.Errorf("outcome of an id never indexed: %q %v", h, failed)
	}
}
