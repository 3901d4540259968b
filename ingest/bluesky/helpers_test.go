package bluesky

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/klauspost/compress/zstd"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

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

// jetstreamLines are the captured production Jetstream events, one per line.
func jetstreamLines(t testing.TB) [][]byte {
	var out [][]byte
	for _, l := range bytes.Split(fixture(t, "jetstream_v1.jsonl"), []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			out = append(out, l)
		}
	}
	return out
}

// corpusStart is a minute before the first captured Jetstream event: a
// collector started on this clock subscribes from before the events,
// however slowly the test machine gets there.
var corpusStart = time.UnixMicro(1783175828000000)

// clock is the collector's clock in tests: it runs from base at the real
// pace, and Sleep returns at once, moving the clock on instead, so that
// backoff and rate-limit waits take no real time and are recorded.
type clock struct {
	mu     sync.Mutex
	base   time.Time
	start  time.Time
	slept  time.Duration
	sleeps []time.Duration
}

func newClock(base time.Time) *clock { return &clock{base: base, start: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base.Add(time.Since(c.start) + c.slept)
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.slept += d
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	runtime.Gosched()
	return ctx.Err()
}

func (c *clock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// frame is a WebSocket message the fake Jetstream sends besides the
// captured events.
type frame struct {
	data   []byte
	binary bool
}

// plan says how the fake Jetstream treats one connection.
type plan struct {
	// ignoreCursor replays from the first event whatever the cursor says.
	ignoreCursor bool
	// dropAfter closes the connection after that many events (0: never).
	dropAfter int
	// inject sends frames before the event of that index (among the
	// events sent on the connection).
	inject map[int][]frame
	// extra are events sent after the captured ones.
	extra [][]byte
	// hangUp ends the connection after the last event.
	hangUp bool
}

// fakeJetstream speaks Jetstream's v1 /subscribe over WebSocket: it sends
// its events filtered by wantedDids, wantedCollections (commits only) and
// cursor, zstd-compressed with Jetstream's dictionary when the client
// asks for compress=true, as the real server does.
type fakeJetstream struct {
	events [][]byte
	plans  func(conn int) plan
	stop   context.Context
	enc    *zstd.Encoder

	mu      sync.Mutex
	queries []url.Values
	sent    []int
}

func (s *fakeJetstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/subscribe" {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer conn.CloseNow()
	s.mu.Lock()
	n := len(s.queries)
	s.queries = append(s.queries, q)
	s.sent = append(s.sent, 0)
	s.mu.Unlock()
	p := plan{}
	if s.plans != nil {
		p = s.plans(n)
	}
	dids := map[string]bool{}
	for _, d := range q["wantedDids"] {
		dids[d] = true
	}
	colls := map[string]bool{}
	for _, c := range q["wantedCollections"] {
		colls[c] = true
	}
	cursor, _ := strconv.ParseInt(q.Get("cursor"), 10, 64)
	compress := q.Get("compress") == "true"
	write := func(data []byte, binary bool) bool {
		typ := websocket.MessageText
		if binary {
			typ = websocket.MessageBinary
		} else if compress {
			data, typ = s.enc.EncodeAll(data, nil), websocket.MessageBinary
		}
		return conn.Write(s.stop, typ, data) == nil
	}
	sent := 0
	for _, line := range append(append([][]byte(nil), s.events...), p.extra...) {
		var h struct {
			DID    string `json:"did"`
			TimeUS int64  `json:"time_us"`
			Commit *struct {
				Collection string `json:"collection"`
			} `json:"commit"`
		}
		_ = json.Unmarshal(line, &h)
		if !dids[h.DID] || (h.Commit != nil && !colls[h.Commit.Collection]) || (cursor > 0 && !p.ignoreCursor && h.TimeUS < cursor) {
			continue
		}
		for _, f := range p.inject[sent] {
			if !write(f.data, f.binary) {
				return
			}
		}
		if p.dropAfter > 0 && sent == p.dropAfter {
			return // an abrupt end: no close frame
		}
		if !write(line, false) {
			return
		}
		sent++
		s.mu.Lock()
		s.sent[n] = sent
		s.mu.Unlock()
	}
	if p.hangUp {
		return
	}
	// Stay connected, as the real server does between events, until the
	// client leaves or the test ends.
	_, _, _ = conn.Read(s.stop)
}

func (s *fakeJetstream) Queries() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.queries...)
}

