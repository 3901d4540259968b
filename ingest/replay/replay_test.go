package replay

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const sample = `{"id": "uci-1", "kind": "rss", "source": "Los Angeles Times", "url": "http://www.latimes.com/a", "published_at": "2014-03-10T16:52:50Z", "title": "Fed official says weak data caused by weather", "lang": "en", "label": "s1"}

{"id": "uci-2", "kind": "rss", "source": "", "url": "http://www.livemint.com/b", "published_at": "2014-03-10T16:53:50Z", "title": "Fed's Plosser sees high bar", "label": "s1"}
{"id": "tg-1-2", "kind": "telegram", "source": "РИА Новости", "url": "https://t.me/c/1/2", "published_at": "2014-03-10T16:55:50Z", "text": "**Срочно**: [новость](https://ria.ru/x)"}
`

func TestReaderPlainAndGzip(t *testing.T) {
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, _ = w.Write([]byte(sample))
	_ = w.Close()
	for name, in := range map[string]io.Reader{"plain": strings.NewReader(sample), "gzip": &gz} {
		r, err := NewReader(in)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for {
			it, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			ids = append(ids, it.ID+"@"+it.Source)
		}
		want := "uci-1@Los Angeles Times uci-2@livemint.com tg-1-2@РИА Новости"
		if got := strings.Join(ids, " "); got != want {
			t.Errorf("%s: items = %q, want %q", name, got, want)
		}
	}
}

func TestBadLinesNameTheLine(t *testing.T) {
	r, _ := NewReader(strings.NewReader("{\"id\":\"a\",\"source\":\"s\",\"title\":\"t\"}\nnot json\n{\"id\":\"b\"}\n"))
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	_, err := r.Next()
	if !errors.Is(err, ErrBadLine) || !strings.Contains(err.Error(), "line 2: not a JSON object") {
		t.Errorf("line 2: %v", err)
	}
	_, err = r.Next()
	if !errors.Is(err, ErrBadLine) || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("line 3: %v", err)
	}
}

