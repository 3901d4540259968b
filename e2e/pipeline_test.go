package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/ingest/egress"
	"github.com/newswire/newswire/ingest/rss"
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/schema"
	"github.com/newswire/newswire/synth"
	"github.com/newswire/newswire/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const feedA = `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>AllAfrica Latest</title><link>https://allafrica.com/</link><language>en</language>
<item><title>Malawi: Vice President Chilima Killed in Plane Crash</title>
<link>https://allafrica.com/stories/202406110001.html?utm_source=rss&amp;utm_medium=feed</link>
<guid isPermaLink="false">aa-202406110001</guid>
<pubDate>Tue, 11 Jun 2024 10:09:00 GMT</pubDate>
<description>&lt;p&gt;Malawi's vice president Saulos Chilima and nine others were killed when their plane crashed in the Chikangawa forest, President Chakwera said.&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;</description></item>
<item><title>Kenya: Parliament Passes Finance Bill Amid Protests</title>
<link>https://allafrica.com/stories/202406110002.html</link>
<guid isPermaLink="false">aa-202406110002</guid>
<pubDate>Tue, 11 Jun 2024 09:30:00 GMT</pubDate>
<description>Kenyan lawmakers passed the finance bill on Tuesday as protesters gathered outside parliament in Nairobi.</description></item>
</channel></rss>`

const feedB = `<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Wire B</title><id>urn:wire-b</id><updated>2024-06-11T10:30:00Z</updated>
<entry><title>Chilima among ten dead as military plane goes down in Malawi's Chikangawa forest</title>
<id>urn:wire-b:77</id><link href="https://wire-b.example/world/malawi-chilima-crash"/>
<published>2024-06-11T10:21:00+00:00</published><updated>2024-06-11T10:21:00+00:00</updated>
<summary>Rescuers reached the wreckage on Tuesday morning; Chakwera said there were no survivors among the ten people on board, including the vice president.</summary></entry>
</feed>`

// pipeline runs a normalizer and a synthesizer on a test server until the test ends.
func pipeline(t *testing.T, srv *bustest.Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	nw, err := normalize.NewWorker(ctx, normalize.DefaultConfig(), srv.JS, nil)
	if err != nil {
		t.Fatal(err)
	}
	scfg := synth.DefaultConfig()
	scfg.SnapshotInterval = 20 * time.Millisecond
	sw, err := synth.NewWorker(ctx, scfg, srv.Conn, srv.JS, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 2)
	go func() { _ = nw.Run(ctx); done <- struct{}{} }()
	go func() { _ = sw.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
	})
}

// collect reads every message of a stream that is there now.
func collect(t *testing.T, js jetstream.JetStream, stream string) []jetstream.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := info.State.Msgs
	if n == 0 {
		return nil
	}
	oc, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []jetstream.Msg
	for uint64(len(out)) < n {
		m, err := oc.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("read %s: %v (got %d of %d)", stream, err, len(out), n)
		}
		out = append(out, m)
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// storyOfSize waits until a story's last snapshot holds n provenance
// records, and returns that snapshot.
func storyOfSize(t *testing.T, js jetstream.JetStream, n int, what string) wire.Story {
	t.Helper()
	var found wire.Story
	waitFor(t, what, func() bool {
		for _, st := range latestStories(t, js) {
			if len(st.Provenance) == n {
				found = st
				return true
			}
		}
		return false
	})
	return found
}

// runCollector runs a collector until the returned stop is called, which
// reports the collector's error.
func runCollector(t *testing.T, run func(context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("collector: %v", err)
		}
	}
}

func streamMsgs(t *testing.T, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// latestStories returns the last snapshot of every story.
func latestStories(t *testing.T, js jetstream.JetStream) map[string]wire.Story {
	t.Helper()
	out := make(map[string]wire.Story)
	for _, m := range collect(t, js, bus.StreamStory) {
		var st wire.Story
		if err := json.Unmarshal(m.Data(), &st); err != nil {
			t.Fatal(err)
		}
		if old, ok := out[st.ID]; !ok || st.Version > old.Version {
			out[st.ID] = st
		}
	}
	return out
}

func TestRSSFeedsToStoriesWithProvenance(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/a.xml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
		fmt.Fprint(w, feedA)
	})
	mux.HandleFunc("/b.xml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/atom+xml")
		fmt.Fprint(w, feedB)
	})
	hs := httptest.NewServer(mux)
	defer hs.Close()

	srv := bustest.Start(t)
	pipeline(t, srv)
	state, err := srv.JS.KeyValue(context.Background(), bus.BucketSource)
	if err != nil {
		t.Fatal(err)
	}
	coll, err := rss.New(rss.Config{Feeds: []rss.Feed{
		{ID: "allafrica", Code: "ALLAFRICA", Name: "AllAfrica", URL: hs.URL + "/a.xml", Interval: time.Hour},
		{ID: "wire-b", Code: "WIREB", Name: "Wire B", URL: hs.URL + "/b.xml", Interval: time.Hour},
	}, Egress: egress.MustNew("127.0.0.0/8", "::1/128")}, ingest.NewJetStreamPublisher(srv.JS), state, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer runCollector(t, coll.Run)()

	crash := storyOfSize(t, srv.JS, 2, "a story with both crash reports")
	if got := streamMsgs(t, srv.JS, bus.StreamEntry); got != 3 {
		t.Fatalf("entries = %d, want 3", got)
	}

	// The provenance list names each post with its URL and times, earliest first.
	p := crash.Provenance
	if p[0].Source.Code != "ALLAFRICA" || p[1].Source.Code != "WIREB" {
		t.Fatalf("provenance order/sources = %s, %s", p[0].Source.Code, p[1].Source.Code)
	}
	if p[0].URL != "https://allafrica.com/stories/202406110001.html" {
		t.Errorf("first URL = %q, want tracking parameters stripped", p[0].URL)
	}
	if p[1].URL != "https://wire-b.example/world/malawi-chilima-crash" {
		t.Errorf("second URL = %q", p[1].URL)
	}
	want0 := time.Date(2024, 6, 11, 10, 9, 0, 0, time.UTC)
	want1 := time.Date(2024, 6, 11, 10, 21, 0, 0, time.UTC)
	if !p[0].PublishedAt.Equal(want0) || !p[1].PublishedAt.Equal(want1) {
		t.Errorf("published = %v, %v; want %v, %v", p[0].PublishedAt, p[1].PublishedAt, want0, want1)
	}
	for i, r := range p {
		if r.ObservedAt.IsZero() || r.Raw.Stream != bus.StreamRaw || r.Raw.Seq == 0 || r.Raw.MsgID == "" {
			t.Errorf("record %d lacks observed time or raw pointer: %+v", i, r)
		}
	}
	if p[0].Role != provenance.RoleOrigin || p[1].Role != provenance.RoleCorroboration {
		t.Errorf("roles = %s, %s", p[0].Role, p[1].Role)
	}
	if crash.FirstReport.Source != "ALLAFRICA" || crash.Counts.Sources != 2 || crash.Counts.Origins != 2 {
		t.Errorf("first report %+v counts %+v", crash.FirstReport, crash.Counts)
	}
	// The raw pointer leads back to the raw item the collector published.
	raw, err := mustStream(t, srv.JS, bus.StreamRaw).GetMsg(context.Background(), p[0].Raw.Seq)
	if err != nil {
		t.Fatal(err)
	}
	if got := raw.Header.Get(bus.HeaderMsgID); got != p[0].Raw.MsgID {
		t.Errorf("raw msg id = %q, want %q", got, p[0].Raw.MsgID)
	}

	// Everything on the bus matches the published JSON Schemas.
	v, err := schema.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	for stream, name := range map[string]string{bus.StreamRaw: schema.Raw, bus.StreamEntry: schema.Entry, bus.StreamStory: schema.Story} {
		for _, m := range collect(t, srv.JS, stream) {
			if err := v.Validate(name, m.Data()); err != nil {
				t.Errorf("%s seq message on %s: %v\n%s", stream, m.Subject(), err, m.Data())
			}
		}
	}
	// Markup from the feed never reaches the entry's text.
	for _, m := range collect(t, srv.JS, bus.StreamEntry) {
		if strings.Contains(string(m.Data()), "alert(1)") {
			t.Errorf("script from the feed leaked into an entry: %s", m.Data())
		}
	}
}

func mustStream(t *testing.T, js jetstream.JetStream, name string) jetstream.Stream {
	t.Helper()
	s, err := js.Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func rawItem(native, url, title string) wire.RawItem {
	return wire.RawItem{
		Kind: "rss", Source: "wire-a", NativeID: native, URL: url, Title: title,
		Body: "Body of " + title, BodyFormat: wire.FormatText,
		Published: "2024-06-11T10:00:00Z", ObservedAt: time.Date(2024, 6, 11, 10, 1, 0, 0, time.UTC),
	}
}

func TestPublishingTwiceCreatesNoSecondEntry(t *testing.T) {
	srv := bustest.Start(t)
	pipeline(t, srv)
	pub := ingest.NewJetStreamPublisher(srv.JS)
	ctx := context.Background()
	items := []wire.RawItem{
		rawItem("1", "https://wire-a.example/1", "Flooding closes the port of Durban"),
		rawItem("2", "https://wire-a.example/2", "Central bank holds rates at 8.25 percent"),
		rawItem("3", "https://wire-a.example/3", "Election commission publishes final turnout"),
	}
	for round := 0; round < 2; round++ {
		for _, it := range items {
			ack, err := pub.Publish(ctx, it)
			if err != nil {
				t.Fatal(err)
			}
			if round == 1 && !ack.Duplicate {
				t.Errorf("second publish of %s was not reported as a duplicate", it.NativeID)
			}
		}
	}
	// The same post seen by another collector (another native id and
	// source, same canonical URL and text) is folded by wire_fp.
	again := items[0]
	again.Source, again.NativeID = "wire-a-mirror", "mirror-1"
	again.URL = "https://WIRE-A.example/1?utm_source=twitter#top"
	if _, err := pub.Publish(ctx, again); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the normalizer to finish", func() bool {
		info, err := mustConsumer(t, srv.JS, bus.StreamRaw, normalize.ConsumerName).Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Stream == 4
	})
	if got := streamMsgs(t, srv.JS, bus.StreamRaw); got != 4 {
		t.Errorf("raw items stored = %d, want 4", got)
	}
	if got := streamMsgs(t, srv.JS, bus.StreamEntry); got != 3 {
		t.Errorf("entries = %d, want 3", got)
	}
}

func mustConsumer(t *testing.T, js jetstream.JetStream, stream, name string) jetstream.Consumer {
	t.Helper()
	c, err := js.Consumer(context.Background(), stream, name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPoisonRawItemIsDeadLettered(t *testing.T) {
	srv := bustest.Start(t)
	pipeline(t, srv)
	ctx := context.Background()
	if _, err := srv.JS.Publish(ctx, bus.RawSubject("rss", "broken"), []byte(`{"schema":"newswire.raw/1","kind":"rss"`)); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.JS.Publish(ctx, bus.RawSubject("rss", "empty"), []byte(`{"schema":"newswire.raw/1","kind":"rss","source":"empty","native_id":"1","observed_at":"2024-06-11T10:00:00Z"}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two dead letters", func() bool { return streamMsgs(t, srv.JS, bus.StreamDLQ) >= 2 })
	v, err := schema.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	reasons := ""
	for _, m := range collect(t, srv.JS, bus.StreamDLQ) {
		if m.Subject() != bus.DLQSubject("normalize") {
			continue
		}
		if err := v.Validate(schema.DLQ, m.Data()); err != nil {
			t.Error(err)
		}
		var dl wire.DeadLetter
		if err := json.Unmarshal(m.Data(), &dl); err != nil {
			t.Fatal(err)
		}
		reasons += dl.Reason + "\n"
	}
	if !strings.Contains(reasons, "not JSON") || !strings.Contains(reasons, "neither title nor text") {
		t.Errorf("dead-letter reasons = %q", reasons)
	}
	waitFor(t, "the poison messages to leave the consumer", func() bool {
		info, err := mustConsumer(t, srv.JS, bus.StreamRaw, normalize.ConsumerName).Info(ctx)
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	})
	if got := streamMsgs(t, srv.JS, bus.StreamEntry); got != 0 {
		t.Errorf("entries = %d, want 0", got)
	}
}

