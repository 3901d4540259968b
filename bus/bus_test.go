package bus_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestTopologyIsIdempotentAndUpdates(t *testing.T) {
	srv := bustest.Start(t) // creates the topology once
	ctx := context.Background()
	topo := bus.DefaultTopology()
	if err := bus.EnsureTopology(ctx, srv.JS, topo); err != nil {
		t.Fatalf("second EnsureTopology: %v", err)
	}
	// A changed setting the server can apply in place is applied.
	topo.RawMaxAge = 3 * 24 * time.Hour
	if err := bus.EnsureTopology(ctx, srv.JS, topo); err != nil {
		t.Fatalf("update: %v", err)
	}
	s, err := srv.JS.Stream(ctx, bus.StreamRaw)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.MaxAge; got != 3*24*time.Hour {
		t.Errorf("MaxAge = %v after update", got)
	}
	// One it cannot is refused with an error that says why.
	topo.Storage = jetstream.MemoryStorage
	err = bus.EnsureTopology(ctx, srv.JS, topo)
	if err == nil || !strings.Contains(err.Error(), "cannot change storage") {
		t.Errorf("storage change error = %v", err)
	}
	for _, name := range []string{bus.StreamRaw, bus.StreamEntry, bus.StreamStory, bus.StreamDLQ} {
		if _, err := srv.JS.Stream(ctx, name); err != nil {
			t.Errorf("stream %s: %v", name, err)
		}
	}
	fp, err := srv.JS.KeyValue(ctx, bus.BucketFingerprint)
	if err != nil {
		t.Fatal(err)
	}
	// First writer wins, and keys can carry their own TTL.
	if _, err := fp.Create(ctx, "abc", []byte("e1"), jetstream.KeyTTL(time.Hour)); err != nil {
		t.Fatalf("create with TTL: %v", err)
	}
	if _, err := fp.Create(ctx, "abc", []byte("e2")); !errors.Is(err, jetstream.ErrKeyExists) {
		t.Errorf("second create = %v, want ErrKeyExists", err)
	}
}

func TestStoryStreamKeepsLastPerSubject(t *testing.T) {
	srv := bustest.Start(t)
	ctx := context.Background()
	s, err := srv.JS.Stream(ctx, bus.StreamStory)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	if cfg.MaxMsgsPerSubject != 16 || cfg.Storage != jetstream.FileStorage || cfg.Duplicates != 10*time.Minute {
		t.Errorf("story stream config = %+v", cfg)
	}
}

func TestConnectUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := bus.Connect(ctx, bus.ConnConfig{URLs: []string{"nats://127.0.0.1:1"}, ConnectTimeout: time.Second}, nil)
	if !errors.Is(err, bus.ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	if !strings.Contains(err.Error(), "nats://127.0.0.1:1") {
		t.Errorf("error does not name the URL: %v", err)
	}
}

func TestEmbeddedRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	srv := bustest.StartIn(t, dir)
	ctx := context.Background()
	if _, err := srv.JS.Publish(ctx, bus.RawSubject("rss", "x"), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	srv = bustest.StartIn(t, dir)
	s, err := srv.JS.Stream(ctx, bus.StreamRaw)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Msgs; n != 1 {
		t.Errorf("messages after restart = %d, want 1", n)
	}
}

func TestToken(t *testing.T) {
	for in, want := range map[string]string{
		"AllAfrica":                 "allafrica",
		"BBC News | Русская служба": "bbc_news_russkaya_sluzhba",
		"РИА Новости":               "ria_novosti",
		"":                          "_",
		"wire.raw.>":                "wire_raw",
		"Los Angeles Times":         "los_angeles_times",
		"reuters_world-2024":        "reuters_world-2024",
	} {
		if got := bus.Token(in); got != want {
			t.Errorf("Token(%q) = %q, want %q", in, got, want)
		}
	}
	// Scripts without a transliteration keep distinct, subject-safe tokens.
	a, b := bus.Token("الجزيرة"), bus.Token("العربية")
	if a == b || !safeToken.MatchString(a) || !safeToken.MatchString(b) {
		t.Errorf("Arabic names: %q and %q", a, b)
	}
}

var safeToken = regexp.MustCompile(`^[a-z0-9_-]+$`)

// electing is the real client of a server whose streams do not answer
// their first reads, as on a cluster whose node was just lost while their
// replicas elect a new leader; it counts the creates and updates.
type electing struct {
	jetstream.JetStream
	unanswered int
	creates    int
}

