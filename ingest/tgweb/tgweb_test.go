package tgweb

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseFullPage(t *testing.T) {
	p, err := ParsePage(fixture(t, "page_full.html"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Title != "Reuters World" || p.Before != 101 || p.Malformed != 0 || len(p.Posts) != 5 {
		t.Fatalf("page: title %q before %d malformed %d posts %d", p.Title, p.Before, p.Malformed, len(p.Posts))
	}
	byID := map[int]Post{}
	for _, post := range p.Posts {
		byID[post.ID] = post
	}
	first := byID[101]
	if want := "**Breaking**: quake hits 🇯🇵 Japan coast. [Details](https://example.com/quake?a=1&b=2)"; first.Text != want {
		t.Errorf("101 text\n got %q\nwant %q", first.Text, want)
	}
	if first.Views != 12300 || !first.Edited || first.Published != "2024-06-01T10:01:00+00:00" || first.Link != "https://t.me/reuters/101" || first.Author != "Reuters World" {
		t.Errorf("101 facts: %+v", first)
	}
	fw := byID[102]
	if fw.ForwardFrom == nil || fw.ForwardFrom.Channel != "OriginNews" || fw.ForwardFrom.ID != 88 || fw.ForwardFrom.Name != "Origin News" {
		t.Errorf("102 forward: %+v", fw.ForwardFrom)
	}
	if want := "Officials confirm the evacuation order. #Japan via @originnews\nMore at example.org/live"; fw.Text != want {
		t.Errorf("102 text\n got %q\nwant %q", fw.Text, want)
	}
	if ph := byID[103]; ph.Text != "" || ph.MediaType != "photo" || ph.Views != 1200000 {
		t.Errorf("103 photo-only: %+v", ph)
	}
	if poll := byID[104]; poll.Text != "Will rates rise?\n- Yes\n- No" || poll.MediaType != "poll" {
		t.Errorf("104 poll: %q %q", poll.Text, poll.MediaType)
	}
	re := byID[105]
	if re.ReplyTo == nil || re.ReplyTo.Channel != "reuters" || re.ReplyTo.ID != 101 {
		t.Errorf("105 reply: %+v", re.ReplyTo)
	}
	// The reply preview's own text block is not the post's text.
	if want := "Update to the report above: `M6.9`, ~~no~~ tsunami warning <b>issued</b> & ||lifted||."; re.Text != want {
		t.Errorf("105 text\n got %q\nwant %q", re.Text, want)
	}
}

func TestParseBrokenMarkup(t *testing.T) {
	p, err := ParsePage(fixture(t, "broken.html"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Malformed != 2 {
		t.Errorf("malformed %d, want 2", p.Malformed)
	}
	ids := map[int]Post{}
	for _, post := range p.Posts {
		ids[post.ID] = post
	}
	for _, id := range []int{201, 202, 203, 204} {
		if _, ok := ids[id]; !ok {
			t.Errorf("post %d lost; have %v", id, ids)
		}
	}
	if got := ids[201].Text; !strings.Contains(got, "Unclosed bold") || !strings.Contains(got, "https://example.com/x?p=1&q=2") {
		t.Errorf("201 text %q", got)
	}
	if ids[201].Views != 0 || ids[201].Published != "not a time" {
		t.Errorf("201 unreadable views/time: %+v", ids[201])
	}
	if got := ids[203]; got.ForwardFrom == nil || got.ForwardFrom.Name != "Someone" || got.ForwardFrom.Channel != "" || got.ReplyTo == nil || got.ReplyTo.ID != 0 {
		t.Errorf("203 refs: fwd %+v reply %+v", got.ForwardFrom, got.ReplyTo)
	}
	if got := ids[204].Text; got != "<script>alert(1)</script> is text, not markup" {
		t.Errorf("204 text %q", got)
	}
	for _, junk := range [][]byte{nil, []byte("<"), []byte("<div class=\"tgme_widget_message\" data-post=\"a/1\">"), []byte("\xff\xfe<html>")} {
		if _, err := ParsePage(junk); err != nil && !errors.Is(err, ErrNotPreview) {
			t.Errorf("ParsePage(%q): %v", junk, err)
		}
	}
}

func FuzzParsePage(f *testing.F) {
	for _, name := range []string{"page_full.html", "page_older.html", "broken.html"} {
		f.Add(fixture(f, name))
	}
	// The real t.me/s pages carry what hand-written fixtures missed
	// (blocks without an id, empty datetimes, polls, service messages).
	// Each post's block is its own seed: a whole page of 100–120 KB
	// costs the fuzzer tens of milliseconds a run and most of its time in
	// minimising, so a 10 s run got through a few dozen inputs.
	captured, _ := filepath.Glob(filepath.Join(tmeDir, "*.html"))
	if len(captured) == 0 {
		f.Fatalf("no captured pages in %s", tmeDir)
	}
	const block = `<div class="tgme_widget_message_wrap`
	for _, name := range captured {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		posts := strings.Split(string(b), block)[1:]
		if len(posts) == 0 {
			f.Fatalf("%s holds no post block", name)
		}
		for _, p := range posts {
			f.Add([]byte(block + p))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParsePage(data)
	})
}

// site is an httptest t.me: it serves the fixtures by path and records
// what it was asked.
type site struct {
	mu       sync.Mutex
	pages    map[string]string // "/s/reuters" or "/s/reuters?before=101" → fixture
	throttle int               // answer this many requests with 429 Retry-After: 1
	// fresh ignores If-None-Match, as t.me often does.
	fresh    bool
	requests []string
	times    []time.Time
	inm      []string
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := r.URL.Path
	if r.URL.RawQuery != "" {
		key += "?" + r.URL.RawQuery
	}
	s.requests = append(s.requests, key)
	s.times = append(s.times, time.Now())
	s.inm = append(s.inm, r.Header.Get("If-None-Match"))
	if s.throttle > 0 {
		s.throttle--
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	if key == "/s/private" {
		http.Redirect(w, r, "/private", http.StatusFound)
		return
	}
	name, ok := s.pages[key]
	if !ok {
		http.NotFound(w, r)
		return
	}
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	if r.URL.RawQuery == "" {
		etag := `"` + name + `"`
		if r.Header.Get("If-None-Match") == etag && !s.fresh {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(data)
}

func (s *site) set(path, name string) {
	s.mu.Lock()
	s.pages[path] = name
	s.mu.Unlock()
}

func (s *site) log() ([]string, []string, []time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...), append([]string(nil), s.inm...), append([]time.Time(nil), s.times...)
}

type env struct {
	site *site
	srv  *httptest.Server
	bus  *bustest.Server
	kv   jetstream.KeyValue
	pub  ingest.Publisher
}

func newEnv(t *testing.T) *env {
	s := &site{pages: map[string]string{"/s/reuters": "page_full.html", "/s/reuters?before=101": "page_older.html"}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	b := bustest.Start(t)
	kv, err := b.JS.KeyValue(ctxT(t), bus.BucketSource)
	if err != nil {
		t.Fatal(err)
	}
	return &env{site: s, srv: srv, bus: b, kv: kv, pub: ingest.NewJetStreamPublisher(b.JS)}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (e *env) collector(t *testing.T, chans ...Channel) *Collector {
	if len(chans) == 0 {
		chans = []Channel{{ID: "reuters-web", Username: "reuters", Code: "RTRS"}}
	}
	// Each channel reads the test server through its own base URL, as the
	// base_url option of a tgweb source sets it; the collector's default
	// stays https://t.me, which no test may reach.
	for i := range chans {
		if chans[i].BaseURL == "" {
			chans[i].BaseURL = e.srv.URL + "/"
		}
	}
	c, err := New(Config{Channels: chans, HostInterval: 100 * time.Millisecond}, e.pub, e.kv, e.srv.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *env) items(t *testing.T) []wire.RawItem {
	ctx := ctxT(t)
	s, err := e.bus.JS.Stream(ctx, bus.StreamRaw)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []wire.RawItem
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		var it wire.RawItem
		if err := json.Unmarshal(m.Data, &it); err != nil {
			t.Fatal(err)
		}
		out = append(out, it)
	}
	return out
}

func nativeIDs(items []wire.RawItem) string {
	var ids []string
	for _, it := range items {
		ids = append(ids, it.NativeID)
	}
	return strings.Join(ids, " ")
}

func (e *env) state(t *testing.T, c *Collector, id string) State {
	st, err := c.load(ctxT(t), id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestPollPublishesAndResumes(t *testing.T) {
	e := newEnv(t)
	c := e.collector(t)
	ch := c.cfg.Channels[0]
	if err := c.Poll(ctxT(t), ch); err != nil {
		t.Fatal(err)
	}
	items := e.items(t)
	// The first poll takes the newest page only; 103 is a photo without text.
	if got := nativeIDs(items); got != "reuters/101 reuters/102 reuters/104 reuters/105" {
		t.Fatalf("published %q", got)
	}
	it := items[0]
	if it.Kind != "telegram" || it.Source != "reuters-web" || it.URL != "https://t.me/reuters/101" || it.BodyFormat != wire.FormatMarkdown || it.SourceCode != "RTRS" {
		t.Errorf("identity: %+v", it)
	}
	if it.Published != "2024-06-01T10:01:00Z" || it.Meta == nil || it.Meta.Views != 12300 || it.Fetch == nil || it.Fetch.URL != e.srv.URL+"/s/reuters" {
		t.Errorf("facts: %q %+v %+v", it.Published, it.Meta, it.Fetch)
	}
	if f := items[1].ForwardOf; f == nil || f.Kind != "telegram" || f.Source != "originnews" || f.NativeID != "originnews/88" || f.URL != "https://t.me/originnews/88" {
		t.Errorf("forward: %+v", items[1].ForwardOf)
	}
	if r := items[3].ReplyTo; r == nil || r.Source != "reuters-web" || r.NativeID != "reuters/101" {
		t.Errorf("reply: %+v", items[3].ReplyTo)
	}
	if items[3].Published != "2024-06-01T10:05:00Z" {
		t.Errorf("time zone not normalized: %q", items[3].Published)
	}
	if st := e.state(t, c, "reuters-web"); st.LastID != 105 || st.ETag != `"page_full.html"` || st.Gaps != 0 {
		t.Errorf("state after first poll: %+v", st)
	}

	// Nothing new: a conditional request, answered 304.
	if err := c.Poll(ctxT(t), ch); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats()["reuters-web"]; s.NotModified != 1 {
		t.Errorf("stats after unchanged poll: %+v", s)
	}

	// A restarted collector takes only what is new, and counts the hole at 107.
	e.site.set("/s/reuters", "page_next.html")
	c2 := e.collector(t)
	if err := c2.Poll(ctxT(t), ch); err != nil {
		t.Fatal(err)
	}
	if got := nativeIDs(e.items(t)); got != "reuters/101 reuters/102 reuters/104 reuters/105 reuters/106 reuters/108" {
		t.Errorf("after restart the stream holds %q", got)
	}
	if st := e.state(t, c2, "reuters-web"); st.LastID != 108 || st.Gaps != 1 {
		t.Errorf("state after restart: %+v", st)
	}
	if s := c2.Stats()["reuters-web"]; s.Duplicates != 0 {
		t.Errorf("duplicates after restart: %+v", s)
	}
	reqs, inm, _ := e.site.log()
	if len(reqs) != 3 || inm[1] != `"page_full.html"` {
		t.Errorf("requests %v with If-None-Match %v", reqs, inm)
	}
}

func TestPagesBackToLastSeen(t *testing.T) {
	e := newEnv(t)
	c := e.collector(t)
	data, _ := json.Marshal(State{Username: "reuters", LastID: 95})
	if _, err := e.kv.Put(ctxT(t), StateKey("reuters-web"), data); err != nil {
		t.Fatal(err)
	}
	if err := c.Poll(ctxT(t), c.cfg.Channels[0]); err != nil {
		t.Fatal(err)
	}
	if got := nativeIDs(e.items(t)); got != "reuters/96 reuters/97 reuters/99 reuters/100 reuters/101 reuters/102 reuters/104 reuters/105" {
		t.Errorf("published %q", got)
	}
	reqs, _, times := e.site.log()
	if strings.Join(reqs, " ") != "/s/reuters /s/reuters?before=101" {
		t.Errorf("requests %v; paging must stop at the last seen id", reqs)
	}
	if len(times) == 2 && times[1].Sub(times[0]) < 90*time.Millisecond {
		t.Errorf("requests %s apart; the host limit is 100ms", times[1].Sub(times[0]))
	}
	if st := e.state(t, c, "reuters-web"); st.LastID != 105 || st.Gaps != 1 {
		t.Errorf("state: %+v (98 is the one gap)", st)
	}
}

func TestRedirectMeansNoPreview(t *testing.T) {
	e := newEnv(t)
	c := e.collector(t, Channel{ID: "private", Username: "private"}, Channel{ID: "reuters-web", Username: "reuters"})
	err := c.Poll(ctxT(t), c.cfg.Channels[0])
	if !errors.Is(err, ErrNoPublicPreview) {
		t.Fatalf("got %v, want ErrNoPublicPreview", err)
	}
	if st := e.state(t, c, "private"); !st.NoPreview || !st.Failing || st.Errors != 1 {
		t.Errorf("state %+v", st)
	}
	if err := c.Poll(ctxT(t), c.cfg.Channels[1]); err != nil {
		t.Fatalf("the other channel: %v", err)
	}
}

func TestRetryAfterHoldsTheHost(t *testing.T) {
	e := newEnv(t)
	e.site.throttle = 1
	c := e.collector(t)
	ch := c.cfg.Channels[0]
	err := c.Poll(ctxT(t), ch)
	var ra retryAfter
	if !errors.As(err, &ra) || ra.d != time.Second || !errors.Is(err, ErrThrottled) {
		t.Fatalf("got %v, want a 1s Retry-After", err)
	}
	start := time.Now()
	if err := c.Poll(ctxT(t), ch); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("next request after %s; Retry-After asked for 1s", d)
	}
	if len(e.items(t)) != 4 {
		t.Errorf("items after retry: %d", len(e.items(t)))
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	e := newEnv(t)
	c := e.collector(t)
	ctx, cancel := context.WithCancel(ctxT(t))
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	// The state with the next poll is saved after the items are
	// published: wait for it, not for the count, or a loaded machine
	// cancels in between.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c.Stats()["reuters-web"].Published >= 4 && !e.state(t, c, "reuters-web").NextPoll.IsZero() {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := e.state(t, c, "reuters-web"); st.NextPoll.IsZero() || st.Published < 4 {
		t.Errorf("poll not finished and recorded: %+v", st)
	}
}
