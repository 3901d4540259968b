package normalize

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/wire"
)

// benchItems makes n raw items of about 1 KiB of real Telegram text each
// (posts of the near-duplicate evaluation set, joined and cut at a rune).
func benchItems(tb testing.TB, n int, lang string) []wire.RawItem {
	tb.Helper()
	var texts []string
	for _, it := range readReplay(tb, "testdata/neardup/items.jsonl.gz") {
		if it.Kind == "telegram" && len(it.Text) > 200 {
			texts = append(texts, it.Text)
		}
	}
	obs := time.Date(2024, 6, 11, 10, 0, 0, 0, time.UTC)
	out := make([]wire.RawItem, n)
	for i := range out {
		body := texts[i%len(texts)]
		for len(body) <= 1024 {
			body += "\n\n" + texts[(i+len(body))%len(texts)]
		}
		cut := 1024
		for !utf8.RuneStart(body[cut]) {
			cut--
		}
		out[i] = wire.RawItem{
			Schema: wire.SchemaRaw, Kind: "telegram", Source: fmt.Sprintf("chan%d", i%24), NativeID: fmt.Sprint(i),
			URL: fmt.Sprintf("https://t.me/s/chan%d/%d?utm_source=x", i%24, i), Body: body[:cut], BodyFormat: wire.FormatMarkdown,
			Published: obs.Add(-time.Duration(i) * time.Second).Format(time.RFC1123), ObservedAt: obs, Lang: lang,
		}
	}
	return out
}

