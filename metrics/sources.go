package metrics

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/newswire/newswire/ingest"
)

// Sources mirrors the wire_source bucket and reports every source's health
// (ingest.Health) as gauges labelled by kind and source. Because it reads the bucket, any
// process — the API server included — can report the health of collectors
// that run elsewhere.
type Sources struct {
	mu    sync.Mutex
	state map[string]ingest.Health // by bucket key "<kind>.<source>"
	now   func() time.Time

	errors, failing, lastPoll, lastSuccess, nextPoll, published, guessed *prometheus.Desc
	quiet, cadence, lastNew, polls                                       *prometheus.Desc
}

// NewSources returns an empty mirror; Watch fills it.
func NewSources() *Sources {
	l := []string{"kind", "source"}
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName("newswire", "source", name), help, l, nil)
	}
	return &Sources{
		state:       make(map[string]ingest.Health),
		now:         time.Now,
		errors:      d("errors", "errors recorded in the source's collector state (consecutive or total, per collector kind)"),
		failing:     d("failing", "1 while the source is marked failing (e.g. private channel)"),
		lastPoll:    d("last_poll_timestamp_seconds", "time of the last poll"),
		lastSuccess: d("last_success_timestamp_seconds", "time of the last successful poll"),
		nextPoll:    d("next_poll_timestamp_seconds", "time the next poll is due"),
		published:   d("published", "items the bus stored for the source, as the collector counted them"),
		guessed:     d("charset_guessed", "1 while the source's last document declared no character set, was not UTF-8 and was read in a guessed one"),
		quiet:       d("quiet", "1 while the source has brought nothing new for far longer than its learned cadence (even if it answers)"),
		cadence:     d("cadence_seconds", "learned mean interval between polls that found new items"),
		lastNew:     d("last_new_item_timestamp_seconds", "time a poll last found a new item"),
		polls:       d("polls", "polls of the source (or connections of a stream), whatever their outcome, as the collector counted them"),
	}
}

// WithClock makes the quiet gauge read time from now (tests).
func (s *Sources) WithClock(now func() time.Time) *Sources {
	s.now = now
	return s
}

// Watch follows the bucket until ctx ends. A watch that cannot be set up
// or that ends (the bus unreachable, JetStream without a quorum while a
// node is cut off) is set up again after a pause that doubles from one
// second to half a minute, each failure logged with its count: the health
// gauges are not worth stopping a stage for.
func (s *Sources) Watch(ctx context.Context, kv jetstream.KeyValue, log *zap.Logger) error {
	if log == nil {
		log = zap.NewNop()
	}
	pause, failures := time.Second, 0
	for {
		err := s.follow(ctx, kv, log)
		if ctx.Err() != nil {
			return nil
		}
		failures++
		log.Warn("metrics: source states not followed; retrying", zap.Error(err),
			zap.Int("failures", failures), zap.Duration("retry_in", pause))
		if ingest.Sleep(ctx, pause) != nil {
			return nil
		}
		pause = min(2*pause, watchRetryMax)
	}
}

// watchRetryMax is the longest pause before the source states' watch is
// set up again.
const watchRetryMax = 30 * time.Second

// follow watches the bucket until ctx ends or the watch does, and says why
// it ended.
func (s *Sources) follow(ctx context.Context, kv jetstream.KeyValue, log *zap.Logger) error {
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("metrics: watch source states: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("metrics: the watch of source states ended")
			}
			if e == nil { // initial values delivered
				continue
			}
			s.apply(e, log)
		}
	}
}

func (s *Sources) apply(e jetstream.KeyValueEntry, log *zap.Logger) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(s.state, e.Key())
		return
	}
	h, err := ingest.ReadHealth(e.Value())
	if err != nil {
		log.Debug("metrics: unreadable source state", zap.String("key", e.Key()), zap.Error(err))
		return
	}
	s.state[e.Key()] = h
}

// Describe sends the gauges' descriptions.
func (s *Sources) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{s.errors, s.failing, s.lastPoll, s.lastSuccess, s.nextPoll, s.published, s.guessed, s.quiet, s.cadence, s.lastNew, s.polls} {
		ch <- d
	}
}

// Collect emits the gauges of every known source.
func (s *Sources) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for key, h := range s.state {
		kind, source, ok := strings.Cut(key, ".")
		if !ok {
			continue
		}
		g := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, kind, source)
		}
		g(s.errors, float64(h.Errors))
		g(s.published, float64(h.Published))
		g(s.polls, float64(h.Polls))
		failing := 0.0
		if h.Failing {
			failing = 1
		}
		g(s.failing, failing)
		guessed := 0.0
		if h.CharsetGuessed != "" {
			guessed = 1
		}
		g(s.guessed, guessed)
		quiet := 0.0
		if h.Quiet(now) {
			quiet = 1
		}
		g(s.quiet, quiet)
		if c := h.Cadence(); c > 0 {
			g(s.cadence, c.Seconds())
		}
		for d, t := range map[*prometheus.Desc]time.Time{s.lastPoll: h.LastPoll, s.lastSuccess: h.LastSuccess, s.nextPoll: h.NextPoll, s.lastNew: h.LastNew} {
			if !t.IsZero() {
				g(d, float64(t.UnixNano())/1e9)
			}
		}
	}
}
