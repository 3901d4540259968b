package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Errors of the health check; the watchdog withholds its ping on any.
var (
	ErrDisconnected = errors.New("service: not connected to NATS")
	ErrStalled      = errors.New("service: consumer stalled")
)

// ConnStatus is what Health reads of a NATS connection.
type ConnStatus interface {
	Status() nats.Status
}

// StreamInfo is what Health asks of JetStream.
type StreamInfo interface {
	Stream(ctx context.Context, name string) (jetstream.Stream, error)
}

// Health checks that a stage can do its work: the connection is up,
// JetStream answers a stream info request, and the stage's durable consumer
// (if it has one) is not stalled — holding messages that nobody delivers or
// acks for longer than StallAfter.
type Health struct {
	Conn ConnStatus
	JS   StreamInfo
	// Stream is the stream whose info proves JetStream answers; the stage's
	// user must be allowed to read it.
	Stream string
	// Consumer is the stage's durable consumer on Stream ("" for none).
	Consumer string
	// StallAfter is how long a consumer with work may show no progress.
	StallAfter time.Duration
	// Consuming, when set, says whether this process takes from the
	// consumer yet; while it does not (a warm-up), no stall is judged.
	Consuming func() bool
	// Now is the clock (nil: time.Now).
	Now func() time.Time

	mu       sync.Mutex
	progress progress
	since    time.Time
}

type progress struct {
	delivered, acked uint64
}

// Check runs the health check once.
func (h *Health) Check(ctx context.Context) error {
	if s := h.Conn.Status(); s != nats.CONNECTED {
		return fmt.Errorf("%w (%s)", ErrDisconnected, s)
	}
	stream, err := h.JS.Stream(ctx, h.Stream)
	if err != nil {
		return fmt.Errorf("service: jetstream: stream %s: %w", h.Stream, err)
	}
	if h.Consumer == "" {
		return nil
	}
	cons, err := stream.Consumer(ctx, h.Consumer)
	if err != nil {
		return fmt.Errorf("service: jetstream: consumer %s on %s: %w", h.Consumer, h.Stream, err)
	}
	return h.observe(cons.CachedInfo())
}

// observe updates the consumer's last progress and reports a stall.
func (h *Health) observe(ci *jetstream.ConsumerInfo) error {
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	t := now()
	h.mu.Lock()
	defer h.mu.Unlock()
	p := progress{delivered: ci.Delivered.Stream, acked: ci.AckFloor.Stream}
	waiting := ci.NumPending + uint64(ci.NumAckPending)
	warming := h.Consuming != nil && !h.Consuming()
	if h.since.IsZero() || p != h.progress || waiting == 0 || warming {
		h.progress, h.since = p, t
		return nil
	}
	if idle := t.Sub(h.since); idle > h.StallAfter {
		return fmt.Errorf("%w: %s on %s holds %d messages and has delivered or acked none for %s",
			ErrStalled, h.Consumer, h.Stream, waiting, idle.Round(time.Second))
	}
	return nil
}
