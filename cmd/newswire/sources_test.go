package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/config"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/ingest/replay"
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
		// The pages read the same flag and cadence (web tests render them).
		ws := webStatus(src, h, t0.Add(tc.after))
		if quiet := tc.after > time.Hour; ws.Quiet != quiet || ws.CadenceSeconds != 600 || !ws.LastNew.Equal(t0) {
			t.Errorf("after %v the web status is quiet %v, cadence %vs, last new %v", tc.after, ws.Quiet, ws.CadenceSeconds, ws.LastNew)
		}
	}
}

// `newswire sources` against an embedded NATS: a replay source that has
// published shows its position and last poll (not "never polled"), and
// a long error shows its cause in the table and whole below it, and
// whole in --json.
func TestSourcesShowReplayPositionAndWholeErrors(t *testing.T) {
	srv := bustest.Start(t)
	ctx := context.Background()
	kv, err := srv.JS.KeyValue(ctx, bus.BucketSource)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := os.ReadFile("../../testdata/replay/uci-news-2014-03.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfterN(string(rows), "\n", 301)
	path := writeFile(t, "uci-300.jsonl", strings.Join(lines[:300], ""))
	c, err := replay.New(replay.Config{ID: "uci-news", Path: path}, ingest.NewJetStreamPublisher(srv.JS), kv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	longErr := "rss: fetch https://feeds.example.org/news/world/very/long/path/rss.xml?format=full&edition=international\x1b[31m: " +
		`Get "https://feeds.example.org/news/world/very/long/path/rss.xml?format=full&edition=international": ` +
		"dial tcp: lookup feeds.example.org: server misbehaving"
	st := rss.State{Source: "world", ConfiguredURL: "https://feeds.example.org/rss", URL: "https://feeds.example.org/rss", Errors: 3, LastError: longErr,
		LastPoll: time.Now().Add(-time.Minute)}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, rss.StateKey("world"), b); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, "sources.yaml", fmt.Sprintf(`nats: {urls: [%s]}
sources:
  - {id: uci-news, kind: replay, path: %s}
  - {id: world, kind: rss, url: "https://feeds.example.org/rss"}
  - {id: later, kind: replay, path: %s}
`, srv.Embedded.ClientURL(), path, path))

	var out strings.Builder
	if err := listSources(ctx, []string{"--config", cfg}, &out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	t.Logf("listing:\n%s", text)
	table := strings.Split(text, "\n")
	if len(table) < 4 || !strings.Contains(table[1], "uci-news") || !strings.Contains(table[1], "ok, finished") ||
		!strings.Contains(table[1], "(line 300)") || !strings.Contains(table[1], " ago ") || !strings.Contains(table[1], " 300 ") {
		t.Errorf("the replay's row does not show its position, poll and items:\n%s", text)
	}
	if !strings.Contains(table[3], "later") || !strings.Contains(table[3], "never polled") {
		t.Errorf("a replay that never ran:\n%s", text)
	}
	if !strings.Contains(table[2], "FAILING x3") || !strings.HasSuffix(strings.TrimSpace(table[2]), "  dial tcp: lookup feeds.example.org: server misbehaving") {
		t.Errorf("the failing feed's row does not end in its cause:\n%s", table[2])
	}
	whole := text[strings.Index(text, "last errors"):]
	if !strings.Contains(strings.Join(strings.Fields(whole), " "), "world: "+strings.Replace(longErr, "\x1b", " ", 1)) {
		t.Errorf("the whole error is not below the table:\n%s", whole)
	}
	for _, l := range strings.Split(text, "\n") {
		if strings.ContainsRune(l, 0x1b) {
			t.Errorf("a control character reached the terminal: %q", l)
		}
		if strings.HasPrefix(l, "world:") || strings.HasPrefix(l, "    ") {
			if n := len([]rune(l)); n > 100 && strings.Contains(l, " ") {
				t.Errorf("an error line of %d runes was not wrapped: %q", n, l)
			}
		}
	}

	out.Reset()
	if err := listSources(ctx, []string{"--config", cfg, "--json"}, &out); err != nil {
		t.Fatal(err)
	}
	var list []struct {
		ID     string
		Health sourceHealth
	}
	if err := json.Unmarshal([]byte(out.String()), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0].Health.Line != 300 || list[0].Health.Published != 300 || list[0].Health.Finished.IsZero() ||
		list[1].Health.LastError != longErr {
		t.Errorf("--json: %s", out.String())
	}
}
