package mastodon

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/schema"
	"github.com/newswire/newswire/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func fixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// answer is one canned response; stream answers are SSE bodies.
type answer struct {
	status  int
	body    string
	headers map[string]string
	// hold keeps the connection open, sending nothing, until the client
	// goes away (a quiet stream).
	hold bool
}

// instance is an httptest Mastodon: answers by path (plus max_id when the
// request pages), each path's answers used in turn, the last repeating.
type instance struct {
	mu      sync.Mutex
	routes  map[string][]answer
	used    map[string]int
	reqs    []*url.URL
	auth    []string
	srvURL  string
	streams int
}

func (s *instance) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r.URL)
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	key := r.URL.Path
	if v := r.URL.Query().Get("max_id"); v != "" {
		key += "?max_id=" + v
	}
	list := s.routes[key]
	if len(list) == 0 {
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"Record not found"}`))
		return
	}
	i := min(s.used[key], len(list)-1)
	s.used[key]++
	if strings.HasPrefix(r.URL.Path, "/api/v1/streaming/") {
		s.streams++
	}
	a := list[i]
	base := s.srvURL
	s.mu.Unlock()
	for k, v := range a.headers {
		// Link headers were recorded against localhost:3000.
		w.Header().Set(k, strings.ReplaceAll(v, "http://localhost:3000", base))
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	if a.status == 0 {
		a.status = 200
	}
	w.WriteHeader(a.status)
	_, _ = w.Write([]byte(a.body))
	if a.hold {
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}
}

func (s *instance) set(key string, answers ...answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routes[key] = answers
	delete(s.used, key)
}

func (s *instance) requests(path string) []*url.URL {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*url.URL
	for _, u := range s.reqs {
		if path == "" || u.Path == path {
			out = append(out, u)
		}
	}
	return out
}

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

// recorder is an injected Sleep: it records every wait and moves the test
// clock by it instead of sleeping.
type recorder struct {
	mu    sync.Mutex
	waits []time.Duration
	clock *clock
}

func (r *recorder) Sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.waits = append(r.waits, d)
	r.mu.Unlock()
	r.clock.advance(d)
	return ctx.Err()
}

func (r *recorder) all() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.waits...)
}

type env struct {
	inst  *instance
	srv   *httptest.Server
	bus   *bustest.Server
	kv    jetstream.KeyValue
	pub   ingest.Publisher
	clock *clock
	sleep *recorder
}

func newEnv(t *testing.T) *env {
	inst := &instance{routes: map[string][]answer{}, used: map[string]int{}}
	srv := httptest.NewServer(inst)
	t.Cleanup(srv.Close)
	inst.srvURL = srv.URL
	b := bustest.Start(t)
	kv, err := b.JS.KeyValue(ctxT(t), bus.BucketSource)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 8, 1, 13, 55, 0, 0, time.UTC)}
	return &env{inst: inst, srv: srv, bus: b, kv: kv, pub: ingest.NewJetStreamPublisher(b.JS), clock: clk, sleep: &recorder{clock: clk}}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (e *env) collector(t *testing.T, sources ...Source) *Collector {
	for i := range sources {
		if sources[i].Instance == "" {
			sources[i].Instance = e.srv.URL
		}
		// Re-checks ask for every published status again; only the test
		// about them turns them on, so the others need no such routes.
		if sources[i].Recheck == 0 {
			sources[i].Recheck = -1
		}
	}
	c, err := New(Config{Sources: sources, Now: e.clock.Now, Sleep: e.sleep.Sleep, StreamIdle: time.Hour}, e.pub, e.kv, e.srv.Client(), nil)
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

func ids(items []wire.RawItem) string {
	var out []string
	for _, it := range items {
		id := it.NativeID[strings.LastIndex(it.NativeID, "/")+1:]
		if it.Deleted {
			id += "(deleted)"
		}
		out = append(out, id)
	}
	return strings.Join(out, " ")
}

const (
	acctID    = "117020565966271181"
	statuses  = "/api/v1/accounts/" + acctID + "/statuses"
	page1Link = `<http://localhost:3000/api/v1/accounts/117020565966271181/statuses?limit=5&max_id=117020580489281910>; rel="next", <http://localhost:3000/api/v1/accounts/117020565966271181/statuses?limit=5&min_id=117020580518794573>; rel="prev"`
	page2Link = `<http://localhost:3000/api/v1/accounts/117020565966271181/statuses?limit=5&max_id=117020580452511285>; rel="next", <http://localhost:3000/api/v1/accounts/117020565966271181/statuses?limit=5&min_id=117020580481736214>; rel="prev"`
)

