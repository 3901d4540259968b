package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
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
	"github.com/newswire/newswire/eval"
	"github.com/newswire/newswire/internal/freeport"
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
	backoff := writeFile(t, "backoff.yaml", "normalize:\n  redelivery_backoff: [5s, 1m]\nsynth:\n  redelivery_backoff: []\n")
	err = dispatch(ctx, []string{"normalize", "--config", backoff})
	if err == nil || !strings.Contains(err.Error(), "line 2: normalize.redelivery_backoff: must start at 30s or more") ||
		!strings.Contains(err.Error(), "line 4: synth.redelivery_backoff: must list 1 to 9 steps") {
		t.Errorf("bad redelivery backoff: %v", err)
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
	err = dispatch(ctx, []string{"eval", notJSON, "--orders", "--assignments", filepath.Join(t.TempDir(), "a.jsonl")})
	if !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "use it without --orders") {
		t.Errorf("--assignments with --orders: %v", err)
	}
	if err := dispatch(ctx, []string{"frobnicate"}); !errors.As(err, new(usageError)) {
		t.Errorf("unknown command: %v", err)
	}
}

// TestEvalOrdersPrintsJSON: `eval --orders --json` prints one JSON object
// with every order's scores and the mean and worst F1s, not the table.
func TestEvalOrdersPrintsJSON(t *testing.T) {
	data, err := os.ReadFile("../../testdata/replay/uci-news-2014-03.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfterN(string(data), "\n", 201)
	file := writeFile(t, "uci200.jsonl", strings.Join(lines[:200], ""))
	cfg, log, sc, err := labelledSetup("")
	if err != nil {
		t.Fatal(err)
	}
	sc.MaxProvenance = 1 << 20
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out strings.Builder
	opts := eval.Options{Normalize: normalizeConfig(cfg), Synth: sc, Log: log}
	if err := evalOrders(ctx, &out, file, opts, true); err != nil {
		t.Fatal(err)
	}
	var r ordersResult
	if err := json.Unmarshal([]byte(out.String()), &r); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out.String())
	}
	if len(r.Orders) != 4 || r.Orders[0].Order != "file" {
		t.Fatalf("orders %+v, want file and three interleaved", r.Orders)
	}
	var sum float64
	worst := 1.0
	for _, o := range r.Orders {
		if o.Items != 200 || o.BCubedF1 <= 0 || o.BCubedF1 > 1 {
			t.Errorf("order %s: %d items, BCubed F1 %v", o.Order, o.Items, o.BCubedF1)
		}
		sum += o.BCubedF1
		worst = min(worst, o.BCubedF1)
	}
	if math.Abs(r.Mean.BCubedF1-sum/4) > 1e-12 || r.Worst.BCubedF1 != worst {
		t.Errorf("mean %v worst %v, want %v and %v", r.Mean.BCubedF1, r.Worst.BCubedF1, sum/4, worst)
	}
}

// freePort is a loopback port that was free a moment ago, outside the
// range outgoing connections take theirs from (see freeport).
func freePort(t *testing.T) int {
	t.Helper()
	return freeport.Take(t, 1)[0]
}

