package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/config"
	"github.com/newswire/newswire/wire"
)

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBadInputGivesOneClearError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bad := writeFile(t, "bad.yaml", "sources:\n  - {id: x, kind: rss, url: nope}\n")
	err := dispatch(ctx, []string{"run", "--config", bad})
	if err == nil || !strings.Contains(err.Error(), "line 2: sources[0].url: must be an http(s) URL") {
		t.Errorf("malformed config: %v", err)
	}
	unreachable := writeFile(t, "nats.yaml", "nats:\n  urls: [nats://127.0.0.1:1]\n")
	err = dispatch(ctx, []string{"normalize", "--config", unreachable})
	if !errors.Is(err, bus.ErrUnreachable) || !strings.Contains(err.Error(), "nats://127.0.0.1:1") {
		t.Errorf("unreachable NATS: %v", err)
	}
	notJSON := writeFile(t, "r.jsonl", "{\"id\":\"a\",\"source\":\"s\",\"title\":\"t\",\"label\":\"x\"}\nthis is not json\n")
	err = dispatch(ctx, []string{"eval", notJSON})
	if err == nil || !strings.Contains(err.Error(), "line 2: not a JSON object") {
		t.Errorf("replay line not JSON: %v", err)
	}
	if err := dispatch(ctx, []string{"frobnicate"}); !errors.As(err, new(usageError)) {
		t.Errorf("unknown command: %v", err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestRunServesStoriesAndRestartsWithoutLoss runs the whole binary's run
// command over a bundled replay slice, stops it as SIGTERM would, starts it
// again on the same data directory and checks that nothing was lost or doubled.
func TestRunServesStoriesAndRestartsWithoutLoss(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	data, err := os.ReadFile("../../testdata/replay/uci-news-2014-03.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lines = strings.SplitN(string(data), "\n", 301)[:300]
	replayFile := writeFile(t, "slice.jsonl", strings.Join(lines, "\n")+"\n")
	natsPort, httpPort := freePort(t), freePort(t)
	cfgFile := writeFile(t, "run.yaml", fmt.Sprintf(`data_dir: %s
log: {level: warn}
nats:
  embedded: {port: %d}
http:
  listen: 127.0.0.1:%d
synth:
  snapshot_interval: 20ms
sources:
  - {id: slice, kind: replay, path: %s}
`, dir, natsPort, httpPort, replayFile))

	runFor := func(until func() bool) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- dispatch(ctx, []string{"run", "--config", cfgFile}) }()
		deadline := time.Now().Add(60 * time.Second)
		for !until() {
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("run did not get there in time: %v", <-done)
			}
			select {
			case err := <-done:
				t.Fatalf("run stopped early: %v", err)
			case <-time.After(100 * time.Millisecond):
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("run: %v", err)
		}
	}
	api := fmt.Sprintf("http://127.0.0.1:%d/api/", httpPort)
	stories := func() int {
		resp, err := http.Get(api + "stories?limit=1000")
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		var body struct {
			Stories []wire.Story `json:"stories"`
		}
		if json.NewDecoder(resp.Body).Decode(&body) != nil {
			return -1
		}
		n := 0
		for _, s := range body.Stories {
			n += s.Counts.Entries
		}
		return n
	}
	metricsText := func() string {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort))
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	var scraped string
	// Stories can show 280 entries before the normalizer has counted its
	// last items: wait for both.
	runFor(func() bool {
		if stories() < 280 {
			return false
		}
		scraped = metricsText()
		return strings.Contains(scraped, "newswire_normalize_entries_total 300")
	})
	for _, want := range []string{"newswire_normalize_entries_total 300", "newswire_synth_entries_total", `newswire_replay_published_total{collector="replay slice"} 300`, "go_goroutines"} {
		if !strings.Contains(scraped, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// The second run replays the same file: the bus already holds every item.
	runFor(func() bool { return stories() >= 280 })

	emb, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: filepath.Join(dir, "jetstream"), Port: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Shutdown()
	nc, err := nats.Connect(emb.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	for stream, want := range map[string]uint64{bus.StreamRaw: 300, bus.StreamEntry: 300} {
		s, err := js.Stream(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.CachedInfo().State.Msgs; got != want && !(stream == bus.StreamEntry && got >= 295 && got <= 300) {
			t.Errorf("%s holds %d messages, want %d", stream, got, want)
		}
	}
	for _, c := range []struct{ stream, name string }{{bus.StreamRaw, "normalize"}, {bus.StreamEntry, "synth"}} {
		cons, err := js.Consumer(ctx, c.stream, c.name)
		if err != nil {
			t.Fatal(err)
		}
		info, _ := cons.Info(ctx)
		if info.NumAckPending != 0 || info.NumPending != 0 {
			t.Errorf("%s after shutdown: %d pending, %d unacknowledged", c.name, info.NumPending, info.NumAckPending)
		}
	}
}

func TestSourcesImportAddsNewFeedsToTheConfig(t *testing.T) {
	ctx := context.Background()
	opml, err := os.ReadFile("../../ingest/rss/testdata/subscriptions.opml")
	if err != nil {
		t.Fatal(err)
	}
	list := writeFile(t, "feeds.opml", string(opml))
	cfgPath := writeFile(t, "newswire.yaml", "# desk config\ndata_dir: "+t.TempDir()+"\nsources:\n  - {id: dw, kind: rss, url: \"https://rss.dw.com/rdf/rss-en-world\"}\n")
	if err := os.Chmod(cfgPath, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := dispatch(ctx, []string{"sources", "import", list, "--into", cfgPath, "--interval", "15m"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range cfg.Sources {
		ids = append(ids, s.ID)
	}
	// DW was configured, the BBC feed is listed twice and feed:// is not http(s).
	if want := "dw allafrica-latest bbc-news-world"; strings.Join(ids, " ") != want {
		t.Fatalf("sources %v, want %s", ids, want)
	}
	if time.Duration(cfg.Sources[2].Interval) != 15*time.Minute {
		t.Errorf("interval %v", cfg.Sources[2].Interval)
	}
	if fi, err := os.Stat(cfgPath); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode changed: %v %v", fi.Mode(), err)
	}
	if b, err := os.ReadFile(cfgPath + ".bak"); err != nil || !strings.Contains(string(b), "# desk config") {
		t.Errorf("backup: %q %v", b, err)
	}
	// Importing again adds nothing and leaves the file alone.
	before, _ := os.ReadFile(cfgPath)
	if err := dispatch(ctx, []string{"sources", "import", list, "--into", cfgPath}); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(cfgPath); string(after) != string(before) {
		t.Error("a second import changed the file")
	}
}
