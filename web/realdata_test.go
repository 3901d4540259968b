package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/ingest/replay"
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/synth"
	"github.com/newswire/newswire/wire"
)

// fixture is an embedded NATS fed with bundled real data: replay rows
// normalized and clustered by the production code, their entries and
// story snapshots published on the bus, and a Store following it.
type fixture struct {
	srv     *bustest.Server
	store   *Store
	api     *Server
	hs      *httptest.Server
	entries []wire.Entry
	stories map[string]wire.Story // the last snapshot of each

	ncfg     normalize.Config
	cl       *synth.Clusterer
	rows     int // rows fed
	versions int // story snapshots published
}

// replayRows reads the first n rows of a bundled replay file.
func replayRows(t testing.TB, name string, n int) []replay.Item {
	t.Helper()
	items, err := replay.ReadFile(filepath.Join("..", "testdata", "replay", name))
	if err != nil {
		t.Fatal(err)
	}
	return items[:min(n, len(items))]
}

func newFixture(t *testing.T, items []replay.Item, cfg Config) *fixture {
	return newFixtureHolding(t, items, len(items), cfg)
}

// newFixtureHolding is newFixture with a store that holds the last hold
// entries, for a test that feeds more rows later.
func newFixtureHolding(t *testing.T, items []replay.Item, hold int, cfg Config) *fixture {
	t.Helper()
	f := &fixture{srv: bustest.Start(t), stories: map[string]wire.Story{}, ncfg: normalize.DefaultConfig()}
	f.ncfg.Languages = []string{} // script rules only: the rows declare their language or are English
	var err error
	if f.cl, err = synth.NewClusterer(synth.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	f.feed(t, items)
	f.store = NewStore(hold)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.store.Follow(ctx, f.srv.JS, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	f.api = NewServer(cfg, f.store, nil)
	f.hs = httptest.NewServer(f.api.Handler())
	t.Cleanup(f.hs.Close)
	t.Cleanup(f.api.Close)
	f.caughtUp(t)
	return f
}

// feed normalizes and clusters rows with the production code and
// publishes their entries, then the new snapshot of every story they
// changed, as the normalizer and synthesizer would.
func (f *fixture) feed(t *testing.T, items []replay.Item) {
	t.Helper()
	observed := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	for _, it := range items {
		f.rows++
		raw := it.Raw(observed.Add(time.Duration(f.rows-1) * time.Second))
		raw.Source = bus.Token(raw.Source)
		msgID := fmt.Sprintf("%s:%s:%s", raw.Kind, raw.Source, raw.NativeID)
		e, err := normalize.Normalize(f.ncfg, raw, provenance.RawRef{Stream: bus.StreamRaw, Seq: uint64(f.rows), MsgID: msgID})
		if err != nil {
			t.Fatalf("row %d: %v", f.rows, err)
		}
		f.entries = append(f.entries, e)
		publishJSON(t, f.srv, bus.EntrySubject(e.Source.Kind, e.Source.ID), e)
		f.cl.Add(e)
	}
	ids := f.cl.TakeDirty()
	sort.Strings(ids)
	for _, id := range ids {
		st, ok := f.cl.Snapshot(id)
		if !ok {
			continue
		}
		f.stories[id] = st
		f.versions++
		publishJSON(t, f.srv, bus.StorySubject(id), st)
	}
}

// caughtUp waits until the store holds every entry fed (up to its bound)
// and the last snapshot of every story.
func (f *fixture) caughtUp(t *testing.T) {
	t.Helper()
	waitFor(t, "the store to hold every entry and story", func() bool {
		if len(f.store.Entries(len(f.entries)+1)) != min(len(f.entries), f.store.maxEntries) || f.store.Stats().Stories != len(f.stories) {
			return false
		}
		for id, st := range f.stories {
			if held, ok := f.store.Story(id); !ok || held.Version != st.Version {
				return false
			}
		}
		return true
	})
}

// waitFor waits on a condition, not a clock; a test that never meets it
// ends at the test binary's timeout with the condition named.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	warned := time.Now().Add(30 * time.Second)
	for !cond() {
		<-tick.C
		if time.Now().After(warned) {
			t.Logf("still waiting for %s", what)
			warned = time.Now().Add(30 * time.Second)
		}
	}
}

// biggest returns the story with the most entries.
func (f *fixture) biggest() wire.Story {
	var best wire.Story
	for _, st := range f.stories {
		if st.Status != wire.StatusMerged && (st.Counts.Entries > best.Counts.Entries || st.Counts.Entries == best.Counts.Entries && st.ID < best.ID) {
			best = st
		}
	}
	return best
}

func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decoding %q: %v", body, err)
	}
	return v
}

