package metrics

import (
	"context"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
)

func gather(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			out[key(mf.GetName(), m)] = m.GetGauge().GetValue()
		}
	}
	return out
}

func key(name string, m *dto.Metric) string {
	var ls []string
	for _, l := range m.GetLabel() {
		ls = append(ls, l.GetName()+"="+l.GetValue())
	}
	if len(ls) == 0 {
		return name
	}
	return name + "{" + strings.Join(ls, ",") + "}"
}

func TestJetStreamReportsBacklogAndStorage(t *testing.T) {
	srv := bustest.Start(t)
	ctx := context.Background()
	cons, err := srv.JS.CreateOrUpdateConsumer(ctx, bus.StreamRaw, jetstream.ConsumerConfig{Durable: "normalize", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := srv.JS.Publish(ctx, bus.RawSubject("rss", "a"), []byte("item")); err != nil {
			t.Fatal(err)
		}
	}
	batch, err := cons.Fetch(2)
	if err != nil {
		t.Fatal(err)
	}
	for range batch.Messages() { // delivered, not acked
	}
	c := NewJetStream(srv.JS, []string{bus.StreamRaw, bus.StreamDLQ}, []ConsumerRef{{bus.StreamRaw, "normalize"}}, 1<<30, nil)
	got := gather(t, c)
	for k, want := range map[string]float64{
		"newswire_jetstream_up":                                                      1,
		"newswire_stream_messages{stream=WIRE_RAW}":                                  5,
		"newswire_stream_messages{stream=WIRE_DLQ}":                                  0,
		"newswire_consumer_pending_messages{consumer=normalize,stream=WIRE_RAW}":     3,
		"newswire_consumer_ack_pending_messages{consumer=normalize,stream=WIRE_RAW}": 2,
		"newswire_jetstream_store_limit_bytes":                                       1 << 30,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], want, got)
		}
	}
	if got["newswire_jetstream_store_used_bytes"] <= 0 {
		t.Errorf("store used = %v", got["newswire_jetstream_store_used_bytes"])
	}

	// A consumer that is gone makes the scrape report jetstream_up 0, not fail.
	bad := NewJetStream(srv.JS, nil, []ConsumerRef{{bus.StreamRaw, "nobody"}}, 0, nil)
	if got := gather(t, bad); got["newswire_jetstream_up"] != 0 {
		t.Errorf("missing consumer: up = %v", got["newswire_jetstream_up"])
	}
}
