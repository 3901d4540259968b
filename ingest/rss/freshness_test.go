package rss

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/metrics"
)

// growingFeed serves an RSS document of its first n items; more() adds one.
type growingFeed struct {
	mu sync.Mutex
	n  int
}

func (f *growingFeed) more() { f.mu.Lock(); f.n++; f.mu.Unlock() }

func (f *growingFeed) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	n := f.n
	f.mu.Unlock()
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><rss version="2.0"><channel><title>Desk</title><link>https://desk.example.org/</link>`)
	for i := n; i >= 1; i-- {
		fmt.Fprintf(&b, `<item><guid>https://desk.example.org/%d</guid><title>Report number %d</title><pubDate>%s</pubDate></item>`,
			i, i, t0.Add(time.Duration(i)*10*time.Minute).Format(time.RFC1123Z))
	}
	b.WriteString(`</channel></rss>`)
	// No validators: every poll is a 200 with the whole document.
	w.Header().Set("Content-Type", "application/rss+xml")
	_, _ = w.Write([]byte(b.String()))
}

// A feed that gains an item every 10 minutes teaches a 10-minute cadence;
// when it keeps answering 200 with the same document, it becomes quiet
// once the silence exceeds QuietFactor × 10 minutes — in the stored state
// (what `newswire sources` reads) and on /metrics — and not a poll before.
func TestFeedThatStopsChangingIsFlaggedQuiet(t *testing.T) {
	feed := &growingFeed{n: 1}
	srv := httptest.NewServer(feed)
	t.Cleanup(srv.Close)
	r := newRig(t, Config{Feeds: []Feed{{ID: "desk", URL: srv.URL + "/rss", Interval: 10 * time.Minute}}})

	health := func() ingest.Health {
		t.Helper()
		e, err := r.kv.Get(context.Background(), StateKey("desk"))
		if err != nil {
			t.Fatal(err)
		}
		h, err := ingest.ReadHealth(e.Value())
		if err != nil {
			t.Fatal(err)
		}
		return h
	}

	const cadence = 10 * time.Minute
	r.pollFeed(0)
	for range 5 {
		r.clock.Advance(cadence)
		feed.more()
		r.pollFeed(0)
		if h := health(); h.Quiet(r.clock.Now()) || h.Errors != 0 {
			t.Fatalf("a source publishing every 10 minutes is quiet (or failing: %q)", h.LastError)
		}
	}
	h := health()
	if h.Cadence() != cadence || !h.LastNew.Equal(r.clock.Now()) {
		t.Fatalf("learned cadence %v, last new %v; want %v, %v", h.Cadence(), h.LastNew, cadence, r.clock.Now())
	}
	lastNew := r.clock.Now()

	src := metrics.NewSources().WithClock(r.clock.Now)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Watch(ctx, r.kv, nil) }()
	defer func() { cancel(); <-done }()

	quietAfter := ingest.QuietFactor * cadence
	for r.clock.Now().Sub(lastNew) <= quietAfter {
		r.clock.Advance(cadence)
		r.pollFeed(0) // 200, the same items
		h := health()
		silence := r.clock.Now().Sub(lastNew)
		if h.LastSuccess != r.clock.Now() || h.Errors != 0 {
			t.Fatalf("the unchanged feed's poll at %v did not succeed: %q", silence, h.LastError)
		}
		if got, want := h.Quiet(r.clock.Now()), silence > quietAfter; got != want {
			t.Fatalf("after %v of silence (learned cadence %v): quiet = %v, want %v", silence, h.Cadence(), got, want)
		}
	}
	if r.c.Stats().Fetched < 11 || r.c.Stats().NotModified != 0 {
		t.Fatalf("stats %+v: the feed was not read with 200s throughout", r.c.Stats())
	}
	if d := health().Describe(r.clock.Now()); !strings.Contains(d, "quiet: nothing new for 1h10m0s, usually every 10m0s") {
		t.Errorf("listing says %q", d)
	}
	waitFor(t, "the quiet gauge", func() bool { return gauge(t, src, "newswire_source_quiet") == 1 })
	if c := gauge(t, src, "newswire_source_cadence_seconds"); c != cadence.Seconds() {
		t.Errorf("cadence gauge %v", c)
	}

	// A new item ends the silence.
	feed.more()
	r.clock.Advance(cadence)
	r.pollFeed(0)
	if health().Quiet(r.clock.Now()) {
		t.Fatal("still quiet after a new item")
	}
	waitFor(t, "the quiet gauge to clear", func() bool { return gauge(t, src, "newswire_source_quiet") == 0 })
}

// gauge reads the desk source's value of a gauge from c.
func gauge(t *testing.T, c prometheus.Collector, name string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "source" && l.GetValue() == "desk" {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return -1
}