// sseBlock is one block of an event stream: an event, or a comment.
type sseBlock struct{ id, kind, data, comment string }

// openStream connects to url, with Last-Event-ID lastID unless it is
// empty, and sends the stream's blocks on the returned channel, which is
// closed when the stream ends; stop hangs up and waits for the reader.
func openStream(t *testing.T, url, lastID string) (blocks <-chan sseBlock, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		cancel()
		resp.Body.Close()
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, ct)
	}
	// Buffered well past any test's events, so the server never waits on
	// a test that reads later.
	ch := make(chan sseBlock, 1<<14)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		var b sseBlock
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				select {
				case ch <- b:
				case <-ctx.Done():
					return
				}
				b = sseBlock{}
			case strings.HasPrefix(line, ":"):
				b.comment += strings.TrimSpace(line[1:])
			case strings.HasPrefix(line, "id: "):
				b.id = line[len("id: "):]
			case strings.HasPrefix(line, "event: "):
				b.kind = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				b.data += line[len("data: "):]
			}
		}
	}()
	return ch, func() { cancel(); <-done }
}

// streamWait bounds every wait for a block, so a stream that stops short
// fails the test instead of hanging it.
const streamWait = 60 * time.Second

// nextBlock returns the stream's next block; ok is false when it ended.
func nextBlock(t *testing.T, blocks <-chan sseBlock) (b sseBlock, ok bool) {
	t.Helper()
	select {
	case b, ok = <-blocks:
		return b, ok
	case <-time.After(streamWait):
		t.Fatalf("no block on the event stream within %s", streamWait)
		return b, false
	}
}

// nextEvent returns the stream's next event, skipping comments.
func nextEvent(t *testing.T, blocks <-chan sseBlock) (sseBlock, bool) {
	t.Helper()
	for {
		b, ok := nextBlock(t, blocks)
		if !ok || b.comment == "" {
			return b, ok
		}
	}
}

// newestEventID is the id of the last event in the store's log.
func newestEventID(s *Store) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := len(s.events)
	return s.events[(s.eventNext+n-1)%n].ID
}

func blockIDs(bs []sseBlock) string {
	ids := make([]string, len(bs))
	for i, b := range bs {
		ids[i] = b.id
	}
	return strings.Join(ids, " ")
}

