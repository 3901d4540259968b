package synth

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/ingest/replay"
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/wire"
)

// synthetic makes a stream shaped like a busy wire: stories draw most of
// their words from a story-specific set and the rest from a Zipf-skewed
// general vocabulary, and new stories keep opening.
type synthetic struct {
	rng     *rand.Rand
	zipf    *rand.Zipf
	vocab   []string
	base    time.Time
	n       int
	stories int
}

func newSynthetic(seed uint64) *synthetic {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	vocab := make([]string, 60000)
	for i := range vocab {
		vocab[i] = "w" + letters(i*2654435761%1000003)
	}
	return &synthetic{rng: rng, zipf: rand.NewZipf(rng, 1.1, 2, uint64(len(vocab)-1)), vocab: vocab, base: time.Now().UTC().Add(-2 * time.Hour)}
}

func (g *synthetic) next() wire.Entry {
	// Every tenth entry opens a story; the rest go to one of the last 2,000.
	if g.stories == 0 || g.rng.IntN(10) == 0 {
		g.stories++
	}
	story := g.stories - g.rng.IntN(min(g.stories, 2000))
	words := make([]byte, 0, 96)
	for k := range 5 {
		words = fmt.Appendf(words, "S%sk%c ", letters(story), 'a'+(k+g.rng.IntN(3))%8)
	}
	// A link whose slug repeats three of the headline's words and adds
	// one, as news sites write them.
	link := fmt.Appendf(nil, "https://site%d.example/2026/03/", g.rng.IntN(50))
	for k := range 5 {
		w := g.vocab[g.zipf.Uint64()]
		words = append(words, w...)
		words = append(words, ' ')
		if k < 3 {
			link = append(link, w...)
			link = append(link, '-')
		}
	}
	link = append(link, g.vocab[g.zipf.Uint64()]...)
	at := g.base.Add(time.Duration(g.n) * 10 * time.Millisecond)
	g.n++
	h := string(words)
	return wire.Entry{Schema: wire.SchemaEntry, ID: fmt.Sprintf("e%08x", g.n), Headline: h, Text: h, URL: string(link), PublishedAt: at, ObservedAt: at}
}

// letters writes n in base 26 with the letters a–z: words of letters only,
// like those of real headlines and slugs.
func letters(n int) string {
	b := []byte{byte('a' + n%26)}
	for n /= 26; n > 0; n /= 26 {
		b = append(b, byte('a'+n%26))
	}
	return string(b)
}

// BenchmarkClusterAdd measures single-core clustering throughput with
// 100,000 active entries in the window, and resident memory per entry.
func BenchmarkClusterAdd(b *testing.B) {
	clusterAt(b, 100_000)
}

// BenchmarkClusterGrowth is BenchmarkClusterAdd at 10k, 100k and 1M
// active entries, for the report's growth table: entries/s at each size
// and the heap the active entries hold. The 1M case fills the clusterer
// with a million entries first (about 2 GB of heap and minutes of work).
func BenchmarkClusterGrowth(b *testing.B) {
	for _, active := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("active=%dk", active/1000), func(b *testing.B) { clusterAt(b, active) })
	}
}