func TestDeletedPostIsWithdrawnFromItsStory(t *testing.T) {
	srv := bustest.Start(t)
	pipeline(t, srv)
	pub := ingest.NewJetStreamPublisher(srv.JS)
	ctx := context.Background()
	a := rawItem("41", "https://wire-a.example/41", "Cyclone Freddy makes landfall near Quelimane in Mozambique")
	b := rawItem("42", "https://wire-b.example/42", "Cyclone Freddy makes landfall in Mozambique near Quelimane, officials say")
	b.Source, b.Body = "wire-b", "Officials in Zambezia province said the storm hit the coast overnight."
	for _, it := range []wire.RawItem{a, b} {
		if _, err := pub.Publish(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	story := storyOfSize(t, srv.JS, 2, "a story with both reports")
	// wire-b deletes its post: the collector publishes the item again, marked deleted.
	gone := b
	gone.Deleted, gone.Title, gone.Body = true, "", ""
	ack, err := pub.Publish(ctx, gone)
	if err != nil || ack.Duplicate {
		t.Fatalf("deletion notice: %+v %v", ack, err)
	}
	waitFor(t, "the withdrawal in the story", func() bool {
		st := latestStories(t, srv.JS)[story.ID]
		for _, r := range st.Provenance {
			if r.Withdrawn {
				story = st
				return true
			}
		}
		return false
	})
	if len(story.Provenance) != 2 || story.Counts.Sources != 1 {
		t.Errorf("after withdrawal: %d records, counts %+v", len(story.Provenance), story.Counts)
	}
	for _, r := range story.Provenance {
		if r.Withdrawn != (r.Source.ID == "wire-b") {
			t.Errorf("record %s withdrawn=%v", r.Source.ID, r.Withdrawn)
		}
	}
	for _, b := range story.Brief {
		for _, c := range b.Cites {
			for _, r := range story.Provenance {
				if r.EntryID == c && r.Withdrawn {
					t.Errorf("brief still cites the withdrawn entry: %+v", b)
				}
			}
		}
	}
	if n := len(latestStories(t, srv.JS)); n != 1 {
		t.Errorf("%d stories, want 1 (the withdrawal must not open a story)", n)
	}
}

// TestRawItemAgainAfterTheWindowChangesNothing publishes raw items, waits
// for their entries and stories, then publishes the same items again once
// the streams' duplicate window (1 s here) has passed — as the collector
// that restarted and as a second collector process on its own
// connection. The bus takes them as new raw messages; no second entry
// reaches WIRE_ENTRY and no story gets a new snapshot.
func TestRawItemAgainAfterTheWindowChangesNothing(t *testing.T) {
	topo := bus.DefaultTopology()
	topo.DuplicateWindow = time.Second
	srv := bustest.StartWith(t, t.TempDir(), topo)
	pipeline(t, srv)
	ctx := context.Background()
	items := []wire.RawItem{
		rawItem("1", "https://wire-a.example/1", "Flooding closes the port of Durban"),
		rawItem("2", "https://wire-a.example/2", "Central bank holds rates at 8.25 percent"),
	}
	first := ingest.NewJetStreamPublisher(srv.JS)
	for _, it := range items {
		if _, err := first.Publish(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	idle := func(rawSeq uint64) func() bool {
		return func() bool {
			n, err := mustConsumer(t, srv.JS, bus.StreamRaw, normalize.ConsumerName).Info(ctx)
			if err != nil || n.NumPending != 0 || n.NumAckPending != 0 || n.AckFloor.Stream < rawSeq {
				return false
			}
			s, err := mustConsumer(t, srv.JS, bus.StreamEntry, synth.ConsumerName).Info(ctx)
			return err == nil && s.NumPending == 0 && s.NumAckPending == 0 && s.AckFloor.Stream == streamMsgs(t, srv.JS, bus.StreamEntry)
		}
	}
	waitFor(t, "the first entries and stories", func() bool {
		return streamMsgs(t, srv.JS, bus.StreamEntry) == 2 && idle(2)() && len(latestStories(t, srv.JS)) > 0
	})
	before := streamMsgs(t, srv.JS, bus.StreamStory)
	stories := latestStories(t, srv.JS)

	_, js2 := srv.Connect(t)
	second := ingest.NewJetStreamPublisher(js2)
	var last uint64
	for _, pub := range []*ingest.JetStreamPublisher{first, second} {
		for _, it := range items {
			// Published until the bus takes it as new: the window has passed.
			waitFor(t, "the duplicate window to pass", func() bool {
				it.ObservedAt = time.Now().UTC()
				ack, err := pub.Publish(ctx, it)
				if err != nil {
					t.Fatal(err)
				}
				last = ack.Seq
				return !ack.Duplicate
			})
		}
	}
	if got := streamMsgs(t, srv.JS, bus.StreamRaw); got != 6 {
		t.Fatalf("WIRE_RAW holds %d raw messages, want 6 (every copy taken as new)", got)
	}
	waitFor(t, "the copies to be handled", idle(last))
	if got := streamMsgs(t, srv.JS, bus.StreamEntry); got != 2 {
		t.Errorf("WIRE_ENTRY holds %d entries, want 2", got)
	}
	if got := streamMsgs(t, srv.JS, bus.StreamStory); got != before {
		t.Errorf("WIRE_STORY holds %d snapshots, %d before the copies", got, before)
	}
	for id, st := range latestStories(t, srv.JS) {
		if old, ok := stories[id]; !ok || old.Version != st.Version {
			t.Errorf("story %s changed: version %d, was %d", id, st.Version, old.Version)
		}
	}
}
