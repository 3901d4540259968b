package normalize

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/wire"
)

// learn reads WIRE_ENTRY from the start of the near-duplicate window and
// indexes every original entry: on start-up this rebuilds the index a
// restart lost, and afterwards it is how replicas learn each other's
// entries (and a replica its own, which Add ignores). It closes caughtUp
// once it has read what the stream held when it started, and runs until
// ctx ends.
func (w *Worker) learn(ctx context.Context, caughtUp chan<- struct{}) error {
	stream, err := w.js.Stream(ctx, bus.StreamEntry)
	if err != nil {
		return fmt.Errorf("normalize: open %s: %w", bus.StreamEntry, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("normalize: %s info: %w", bus.StreamEntry, err)
	}
	last := info.State.LastSeq
	signalled := false
	signal := func() {
		if !signalled {
			signalled = true
			close(caughtUp)
		}
	}
	if info.State.Msgs == 0 {
		signal()
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{bus.SubjectEntryAll},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   ptr(w.now().Add(-w.cfg.NearDupWindow)),
	})
	if err != nil {
		return fmt.Errorf("normalize: read %s: %w", bus.StreamEntry, err)
	}
	// The stream may hold entries, all older than the window: then nothing
	// will arrive, and waiting for the last sequence would wait forever.
	ci, err := cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("normalize: read %s: %w", bus.StreamEntry, err)
	}
	if ci.NumPending == 0 {
		signal()
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("normalize: read %s: %w", bus.StreamEntry, err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	// Next can return on ctx before the AfterFunc runs, and stop() then
	// cancels it: stop the iterator here too (Stop is idempotent).
	defer it.Stop()
	for {
		// Next also watches ctx: an ordered consumer that is recreating
		// itself after a server restart can miss the Stop, and a Next
		// waiting on the new subscription would never return (seen in CI).
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if err == jetstream.ErrMsgIteratorClosed {
				return fmt.Errorf("normalize: %s reader closed", bus.StreamEntry)
			}
			continue // heartbeats and reconnects: the ordered consumer recreates itself
		}
		w.learnEntry(msg.Data())
		if md, err := msg.Metadata(); err == nil && (md.Sequence.Stream >= last || md.NumPending == 0) {
			signal()
		}
	}
}

func (w *Worker) learnEntry(data []byte) {
	var e wire.Entry
	if err := json.Unmarshal(data, &e); err != nil {
		// another stage's bug, not ours to dead-letter: log and go on
		w.log.Warn("unreadable entry on "+bus.StreamEntry, zap.Error(err))
		return
	}
	if e.DuplicateOf != "" || e.RepostOf != "" || e.Withdrawn || e.ID == "" {
		return
	}
	sk := SketchOf(&e)
	w.near.Learn(e.ID, &sk, e.PublishedAt)
	w.stats.Learned.Add(1)
}

func (w *Worker) now() time.Time {
	if w.cfg.Now != nil {
		return w.cfg.Now()
	}
	return time.Now()
}

func ptr[T any](v T) *T { return &v }
