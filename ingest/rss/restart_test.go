package rss

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/newswire/newswire/bus/bustest"
)

// liveFeed serves an RSS 2.0 feed whose window of items moves as the test
// adds items, with an ETag per version.
type liveFeed struct {
	mu    sync.Mutex
	first int
	last  int
}

func (f *liveFeed) set(first, last int) {
	f.mu.Lock()
	f.first, f.last = first, last
	f.mu.Unlock()
}

func (f *liveFeed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	first, last := f.first, f.last
	f.mu.Unlock()
	etag := fmt.Sprintf(`"%d-%d"`, first, last)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", etag)
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Live</title><link>https://live.example.org/</link><description>d</description>`)
	for i := last; i >= first; i-- {
		fmt.Fprintf(&b, `<item><title>Story %d</title><link>https://live.example.org/%d</link><guid>live-%d</guid><pubDate>%s</pubDate></item>`,
			i, i, i, t0.Add(time.Duration(i)*time.Minute).Format(time.RFC1123Z))
	}
	b.WriteString(`</channel></rss>`)
	w.Write([]byte(b.String()))
}

// TestRestart polls, stops the collector and the NATS server, changes the
// feed, restarts both on the same store, and checks that every item is on
// the bus exactly once.
func TestRestart(t *testing.T) {
	feed := &liveFeed{}
	feed.set(1, 3)
	web := httptest.NewServer(feed)
	defer web.Close()
	dir := t.TempDir()
	cfg := Config{Feeds: []Feed{{ID: "live", URL: web.URL + "/rss", Interval: time.Minute}}}

	run := func(srv *bustest.Server, clock *fakeClock, wantPublished int64) {
		t.Helper()
		c := cfg
		c.Clock = clock
		r := newRigOn(t, srv, c)
		ctx, cancel := contextWithCancel()
		done := make(chan error, 1)
		go func() { done <- r.c.Run(ctx) }()
		waitFor(t, "first poll", func() bool { return r.c.Stats().Polls >= 1 })
		// Advance through two more intervals: 304s, nothing new.
		for range 2 {
			polls := r.c.Stats().Polls
			// The scheduler reads the clock, then sets its timer from that
			// reading: advancing in between would set the timer past the
			// jump, and the next poll would never come.
			waitFor(t, "the next poll's timer", func() bool { return clock.waiting() > 0 })
			clock.Advance(10 * time.Minute)
			waitFor(t, "next poll", func() bool { return r.c.Stats().Polls > polls })
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		// BusDuplicates must stay zero: the bus's duplicate window (real
		// time) would hide a repeat, so the state alone must prevent it.
		if st := r.c.Stats(); st.Published != wantPublished || st.BusDuplicates != 0 || st.NotModified != 2 || st.Failures != 0 {
			t.Fatalf("stats %+v, want %d published", st, wantPublished)
		}
	}

	srv := bustest.StartIn(t, dir)
	run(srv, newFakeClock(t0), 3)
	srv.Stop()

	// While nothing runs, story 1 drops off the feed and 4, 5 appear.
	feed.set(2, 5)
	srv = bustest.StartIn(t, dir)
	run(srv, newFakeClock(t0.Add(2*time.Hour)), 2)

	items, ids := rawItems(t, srv.JS)
	var titles []string
	for _, it := range items {
		titles = append(titles, it.Title)
	}
	if got := strings.Join(titles, ","); got != "Story 1,Story 2,Story 3,Story 4,Story 5" {
		t.Fatalf("bus holds %s", got)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("%s published twice", id)
		}
		seen[id] = true
	}
}
