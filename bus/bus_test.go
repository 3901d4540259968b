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
