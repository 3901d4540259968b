package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
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
	"github.com/newswire/newswire/synth"
	"github.com/newswire/newswire/wire"
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

// publish sends msg asynchronously; when too many PubAcks are outstanding
// it waits for them rather than fail, as the eval publisher does.
func publish(ctx context.Context, js jetstream.JetStream, msg *nats.Msg) error {
	_, err := js.PublishMsgAsync(msg)
	for errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
		_, err = js.PublishMsgAsync(msg)
	}
	return err
}

// corpus is the bundled real data, interleaved so that a stretch of the
// wire mixes English headlines, Russian Telegram posts and long articles
// in the files' proportions.
func corpus(b *testing.B) []replay.Item {
	b.Helper()
	type keyed struct {
		at float64
		it replay.Item
	}
	var all []keyed
	for _, f := range []string{"uci-news-2014-03.jsonl", "telegram-ru-news-sample.jsonl.gz", "ecbplus-dev.jsonl"} {
		items, err := replay.ReadFile("../testdata/replay/" + f)
		if err != nil {
			b.Fatal(err)
		}
		for i, it := range items {
			all = append(all, keyed{float64(i) / float64(len(items)), it})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].at < all[j].at })
	out := make([]replay.Item, len(all))
	for i := range all {
		out[i] = all[i].it
	}
	return out
}

// rawItem is the i-th item of the corpus looped: every pass after the
// first republishes each post under a fresh id and at a fresh URL, as a
// syndicated copy would be, so that exact dedupe lets it through and the
// normalizer and synthesizer do the full work for it.
func rawItem(items []replay.Item, i int, observed time.Time) wire.RawItem {
	it := items[i%len(items)]
	round := i / len(items)
	raw := it.Raw(observed)
	if round > 0 {
		raw.NativeID = fmt.Sprintf("%s~%d", it.ID, round)
		raw.URL = copyURL(it, round)
	}
	return raw
}

func copyURL(it replay.Item, round int) string {
	u, err := url.Parse(it.URL)
	if err != nil || u.Host == "" {
		return fmt.Sprintf("https://copy%d.example/%s", round, url.PathEscape(it.ID))
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + fmt.Sprintf("/copy-%d", round)
	return u.String()
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

// rawMsg is the message of the i-th looped corpus item, observed now.
func rawMsg(items []replay.Item, i int) (*nats.Msg, error) {
	return ingest.RawMsg(rawItem(items, i, time.Now().UTC()))
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
