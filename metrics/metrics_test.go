package metrics

import (
	"context"
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type workerStats struct {
	Entries     atomic.Int64
	NotModified int64
	InvalidUTF8 int
	Held        atomic.Int64 `metric:"gauge"`
	Name        string
}

type channelStats struct{ Published, Gaps int64 }

func TestStatsAndSourceHealth(t *testing.T) {
	srv := bustest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kv, err := srv.JS.KeyValue(ctx, bus.BucketSource)
	if err != nil {
		t.Fatal(err)
	}
	next := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	if _, err := kv.Put(ctx, "rss.allafrica", []byte(`{"errors":3,"last_error":"HTTP 503","next_poll":"2026-11-27T12:00:00Z","published":12,"polls":40,"interval_seconds":300,"charset_guessed":"windows-1252"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "telegram.reuters", []byte(`{"errors":0,"failing":true,"published":5}`)); err != nil {
		t.Fatal(err)
	}

	ws := &workerStats{NotModified: 7, InvalidUTF8: 2, Name: "x"}
	ws.Entries.Store(42)
	ws.Held.Store(5)
	reg := NewRegistry()
	reg.MustRegister(NewStats("normalize", nil, func() any { return ws }))
	reg.MustRegister(NewStats("tgweb", nil, func() any { return map[string]channelStats{"nikkeiasia": {Published: 9, Gaps: 1}} }))
	src := NewSources()
	reg.MustRegister(src)
	done := make(chan error, 1)
	go func() { done <- src.Watch(ctx, kv, nil) }()
	defer func() { cancel(); <-done }()

	want := []string{
		"newswire_normalize_entries_total 42",
		"newswire_normalize_not_modified_total 7",
		"newswire_normalize_invalid_utf8_total 2",
		"# TYPE newswire_normalize_held gauge",
		"newswire_normalize_held 5",
		`newswire_tgweb_published_total{source="nikkeiasia"} 9`,
		`newswire_tgweb_gaps_total{source="nikkeiasia"} 1`,
		`newswire_source_errors{kind="rss",source="allafrica"} 3`,
		`newswire_source_published{kind="rss",source="allafrica"} 12`,
		`newswire_source_polls{kind="rss",source="allafrica"} 40`,
		`newswire_source_polls{kind="telegram",source="reuters"} 0`,
		`newswire_source_next_poll_timestamp_seconds{kind="rss",source="allafrica"} ` + strconv.FormatFloat(float64(next.Unix()), 'g', -1, 64),
		`newswire_source_failing{kind="telegram",source="reuters"} 1`,
		`newswire_source_charset_guessed{kind="rss",source="allafrica"} 1`,
		`newswire_source_charset_guessed{kind="telegram",source="reuters"} 0`,
		"go_goroutines",
	}
	var body string
	deadline := time.Now().Add(10 * time.Second)
	for {
		rec := httptest.NewRecorder()
		Handler(reg).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		b, _ := io.ReadAll(rec.Body)
		body = string(b)
		if strings.Contains(body, `source="reuters"`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("missing %q", w)
		}
	}
	if strings.Contains(body, "newswire_normalize_name") {
		t.Error("a string field became a metric")
	}
}

// TestWatchOutlastsAMissingBucket: a watch that cannot be set up (here the
// bucket is gone; on a cluster, JetStream without a quorum) is retried
// instead of ending, and the gauges follow the bucket once it is back.
func TestWatchOutlastsAMissingBucket(t *testing.T) {
	srv := bustest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kv, err := srv.JS.KeyValue(ctx, bus.BucketSource)
	if err != nil {
		t.Fatal(err)
	}
	var cfg jetstream.KeyValueConfig
	for _, c := range bus.DefaultTopology().Buckets() {
		if c.Bucket == bus.BucketSource {
			cfg = c
		}
	}
	if err := srv.JS.DeleteKeyValue(ctx, bus.BucketSource); err != nil {
		t.Fatal(err)
	}
	src := NewSources()
	done := make(chan error, 1)
	go func() { done <- src.Watch(ctx, kv, nil) }()
	select {
	case err := <-done:
		t.Fatalf("Watch returned with the bucket gone: %v", err)
	case <-time.After(1500 * time.Millisecond): // its first retry has failed too
	}
	if kv, err = srv.JS.CreateKeyValue(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "rss.back", []byte(`{"errors":2}`)); err != nil {
		t.Fatal(err)
	}
	reg := NewRegistry()
	reg.MustRegister(src)
	const want = `newswire_source_errors{kind="rss",source="back"} 2`
	deadline := time.Now().Add(time.Minute)
	for {
		rec := httptest.NewRecorder()
		Handler(reg).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if strings.Contains(rec.Body.String(), want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q a minute after the bucket came back", want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Watch: %v", err)
	}
}