// BenchmarkNormalize measures the in-process work of the worker per item
// on one goroutine: Normalize plus the near-duplicate sketch, lookup and
// insert. make bench runs it once (-benchtime=1x), so each run processes a
// fixed batch and reports entries/s.
func BenchmarkNormalize(b *testing.B) {
	for _, c := range []struct {
		name string
		lang string
		det  bool
	}{{"declared-lang", "ru", false}, {"detected-lang", "", true}} {
		b.Run(c.name, func(b *testing.B) {
			const batch = 20000
			items := benchItems(b, batch, c.lang)
			cfg := DefaultConfig()
			cfg.Detector = ScriptDetector{}
			if c.det {
				det, err := NewNGramDetector(cfg.Languages)
				if err != nil {
					b.Fatal(err)
				}
				cfg.Detector = det
			}
			ix := newNearIndex(cfg.NearDupSimilarity, cfg.NearDupWindow, cfg.NearDupMaxEntries)
			b.ResetTimer()
			n := 0
			for b.Loop() {
				for i := range items {
					e, sk, err := normalize(cfg, items[i], provenance.RawRef{Stream: "WIRE_RAW", Seq: uint64(n)})
					if err != nil {
						b.Fatal(err)
					}
					if _, ok := ix.Match(&sk); !ok {
						ix.Add(fmt.Sprint(n), &sk, e.PublishedAt)
					}
					n++
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// BenchmarkNearIndexMemory measures the heap the near-duplicate index
// holds per entry.
func BenchmarkNearIndexMemory(b *testing.B) {
	const n = 100_000
	var before, after runtime.MemStats
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&before)
		ix := newNearIndex(0.5, time.Hour, n)
		at := time.Now()
		for i := 0; i < n; i++ {
			sk := MinHash(Features([]string{fmt.Sprint(i), "a", fmt.Sprint(i * 7), "b", fmt.Sprint(i * 13)}))
			ix.Add(fmt.Sprintf("e%019d", i), &sk, at)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/entry")
		runtime.KeepAlive(ix)
	}
}

// BenchmarkThroughNATS runs a batch of 1 KiB raw items through the worker
// on the embedded server, and in the same run a bare JetStream loop of the
// same shape (consume, publish onward, ack after the PubAck) with no
// normalizing; it reports both rates and their ratio.
func BenchmarkThroughNATS(b *testing.B) {
	const batch = 20000
	srv := bustest.Start(b)
	ctx := context.Background()
	items := benchItems(b, batch, "ru")
	payloads := make([][]byte, batch)
	for i := range items {
		payloads[i], _ = json.Marshal(items[i])
	}
	preload := func(subject func(i int) string, msgID func(i int) string) {
		for i := range payloads {
			m := nats.NewMsg(subject(i))
			m.Data = payloads[i]
			m.Header.Set(bus.HeaderMsgID, msgID(i))
			if _, err := srv.JS.PublishMsgAsync(m); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case <-srv.JS.PublishAsyncComplete():
		case <-time.After(time.Minute):
			b.Fatal("preload timed out")
		}
	}

	var rawRate, workerRate float64
	for b.Loop() {
		// the bare loop
		for _, sc := range []jetstream.StreamConfig{{Name: "BENCH_IN", Subjects: []string{"bench.in"}}, {Name: "BENCH_OUT", Subjects: []string{"bench.out"}}} {
			_ = srv.JS.DeleteStream(ctx, sc.Name)
			if _, err := srv.JS.CreateStream(ctx, sc); err != nil {
				b.Fatal(err)
			}
		}
		preload(func(int) string { return "bench.in" }, func(i int) string { return fmt.Sprint("in", i) })
		cons, err := srv.JS.CreateOrUpdateConsumer(ctx, "BENCH_IN", jetstream.ConsumerConfig{Durable: "bench", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 4096})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		acked := make(chan error, batch)
		loopCtx, stop := context.WithCancel(ctx)
		slots := make(chan struct{}, 512)
		loopDone := make(chan struct{})
		go func() {
			defer close(loopDone)
			_ = bus.Consume(loopCtx, cons, func(msg jetstream.Msg) {
				slots <- struct{}{}
				out := nats.NewMsg("bench.out")
				out.Data = msg.Data()
				out.Header.Set(bus.HeaderMsgID, "out"+msg.Headers().Get(bus.HeaderMsgID))
				f, err := srv.JS.PublishMsgAsync(out)
				if err != nil {
					<-slots
					acked <- err
					return
				}
				go func() {
					defer func() { <-slots }()
					err := waitAck(ctx, f)
					if err == nil {
						err = msg.Ack()
					}
					acked <- err
				}()
			}, jetstream.PullMaxMessages(512))
		}()
		for range batch {
			if err := <-acked; err != nil {
				b.Fatal(err)
			}
		}
		rawRate = batch / time.Since(start).Seconds()
		stop()
		<-loopDone

		// the worker
		preload(func(i int) string { return bus.RawSubject(items[i].Kind, items[i].Source) },
			func(i int) string { return bus.RawMsgID(items[i].Kind, items[i].Source, items[i].NativeID) })
		cfg := DefaultConfig()
		cfg.Detector = ScriptDetector{}
		wctx, wstop := context.WithCancel(ctx)
		w, err := NewWorker(wctx, cfg, srv.JS, nil)
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		wdone := make(chan error, 1)
		go func() { wdone <- w.Run(wctx) }()
		for s := w.Stats(); s.Entries.Load()+s.Folded.Load() < batch; {
			time.Sleep(time.Millisecond)
		}
		workerRate = batch / time.Since(start).Seconds()
		wstop()
		if err := <-wdone; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(rawRate, "raw-loop-msgs/s")
	b.ReportMetric(workerRate, "worker-entries/s")
	b.ReportMetric(workerRate/rawRate, "ratio")
}

// BenchmarkNearIndexGrowth measures the near-duplicate index at 10k, 100k
// and 1M live entries: lookups plus inserts per second for a batch of
// 20,000 more, and heap per entry. The index is sized to hold them all
// (the shipped cap is 200,000). Sketches are of distinct synthetic texts:
// five words each, two drawn from a 50,000-word vocabulary, so band keys
// collide as often as words do in a real vocabulary.
func BenchmarkNearIndexGrowth(b *testing.B) {
	for _, size := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("entries=%dk", size/1000), func(b *testing.B) {
			const batch = 20_000
			sketch := func(i int) Sketch {
				return MinHash(Features([]string{fmt.Sprint(i), "w" + fmt.Sprint(i*7%50_000), fmt.Sprint(i * 13), "w" + fmt.Sprint(i*31%50_000), fmt.Sprint(i * 17)}))
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			ix := newNearIndex(0.5, 1000*time.Hour, size+batch)
			at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			for i := range size {
				sk := sketch(i)
				ix.Add(fmt.Sprintf("e%019d", i), &sk, at.Add(time.Duration(i)*time.Millisecond))
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			next := make([]Sketch, batch)
			for i := range next {
				next[i] = sketch(size + i)
			}
			b.ResetTimer()
			start := time.Now()
			matched := 0
			for i := range next {
				if _, ok := ix.Match(&next[i]); ok {
					matched++
					continue
				}
				ix.Add(fmt.Sprintf("e%019d", size+i), &next[i], at.Add(time.Duration(size+i)*time.Millisecond))
			}
			b.ReportMetric(batch/time.Since(start).Seconds(), "lookups/s")
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(size), "bytes/entry")
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heap-MiB")
			b.ReportMetric(float64(matched)/batch, "match-rate")
			runtime.KeepAlive(ix)
		})
	}
}
