package bench

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/ingest/replay"
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/synth"
)

// Sizes of one run; cmd/benchreport passes smaller ones for a quick report.
var (
	flagItems   = flag.Int("bench.items", 20000, "raw items per throughput run (the bundled data looped with fresh ids)")
	flagSeconds = flag.Float64("bench.seconds", 6, "seconds of offered load per latency run")
)

// rig is one embedded nats-server with the design's topology and a client.
type rig struct {
	emb *bus.Embedded
	nc  *nats.Conn
	js  jetstream.JetStream
}

func startRig(b *testing.B, syncAlways bool) *rig {
	b.Helper()
	emb, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: b.TempDir(), Port: -1, SyncAlways: syncAlways,
		MaxMemory: 256 << 20, MaxStore: 8 << 30, MaxPayload: 8 << 20}, nil)
	if err != nil {
		b.Fatal(err)
	}
	r := &rig{emb: emb}
	b.Cleanup(emb.Shutdown)
	r.nc, r.js = r.connect(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bus.EnsureTopology(ctx, r.js, bus.DefaultTopology()); err != nil {
		b.Fatal(err)
	}
	return r
}

// connect opens a connection of its own, as a separate process would have.
func (r *rig) connect(b *testing.B) (*nats.Conn, jetstream.JetStream) {
	b.Helper()
	nc, err := nats.Connect(r.emb.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		b.Fatal(err)
	}
	return nc, js
}

// corpus is the bundled real data (Corpus) for a benchmark.
func corpus(b *testing.B) []replay.Item {
	b.Helper()
	items, err := Corpus("../testdata/replay")
	if err != nil {
		b.Fatal(err)
	}
	return items
}

// pipeline is the real normalizer (one or more workers sharing the
// consumer, each on its own connection) and synthesizer on a rig.
type pipeline struct {
	nws    []*normalize.Worker
	sw     *synth.Worker
	js     jetstream.JetStream
	cancel context.CancelFunc
	wg     sync.WaitGroup
	errs   chan error
}

func startPipeline(b *testing.B, r *rig, normalizers int) *pipeline {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &pipeline{js: r.js, cancel: cancel, errs: make(chan error, normalizers+1)}
	for range normalizers {
		_, js := r.connect(b)
		nw, err := normalize.NewWorker(ctx, normalize.DefaultConfig(), js, nil)
		if err != nil {
			b.Fatal(err)
		}
		p.nws = append(p.nws, nw)
	}
	nc, js := r.connect(b)
	sw, err := synth.NewWorker(ctx, synth.DefaultConfig(), nc, js, nil)
	if err != nil {
		b.Fatal(err)
	}
	p.sw = sw
	for _, nw := range p.nws {
		p.wg.Add(1)
		go func() { defer p.wg.Done(); p.errs <- nw.Run(ctx) }()
	}
	p.wg.Add(1)
	go func() { defer p.wg.Done(); p.errs <- sw.Run(ctx) }()
	b.Cleanup(func() { p.stop(b) })
	return p
}

func (p *pipeline) stop(b *testing.B) {
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.cancel = nil
	p.wg.Wait()
	close(p.errs)
	for err := range p.errs {
		if err != nil {
			b.Error(err)
		}
	}
}

// handled counts the raw items the normalizers are done with.
func (p *pipeline) handled() (entries, other int64) {
	for _, nw := range p.nws {
		s := nw.Stats()
		entries += s.Entries.Load()
		other += s.Folded.Load() + s.AlreadyPublished.Load() + s.DeadLettered.Load()
	}
	return entries, other
}

// waitDone returns once every one of n raw items is handled by a
// normalizer and every entry is in a story snapshot the server holds: the
// synthesizer acks an entry only after that snapshot's PubAck.
func (p *pipeline) waitDone(ctx context.Context, n int64) error {
	cons, err := p.js.Consumer(ctx, bus.StreamEntry, synth.ConsumerName)
	if err != nil {
		return fmt.Errorf("bench: synth consumer: %w", err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		entries, other := p.handled()
		if entries+other < n || p.sw.Stats().Entries.Load() < entries {
			continue
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return fmt.Errorf("bench: synth consumer: %w", err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 && p.sw.Idle() {
			return nil
		}
	}
	entries, other := p.handled()
	return fmt.Errorf("bench: pipeline not done after 5 minutes: %d entries and %d other of %d raw items, synthesizer at %d",
		entries, other, n, p.sw.Stats().Entries.Load())
}

// percentiles returns the p-th percentiles (p in per mille) of d in ms.
func percentiles(d []time.Duration, perMille ...int) []float64 {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	out := make([]float64, len(perMille))
	for k, p := range perMille {
		if len(s) == 0 {
			continue
		}
		out[k] = float64(s[min(len(s)-1, len(s)*p/1000)].Microseconds()) / 1000
	}
	return out
}