func (e *env) accountPages(t *testing.T) {
	e.inst.set("/api/v1/accounts/lookup", answer{body: fixture(t, "accounts_lookup_mastodonpy_test.json"),
		headers: map[string]string{"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "299", "X-RateLimit-Reset": "2026-08-01T13:50:00.924992Z"}})
	e.inst.set(statuses, answer{body: fixture(t, "accounts_statuses_page1.json"), headers: map[string]string{"Link": page1Link}})
	e.inst.set(statuses+"?max_id=117020580489281910", answer{body: fixture(t, "accounts_statuses_page2.json"), headers: map[string]string{"Link": page2Link}})
}

// TestAccountStatusesAndRestart: the account is looked up once, the
// newest page published oldest first with its canonical URLs, and a new
// collector resumes from the stored since_id without a second lookup.
func TestAccountStatusesAndRestart(t *testing.T) {
	e := newEnv(t)
	e.accountPages(t)
	src := Source{ID: "mpytest", Code: "MPY", Account: "@mastodonpy_test"}
	c := e.collector(t, src)
	if err := c.Poll(ctxT(t), c.cfg.Sources[0]); err != nil {
		t.Fatal(err)
	}
	items := e.items(t)
	if got := ids(items); got != "117020580489281910 117020580496489811 117020580503743669 117020580511453871 117020580518794573" {
		t.Fatalf("published %s", got)
	}
	it := items[4]
	if it.Kind != "mastodon" || it.Source != "mpytest" || it.SourceCode != "MPY" ||
		it.NativeID != "http://localhost:3000/ap/users/117020565966271181/statuses/117020580518794573" ||
		it.URL != "http://localhost:3000/@mastodonpy_test/117020580518794573" || it.Body != "<p>Toot number 9!</p>" ||
		it.BodyFormat != wire.FormatHTML || it.Lang != "en" || it.Published != "2026-08-01T13:52:34.108Z" ||
		!strings.HasPrefix(it.Author, "@mastodonpy_test@127.0.0.1:") {
		t.Errorf("item %+v", it)
	}
	if q := e.inst.requests(statuses)[0].Query(); q.Get("limit") != "40" || q.Get("since_id") != "" {
		t.Errorf("first query %v", q)
	}
	if got := e.inst.requests("/api/v1/accounts/lookup")[0].Query().Get("acct"); got != "mastodonpy_test" {
		t.Errorf("lookup acct %q", got)
	}
	if auth := e.inst.auth[0]; auth != "" {
		t.Errorf("a source without a token sent %q", auth)
	}
	st := e.state(t, c, "mpytest")
	if st.AccountID != acctID || st.SinceID != "117020580518794573" || st.Published != 5 || len(st.Known) != 5 || st.LastSuccess.IsZero() || st.LastNew.IsZero() {
		t.Fatalf("state %+v", st)
	}
	if h, err := ingest.ReadHealth(mustGet(t, e.kv, "mastodon.mpytest")); err != nil || h.Published != 5 {
		t.Errorf("health %+v %v", h, err)
	}

	c2 := e.collector(t, src)
	if err := c2.Poll(ctxT(t), c2.cfg.Sources[0]); err != nil {
		t.Fatal(err)
	}
	if n := len(e.inst.requests("/api/v1/accounts/lookup")); n != 1 {
		t.Errorf("looked up %d times", n)
	}
	reqs := e.inst.requests(statuses)
	if len(reqs) != 2 || reqs[1].Query().Get("since_id") != "117020580518794573" {
		t.Fatalf("restart requests %v", reqs)
	}
	if n := len(e.items(t)); n != 5 {
		t.Errorf("%d items after restart", n)
	}
}

func mustGet(t *testing.T, kv jetstream.KeyValue, key string) []byte {
	en, err := kv.Get(ctxT(t), key)
	if err != nil {
		t.Fatal(err)
	}
	return en.Value()
}

// TestAccountPagesByLinkHeader: with a since_id further back than one
// page, the poll follows the Link header's next page and stops at the
// first status it already has.
func TestAccountPagesByLinkHeader(t *testing.T) {
	e := newEnv(t)
	e.accountPages(t)
	src := Source{ID: "mpytest", Account: "mastodonpy_test"}
	c := e.collector(t, src)
	st := State{Target: c.cfg.Sources[0].target(), AccountID: acctID, SinceID: "117020580452511285"}
	if err := c.save(ctxT(t), "mpytest", &st); err != nil {
		t.Fatal(err)
	}
	if err := c.Poll(ctxT(t), c.cfg.Sources[0]); err != nil {
		t.Fatal(err)
	}
	reqs := e.inst.requests(statuses)
	if len(reqs) != 2 || reqs[1].Query().Get("max_id") != "117020580489281910" {
		t.Fatalf("requests %v", reqs)
	}
	if got := ids(e.items(t)); got != "117020580459855703 117020580467310235 117020580474454464 117020580481736214 117020580489281910 117020580496489811 117020580503743669 117020580511453871 117020580518794573" {
		t.Errorf("published %s", got)
	}
	if st := e.state(t, c, "mpytest"); st.Gaps != 0 || st.SinceID != "117020580518794573" {
		t.Errorf("state %+v", st)
	}
}

// TestBoostBecomesRepostOfOriginal: @mastodonpy_test_2's post and
// @admin's boost of it, read from both accounts, become entries where the
// boost is repost_of the original (the real normalizer), and the HTML
// becomes plain text.
func TestBoostBecomesRepostOfOriginal(t *testing.T) {
	e := newEnv(t)
	e.inst.set("/api/v1/accounts/117020566092212359/statuses", answer{body: "[" + fixture(t, "status_mastodonpy_test_2.json") + "]"})
	e.inst.set("/api/v1/accounts/117020565693913441/statuses", answer{body: "[" + fixture(t, "status_reblog_by_admin.json") + "]"})
	c := e.collector(t, Source{ID: "test2", Account: "mastodonpy_test_2"}, Source{ID: "admin", Account: "admin"})
	for i, id := range []string{"117020566092212359", "117020565693913441"} {
		src := c.cfg.Sources[i]
		if err := c.save(ctxT(t), src.ID, &State{Target: src.target(), AccountID: id}); err != nil {
			t.Fatal(err)
		}
		if err := c.Poll(ctxT(t), src); err != nil {
			t.Fatal(err)
		}
	}
	items := e.items(t)
	if len(items) != 2 {
		t.Fatalf("items %+v", items)
	}
	orig, boost := items[0], items[1]
	if boost.URL != "http://localhost:3000/@admin/117020569768720055" || orig.URL != "http://localhost:3000/@mastodonpy_test_2/117020569685834492" {
		t.Errorf("urls %q %q", boost.URL, orig.URL)
	}
	if f := boost.ForwardOf; f == nil || f.Source != "test2" || f.NativeID != orig.NativeID || f.URL != orig.URL {
		t.Errorf("forward_of %+v", boost.ForwardOf)
	}
	cfg := normalize.DefaultConfig()
	oe, err := normalize.Normalize(cfg, orig, provenance.RawRef{Stream: bus.StreamRaw, Seq: 1})
	if err != nil {
		t.Fatal(err)
	}
	be, err := normalize.Normalize(cfg, boost, provenance.RawRef{Stream: bus.StreamRaw, Seq: 2})
	if err != nil {
		t.Fatal(err)
	}
	if be.RepostOf == "" || be.RepostOf != oe.ID || oe.RepostOf != "" {
		t.Errorf("boost repost_of %q, original %q (%q)", be.RepostOf, oe.ID, oe.RepostOf)
	}
	if oe.Text != "rootin tooting and shootin" || be.Text != oe.Text {
		t.Errorf("texts %q %q", oe.Text, be.Text)
	}
}

// TestStreamReconnectsWithoutLossOrDuplicates follows a hashtag stream
// whose first connection drops before any event. The reconnect (after
// the injected backoff) catches up over REST — the post made while the
// stream was down is published — and the stream then repeats that post,
// which is not published again; a direct message is never published; an
// edit is counted; the delete event withdraws the post once.
func TestStreamReconnectsWithoutLossOrDuplicates(t *testing.T) {
	e := newEnv(t)
	full := fixture(t, "streaming_user.txt")
	sse := map[string]string{"Content-Type": "text/event-stream"}
	e.inst.set("/api/v1/streaming/hashtag",
		answer{body: ":)\n", headers: sse},
		answer{body: full, headers: sse},
		answer{body: ":)\n", headers: sse, hold: true})
	e.inst.set("/api/v1/timelines/tag/hoot",
		answer{body: fixture(t, "timelines_tag_hoot.json")},
		answer{body: "[" + fixture(t, "status_117024236332527350.json") + "]"},
		answer{body: "[]"})
	c := e.collector(t, Source{ID: "hoot", Hashtag: "#hoot", Token: "tok"})
	ctx, cancel := context.WithCancel(ctxT(t))
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for c.Stats()["hoot"].Withdrawn < 1 || e.state(t, c, "hoot").Withdrawn < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("no withdrawal; stats %+v", c.Stats()["hoot"])
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Wait for the third connection (the quiet one), then stop.
	for e.inst.streamCount() < 3 {
		if time.Now().After(deadline) {
			t.Fatal("no third connection")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	items := e.items(t)
	if got := ids(items); got != "117020593741189701 117024236332527350 117024236332527350(deleted)" {
		t.Fatalf("published %s", got)
	}
	if w := items[2]; w.NativeID != items[1].NativeID || w.URL != items[1].URL || w.Body != "" {
		t.Errorf("withdrawal %+v", w)
	}
	s := c.Stats()["hoot"]
	if s.Repeats != 1 || s.Private != 1 || s.Edits != 1 || s.Withdrawn != 1 || s.Reconnects < 2 || s.Published != 2 {
		t.Errorf("stats %+v", s)
	}
	reqs := e.inst.requests("/api/v1/timelines/tag/hoot")
	if len(reqs) < 2 || reqs[0].Query().Get("since_id") != "" || reqs[1].Query().Get("since_id") != "117020593741189701" {
		t.Errorf("catch-up requests %v", reqs)
	}
	if q := e.inst.requests("/api/v1/streaming/hashtag")[0].Query(); q.Get("tag") != "hoot" {
		t.Errorf("stream query %v", q)
	}
	e.inst.mu.Lock()
	auth := e.inst.auth[0]
	e.inst.mu.Unlock()
	if auth != "Bearer tok" {
		t.Errorf("authorization %q", auth)
	}
	waits := e.sleep.all()
	if len(waits) < 3 || waits[1] < 2*time.Second || waits[1] > 3*time.Second || waits[2] != time.Second {
		t.Errorf("waits %v: a stream that ended without events backs off, one that worked reconnects after 1s", waits)
	}
	st := e.state(t, c, "hoot")
	if _, ok := st.isKnown("117024236332527350"); ok || st.Reconnects < 2 || st.Failing {
		t.Errorf("state %+v", st)
	}
}

func (s *instance) streamCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streams
}

// TestRateLimitWaitsForReset: a 429 holds the instance until
// X-RateLimit-Reset (an ISO 8601 time), counted; requests in a used-up
// window are not sent.
func TestRateLimitWaitsForReset(t *testing.T) {
	e := newEnv(t)
	reset := e.clock.Now().Add(300 * time.Second)
	e.inst.set(statuses,
		answer{status: 429, body: `{"error":"Too many requests"}`, headers: map[string]string{"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset.Format(time.RFC3339Nano)}},
		answer{body: fixture(t, "accounts_statuses_page1.json")})
	src := Source{ID: "mpytest", Account: "mastodonpy_test", Interval: time.Minute}
	c := e.collector(t, src)
	if err := c.save(ctxT(t), "mpytest", &State{Target: c.cfg.Sources[0].target(), AccountID: acctID}); err != nil {
		t.Fatal(err)
	}
	failures := 0
	wait, err := c.pollOnce(ctxT(t), c.cfg.Sources[0], &failures)
	var rl *RateLimitError
	if !errors.As(err, &rl) || !rl.Sent || wait != 301*time.Second {
		t.Fatalf("wait %v err %v", wait, err)
	}
	if _, err := c.pollOnce(ctxT(t), c.cfg.Sources[0], &failures); !errors.As(err, &rl) || rl.Sent {
		t.Fatalf("second poll inside the window: %v", err)
	}
	if n := len(e.inst.requests(statuses)); n != 1 {
		t.Errorf("%d requests sent into the window", n)
	}
	e.clock.advance(wait)
	if _, err := c.pollOnce(ctxT(t), c.cfg.Sources[0], &failures); err != nil {
		t.Fatal(err)
	}
	st := e.state(t, c, "mpytest")
	if st.RateLimited != 2 || c.Stats()["mpytest"].RateLimited != 2 || st.Published != 5 || st.LastError != "" {
		t.Errorf("state %+v stats %+v", st, c.Stats()["mpytest"])
	}
}

// TestRejectedTokenStopsTheSource: 401 on an account poll and on a
// stream stop those sources, each marked failing with the instance's
// words; Run returns on its own once no source is left.
func TestRejectedTokenStopsTheSource(t *testing.T) {
	e := newEnv(t)
	body := fixture(t, "error_401_invalid_token.json")
	e.inst.set(statuses, answer{status: 401, body: body})
	e.inst.set("/api/v1/streaming/list", answer{status: 401, body: body})
	c := e.collector(t, Source{ID: "mpytest", Account: "mastodonpy_test", Token: "revoked"}, Source{ID: "news", List: "6", Token: "revoked"})
	if err := c.save(ctxT(t), "mpytest", &State{Target: c.cfg.Sources[0].target(), AccountID: acctID}); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("Run ended only at the test's deadline")
	}
	for _, id := range []string{"mpytest", "news"} {
		h, err := ingest.ReadHealth(mustGet(t, e.kv, StateKey(id)))
		if err != nil || !h.Failing || h.Errors != 1 || !strings.Contains(h.LastError, "HTTP 401 (The access token is invalid)") {
			t.Errorf("%s health %+v %v", id, h, err)
		}
	}
	if n := len(e.inst.requests("")); n != 2 {
		t.Errorf("%d requests", n)
	}
}

// TestMalformedAnswers: a page cut short and an unreadable stream event
// are clear errors, counted and logged; nothing is published from them
// and what follows is read.
func TestMalformedAnswers(t *testing.T) {
	e := newEnv(t)
	page := fixture(t, "accounts_statuses_page1.json")
	e.inst.set(statuses, answer{body: page[:700]}, answer{body: page})
	src := Source{ID: "mpytest", Account: "mastodonpy_test"}
	c := e.collector(t, src)
	if err := c.save(ctxT(t), "mpytest", &State{Target: c.cfg.Sources[0].target(), AccountID: acctID}); err != nil {
		t.Fatal(err)
	}
	err := c.Poll(ctxT(t), c.cfg.Sources[0])
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), statuses) {
		t.Fatalf("got %v", err)
	}
	if st := e.state(t, c, "mpytest"); st.Errors != 1 || !strings.Contains(st.LastError, "malformed response") || st.SinceID != "" {
		t.Errorf("state %+v", st)
	}
	if err := c.Poll(ctxT(t), c.cfg.Sources[0]); err != nil {
		t.Fatal(err)
	}
	st := e.state(t, c, "mpytest")
	// A cut event's data, then a whole one from the capture.
	cut := "event: update\ndata: {\"id\":\"1170\n\n"
	rest := fixture(t, "streaming_user.txt")
	var handled []string
	err = readEvents(strings.NewReader(cut+rest), func() {}, func(event, data string) error {
		handled = append(handled, event)
		return c.handleEvent(ctxT(t), src, &st, event, data)
	})
	if !errors.Is(err, io.EOF) {
		t.Fatalf("readEvents: %v", err)
	}
	if strings.Join(handled, ",") != "update,update,notification,update,notification,status.update,delete" {
		t.Errorf("events %v", handled)
	}
	if s := c.Stats()["mpytest"]; s.Malformed != 2 || s.Published != 6 || s.Withdrawn != 1 {
		t.Errorf("stats %+v (one cut page, one cut event)", s)
	}
}

// TestDeletedStatusWithdrawnOnRecheck: a published status that answers
// 404 on re-check is withdrawn once.
func TestDeletedStatusWithdrawnOnRecheck(t *testing.T) {
	e := newEnv(t)
	e.accountPages(t)
	src := Source{ID: "mpytest", Account: "mastodonpy_test", Recheck: 2, RecheckInterval: time.Minute}
	c := e.collector(t, src)
	if err := c.Poll(ctxT(t), c.cfg.Sources[0]); err != nil {
		t.Fatal(err)
	}
	// The first poll re-checked the two newest: both 404 in this fake
	// (no route), so both were withdrawn.
	e.inst.set("/api/v1/statuses/117020580503743669", answer{body: fixture(t, "status_117024236332527350.json")})
	e.inst.set("/api/v1/statuses/117020580496489811", answer{status: 404, body: fixture(t, "accounts_lookup_not_found.json")})
	e.clock.advance(2 * time.Minute)
	if err := c.Poll(ctxT(t), c.cfg.Sources[0]); err != nil {
		t.Fatal(err)
	}
	got := ids(e.items(t))
	want := "117020580489281910 117020580496489811 117020580503743669 117020580511453871 117020580518794573 117020580511453871(deleted) 117020580518794573(deleted) 117020580496489811(deleted)"
	if got != want {
		t.Errorf("published\n %s\nwant\n %s", got, want)
	}
	if st := e.state(t, c, "mpytest"); st.Withdrawn != 3 || len(st.Known) != 2 {
		t.Errorf("state %+v", st)
	}
}

// TestReadEvents: the SSE framing — CRLF lines, data over several lines,
// comments, an event cut off by the end of the stream (not dispatched).
func TestReadEvents(t *testing.T) {
	in := ":)\r\nevent: update\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\n:thump\n\nevent: delete\ndata: 42\n\ndata: plain\n\nevent: update\ndata: {\"cut"
	var got []string
	err := readEvents(strings.NewReader(in), func() {}, func(event, data string) error {
		got = append(got, event+"="+data)
		return nil
	})
	if !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if want := "update={\"a\":\n1}|delete=42|message=plain"; strings.Join(got, "|") != want {
		t.Errorf("got  %q\nwant %q", strings.Join(got, "|"), want)
	}
	stop := errors.New("stop")
	if err := readEvents(strings.NewReader(in), func() {}, func(string, string) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("a failing handler: %v", err)
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

// TestLinkToAnotherHostIsNotFollowed: a next page on another host would
// receive the source's token; it is not fetched, and the poll publishes
// the page it has.
func TestLinkToAnotherHostIsNotFollowed(t *testing.T) {
	e := newEnv(t)
	e.inst.set(statuses, answer{body: fixture(t, "accounts_statuses_page1.json"),
		headers: map[string]string{"Link": strings.ReplaceAll(page1Link, "http://localhost:3000", "http://elsewhere.example")}})
	c := e.collector(t, Source{ID: "mpytest", Account: "mastodonpy_test", Token: "secret"})
	if err := c.save(ctxT(t), "mpytest", &State{Target: c.cfg.Sources[0].target(), AccountID: acctID, SinceID: "117020580452511285"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Poll(ctxT(t), c.cfg.Sources[0]); err != nil {
		t.Fatal(err)
	}
	if n := len(e.inst.requests("")); n != 1 {
		t.Errorf("%d requests", n)
	}
	if s := c.Stats()["mpytest"]; s.Published != 5 || s.Malformed != 1 || s.Gaps != 1 {
		t.Errorf("stats %+v", s)
	}
}

// FuzzReadEvents reads arbitrary bytes as an event stream and decodes
// every update as a status: nothing may panic.
func FuzzReadEvents(f *testing.F) {
	f.Add([]byte(fixture(f, "streaming_user.txt")))
	f.Add([]byte("event: update\ndata: " + fixture(f, "status_reblog_by_admin.json") + "\n\n"))
	f.Add([]byte(":)\r\n\r\nevent: delete\r\ndata: 1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = readEvents(strings.NewReader(string(data)), func() {}, func(event, d string) error {
			var s status
			if json.Unmarshal([]byte(d), &s) == nil && s.valid() {
				_ = s.postURL()
				_ = s.public()
				_ = fullAcct(s.Account.Acct, "https://example.social")
			}
			return nil
		})
		_ = nextLink([]string{string(data)})
	})
}
