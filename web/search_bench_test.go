package web

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/wire"
)

// BenchmarkIndexBundledData fills a store, index and all, with every
// bundled English and Russian row (the cost of a start that replays a
// window of that size) and reports the heap the index takes and how
// long a query over it runs:
//
//	go test -run - -bench IndexBundledData -benchtime 3x ./web
func BenchmarkIndexBundledData(b *testing.B) {
	items := append(replayRows(b, "uci-news-2014-03.jsonl", 1<<20), replayRows(b, "telegram-ru-news-sample.jsonl.gz", 1<<20)...)
	ncfg := normalize.DefaultConfig()
	ncfg.Languages = []string{}
	observed := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	entries := make([]wire.Entry, 0, len(items))
	for i, it := range items {
		raw := it.Raw(observed.Add(time.Duration(i) * time.Second))
		raw.Source = bus.Token(raw.Source)
		e, err := normalize.Normalize(ncfg, raw, provenance.RawRef{Stream: bus.StreamRaw, Seq: uint64(i + 1), MsgID: fmt.Sprint(raw.Kind, ":", raw.Source, ":", raw.NativeID)})
		if err != nil {
			b.Fatal(err)
		}
		entries = append(entries, e)
	}
	for _, window := range []int{1000, len(entries)} {
		b.Run(fmt.Sprintf("window=%d", window), func(b *testing.B) { benchmarkIndex(b, entries, window) })
	}
}

func benchmarkIndex(b *testing.B, entries []wire.Entry, window int) {
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	var withIndex, without uint64
	var s *Store
	for b.Loop() {
		b.StopTimer()
		before := heap()
		plain := NewStore(window)
		plain.index = nil
		for _, e := range entries {
			plain.AddEntry(e)
		}
		without = heap() - before
		plain = nil
		s = nil
		before = heap()
		b.StartTimer()
		s = NewStore(window)
		for _, e := range entries {
			s.AddEntry(e)
		}
		b.StopTimer()
		withIndex = heap() - before
		b.StartTimer()
	}
	b.ReportMetric(float64(len(entries))/b.Elapsed().Seconds()*float64(b.N), "entries/s")
	b.ReportMetric(float64(int64(withIndex)-int64(without))/(1<<20), "index-MiB")
	start := time.Now()
	const queries = 50
	for range queries {
		if _, err := s.QueryEntries(EntryFilter{Query: "bitcoin -gox"}, 50, ""); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/queries, "µs/query")
}
