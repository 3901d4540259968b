package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/newswire/newswire/wire"
)

// Consume pulls messages from cons and hands them to handle one at a time
// until ctx ends. On cancellation it stops pulling, lets handle finish the
// messages already received, and returns nil. Messages a handler leaves
// unacknowledged are redelivered after the consumer's AckWait.
func Consume(ctx context.Context, cons jetstream.Consumer, handle func(jetstream.Msg), opts ...jetstream.PullMessagesOpt) error {
	it, err := cons.Messages(opts...)
	if err != nil {
		return fmt.Errorf("bus: start consuming: %w", err)
	}
	stop := context.AfterFunc(ctx, it.Drain)
	defer stop()
	for {
		msg, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			if ctx.Err() != nil {
				return nil
			}
			// Heartbeat loss and reconnects are transient; the iterator keeps going.
			continue
		}
		handle(msg)
	}
}

// fetchResets bounds how often an ordered consumer that is read with Fetch
// tries to create its server-side consumer again. nats.go creates it anew
// at every Fetch and by default retries a refusal (the stream's limit of
// consumers reached, no leader) forever, past any deadline of the caller.
// Bounded, the Fetch returns the error after about 7 s (tries 1, 2 and 4 s
// apart), and the caller retries its work as after any failure.
const fetchResets = 4

// OrderedFetcher is js.OrderedConsumer for reading with Fetch, with its
// re-creation bounded (see fetchResets).
func OrderedFetcher(ctx context.Context, js jetstream.JetStream, stream string, cfg jetstream.OrderedConsumerConfig) (jetstream.Consumer, error) {
	cfg.MaxResetAttempts = fetchResets
	return js.OrderedConsumer(ctx, stream, cfg)
}

// DeadLetter records msg on wire.dlq.<stage> with a reason and terminates
// it, so that JetStream never redelivers input that can never succeed.
func DeadLetter(ctx context.Context, js jetstream.JetStream, stage string, msg jetstream.Msg, reason error) error {
	dl := wire.DeadLetter{
		Schema:  wire.SchemaDLQ,
		Stage:   stage,
		Reason:  reason.Error(),
		Subject: msg.Subject(),
		MsgID:   msg.Headers().Get(HeaderMsgID),
		At:      time.Now().UTC(),
	}
	if md, err := msg.Metadata(); err == nil {
		dl.Stream, dl.Seq = md.Stream, md.Sequence.Stream
	}
	data := msg.Data()
	const maxData = 64 << 10
	if len(data) > maxData {
		data, dl.Truncate = data[:maxData], true
	}
	dl.Data = string(data)
	body, err := json.Marshal(dl)
	if err != nil {
		return fmt.Errorf("bus: encode dead letter: %w", err)
	}
	out := nats.NewMsg(DLQSubject(stage))
	out.Data = body
	out.Header.Set(HeaderMsgID, fmt.Sprintf("dlq:%s:%s:%d", Token(stage), dl.Stream, dl.Seq))
	if _, err := js.PublishMsg(ctx, out); err != nil {
		return fmt.Errorf("bus: publish dead letter: %w", err)
	}
	if err := msg.TermWithReason(reason.Error()); err != nil {
		return fmt.Errorf("bus: terminate message: %w", err)
	}
	return nil
}

// Retry backs a message off after a transient failure: it is redelivered
// after a delay that grows with the number of deliveries, capped at max.
func Retry(msg jetstream.Msg, base, max time.Duration) error {
	n := uint64(1)
	if md, err := msg.Metadata(); err == nil {
		n = md.NumDelivered
	}
	d := base
	for i := uint64(1); i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	if err := msg.NakWithDelay(d); err != nil {
		return fmt.Errorf("bus: nak: %w", err)
	}
	return nil
}

// CheckBackoff says what is wrong with a consumer's redelivery backoff, or
// "" when nothing is. Its first step is the ack wait, so it must outlast
// the longest a worker may hold a message (work); JetStream refuses more
// steps than maxDeliver−1; a step shorter than the one before it would
// redeliver faster after more failures.
func CheckBackoff(steps []time.Duration, work time.Duration, maxDeliver int) string {
	switch {
	case len(steps) == 0 || len(steps) >= maxDeliver:
		return fmt.Sprintf("must list 1 to %d steps", maxDeliver-1)
	case steps[0] < work:
		return fmt.Sprintf("must start at %s or more (its first step is the ack wait)", work)
	}
	for i, d := range steps {
		if i > 0 && d < steps[i-1] {
			return "must not shrink from one step to the next"
		}
		if d > 24*time.Hour {
			return "steps must be at most 24h"
		}
	}
	return ""
}