func (e *electing) Stream(ctx context.Context, name string) (jetstream.Stream, error) {
	if e.unanswered > 0 {
		e.unanswered-- // no reply: the request waits as long as it is let
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return e.JetStream.Stream(ctx, name)
}

func (e *electing) CreateOrUpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	e.creates++
	return e.JetStream.CreateOrUpdateStream(ctx, cfg)
}

func (e *electing) CreateOrUpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	e.creates++
	return e.JetStream.CreateOrUpdateKeyValue(ctx, cfg)
}

// TestTopologyWaitsForAStreamThatDoesNotAnswer: a stream that exists but
// does not answer for a moment is read again, not created — a stage whose
// user may not manage streams would be refused and fail, blaming its
// permissions (found by reliability TestClusterNodeLossLosesAndDoublesNothing:
// a collector started while wire_fp's replicas elected a leader exited).
func TestTopologyWaitsForAStreamThatDoesNotAnswer(t *testing.T) {
	defer bus.SetReadTimeout(100 * time.Millisecond)()
	srv := bustest.Start(t)
	for _, unanswered := range []int{1, 5, 9} { // a stream, a bucket, both
		js := &electing{JetStream: srv.JS, unanswered: unanswered}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := bus.EnsureTopology(ctx, js, bus.DefaultTopology())
		cancel()
		if err != nil {
			t.Fatalf("%d unanswered reads: %v", unanswered, err)
		}
		if js.creates != 0 {
			t.Errorf("%d unanswered reads: %d creates or updates of a topology that exists", unanswered, js.creates)
		}
	}
	// A stream that never answers ends in an error that says so.
	js := &electing{JetStream: srv.JS, unanswered: 1 << 30}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := bus.EnsureTopology(ctx, js, bus.DefaultTopology())
	if err == nil || !strings.Contains(err.Error(), "read stream "+bus.StreamRaw) || strings.Contains(err.Error(), "newswire topology") {
		t.Errorf("never answered: %v", err)
	}
	if js.creates != 0 {
		t.Errorf("never answered: %d creates", js.creates)
	}
}

func TestCheckBackoff(t *testing.T) {
	s := time.Second
	for _, c := range []struct {
		steps []time.Duration
		want  string // part of the message; "" for none
	}{
		{[]time.Duration{30 * s, 60 * s, 600 * s}, ""},
		{[]time.Duration{30 * s}, ""},
		{nil, "1 to 7 steps"},
		{[]time.Duration{30 * s, 30 * s, 30 * s, 30 * s, 30 * s, 30 * s, 30 * s, 30 * s}, "1 to 7 steps"},
		{[]time.Duration{5 * s, 60 * s}, "start at 30s or more"},
		{[]time.Duration{30 * s, 120 * s, 60 * s}, "must not shrink"},
		{[]time.Duration{30 * s, 48 * time.Hour}, "at most 24h"},
	} {
		got := bus.CheckBackoff(c.steps, 30*s, 8)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("CheckBackoff(%v) = %q, want %q", c.steps, got, c.want)
		}
	}
}

// TestOrderedFetcherGivesUpWhenRefused: a Fetch re-creates the ordered
// consumer on the server; when the stream's limit of consumers is
// reached, the Fetch returns the refusal after a few tries instead of
// retrying forever (as nats.go does by default), so that the reader's
// work fails and is retried like any other failure.
func TestOrderedFetcherGivesUpWhenRefused(t *testing.T) {
	srv := bustest.Start(t)
	ctx := context.Background()
	stream, err := srv.JS.CreateStream(ctx, jetstream.StreamConfig{
		Name: "LIMITED", Subjects: []string{"limited.>"}, Storage: jetstream.MemoryStorage, MaxConsumers: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.JS.Publish(ctx, "limited.a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	oc, err := bus.OrderedFetcher(ctx, srv.JS, "LIMITED", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// Its server consumer goes, and two others take every place.
	if err := stream.DeleteConsumer(ctx, oc.CachedInfo().Name); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"first", "second"} {
		if _, err := stream.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: name}); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := oc.Fetch(1, jetstream.FetchMaxWait(time.Second))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, jetstream.ErrMaximumConsumersLimit) {
			t.Fatalf("Fetch = %v, want the server's refusal", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("Fetch still retrying after 2 minutes")
	}
}