func TestRunPublishesKeepsTimesAndSkipsBadLines(t *testing.T) {
	srv := bustest.Start(t)
	path := filepath.Join(t.TempDir(), "r.jsonl")
	if err := os.WriteFile(path, []byte(sample+"garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Path: path}, ingest.NewJetStreamPublisher(srv.JS), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for round := 0; round < 2; round++ {
		if err := c.Run(ctx); err != nil {
			t.Fatal(err)
		}
	}
	st := c.Stats()
	if st.Published != 0 || st.Duplicates != 3 || st.BadLines != 1 {
		t.Errorf("second run stats = %+v, want 3 duplicates and 1 bad line", st)
	}
	s, _ := srv.JS.Stream(ctx, bus.StreamRaw)
	m, err := s.GetLastMsgForSubject(ctx, bus.RawSubject("telegram", "РИА Новости"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Header.Get(bus.HeaderMsgID); got != "telegram:ria_novosti:tg-1-2" {
		t.Errorf("Nats-Msg-Id = %q", got)
	}
	if !strings.Contains(string(m.Data), `"published":"2014-03-10T16:55:50Z"`) || !strings.Contains(string(m.Data), `"body_format":"markdown"`) {
		t.Errorf("raw item = %s", m.Data)
	}
}

// recorder is an ingest.Publisher that keeps what it was given, for pacing tests
// that need no bus.
type recorder struct{ items []wire.RawItem }

func (r *recorder) Publish(_ context.Context, it wire.RawItem) (ingest.Ack, error) {
	r.items = append(r.items, it)
	return ingest.Ack{}, nil
}

func TestPacingFollowsPublishedTimes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.jsonl")
	if err := os.WriteFile(path, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	c, err := New(Config{Path: path, Speed: 60}, rec, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var waits []time.Duration
	c.now = func() time.Time { return now }
	c.sleep = func(_ context.Context, d time.Duration) error {
		waits = append(waits, d)
		now = now.Add(d)
		return nil
	}
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// 60 s and then 120 s of published time at speed 60 are 1 s and 2 s of waiting.
	if len(waits) != 2 || waits[0] != time.Second || waits[1] != 2*time.Second {
		t.Errorf("waits = %v", waits)
	}
	if len(rec.items) != 3 {
		t.Errorf("published %d items", len(rec.items))
	}
}

// counting is an ingest.Publisher that counts the items handed to the bus by
// native id, in front of the real one.
type counting struct {
	next  ingest.Publisher
	calls map[string]int
}

func (p *counting) Publish(ctx context.Context, it wire.RawItem) (ingest.Ack, error) {
	p.calls[it.NativeID]++
	return p.next.Publish(ctx, it)
}

// TestRestartResumesFromStoredPosition stops a replay part-way, runs it
// again, then once more after lines were appended: every item is handed
// to the bus once, whatever the duplicate window, and the stored
// position says where the file was left.
func TestRestartResumesFromStoredPosition(t *testing.T) {
	srv := bustest.Start(t)
	ctx := context.Background()
	kv, err := srv.JS.KeyValue(ctx, bus.BucketSource)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "r.jsonl")
	if err := os.WriteFile(path, []byte(sample+"garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pub := &counting{next: ingest.NewJetStreamPublisher(srv.JS), calls: map[string]int{}}
	run := func(limit int) Stats {
		t.Helper()
		c, err := New(Config{ID: "demo", Path: path, Limit: limit}, pub, kv, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Run(ctx); err != nil {
			t.Fatal(err)
		}
		return c.Stats()
	}
	if st := run(1); st.Published != 1 {
		t.Fatalf("first run: %+v, want 1 published", st)
	}
	if st := run(0); st.Published != 2 || st.Resumed != 1 || st.BadLines != 1 {
		t.Fatalf("second run: %+v, want the 2 items after the first and the bad line", st)
	}
	if st := run(0); st.Published != 0 || st.Duplicates != 0 || st.BadLines != 0 || st.Resumed != 4 {
		t.Fatalf("third run: %+v, want nothing handed to the bus", st)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"id": "uci-9", "source": "Reuters", "title": "Fed holds rates", "published_at": "2014-03-10T17:00:00Z"}` + "\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if st := run(0); st.Published != 1 {
		t.Fatalf("run after an append: %+v, want the new item only", st)
	}
	for id, n := range pub.calls {
		if n != 1 {
			t.Errorf("item %s handed to the bus %d times", id, n)
		}
	}
	if len(pub.calls) != 4 {
		t.Errorf("items handed to the bus: %v, want 4", pub.calls)
	}
	e, err := kv.Get(ctx, StateKey("demo"))
	if err != nil {
		t.Fatal(err)
	}
	var st State
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		t.Fatal(err)
	}
	if st.Line != 6 || st.Published != 4 || st.Path != path {
		t.Errorf("stored state %+v, want line 6 and 4 published", st)
	}

	// Another file at the same path is read from its start.
	if err := os.WriteFile(path, []byte(`{"id": "other-1", "source": "Reuters", "title": "Other file"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if st := run(0); st.Published != 1 || st.Resumed != 0 {
		t.Errorf("another file: %+v, want its one item", st)
	}
}

// TestUnreadableStateIsCountedAndReadFromStart: a stored position that is
// not JSON is logged and counted, and the file is read from its start
// rather than stopping the collector.
func TestUnreadableStateIsCountedAndReadFromStart(t *testing.T) {
	srv := bustest.Start(t)
	ctx := context.Background()
	kv, err := srv.JS.KeyValue(ctx, bus.BucketSource)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, StateKey("demo"), []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "r.jsonl")
	if err := os.WriteFile(path, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{ID: "demo", Path: path}, ingest.NewJetStreamPublisher(srv.JS), kv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.StateErrors != 1 || st.Published != 3 {
		t.Errorf("stats %+v, want 1 state error and 3 published", st)
	}
	e, err := kv.Get(ctx, StateKey("demo"))
	if err != nil {
		t.Fatal(err)
	}
	var st State
	if err := json.Unmarshal(e.Value(), &st); err != nil || st.Line != 4 || st.Errors != 1 || !strings.Contains(st.LastError, "not valid JSON") {
		t.Errorf("stored state %+v (%v), want line 4 and the error recorded", st, err)
	}
}

// lossy stores an item on the bus but reports the PubAck lost (as a
// server too loaded to answer in time does) on the tries listed in lose,
// and fails without storing on the tries listed in fail (1-based per item).
type lossy struct {
	next       ingest.Publisher
	lose, fail map[string][]int
	tries      map[string]int
}

func (l *lossy) Publish(ctx context.Context, it wire.RawItem) (ingest.Ack, error) {
	l.tries[it.NativeID]++
	n := l.tries[it.NativeID]
	for _, f := range l.fail[it.NativeID] {
		if f == n || f < 0 {
			return ingest.Ack{}, errors.New("nats: timeout")
		}
	}
	ack, err := l.next.Publish(ctx, it)
	for _, f := range l.lose[it.NativeID] {
		if f == n && err == nil {
			return ingest.Ack{}, errors.New("nats: timeout")
		}
	}
	return ack, err
}

// TestPublishRetriesKeepExactlyOnce: a lost PubAck or a failed publish is
// tried again with the same Nats-Msg-Id, so the bus holds every item once;
// when the tries run out the replay stops with the error and the stored
// position stays before the item that has no PubAck.
func TestPublishRetriesKeepExactlyOnce(t *testing.T) {
	srv := bustest.Start(t)
	ctx := context.Background()
	kv, err := srv.JS.KeyValue(ctx, bus.BucketSource)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "r.jsonl")
	if err := os.WriteFile(path, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	pub := &lossy{next: ingest.NewJetStreamPublisher(srv.JS), tries: map[string]int{},
		lose: map[string][]int{"uci-2": {1}}, fail: map[string][]int{"tg-1-2": {1, 2}}}
	c, err := New(Config{ID: "demo", Path: path, PublishAttempts: 3}, pub, kv, nil)
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	c.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	if st.PublishRetries != 3 || st.Published != 2 || st.Duplicates != 1 {
		t.Errorf("stats %+v, want 3 retries, 2 published and the item whose PubAck was lost a duplicate", st)
	}
	if len(waits) != 3 || waits[0] != 500*time.Millisecond || waits[2] != time.Second {
		t.Errorf("waits between tries %v, want 0.5s then doubling per item", waits)
	}
	s, _ := srv.JS.Stream(ctx, bus.StreamRaw)
	if info, _ := s.Info(ctx); info.State.Msgs != 3 {
		t.Errorf("WIRE_RAW holds %d messages, want the 3 items once each", info.State.Msgs)
	}

	// Tries run out on the last item: Run fails and the position stays
	// on the line before it (4), so a restart publishes it.
	if err := os.WriteFile(path, []byte(sample+`{"id": "uci-9", "source": "Reuters", "title": "Fed holds rates"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pub.fail["uci-9"] = []int{-1}
	c2, err := New(Config{ID: "demo", Path: path, PublishAttempts: 2}, pub, kv, nil)
	if err != nil {
		t.Fatal(err)
	}
	c2.sleep = func(context.Context, time.Duration) error { return nil }
	if err := c2.Run(ctx); err == nil || !strings.Contains(err.Error(), "line 5") {
		t.Fatalf("Run after the tries ran out: %v, want the error of line 5", err)
	}
	e, err := kv.Get(ctx, StateKey("demo"))
	if err != nil {
		t.Fatal(err)
	}
	var stored State
	if err := json.Unmarshal(e.Value(), &stored); err != nil {
		t.Fatal(err)
	}
	if stored.Line != 4 {
		t.Errorf("stored line %d, want 4 (the item of line 5 has no PubAck)", stored.Line)
	}
	if got := c2.Stats().PublishRetries; got != 1 {
		t.Errorf("retries %d, want 1", got)
	}
}

// peeking reads the stored state before each publish after the first.
type peeking struct {
	next   ingest.Publisher
	kv     StateStore
	seen   []State
	errors []error
}

func (p *peeking) Publish(ctx context.Context, it wire.RawItem) (ingest.Ack, error) {
	if e, err := p.kv.Get(ctx, StateKey("demo")); err == nil {
		var st State
		if err := json.Unmarshal(e.Value(), &st); err != nil {
			p.errors = append(p.errors, err)
		}
		p.seen = append(p.seen, st)
	}
	return p.next.Publish(ctx, it)
}

// The stored state is the source's health (newswire sources, the API):
// it is there from the first item, not after the first 256 lines, and
// says when the file was read to its end.
func TestHealthIsStoredFromTheFirstItemAndSaysWhenDone(t *testing.T) {
	srv := bustest.Start(t)
	ctx := context.Background()
	kv, err := srv.JS.KeyValue(ctx, bus.BucketSource)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "r.jsonl")
	if err := os.WriteFile(path, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	pub := &peeking{next: ingest.NewJetStreamPublisher(srv.JS), kv: kv}
	c, err := New(Config{ID: "demo", Path: path}, pub, kv, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	c.now = func() time.Time { at = at.Add(time.Second); return at }
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if len(pub.errors) > 0 || len(pub.seen) < 2 {
		t.Fatalf("states seen before the publishes: %+v (%v); want one saved after the first item", pub.seen, pub.errors)
	}
	if first := pub.seen[0]; first.Published != 1 || first.LastPoll.IsZero() || !first.Finished.IsZero() {
		t.Errorf("state after the first item: %+v", first)
	}
	e, err := kv.Get(ctx, StateKey("demo"))
	if err != nil {
		t.Fatal(err)
	}
	var st State
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		t.Fatal(err)
	}
	if st.Published != 3 || st.Finished.IsZero() || st.LastPoll.Before(st.Finished) {
		t.Errorf("state at the end: %+v, want 3 published, finished, polled", st)
	}
	// A restart on a finished file publishes nothing, and records its poll.
	c2, err := New(Config{ID: "demo", Path: path}, pub, kv, nil)
	if err != nil {
		t.Fatal(err)
	}
	c2.now = c.now
	if err := c2.Run(ctx); err != nil {
		t.Fatal(err)
	}
	e, _ = kv.Get(ctx, StateKey("demo"))
	var st2 State
	if err := json.Unmarshal(e.Value(), &st2); err != nil {
		t.Fatal(err)
	}
	if !st2.LastPoll.After(st.LastPoll) || st2.Published != 3 {
		t.Errorf("state after a restart on the finished file: %+v", st2)
	}
}