// clusterAt fills a clusterer with active entries of the synthetic stream,
// then times a fixed batch of 20,000 more.
func clusterAt(b *testing.B, active int) {
	c, err := NewClusterer(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	g := newSynthetic(1)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fill := time.Now()
	for i := range active {
		c.Add(g.next())
		if i%512 == 0 {
			c.TakeDirty()
		}
	}
	fillRate := float64(active) / time.Since(fill).Seconds()
	c.TakeDirty()
	runtime.GC()
	runtime.ReadMemStats(&after)
	_, inWindow := c.Len()
	if inWindow < active {
		b.Fatalf("only %d entries active after adding %d", inWindow, active)
	}
	heapPerEntry := float64(after.HeapAlloc-before.HeapAlloc) / float64(inWindow)
	// make bench runs one iteration; measure a fixed batch so the figure is stable.
	n := max(b.N, 20_000)
	batch := make([]wire.Entry, n)
	for i := range batch {
		batch[i] = g.next()
	}
	b.ResetTimer()
	start := time.Now()
	for i := range batch {
		c.Add(batch[i])
		if i%512 == 0 {
			c.TakeDirty()
		}
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "entries/s")
	// Reported after the timed loop: ResetTimer clears earlier metrics.
	b.ReportMetric(heapPerEntry, "heap-B/active-entry")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heap-MiB")
	b.ReportMetric(fillRate, "fill-entries/s")
}

// BenchmarkEndToEnd publishes raw items at 500 per second through the
// real normalizer and synthesizer on an embedded server with every write
// synced to disk, and measures raw publish → story snapshot latency. A raw
// JetStream publish → consume round trip is measured on the same server
// in the same run, so the ratio tells what the pipeline adds.
func BenchmarkEndToEnd(b *testing.B) {
	emb, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: b.TempDir(), Port: -1, SyncAlways: true,
		MaxMemory: 256 << 20, MaxStore: 1 << 30, MaxPayload: 8 << 20}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer emb.Shutdown()
	nc, err := nats.Connect(emb.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := bus.EnsureTopology(ctx, js, bus.DefaultTopology()); err != nil {
		b.Fatal(err)
	}
	raw := rawRoundTrip(b, ctx, js)

	nw, err := normalize.NewWorker(ctx, normalize.DefaultConfig(), js, nil)
	if err != nil {
		b.Fatal(err)
	}
	sw, err := NewWorker(ctx, DefaultConfig(), nc, js, nil)
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = nw.Run(ctx) }()
	go func() { defer wg.Done(); _ = sw.Run(ctx) }()
	defer wg.Wait()
	defer cancel()

	n := max(b.N, 2500) // five seconds at 500/s
	var mu sync.Mutex
	sent := make(map[string]time.Time, n)
	var lat, synthLat []time.Duration
	entryAt := make(map[string]time.Time, n) // when the entry of a raw item was seen on the bus
	done := make(chan struct{})
	sub, err := nc.Subscribe(bus.SubjectStoryAll, func(m *nats.Msg) {
		now := time.Now()
		var st wire.Story
		if json.Unmarshal(m.Data, &st) != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, r := range st.Provenance {
			if t, ok := sent[r.Raw.MsgID]; ok {
				lat = append(lat, now.Sub(t))
				if at, ok := entryAt[r.Raw.MsgID]; ok {
					synthLat = append(synthLat, now.Sub(at))
				}
				delete(sent, r.Raw.MsgID)
				if len(lat) == n {
					close(done)
				}
			}
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	// Raw → entry latency tells the normalizer's share apart from ours.
	var entryLat []time.Duration
	esub, err := nc.Subscribe(bus.SubjectEntryAll, func(m *nats.Msg) {
		now := time.Now()
		var e wire.Entry
		if json.Unmarshal(m.Data, &e) != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if t, ok := sent[e.Raw.MsgID]; ok {
			entryLat = append(entryLat, now.Sub(t))
			entryAt[e.Raw.MsgID] = now
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer esub.Unsubscribe()
	g := newSynthetic(2)
	b.ResetTimer()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for i := range n {
		<-tick.C
		e := g.next()
		item := wire.RawItem{Schema: wire.SchemaRaw, Kind: "rss", Source: fmt.Sprintf("src%d", i%50), NativeID: e.ID,
			Title: e.Headline, Body: e.Text, BodyFormat: wire.FormatText, Published: time.Now().UTC().Format(time.RFC3339), ObservedAt: time.Now().UTC()}
		msg, err := ingest.RawMsg(item)
		if err != nil {
			b.Fatal(err)
		}
		mu.Lock()
		sent[bus.RawMsgID(item.Kind, item.Source, item.NativeID)] = time.Now()
		mu.Unlock()
		if _, err := js.PublishMsgAsync(msg); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		mu.Lock()
		b.Fatalf("only %d of %d items reached a story snapshot", len(lat), n)
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	p50, p99 := percentile(lat, 50), percentile(lat, 99)
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(percentile(entryLat, 50).Microseconds())/1000, "entry-p50-ms")
	b.ReportMetric(float64(percentile(entryLat, 99).Microseconds())/1000, "entry-p99-ms")
	// The synthesizer's own share: entry on the bus → story snapshot.
	b.ReportMetric(float64(percentile(synthLat, 50).Microseconds())/1000, "synth-p50-ms")
	b.ReportMetric(float64(percentile(synthLat, 99).Microseconds())/1000, "synth-p99-ms")
	b.ReportMetric(float64(raw[0].Microseconds())/1000, "raw-p50-ms")
	b.ReportMetric(float64(raw[1].Microseconds())/1000, "raw-p99-ms")
	if raw[1] > 0 {
		b.ReportMetric(float64(p99)/float64(raw[1]), "p99-ratio")
	}
}

// rawRoundTrip measures publish → consume through one stream and a
// durable pull consumer at the same rate, on the same server.
func rawRoundTrip(b *testing.B, ctx context.Context, js jetstream.JetStream) [2]time.Duration {
	b.Helper()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "BENCH_RTT", Subjects: []string{"bench.rtt"}, Storage: jetstream.FileStorage}); err != nil {
		b.Fatal(err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, "BENCH_RTT", jetstream.ConsumerConfig{Durable: "rtt", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		b.Fatal(err)
	}
	const n = 1000
	var mu sync.Mutex
	sent := make(map[string]time.Time, n)
	var lat []time.Duration
	got := make(chan struct{})
	cc, err := cons.Consume(func(m jetstream.Msg) {
		now := time.Now()
		_ = m.Ack()
		mu.Lock()
		defer mu.Unlock()
		lat = append(lat, now.Sub(sent[string(m.Data())]))
		if len(lat) == n {
			close(got)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for i := range n {
		<-tick.C
		id := fmt.Sprint(i)
		mu.Lock()
		sent[id] = time.Now()
		mu.Unlock()
		if _, err := js.PublishAsync("bench.rtt", []byte(id)); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-got:
	case <-time.After(30 * time.Second):
		b.Fatal("raw round trip did not complete")
	}
	mu.Lock()
	defer mu.Unlock()
	return [2]time.Duration{percentile(lat, 50), percentile(lat, 99)}
}

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, len(s)*p/100)]
}

// BenchmarkSnapshot builds the snapshots of the largest stories of the
// bundled Telegram sample (2,000 real posts, texts up to the 600-byte
// snippet): headline choice, the brief and its citations, single-source
// claims and the provenance list, as the worker does on every publish.
func BenchmarkSnapshot(b *testing.B) {
	items, err := replay.ReadFile("../testdata/replay/telegram-ru-news-sample.jsonl.gz")
	if err != nil {
		b.Fatal(err)
	}
	c, err := NewClusterer(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	for i, it := range items {
		at, err := time.Parse(time.RFC3339, it.PublishedAt)
		if err != nil {
			b.Fatal(err)
		}
		text := it.Text
		head, _, _ := strings.Cut(text, "\n")
		c.Add(wire.Entry{Schema: wire.SchemaEntry, ID: fmt.Sprintf("e%06x", i), Source: provenance.Source{ID: it.Source, Code: "T"},
			Headline: head, Text: text, Lang: "ru", URL: it.URL, PublishedAt: at, ObservedAt: at})
	}
	type sized struct {
		id string
		n  int
	}
	var all []sized
	for id, s := range c.stories {
		if s.mergedInto == "" {
			all = append(all, sized{id, len(s.members)})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n || all[i].n == all[j].n && all[i].id < all[j].id })
	all = all[:min(len(all), 8)]
	members := 0
	for _, x := range all {
		members += x.n
	}
	b.ResetTimer()
	for range b.N {
		for _, x := range all {
			if _, ok := c.Snapshot(x.id); !ok {
				b.Fatal("story gone")
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*members), "µs/member")
}