// TestStreamResumesOnRealData follows the event stream while the real
// pipeline's entries and story updates arrive, hangs up after an entry
// event and after a story event, and checks that each reconnection with
// Last-Event-ID goes on exactly where the client left, against one
// uninterrupted read of the same events.
func TestStreamResumesOnRealData(t *testing.T) {
	uci := replayRows(t, "uci-news-2014-03.jsonl", 610)
	tg := replayRows(t, "telegram-ru-news-sample.jsonl.gz", 150)
	f := newFixtureHolding(t, append(uci[:400:400], tg[:100]...), 2000, Config{StreamHeartbeat: 100 * time.Millisecond})
	url := f.hs.URL + "/api/v1/stream"
	mark := newestEventID(f.store)

	// A client follows the live events as the rest of the rows are fed,
	// 25 at a time, each batch followed by the stories it changed.
	live, stopLive := openStream(t, url, "")
	waitFor(t, "the stream to subscribe", func() bool { return subscribers(f.store) == 1 })
	rest := append(append([]replay.Item(nil), uci[400:600]...), tg[100:150]...)
	entries0, versions0 := len(f.entries), f.versions
	for i := 0; i < len(rest); i += 25 {
		f.feed(t, rest[i:min(i+25, len(rest))])
	}
	f.caughtUp(t)
	logged, ok := f.store.EventsAfter(mark)
	if !ok {
		t.Fatalf("the event log no longer holds %s", mark)
	}
	n := len(logged)
	if want := len(f.entries) - entries0 + f.versions - versions0; n != want {
		t.Fatalf("the store logged %d events after %s, want %d entries and story snapshots", n, mark, want)
	}

	// The reference: one uninterrupted read of the same events.
	var ref []sseBlock
	blocks, stop := openStream(t, url, mark)
	for len(ref) < n {
		b, ok := nextEvent(t, blocks)
		if !ok {
			t.Fatalf("the stream from %s ended after %d of %d events", mark, len(ref), n)
		}
		ref = append(ref, b)
	}
	stop()
	seen := map[string]bool{}
	var refEntries []string
	stories := 0
	for i, b := range ref {
		if seen[b.id] {
			t.Fatalf("event %s sent twice in one read", b.id)
		}
		seen[b.id] = true
		if b.id != logged[i].ID || b.kind != logged[i].Kind || b.data != string(logged[i].Data) {
			t.Fatalf("event %d of the read is %s %s, the log's is %s %s", i, b.kind, b.id, logged[i].Kind, logged[i].ID)
		}
		if b.kind == "entry" {
			refEntries = append(refEntries, b.id)
		} else {
			stories++
		}
	}
	var fed []string
	for _, e := range f.entries[entries0:] {
		fed = append(fed, e.ID)
	}
	if strings.Join(refEntries, " ") != strings.Join(fed, " ") || stories != f.versions-versions0 {
		t.Fatalf("the read sent %d entries and %d story events, want the %d entries fed in order and %d snapshots",
			len(refEntries), stories, len(fed), f.versions-versions0)
	}

	// The live client reads a third of the events, at least one story
	// event among them, and hangs up after an entry event.
	var got []sseBlock
	sawStory := false
	for {
		b, ok := nextEvent(t, live)
		if !ok {
			// Dropped for falling behind: a client resumes from the last
			// event it saw, as below.
			stopLive()
			if len(got) == 0 {
				t.Fatal("the live stream ended before its first event")
			}
			live, stopLive = openStream(t, url, got[len(got)-1].id)
			continue
		}
		got = append(got, b)
		sawStory = sawStory || b.kind == "story"
		if len(got) >= n/3 && sawStory && b.kind == "entry" {
			break
		}
	}
	stopLive()
	cut := len(got)
	if blockIDs(got) != blockIDs(ref[:len(got)]) {
		t.Fatalf("the live client's events differ from the uninterrupted read:\n%s\n%s", blockIDs(got), blockIDs(ref[:len(got)]))
	}

	// Resuming from that entry event: it reads on to a story event past
	// two thirds, through at least one entry.
	from := got[len(got)-1].id
	blocks, stop = openStream(t, url, from)
	sawEntry := false
	for {
		b, ok := nextEvent(t, blocks)
		if !ok {
			t.Fatalf("the stream resumed from entry %s ended after %d events", from, len(got))
		}
		if want := ref[len(got)]; b.id != want.id || b.kind != want.kind || b.data != want.data {
			t.Fatalf("resumed from entry %s, event %d is %s %s, want %s %s", from, len(got), b.kind, b.id, want.kind, want.id)
		}
		got = append(got, b)
		sawEntry = sawEntry || b.kind == "entry"
		if len(got) >= 2*n/3 && sawEntry && b.kind == "story" {
			break
		}
		if len(got) == n {
			t.Fatalf("no story event after an entry past two thirds of %s", blockIDs(ref))
		}
	}
	stop()

	t.Logf("%d events; the live client left after %d (%s), the second read after %d (%s)", n, cut, ref[cut-1].id, len(got), got[len(got)-1].id)
	// Resuming from that story event: the rest, then a new row's events
	// live, each once, then only heartbeats while the wire is quiet.
	from = got[len(got)-1].id
	blocks, stop = openStream(t, url, from)
	defer stop()
	for len(got) < n {
		b, ok := nextEvent(t, blocks)
		if !ok {
			t.Fatalf("the stream resumed from story %s ended after %d events", from, len(got))
		}
		if want := ref[len(got)]; b.id != want.id || b.kind != want.kind || b.data != want.data {
			t.Fatalf("resumed from story %s, event %d is %s %s, want %s %s", from, len(got), b.kind, b.id, want.kind, want.id)
		}
		got = append(got, b)
	}
	last := ref[n-1].id
	f.feed(t, uci[600:601])
	f.caughtUp(t)
	more, _ := f.store.EventsAfter(last)
	if newest := f.entries[len(f.entries)-1].ID; len(more) == 0 || !slices.ContainsFunc(more, func(ev Event) bool { return ev.ID == newest }) {
		t.Fatalf("a new row logged %d events, not its entry %s", len(more), newest)
	}
	for i, want := range more {
		b, ok := nextEvent(t, blocks)
		if !ok || b.id != want.ID {
			t.Fatalf("live event %d after the resumed backlog: %q (ended: %v), want %s", i, b.id, !ok, want.ID)
		}
	}
	b, ok := nextBlock(t, blocks)
	if !ok || b.comment != "keep-alive" || b.id != "" {
		t.Errorf("an idle stream sent %+v (ended: %v), want a keep-alive comment", b, !ok)
	}
}
