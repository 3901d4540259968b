package metrics

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// JetStreamAPI is what the JetStream collector asks of the server.
type JetStreamAPI interface {
	AccountInfo(ctx context.Context) (*jetstream.AccountInfo, error)
	Stream(ctx context.Context, name string) (jetstream.Stream, error)
}

// ConsumerRef names a durable consumer.
type ConsumerRef struct{ Stream, Name string }

// JetStream reports, on every scrape, the account's storage against its
// limit, each stream's size and each given consumer's backlog — what the
// alerts on consumer lag, dead letters and storage read. Every process that
// runs a consumer reports it, so replicas report the same numbers: alert on
// max by (stream, consumer).
type JetStream struct {
	js        JetStreamAPI
	streams   []string
	consumers []ConsumerRef
	// storeLimit is used when the account reports no storage limit of its
	// own (the embedded server's max_store applies to the whole server).
	storeLimit int64
	timeout    time.Duration
	log        *zap.Logger

	mu      sync.Mutex
	lastErr string

	up, storeUsed, storeLimitD, memUsed, streamMsgs, streamBytes, pending, ackPending, redelivered *prometheus.Desc
}

// NewJetStream returns a collector over js for the given streams and
// consumers; storeLimit (0: none) stands in for an account without a
// storage limit of its own.
func NewJetStream(js JetStreamAPI, streams []string, consumers []ConsumerRef, storeLimit int64, log *zap.Logger) *JetStream {
	if log == nil {
		log = zap.NewNop()
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("newswire_"+name, help, labels, nil)
	}
	return &JetStream{
		js: js, streams: streams, consumers: consumers, storeLimit: storeLimit, timeout: 5 * time.Second, log: log,
		up:          d("jetstream_up", "1 when this scrape could read JetStream's account, stream and consumer info"),
		storeUsed:   d("jetstream_store_used_bytes", "file storage the account uses"),
		storeLimitD: d("jetstream_store_limit_bytes", "file storage the account may use (account limit, or the embedded server's max_store)"),
		memUsed:     d("jetstream_memory_used_bytes", "memory storage the account uses"),
		streamMsgs:  d("stream_messages", "messages in the stream", "stream"),
		streamBytes: d("stream_bytes", "bytes in the stream", "stream"),
		pending:     d("consumer_pending_messages", "messages of the stream the consumer has not delivered yet (its lag)", "stream", "consumer"),
		ackPending:  d("consumer_ack_pending_messages", "messages delivered and not yet acknowledged", "stream", "consumer"),
		redelivered: d("consumer_redelivered_messages", "messages delivered more than once and not yet acknowledged", "stream", "consumer"),
	}
}

// Describe sends the descriptions.
func (j *JetStream) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{j.up, j.storeUsed, j.storeLimitD, j.memUsed, j.streamMsgs, j.streamBytes, j.pending, j.ackPending, j.redelivered} {
		ch <- d
	}
}

// Collect asks the server and emits what it answered; a failure is logged
// once per distinct error and reported as newswire_jetstream_up 0.
func (j *JetStream) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), j.timeout)
	defer cancel()
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	var errs []error
	if ai, err := j.js.AccountInfo(ctx); err != nil {
		errs = append(errs, err)
	} else {
		g(j.storeUsed, float64(ai.Store))
		g(j.memUsed, float64(ai.Memory))
		limit := ai.Limits.MaxStore
		if limit <= 0 {
			limit = j.storeLimit
		}
		if limit > 0 {
			g(j.storeLimitD, float64(limit))
		}
	}
	streams := map[string]jetstream.Stream{}
	for _, name := range j.streams {
		s, err := j.js.Stream(ctx, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		streams[name] = s
		st := s.CachedInfo().State
		g(j.streamMsgs, float64(st.Msgs), name)
		g(j.streamBytes, float64(st.Bytes), name)
	}
	for _, c := range j.consumers {
		s, ok := streams[c.Stream]
		if !ok {
			var err error
			if s, err = j.js.Stream(ctx, c.Stream); err != nil {
				errs = append(errs, err)
				continue
			}
			streams[c.Stream] = s
		}
		cons, err := s.Consumer(ctx, c.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ci := cons.CachedInfo()
		g(j.pending, float64(ci.NumPending), c.Stream, c.Name)
		g(j.ackPending, float64(ci.NumAckPending), c.Stream, c.Name)
		g(j.redelivered, float64(ci.NumRedelivered), c.Stream, c.Name)
	}
	up := 1.0
	if err := errors.Join(errs...); err != nil {
		up = 0
		j.mu.Lock()
		if msg := err.Error(); msg != j.lastErr {
			j.lastErr = msg
			j.log.Warn("metrics: reading JetStream state failed", zap.Error(err))
		}
		j.mu.Unlock()
	}
	g(j.up, up)
}
