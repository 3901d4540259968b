package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/newswire/newswire/bus"
)

const ceilingStream = "BENCH_CEILING"

// ceilingConsumer creates the ceiling's file stream and its pull consumer,
// set up as the pipeline's are: a duplicate window (so that Nats-Msg-Id is
// checked) and explicit acks.
func ceilingConsumer(ctx context.Context, b *testing.B, js jetstream.JetStream) jetstream.Consumer {
	b.Helper()
	_ = js.DeleteStream(ctx, ceilingStream)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: ceilingStream, Subjects: []string{"bench.ceiling"},
		Storage: jetstream.FileStorage, Duplicates: 10 * time.Minute}); err != nil {
		b.Fatal(err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, ceilingStream, jetstream.ConsumerConfig{Durable: "ceiling",
		AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 4096})
	if err != nil {
		b.Fatal(err)
	}
	return cons
}

func ceilingMsg(i int, payload []byte) *nats.Msg {
	m := nats.NewMsg("bench.ceiling")
	m.Data = payload
	m.Header.Set(bus.HeaderMsgID, fmt.Sprintf("ceiling:%d", i))
	return m
}

// kib is 1 KiB of text.
var kib = []byte(strings.Repeat("newswire ceiling payload, one KiB of it. ", 26)[:1024])

// ceiling is the bus's limit on this machine: n 1 KiB messages with
// Nats-Msg-Id published asynchronously into a file stream while a pull
// consumer takes and acks them, timed from the first publish until the
// server holds no unacknowledged message. It returns messages per second.
func ceiling(b *testing.B, r *rig, n int) float64 {
	b.Helper()
	ctx := context.Background()
	cons := ceilingConsumer(ctx, b, r.js)
	defer func() { _ = r.js.DeleteStream(ctx, ceilingStream) }()
	var got atomic.Int64
	done := make(chan struct{})
	cctx, stop := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() {
		stopped <- bus.Consume(cctx, cons, func(m jetstream.Msg) {
			_ = m.Ack()
			if got.Add(1) == int64(n) {
				close(done)
			}
		}, jetstream.PullMaxMessages(512))
	}()
	start := time.Now()
	for i := range n {
		if err := Publish(ctx, r.js, ceilingMsg(i, kib)); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("ceiling: %d of %d messages consumed", got.Load(), n)
	}
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if info.NumAckPending == 0 && info.NumPending == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	rate := float64(n) / time.Since(start).Seconds()
	stop()
	if err := <-stopped; err != nil {
		b.Fatal(err)
	}
	return rate
}

// BenchmarkPipeline measures, on one embedded server per run, the bus's
// ceiling and then items per second from raw publish to story snapshot
// through the real normalizer and synthesizer, replaying the bundled data
// looped with fresh ids; ratio is pipeline items/s ÷ ceiling msgs/s of
// the same run. sync=always is the shipped setting (every write fsynced
// before its PubAck); sync=default is nats-server's default (fsync every
// two minutes). normalizers=k runs k normalizer workers sharing the
// durable consumer, in this process, each on its own connection. The
// sync=always case runs half the items (-bench.items) to save time.
func BenchmarkPipeline(b *testing.B) {
	items := corpus(b)
	for _, c := range []struct {
		sync        string
		normalizers int
	}{{"default", 1}, {"always", 1}, {"default", 2}, {"default", 4}} {
		b.Run(fmt.Sprintf("sync=%s/normalizers=%d", c.sync, c.normalizers), func(b *testing.B) {
			n := *flagItems
			if c.sync == "always" {
				// Every write waits for an fsync: half the items measure
				// the same rate in half the time.
				n /= 2
			}
			r := startRig(b, c.sync == "always")
			ceil := ceiling(b, r, n)
			p := startPipeline(b, r, c.normalizers)
			ctx := context.Background()
			start := time.Now()
			for i := range n {
				msg, err := RawMsg(items, i)
				if err != nil {
					b.Fatal(err)
				}
				if err := Publish(ctx, r.js, msg); err != nil {
					b.Fatal(err)
				}
			}
			if err := p.waitDone(ctx, int64(n)); err != nil {
				b.Fatal(err)
			}
			rate := float64(n) / time.Since(start).Seconds()
			entries, _ := p.handled()
			p.stop(b)
			b.ReportMetric(ceil, "ceiling-msgs/s")
			b.ReportMetric(rate, "items/s")
			b.ReportMetric(rate/ceil, "ratio")
			b.ReportMetric(float64(entries), "entries")
			b.ReportMetric(float64(p.sw.Stats().Snapshots.Load()), "snapshots")
		})
	}
}

