package x

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/schema"
	"github.com/newswire/newswire/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// X's 429 body (see testdata/README.md).
const body429 = `{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}`

// answer is one canned response of the fake API.
type answer struct {
	status  int
	file    string // testdata file, or
	body    string // literal body
	headers map[string]string
}

// api is an httptest X API: answers are chosen by path and, when set, by
// the value of one query parameter; each path's answers are used in turn
// (the last one repeats).
type api struct {
	mu      sync.Mutex
	routes  map[string][]answer // "/2/users/783214/tweets" or "/2/…?pagination_token=T"
	reqs    []*url.URL
	auth    []string
	pending map[string]int
}

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reqs = append(a.reqs, r.URL)
	a.auth = append(a.auth, r.Header.Get("Authorization"))
	key := r.URL.Path
	for _, p := range []string{"pagination_token", "next_token"} {
		if v := r.URL.Query().Get(p); v != "" {
			key += "?" + p + "=" + v
		}
	}
	list, ok := a.routes[key]
	if !ok || len(list) == 0 {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"title":"Not Found Error","type":"about:blank","status":404}`))
		return
	}
	if a.pending == nil {
		a.pending = map[string]int{}
	}
	i := min(a.pending[key], len(list)-1)
	a.pending[key]++
	ans := list[i]
	for k, v := range ans.headers {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	body := []byte(ans.body)
	if ans.file != "" {
		var err error
		if body, err = os.ReadFile(filepath.Join("testdata", ans.file)); err != nil {
			w.WriteHeader(500)
			return
		}
	}
	if ans.status == 0 {
		ans.status = 200
	}
	w.WriteHeader(ans.status)
	_, _ = w.Write(body)
}

func (a *api) set(key string, answers ...answer) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.routes == nil {
		a.routes = map[string][]answer{}
	}
	a.routes[key] = answers
	delete(a.pending, key)
}

func (a *api) requests(path string) []*url.URL {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*url.URL
	for _, u := range a.reqs {
		if path == "" || u.Path == path {
			out = append(out, u)
		}
	}
	return out
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	api   *api
	srv   *httptest.Server
	bus   *bustest.Server
	kv    jetstream.KeyValue
	pub   ingest.Publisher
	clock *clock
}

func newEnv(t *testing.T) *env {
	a := &api{}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	b := bustest.Start(t)
	kv, err := b.JS.KeyValue(ctxT(t), bus.BucketSource)
	if err != nil {
		t.Fatal(err)
	}
	return &env{api: a, srv: srv, bus: b, kv: kv, pub: ingest.NewJetStreamPublisher(b.JS),
		clock: &clock{t: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (e *env) collector(t *testing.T, mod func(*Config), sources ...Source) *Collector {
	cfg := Config{Sources: sources, BearerToken: "AAAA-test-token", BaseURL: e.srv.URL, Now: e.clock.Now}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg, e.pub, e.kv, e.srv.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *env) items(t *testing.T) []wire.RawItem {
	var out []wire.RawItem
	for i, data := range bustest.Messages(t, e.bus.JS, bus.StreamRaw) {
		// Every raw item must match the public JSON Schema.
		if err := rawSchema(t).Validate("raw.schema.json", data); err != nil {
			t.Fatalf("raw item %d: %v", i+1, err)
		}
		var it wire.RawItem
		if err := json.Unmarshal(data, &it); err != nil {
			t.Fatal(err)
		}
		out = append(out, it)
	}
	return out
}

func (e *env) state(t *testing.T, c *Collector, id string) State {
	st, err := c.load(ctxT(t), id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func byID(items []wire.RawItem) map[string]wire.RawItem {
	m := map[string]wire.RawItem{}
	for _, it := range items {
		m[it.NativeID] = it
	}
	return m
}

// TestUserTimelineAndRestart: the username is looked up once, the newest
// page is published oldest first with canonical URLs, and a new collector
// on the same bucket resumes with since_id and no second lookup.
func TestUserTimelineAndRestart(t *testing.T) {
	e := newEnv(t)
	e.api.set("/2/users/by/username/Twitter", answer{file: "user_by_username_twitter.json",
		headers: map[string]string{"x-rate-limit-remaining": "299", "x-rate-limit-reset": "1618286938"}})
	e.api.set("/2/users/783214/tweets", answer{file: "users_tweets_twitter.json"})
	src := Source{ID: "twitter", Code: "TWTR", Username: "@Twitter"}
	c := e.collector(t, nil, src)
	if err := c.Poll(ctxT(t), c.cfg.Sources[0]); err != nil {
		t.Fatal(err)
	}
	items := e.items(t)
	if len(items) != 2 || items[0].NativeID != "1565318587736285184" || items[1].NativeID != "1577730467436138524" {
		t.Fatalf("published %+v", items)
	}
	it := items[1]
	if it.Kind != "x" || it.Source != "twitter" || it.SourceCode != "TWTR" || it.URL != "https://x.com/Twitter/status/1577730467436138524" ||
		it.Author != "@Twitter" || it.BodyFormat != wire.FormatText || !strings.HasPrefix(it.Body, "whoa, it works\n\nnow everyone") {
		t.Errorf("item: %+v", it)
	}
	if it.Fetch == nil || !strings.Contains(it.Fetch.URL, "/2/users/783214/tweets?") || strings.Contains(it.Fetch.URL, "test-token") {
		t.Errorf("fetch record: %+v", it.Fetch)
	}
	q := e.api.requests("/2/users/783214/tweets")[0].Query()
	if q.Get("tweet.fields") != "created_at,lang,referenced_tweets,entities,author_id,note_tweet" || q.Get("since_id") != "" || q.Get("max_results") != "100" {
		t.Errorf("first timeline query %v", q)
	}
	if got := e.api.auth[0]; got != "Bearer AAAA-test-token" {
		t.Errorf("authorization %q", got)
	}
	st := e.state(t, c, "twitter")
	if st.UserID != "783214" || st.Username != "Twitter" || st.SinceID != "1577730467436138524" || st.Published != 2 || st.LastSuccess.IsZero() || st.LastNew.IsZero() {
		t.Fatalf("state %+v", st)
	}
	if h, err := ingest.ReadHealth(mustGet(t, e.kv, "x.twitter")); err != nil || h.Published != 2 || h.Failing {
		t.Errorf("health under x.twitter: %+v %v", h, err)
	}

	c2 := e.collector(t, nil, src)
	if err := c2.Poll(ctxT(t), c2.cfg.Sources[0]); err != nil {
		t.Fatal(err)
	}
	if n := len(e.api.requests("/2/users/by/username/Twitter")); n != 1 {
		t.Errorf("user looked up %d times", n)
	}
	reqs := e.api.requests("/2/users/783214/tweets")
	if len(reqs) != 2 || reqs[1].Query().Get("since_id") != "1577730467436138524" {
		t.Fatalf("restart requests %v", reqs)
	}
	// The page answered again holds nothing newer than since_id.
	if n := len(e.items(t)); n != 2 {
		t.Errorf("after restart the stream holds %d items", n)
	}
}

func mustGet(t *testing.T, kv jetstream.KeyValue, key string) []byte {
	e, err := kv.Get(ctxT(t), key)
	if err != nil {
		t.Fatal(err)
	}
	return e.Value()
}

// TestTimelineReferencesAndText reads a real page with every field: a
// retweet carries its original's text and is forward_of it, a reply names
// the post it answers, t.co links are expanded and &amp; is read.
func TestTimelineReferencesAndText(t *testing.T) {
	e := newEnv(t)
	e.api.set("/2/users/2351222345/tweets", answer{file: "users_tweets_2351222345.json"})
	c := e.collector(t, nil,
		Source{ID: "phillynefl", Username: "PhillyNEFL", UserID: "2351222345"},
		Source{ID: "bleacher", Username: "BleacherReport", UserID: "890891"})
	if err := c.Poll(ctxT(t), c.cfg.Sources[0]); err != nil {
		t.Fatal(err)
	}
	if n := len(e.api.requests("")); n != 1 {
		t.Errorf("%d requests; a configured user_id needs no lookup", n)
	}
	items := e.items(t)
	if len(items) != 100 {
		t.Fatalf("published %d of the page's 100 posts", len(items))
	}
	for i := 1; i < len(items); i++ {
		if !idLess(items[i-1].NativeID, items[i].NativeID) {
			t.Fatalf("not oldest first at %d: %s, %s", i, items[i-1].NativeID, items[i].NativeID)
		}
	}
	m := byID(items)
	rt := m["1257712877559037961"]
	if rt.ForwardOf == nil || rt.ForwardOf.Kind != "x" || rt.ForwardOf.NativeID != "1257680252781899776" ||
		rt.ForwardOf.Source != "bleacher" || rt.ForwardOf.URL != "https://x.com/BleacherReport/status/1257680252781899776" {
		t.Errorf("retweet forward_of %+v", rt.ForwardOf)
	}
	if !strings.HasPrefix(rt.Body, "In 1986, Larry Bird decided") || strings.HasPrefix(rt.Body, "RT @") ||
		!strings.Contains(rt.Body, "https://twitter.com/NBAHistory/status/831605323551084544/video/1") {
		t.Errorf("retweet body is not the original's whole text: %q", rt.Body)
	}
	if rt.URL != "https://x.com/PhillyNEFL/status/1257712877559037961" || rt.Published != "2020-05-05T16:44:51.000Z" || rt.Lang != "en" {
		t.Errorf("retweet identity: %q %q %q", rt.URL, rt.Published, rt.Lang)
	}
	// An unconfigured original author resolves to the username.
	if f := m["1257786232978968578"].ForwardOf; f == nil || f.Source != "frankgore" || f.NativeID != "1257755870282334208" {
		t.Errorf("retweet of an unconfigured account: %+v", f)
	}
	if r := m["1257712972564180997"].ReplyTo; r == nil || r.NativeID != "1257680252781899776" || r.Source != "bleacher" {
		t.Errorf("reply_to %+v", r)
	}
	link := m["1257469520882647040"]
	if want := "Star Wars Releases 'May the 4th' Video to Inspire Fans in These Dark Times http://epicstream.com/news/NicoParungo/Star-Wars-Releases-May-the-4th-Video-to-Inspire-Fans-in-These-Dark-Times via @FantasyandSciFi"; link.Body != want {
		t.Errorf("expanded links\n got %q\nwant %q", link.Body, want)
	}
	if got := m["1255570133587804163"].Body; !strings.Contains(got, "tell me the truth & I won't be mad") {
		t.Errorf("&amp; not read: %q", got)
	}
	// The page reports one referenced post as not found: counted, not fatal.
	if s := c.Stats()["phillynefl"]; s.PartialErrors != 1 || s.Published != 100 {
		t.Errorf("stats %+v", s)
	}
}

// TestSearchPagesUntilSinceIDAndCountsGap: with a since_id, pages are
// followed by next_token; max_pages stops a poll short and counts a gap;
// the next poll stops at the first page that reaches since_id.
func TestSearchPagesUntilSinceIDAndCountsGap(t *testing.T) {
	e := newEnv(t)
	e.api.set("/2/tweets/search/recent", answer{file: "search_recent_brexit.json"})
	e.api.set("/2/tweets/search/recent?next_token=b26v89c19zqg8o3fpds60ssjif02fq74br3502of8hmrh", answer{file: "search_recent_kpop.json"})
	// The pages were captured on 2021-09-22; recent search reaches 7 days back.
	e.clock.t = time.Date(2021, 9, 22, 16, 40, 0, 0, time.UTC)
	src := Source{ID: "brexit", Query: "#brexit", MaxPages: 2}
	c := e.collector(t, nil, src)
	st := State{Target: target(src), SinceID: "1440713000000000000"}
	if err := c.save(ctxT(t), "brexit", st); err != nil {
		t.Fatal(err)
	}
	if err := c.Poll(ctxT(t), c.cfg.Sources[0]); err != nil {
		t.Fatal(err)
	}
	reqs := e.api.requests("/2/tweets/search/recent")
	if len(reqs) != 2 || reqs[0].Query().Get("since_id") != "1440713000000000000" || reqs[0].Query().Get("query") != "#brexit" ||
		reqs[1].Query().Get("next_token") != "b26v89c19zqg8o3fpds60ssjif02fq74br3502of8hmrh" {
		t.Fatalf("requests %v", reqs)
	}
	items := e.items(t)
	if len(items) != 200 {
		t.Fatalf("published %d, want the 200 distinct posts of both pages", len(items))
	}
	after := e.state(t, c, "brexit")
	if after.SinceID != "1440717170493689866" || after.Gaps != 1 || c.Stats()["brexit"].Gaps != 1 {
		t.Errorf("state %+v", after)
	}
	// Next poll: the first page is all older than since_id; one request, nothing new.
	if err := c.Poll(ctxT(t), c.cfg.Sources[0]); err != nil {
		t.Fatal(err)
	}
	if n := len(e.api.requests("/2/tweets/search/recent")); n != 3 {
		t.Errorf("%d requests; the second poll should stop at its first page", n)
	}
	if n := len(e.items(t)); n != 200 {
		t.Errorf("%d items after the second poll", n)
	}
}

// TestRetweetBecomesRepostOfOriginal: @tagesschau's post and
// @666_rolf's retweet of it, both on one real search page, become entries
// where the retweet is repost_of the original (the real normalizer).
func TestRetweetBecomesRepostOfOriginal(t *testing.T) {
	e := newEnv(t)
	e.api.set("/2/tweets/search/recent", answer{file: "search_recent_brexit.json"})
	c := e.collector(t, nil, Source{ID: "brexit", Query: "#brexit"})
	if err := c.Poll(ctxT(t), c.cfg.Sources[0]); err != nil {
		t.Fatal(err)
	}
	m := byID(e.items(t))
	orig, rt := m["1440714938054418436"], m["1440715564863791107"]
	if orig.URL != "https://x.com/tagesschau/status/1440714938054418436" || rt.URL != "https://x.com/666_rolf/status/1440715564863791107" {
		t.Fatalf("urls %q %q", orig.URL, rt.URL)
	}
	if orig.Lang != "de" || orig.Body != rt.Body {
		t.Errorf("retweet body %q, original %q (lang %q)", rt.Body, orig.Body, orig.Lang)
	}
	cfg := normalize.DefaultConfig()
	oe, err := normalize.Normalize(cfg, orig, provenance.RawRef{Stream: bus.StreamRaw, Seq: 1})
	if err != nil {
		t.Fatal(err)
	}
	re, err := normalize.Normalize(cfg, rt, provenance.RawRef{Stream: bus.StreamRaw, Seq: 2})
	if err != nil {
		t.Fatal(err)
	}
	if re.RepostOf == "" || re.RepostOf != oe.ID {
		t.Errorf("retweet entry repost_of %q, original entry %q", re.RepostOf, oe.ID)
	}
	if oe.RepostOf != "" {
		t.Errorf("original is repost_of %q", oe.RepostOf)
	}
}

// recorder is an injected Sleep: it records every wait, runs the step
// given for it (by its index: 0 is the first poll's stagger, 1 the wait
// after the first poll, …), moves the test clock by it instead of
// sleeping, and ends the run after stopAfter waits.
type recorder struct {
	mu        sync.Mutex
	waits     []time.Duration
	clock     *clock
	stopAfter int
	cancel    context.CancelFunc
	steps     map[int]func()
}

func (r *recorder) Sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.waits = append(r.waits, d)
	n := len(r.waits)
	r.mu.Unlock()
	if f := r.steps[n-1]; f != nil {
		f()
	}
	if n >= r.stopAfter {
		r.cancel()
		<-ctx.Done()
		return ctx.Err()
	}
	r.clock.advance(d)
	return ctx.Err()
}

func (r *recorder) all() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.waits...)
}

// TestRateLimitWaitsForReset: a 429 with x-rate-limit-reset makes the
// source wait until the reset (counted), then poll again and publish.
func TestRateLimitWaitsForReset(t *testing.T) {
	e := newEnv(t)
	reset := e.clock.Now().Add(900 * time.Second)
	e.api.set("/2/users/783214/tweets",
		answer{status: 429, body: body429, headers: map[string]string{"x-rate-limit-limit": "1500", "x-rate-limit-remaining": "0",
			"x-rate-limit-reset": strconv.FormatInt(reset.Unix(), 10)}},
		answer{file: "users_tweets_twitter.json", headers: map[string]string{"x-rate-limit-remaining": "1499",
			"x-rate-limit-reset": strconv.FormatInt(reset.Add(900*time.Second).Unix(), 10)}})
	ctx, cancel := context.WithCancel(ctxT(t))
	rec := &recorder{clock: e.clock, stopAfter: 3, cancel: cancel}
	c := e.collector(t, func(cfg *Config) { cfg.Sleep = rec.Sleep }, Source{ID: "twitter", Username: "Twitter", UserID: "783214", Interval: time.Minute})
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	waits := rec.all()
	if len(waits) != 3 || waits[0] != 0 || waits[1] != 901*time.Second {
		t.Fatalf("waits %v; want the reset (900s) plus a second after the 429", waits)
	}
	if n := len(e.api.requests("/2/users/783214/tweets")); n != 2 {
		t.Errorf("%d timeline requests", n)
	}
	if n := len(e.items(t)); n != 2 {
		t.Errorf("%d items after the reset", n)
	}
	s := c.Stats()["twitter"]
	st := e.state(t, c, "twitter")
	if s.RateLimited != 1 || s.RateLimitWaits != 1 || st.RateLimited != 1 || st.LastError != "" || st.Failing {
		t.Errorf("stats %+v state %+v", s, st)
	}
}

// TestUsedUpWindowHoldsRequests: an answer with x-rate-limit-remaining 0
// keeps the next request of that endpoint back until its reset.
func TestUsedUpWindowHoldsRequests(t *testing.T) {
	e := newEnv(t)
	reset := e.clock.Now().Add(600 * time.Second)
	e.api.set("/2/users/783214/tweets", answer{file: "users_tweets_twitter.json", headers: map[string]string{
		"x-rate-limit-remaining": "0", "x-rate-limit-reset": strconv.FormatInt(reset.Unix(), 10)}})
	c := e.collector(t, nil, Source{ID: "twitter", Username: "Twitter", UserID: "783214", Interval: time.Minute})
	failures := 0
	if _, err := c.pollOnce(ctxT(t), c.cfg.Sources[0], &failures); err != nil {
		t.Fatal(err)
	}
	wait, err := c.pollOnce(ctxT(t), c.cfg.Sources[0], &failures)
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.Sent || !rl.Reset.Equal(reset) || wait != 601*time.Second {
		t.Fatalf("second poll: wait %v, err %v", wait, err)
	}
	if n := len(e.api.requests("")); n != 1 {
		t.Errorf("%d requests sent into a used-up window", n)
	}
	e.clock.advance(601 * time.Second)
	if _, err := c.pollOnce(ctxT(t), c.cfg.Sources[0], &failures); err != nil {
		t.Fatal(err)
	}
	if n := len(e.api.requests("")); n != 2 {
		t.Errorf("%d requests after the reset", n)
	}
}

// TestRejectedTokenStopsPolling: 401 and 403 stop every source, mark each
// failing with X's answer, and Run returns ErrCredential on its own.
func TestRejectedTokenStopsPolling(t *testing.T) {
	for _, tc := range []struct {
		status int
		file   string
		want   string
	}{
		{401, "error_401_unauthorized.json", "HTTP 401 (Unauthorized)"},
		{403, "error_403_client_forbidden.json", "HTTP 403 (Client Forbidden: When authenticating"},
	} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			e := newEnv(t)
			e.api.set("/2/users/783214/tweets", answer{status: tc.status, file: tc.file})
			e.api.set("/2/tweets/search/recent", answer{file: "search_recent_brexit.json"})
			ctx, cancel := context.WithCancel(ctxT(t))
			defer cancel()
			rec := &recorder{clock: e.clock, stopAfter: 1000, cancel: cancel}
			c := e.collector(t, func(cfg *Config) { cfg.Sleep = rec.Sleep },
				Source{ID: "twitter", Username: "Twitter", UserID: "783214", Interval: time.Minute},
				Source{ID: "brexit", Query: "#brexit", Interval: time.Hour})
			err := c.Run(ctx)
			if !errors.Is(err, ErrCredential) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run: %v", err)
			}
			if ctx.Err() != nil {
				t.Fatal("Run returned only because the test ended it")
			}
			for _, id := range []string{"twitter", "brexit"} {
				h, err := ingest.ReadHealth(mustGet(t, e.kv, StateKey(id)))
				if err != nil || !h.Failing || h.Errors < 1 || !strings.Contains(h.LastError, tc.want) || !h.NextPoll.IsZero() {
					t.Errorf("%s health %+v (%v)", id, h, err)
				}
			}
			n := len(e.api.requests("/2/users/783214/tweets"))
			if n != 1 {
				t.Errorf("%d requests with the rejected token", n)
			}
		})
	}
}

// TestMalformedPage: a body cut short is a clear error, counted in stats
// and health; the source's cursor stays and the next good page is read.
func TestMalformedPage(t *testing.T) {
	e := newEnv(t)
	full, err := os.ReadFile(filepath.Join("testdata", "users_tweets_twitter.json"))
	if err != nil {
		t.Fatal(err)
	}
	e.api.set("/2/users/783214/tweets", answer{body: string(full[:300])}, answer{body: `{"data":{"id":"1"}}`}, answer{file: "users_tweets_twitter.json"})
	c := e.collector(t, nil, Source{ID: "twitter", Username: "Twitter", UserID: "783214"})
	for i := range 2 {
		err := c.Poll(ctxT(t), c.cfg.Sources[0])
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "users/:id/tweets") {
			t.Fatalf("poll %d: %v", i, err)
		}
	}
	st := e.state(t, c, "twitter")
	if st.Errors != 2 || !strings.Contains(st.LastError, "malformed response") || st.SinceID != "" {
		t.Errorf("state %+v", st)
	}
	if s := c.Stats()["twitter"]; s.Malformed != 2 || s.Errors != 2 {
		t.Errorf("stats %+v", s)
	}
	if err := c.Poll(ctxT(t), c.cfg.Sources[0]); err != nil {
		t.Fatal(err)
	}
	if n := len(e.items(t)); n != 2 {
		t.Errorf("%d items after the good page", n)
	}
}

// TestUnknownUser: a lookup that names no user marks the source failing.
func TestUnknownUser(t *testing.T) {
	e := newEnv(t)
	e.api.set("/2/users/by/username/nosuchuser_x", answer{body: `{"errors":[{"value":"nosuchuser_x","detail":"Could not find user with username: [nosuchuser_x].","title":"Not Found Error","resource_type":"user","parameter":"username","resource_id":"nosuchuser_x","type":"https://api.twitter.com/2/problems/resource-not-found"}]}`})
	c := e.collector(t, nil, Source{ID: "ghost", Username: "nosuchuser_x"})
	if err := c.Poll(ctxT(t), c.cfg.Sources[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("got %v", err)
	}
	if st := e.state(t, c, "ghost"); !st.Failing || !strings.Contains(st.LastError, "Could not find user") {
		t.Errorf("state %+v", st)
	}
}

var (
	validatorOnce sync.Once
	validator     *schema.Validator
	validatorErr  error
)

func rawSchema(t *testing.T) *schema.Validator {
	validatorOnce.Do(func() { validator, validatorErr = schema.NewValidator() })
	if validatorErr != nil {
		t.Fatal(validatorErr)
	}
	return validator
}

// TestListReadsUntilKnownPost: lists take no since_id, so a list source
// pages until it meets a post it published. (A captured user-timeline page
// is served as the list's page: the answers have the same shape.)
func TestListReadsUntilKnownPost(t *testing.T) {
	e := newEnv(t)
	e.api.set("/2/lists/1234/tweets", answer{file: "users_tweets_twitter.json"})
	c := e.collector(t, nil, Source{ID: "desk", ListID: "1234"})
	for range 2 {
		if err := c.Poll(ctxT(t), c.cfg.Sources[0]); err != nil {
			t.Fatal(err)
		}
	}
	reqs := e.api.requests("/2/lists/1234/tweets")
	if len(reqs) != 2 || reqs[1].Query().Has("since_id") || reqs[1].Query().Has("pagination_token") {
		t.Fatalf("requests %v", reqs)
	}
	items := e.items(t)
	if len(items) != 2 || items[0].URL != "https://x.com/i/status/1565318587736285184" {
		t.Errorf("items %+v", items)
	}
	if st := e.state(t, c, "desk"); st.SinceID != "1577730467436138524" || st.Gaps != 0 {
		t.Errorf("state %+v", st)
	}
}

// TestSearchDropsCursorOlderThanSevenDays: a stored since_id older than
// recent search reaches (which X refuses with 400) is dropped, counted
// as a gap, and the newest page is read.
func TestSearchDropsCursorOlderThanSevenDays(t *testing.T) {
	e := newEnv(t)
	e.api.set("/2/tweets/search/recent", answer{file: "search_recent_brexit.json"})
	e.clock.t = time.Date(2021, 10, 1, 0, 0, 0, 0, time.UTC)
	src := Source{ID: "brexit", Query: "#brexit"}
	c := e.collector(t, nil, src)
	if err := c.save(ctxT(t), "brexit", State{Target: target(src), SinceID: "1437000000000000000"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Poll(ctxT(t), c.cfg.Sources[0]); err != nil {
		t.Fatal(err)
	}
	reqs := e.api.requests("/2/tweets/search/recent")
	if len(reqs) != 1 || reqs[0].Query().Has("since_id") {
		t.Fatalf("requests %v", reqs)
	}
	if st := e.state(t, c, "brexit"); st.Gaps != 1 || st.SinceID != "1440716895355764743" || st.Published != 100 {
		t.Errorf("state %+v", st)
	}
}