// TestRunServesStoriesAndRestartsWithoutLoss runs the whole binary's run
// command over a bundled replay slice, paced so that the first run is
// stopped (as SIGTERM would) in the middle of the stream, with items on
// the way through every stage. The second run on the same data directory
// goes on from there until every stage is idle; then every raw item must
// have exactly one entry, and every entry must be in exactly one story.
func TestRunServesStoriesAndRestartsWithoutLoss(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("../../testdata/replay/uci-news-2014-03.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	const items = 300
	lines := strings.SplitN(string(data), "\n", items+1)[:items]
	replayFile := writeFile(t, "slice.jsonl", strings.Join(lines, "\n")+"\n")
	natsPort, httpPort := freePort(t), freePort(t)
	// The slice spans 66 minutes of published time: at speed 400 the
	// replay takes about ten seconds, and the first run is stopped in it.
	cfgFile := writeFile(t, "run.yaml", fmt.Sprintf(`data_dir: %s
log: {level: warn}
nats:
  embedded: {port: %d}
http:
  listen: 127.0.0.1:%d
synth:
  snapshot_interval: 20ms
sources:
  - {id: slice, kind: replay, path: %s, speed: 400}
`, dir, natsPort, httpPort, replayFile))

	var why string // what the second run's condition last lacked
	runFor := func(until func() bool) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- dispatch(ctx, []string{"run", "--config", cfgFile}) }()
		deadline := time.Now().Add(120 * time.Second)
		for !until() {
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("run did not get there in time (%s): %v", why, <-done)
			}
			select {
			case err := <-done:
				t.Fatalf("run stopped early: %v", err)
			case <-time.After(50 * time.Millisecond):
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("run: %v", err)
		}
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
	metric := func(text, name string) int {
		for _, line := range strings.Split(text, "\n") {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				var n float64
				if _, err := fmt.Sscan(v, &n); err == nil {
					return int(n)
				}
			}
		}
		return -1
	}
	const replayed = `newswire_replay_published_total{collector="replay slice"}`

	// First run: stopped once the normalizer has made some entries, while
	// the replay is still feeding it.
	runFor(func() bool { return metric(metricsText(), "newswire_normalize_entries_total") >= 30 })
	rawAfterFirst := streamMsgs(t, dir, bus.StreamRaw)
	if rawAfterFirst >= items {
		t.Fatalf("the first run was not stopped mid-stream (%d of %d raw items published): the test proves nothing", rawAfterFirst, items)
	}
	t.Logf("first run stopped after %d of %d raw items", rawAfterFirst, items)

	// Second run: until the replay is done and every consumer has acked
	// everything, read on the bus itself.
	var scraped string
	runFor(func() bool {
		scraped = metricsText()
		// An item whose publish the first run's stop cut short (PubAck not
		// seen) is read again: the bus reports it as a duplicate.
		published, resumed := metric(scraped, replayed), metric(scraped, `newswire_replay_resumed_total{collector="replay slice"}`)
		again := metric(scraped, `newswire_replay_duplicates_total{collector="replay slice"}`)
		if published < 0 || published+resumed+again < items {
			why = fmt.Sprintf("replay: %d published, %d already on the bus, %d resumed", published, again, resumed)
			return false
		}
		why = drained(fmt.Sprintf("nats://127.0.0.1:%d", natsPort), dir)
		return why == ""
	})
	for _, want := range []string{"newswire_normalize_entries_total", "newswire_synth_entries_total", replayed, "go_goroutines"} {
		if !strings.Contains(scraped, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

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

	// Every raw item: one message on WIRE_RAW, one entry on WIRE_ENTRY.
	perRaw := map[string]int{}
	for _, m := range readStream(t, js, bus.StreamRaw, bus.SubjectRawAll) {
		perRaw[m.Header.Get(bus.HeaderMsgID)]++
	}
	entries := map[string]int{} // entry id → entries with it
	perItem := map[string]int{} // raw msg id → entries made from it
	for _, m := range readStream(t, js, bus.StreamEntry, bus.SubjectEntryAll) {
		var e wire.Entry
		if err := json.Unmarshal(m.Data, &e); err != nil {
			t.Fatal(err)
		}
		entries[e.ID]++
		perItem[e.Raw.MsgID]++
	}
	for _, line := range lines {
		var it struct{ ID, Kind, Source string }
		if err := json.Unmarshal([]byte(line), &it); err != nil {
			t.Fatal(err)
		}
		id := bus.RawMsgID(it.Kind, it.Source, it.ID)
		if perRaw[id] != 1 || perItem[id] != 1 {
			t.Errorf("raw item %s: %d raw messages and %d entries, want one of each", id, perRaw[id], perItem[id])
		}
	}
	if len(perRaw) != items || len(entries) != items {
		t.Errorf("%d raw items and %d entries, want %d of each", len(perRaw), len(entries), items)
	}

	// Every entry: in exactly one story's last snapshot.
	inStories := map[string]int{}
	last := map[string]wire.Story{}
	for _, m := range readStream(t, js, bus.StreamStory, bus.SubjectStoryAll) {
		var st wire.Story
		if err := json.Unmarshal(m.Data, &st); err != nil {
			t.Fatal(err)
		}
		last[st.ID] = st
	}
	for _, st := range last {
		if st.MergedInto != "" {
			continue
		}
		if st.Truncated > 0 {
			t.Fatalf("story %s is truncated; the check needs whole provenance lists", st.ID)
		}
		for _, r := range st.Provenance {
			inStories[r.EntryID]++
		}
	}
	for id := range entries {
		if inStories[id] != 1 {
			t.Errorf("entry %s is in %d stories, want 1", id, inStories[id])
		}
	}
	for id := range inStories {
		if entries[id] == 0 {
			t.Errorf("a story holds %s, which is no entry", id)
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

// streamMsgs opens the stopped run's store and counts a stream's messages.
func streamMsgs(t *testing.T, dir, stream string) uint64 {
	t.Helper()
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
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().State.Msgs
}

// drained says what the running pipeline's consumers still have pending
// or unacknowledged, or "" when nothing. dataDir holds the embedded
// server's token.
func drained(url, dataDir string) string {
	token, err := os.ReadFile(filepath.Join(dataDir, "nats.token"))
	if err != nil {
		return err.Error()
	}
	nc, err := nats.Connect(url, nats.Token(strings.TrimSpace(string(token))))
	if err != nil {
		return err.Error()
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, c := range []struct{ stream, name string }{{bus.StreamRaw, "normalize"}, {bus.StreamEntry, "synth"}} {
		cons, err := js.Consumer(ctx, c.stream, c.name)
		if err != nil {
			return err.Error()
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return err.Error()
		}
		if info.NumPending != 0 || info.NumAckPending != 0 {
			return fmt.Sprintf("%s: %d pending, %d unacknowledged", c.name, info.NumPending, info.NumAckPending)
		}
	}
	return ""
}

// readStream reads every message of a stream.
func readStream(t *testing.T, js jetstream.JetStream, stream, subject string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
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