// BenchmarkLatency offers raw items at a fixed rate (500 and 2,000 per
// second with the default sync, and 500 with sync=always as shipped) and
// measures the time from each raw
// publish to its entry on the bus and to the first story snapshot that
// holds it. The ceiling's own round trip (1 KiB publish → pull consumer
// delivery on the same server, same rate) is measured first in the same
// run. The first second of load is a warm-up and not counted.
func BenchmarkLatency(b *testing.B) {
	items := corpus(b)
	for _, c := range []struct {
		sync string
		rate int
	}{{"default", 500}, {"default", 2000}, {"always", 500}} {
		rate := c.rate
		b.Run(fmt.Sprintf("sync=%s/rate=%d", c.sync, rate), func(b *testing.B) {
			r := startRig(b, c.sync == "always")
			rtt := ceilingRoundTrip(b, r, rate, min(*flagSeconds, 3))
			p := startPipeline(b, r, 1)
			ctx := context.Background()

			var mu sync.Mutex
			sent := make(map[string]time.Time)
			var toEntry, toStory []time.Duration
			warm := make(map[string]bool) // items of the warm-up: not counted
			esub, err := r.nc.Subscribe(bus.SubjectEntryAll, func(m *nats.Msg) {
				now := time.Now()
				var e struct {
					Raw struct {
						MsgID string `json:"msg_id"`
					} `json:"raw"`
				}
				if json.Unmarshal(m.Data, &e) != nil {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if t, ok := sent[e.Raw.MsgID]; ok && !warm[e.Raw.MsgID] {
					toEntry = append(toEntry, now.Sub(t))
				}
			})
			if err != nil {
				b.Fatal(err)
			}
			defer esub.Unsubscribe()
			ssub, err := r.nc.Subscribe(bus.SubjectStoryAll, func(m *nats.Msg) {
				now := time.Now()
				var st struct {
					Provenance []struct {
						Raw struct {
							MsgID string `json:"msg_id"`
						} `json:"raw"`
					} `json:"provenance"`
				}
				if json.Unmarshal(m.Data, &st) != nil {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				for _, rec := range st.Provenance {
					if t, ok := sent[rec.Raw.MsgID]; ok {
						if !warm[rec.Raw.MsgID] {
							toStory = append(toStory, now.Sub(t))
						}
						delete(sent, rec.Raw.MsgID)
					}
				}
			})
			if err != nil {
				b.Fatal(err)
			}
			defer ssub.Unsubscribe()
			if err := r.nc.Flush(); err != nil {
				b.Fatal(err)
			}

			warmup := rate // one second
			n := warmup + int(float64(rate)**flagSeconds)
			start := time.Now()
			for i := range n {
				// Open loop: item i is due at start + i/rate whatever
				// happened to the ones before it.
				if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
					time.Sleep(d)
				}
				msg, err := RawMsg(items, i)
				if err != nil {
					b.Fatal(err)
				}
				id := msg.Header.Get(bus.HeaderMsgID)
				mu.Lock()
				sent[id] = time.Now()
				if i < warmup {
					warm[id] = true
				}
				mu.Unlock()
				if err := Publish(ctx, r.js, msg); err != nil {
					b.Fatal(err)
				}
			}
			offered := float64(n) / time.Since(start).Seconds()
			if err := p.waitDone(ctx, int64(n)); err != nil {
				b.Fatal(err)
			}
			// The last snapshots reach this subscriber just after their PubAck.
			if err := r.nc.Flush(); err != nil {
				b.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			p.stop(b)
			mu.Lock()
			defer mu.Unlock()
			e := percentiles(toEntry, 500, 990, 999)
			s := percentiles(toStory, 500, 990, 999)
			c := percentiles(rtt, 500, 990, 999)
			b.ReportMetric(offered, "offered-items/s")
			b.ReportMetric(e[0], "entry-p50-ms")
			b.ReportMetric(e[1], "entry-p99-ms")
			b.ReportMetric(e[2], "entry-p999-ms")
			b.ReportMetric(s[0], "story-p50-ms")
			b.ReportMetric(s[1], "story-p99-ms")
			b.ReportMetric(s[2], "story-p999-ms")
			b.ReportMetric(c[0], "ceiling-p50-ms")
			b.ReportMetric(c[1], "ceiling-p99-ms")
			b.ReportMetric(c[2], "ceiling-p999-ms")
			b.ReportMetric(float64(len(toStory)), "story-samples")
			b.ReportMetric(float64(n-warmup-len(toStory)), "not-in-a-snapshot")
		})
	}
}

// ceilingRoundTrip publishes 1 KiB messages at rate for seconds and
// returns each one's time from publish to delivery by the pull consumer.
func ceilingRoundTrip(b *testing.B, r *rig, rate int, seconds float64) []time.Duration {
	b.Helper()
	ctx := context.Background()
	cons := ceilingConsumer(ctx, b, r.js)
	defer func() { _ = r.js.DeleteStream(ctx, ceilingStream) }()
	n := int(float64(rate) * seconds)
	sent := make([]time.Time, n)
	lat := make([]time.Duration, 0, n)
	var mu sync.Mutex
	got := make(chan struct{})
	cctx, stop := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() {
		stopped <- bus.Consume(cctx, cons, func(m jetstream.Msg) {
			now := time.Now()
			_ = m.Ack()
			var i int
			if _, err := fmt.Sscanf(m.Headers().Get(bus.HeaderMsgID), "ceiling:%d", &i); err != nil || i >= n {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			lat = append(lat, now.Sub(sent[i]))
			if len(lat) == n {
				close(got)
			}
		}, jetstream.PullMaxMessages(512))
	}()
	start := time.Now()
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
			time.Sleep(d)
		}
		mu.Lock()
		sent[i] = time.Now()
		mu.Unlock()
		if err := Publish(ctx, r.js, ceilingMsg(i, kib)); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-got:
	case <-time.After(time.Minute):
		b.Fatal("ceiling round trip did not complete")
	}
	stop()
	if err := <-stopped; err != nil {
		b.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return lat
}
