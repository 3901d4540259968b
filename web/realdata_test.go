package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"sort"
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
	stories map[string]wire.Story
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
	t.Helper()
	f := &fixture{srv: bustest.Start(t), stories: map[string]wire.Story{}}
	ncfg := normalize.DefaultConfig()
	ncfg.Languages = []string{} // script rules only: the rows declare their language or are English
	cl, err := synth.NewClusterer(synth.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	observed := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	for i, it := range items {
		raw := it.Raw(observed.Add(time.Duration(i) * time.Second))
		raw.Source = bus.Token(raw.Source)
		msgID := fmt.Sprintf("%s:%s:%s", raw.Kind, raw.Source, raw.NativeID)
		e, err := normalize.Normalize(ncfg, raw, provenance.RawRef{Stream: bus.StreamRaw, Seq: uint64(i + 1), MsgID: msgID})
		if err != nil {
			t.Fatalf("row %d: %v", i+1, err)
		}
		f.entries = append(f.entries, e)
		publishJSON(t, f.srv, bus.EntrySubject(e.Source.Kind, e.Source.ID), e)
		cl.Add(e)
	}
	ids := cl.TakeDirty()
	sort.Strings(ids)
	for _, id := range ids {
		st, ok := cl.Snapshot(id)
		if !ok {
			continue
		}
		f.stories[id] = st
		publishJSON(t, f.srv, bus.StorySubject(id), st)
	}
	f.store = NewStore(len(items))
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
	waitFor(t, "the store to hold every entry and story", func() bool {
		return len(f.store.Entries(len(items)+1)) == len(items) && f.store.Stats().Stories == len(f.stories)
	})
	return f
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