// fakeAppView answers the XRPC queries the collector makes from captured
// answers: feed pages by actor and cursor, getPosts, resolveHandle. An
// actor without pages gets an empty feed ({"feed":[]}, what the AppView
// answers for an account that has not posted).
type fakeAppView struct {
	t        testing.TB
	pages    map[string]string // "<actor> <cursor>" → testdata file
	handles  map[string]string // handle → testdata file
	throttle int               // answer the next n feed requests with 429
	reset    func() time.Time  // RateLimit-Reset of a 429
	down     bool              // getPosts answers 502

	mu   sync.Mutex
	reqs []string
	// refuse answers every request of an XRPC method with its status and body.
	refuse map[string]refusal
}

// refusal is an AppView answer other than 200 for one XRPC method.
type refusal struct {
	status int
	body   string
}

// setRefusal makes the AppView answer method with r; a zero r ends that.
func (s *fakeAppView) setRefusal(method string, r refusal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse == nil {
		s.refuse = map[string]refusal{}
	}
	if r.status == 0 {
		delete(s.refuse, method)
		return
	}
	s.refuse[method] = r
}

func (s *fakeAppView) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r.URL.RequestURI())
	throttled := false
	if strings.HasSuffix(r.URL.Path, "getAuthorFeed") && s.throttle > 0 {
		s.throttle--
		throttled = true
	}
	refused, isRefused := s.refuse[strings.TrimPrefix(r.URL.Path, "/xrpc/")]
	s.mu.Unlock()
	q := r.URL.Query()
	if isRefused {
		if strings.HasPrefix(refused.body, "{") {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
		} else {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		}
		w.WriteHeader(refused.status)
		_, _ = w.Write([]byte(refused.body))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	switch r.URL.Path {
	case "/xrpc/app.bsky.feed.getAuthorFeed":
		if throttled {
			w.Header().Set("RateLimit-Limit", "3000")
			w.Header().Set("RateLimit-Remaining", "0")
			w.Header().Set("RateLimit-Reset", strconv.FormatInt(s.reset().Unix(), 10))
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"error":"RateLimitExceeded","message":"Rate Limit Exceeded"}`))
			return
		}
		if f, ok := s.pages[q.Get("actor")+" "+q.Get("cursor")]; ok {
			_, _ = w.Write(fixture(s.t, f))
			return
		}
		_, _ = w.Write([]byte(`{"feed":[]}`))
	case "/xrpc/app.bsky.feed.getPosts":
		if s.down {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		_, _ = w.Write(fixture(s.t, "getPosts.json"))
	case "/xrpc/com.atproto.identity.resolveHandle":
		if f, ok := s.handles[q.Get("handle")]; ok {
			_, _ = w.Write(fixture(s.t, f))
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"InvalidRequest","message":"Unable to resolve handle"}`))
	default:
		http.NotFound(w, r)
	}
}

func (s *fakeAppView) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.reqs...)
}

// recorder is a Publisher that counts what the collector asks to publish,
// by Nats-Msg-Id, before the bus's own duplicate window can hide a repeat.
type recorder struct {
	next ingest.Publisher

	mu    sync.Mutex
	calls map[string]int
	items []wire.RawItem
}

func (r *recorder) Publish(ctx context.Context, item wire.RawItem) (ingest.Ack, error) {
	msg, err := ingest.RawMsg(item)
	if err != nil {
		return ingest.Ack{}, err
	}
	r.mu.Lock()
	r.calls[msg.Header.Get(bus.HeaderMsgID)]++
	r.items = append(r.items, item)
	r.mu.Unlock()
	return r.next.Publish(ctx, item)
}

func (r *recorder) Items() []wire.RawItem {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]wire.RawItem(nil), r.items...)
}

