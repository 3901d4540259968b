package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/config"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/ingest/rss"
)

// A feed read in a guessed character set says so in the listing.
func TestSourcesShowGuessedCharset(t *testing.T) {
	now := time.Date(2024, 6, 11, 12, 0, 0, 0, time.UTC)
	sources := []config.Source{{ID: "psy", Kind: "rss"}, {ID: "bbc", Kind: "rss"}}
	health := map[string]sourceHealth{
		"psy": {Polled: true, LastStatus: 200, Health: ingest.Health{LastPoll: now, CharsetGuessed: "windows-1252"}},
		"bbc": {Polled: true, LastStatus: 200, Health: ingest.Health{LastPoll: now}},
	}
	var b strings.Builder
	printHealth(&b, sources, health, now)
	lines := strings.Split(b.String(), "\n")
	if len(lines) < 3 || !strings.Contains(lines[1], "ok (200), charset guessed windows-1252") {
		t.Fatalf("listing:\n%s", b.String())
	}
	if strings.Contains(lines[2], "charset") {
		t.Fatalf("a declared feed is listed as guessed:\n%s", b.String())
	}
}

// A feed whose stored state says it has been silent for far longer than
// its cadence is listed as quiet, read through the same path as the
// command (the rss state in wire_source).
func TestSourcesShowQuietFeeds(t *testing.T) {
	srv := bustest.Start(t)
	ctx := context.Background()
	kv, err := srv.JS.KeyValue(ctx, bus.BucketSource)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 6, 11, 12, 0, 0, 0, time.UTC)
	st := rss.State{Source: "desk", ConfiguredURL: "https://desk.example.org/rss", URL: "https://desk.example.org/rss", LastStatus: 200, LastPoll: t0, LastSuccess: t0}
	for i := range 5 {
		st.Observe(t0.Add(time.Duration(i-4)*10*time.Minute), 1)
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, rss.StateKey("desk"), b); err != nil {
		t.Fatal(err)
	}
	src := config.Source{ID: "desk", Kind: "rss"}
	h, err := readHealth(ctx, kv, src)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		after time.Duration
		want  string
	}{
		{30 * time.Minute, "ok (200)\t"},
		{2 * time.Hour, "ok (200), quiet: nothing new for 2h0m0s, usually every 10m0s"},
	} {
		var out strings.Builder
		printHealth(&out, []config.Source{src}, map[string]sourceHealth{"desk": h}, t0.Add(tc.after))
		if !strings.Contains(strings.ReplaceAll(out.String(), "  ", "\t"), tc.want) {
			t.Errorf("after %v the listing is:\n%s\nwant %q", tc.after, out.String(), tc.want)
		}
	}
}