// Repeats lists message ids published more than once.
func (r *recorder) Repeats() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for id, n := range r.calls {
		if n > 1 {
			out = append(out, id+" ×"+strconv.Itoa(n))
		}
	}
	return out
}

type env struct {
	t     *testing.T
	dir   string
	js    *fakeJetstream
	jsSrv *httptest.Server
	av    *fakeAppView
	avSrv *httptest.Server
	bus   *bustest.Server
	kv    jetstream.KeyValue
	pub   *recorder
	clock *clock
}

func newEnv(t *testing.T) *env {
	t.Helper()
	stop, cancel := context.WithCancel(context.Background())
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderDict(zstdDictionary), zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<17))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, clock: newClock(corpusStart)}
	e.js = &fakeJetstream{events: jetstreamLines(t), stop: stop, enc: enc}
	e.av = &fakeAppView{t: t, pages: map[string]string{}, handles: map[string]string{},
		reset: func() time.Time { return e.clock.Now().Add(30 * time.Second) }}
	e.jsSrv = httptest.NewServer(e.js)
	e.avSrv = httptest.NewServer(e.av)
	t.Cleanup(func() { _ = enc.Close() })
	t.Cleanup(e.avSrv.Close)
	t.Cleanup(e.jsSrv.Close)
	t.Cleanup(cancel) // runs first: releases the fake Jetstream's handlers
	e.dir = t.TempDir()
	e.startBus(e.dir)
	return e
}

// startBus (re)starts the embedded NATS server on dir.
func (e *env) startBus(dir string) {
	e.bus = bustest.StartIn(e.t, dir)
	kv, err := e.bus.JS.KeyValue(ctxT(e.t), bus.BucketSource)
	if err != nil {
		e.t.Fatal(err)
	}
	e.kv = kv
	e.pub = &recorder{next: ingest.NewJetStreamPublisher(e.bus.JS), calls: map[string]int{}}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (e *env) config(accounts ...Account) Config {
	return Config{
		Accounts:     accounts,
		JetstreamURL: "ws" + strings.TrimPrefix(e.jsSrv.URL, "http") + "/subscribe",
		AppViewURL:   e.avSrv.URL,
		Now:          e.clock.Now,
		Sleep:        e.clock.Sleep,
	}
}

func (e *env) collector(cfg Config) *Collector {
	e.t.Helper()
	c, err := New(cfg, e.pub, e.kv, e.avSrv.Client(), zaptestLogger(e.t))
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// run starts c and returns a function that stops it and waits for Run.
func (e *env) run(c *Collector) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("Run: %v", err)
		}
	}
	e.t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds; a loaded machine only makes it slower.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// items reads every raw item stored in WIRE_RAW, with its Nats-Msg-Id.
func (e *env) items() ([]wire.RawItem, []string) {
	ctx := ctxT(e.t)
	s, err := e.bus.JS.Stream(ctx, bus.StreamRaw)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []wire.RawItem
	var ids []string
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			e.t.Fatal(err)
		}
		var it wire.RawItem
		if err := json.Unmarshal(m.Data, &it); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, it)
		ids = append(ids, m.Header.Get(bus.HeaderMsgID))
	}
	return out, ids
}

func (e *env) state(id string) State {
	e.t.Helper()
	en, err := e.kv.Get(ctxT(e.t), StateKey(id))
	if err != nil {
		e.t.Fatalf("state of %s: %v", id, err)
	}
	var st State
	if err := json.Unmarshal(en.Value(), &st); err != nil {
		e.t.Fatal(err)
	}
	return st
}

func (e *env) putState(id string, st State) {
	e.t.Helper()
	data, err := json.Marshal(st)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.kv.Put(ctxT(e.t), StateKey(id), data); err != nil {
		e.t.Fatal(err)
	}
}

func byNativeID(items []wire.RawItem) map[string]wire.RawItem {
	m := map[string]wire.RawItem{}
	for _, it := range items {
		if !it.Deleted {
			m[it.NativeID] = it
		}
	}
	return m
}

func zaptestLogger(t *testing.T) *zap.Logger { return zaptest.NewLogger(t) }
