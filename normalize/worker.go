package normalize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/wire"
)

// ConsumerName is the durable consumer normalizer replicas share.
const ConsumerName = "normalize"

// Stage is the stage name in dead letters and logs.
const Stage = "normalize"

// maxDeliver bounds the deliveries of one raw item; the last failed one is
// dead-lettered rather than left to expire silently.
const maxDeliver = 8

// handleTimeout bounds the work on one raw item, from receipt to ack.
const handleTimeout = 30 * time.Second

// ConsumerConfig is the durable pull consumer on WIRE_RAW; backoff is
// Config.RedeliveryBackoff.
func ConsumerConfig(backoff []time.Duration) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       ConsumerName,
		Description:   "normalizer: raw items to entries",
		FilterSubject: bus.SubjectRawAll,
		AckPolicy:     jetstream.AckExplicitPolicy,
		MaxDeliver:    maxDeliver,
		BackOff:       backoff,
		MaxAckPending: 4096,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
}

// Stats counts what a worker did.
type Stats struct {
	Entries      atomic.Int64
	Folded       atomic.Int64
	NearDups     atomic.Int64
	Reposts      atomic.Int64
	Withdrawals  atomic.Int64
	DeadLettered atomic.Int64
	Retried      atomic.Int64
	// AlreadyPublished counts raw items whose entry was on WIRE_ENTRY
	// already (a redelivery, a collector reading a post again, a second
	// collector of the same post): acked, nothing published.
	AlreadyPublished atomic.Int64
	// Recovered counts publication markers left pending by a crash and
	// resolved by finding the entry on WIRE_ENTRY.
	Recovered atomic.Int64
	// MarkerErrors counts entries published whose marker could not be
	// set to published; a later copy resolves them on WIRE_ENTRY.
	MarkerErrors atomic.Int64
	// Learned counts entries the index took from WIRE_ENTRY: this replica's
	// own, those of other replicas, and on start-up the window's history.
	Learned atomic.Int64
}

// Worker consumes WIRE_RAW and publishes entries on WIRE_ENTRY.
type Worker struct {
	cfg      Config
	js       jetstream.JetStream
	fp       jetstream.KeyValue
	fpPrefix string
	cons     jetstream.Consumer
	near     *nearIndex
	log      *zap.Logger
	stats    Stats
	// consuming is set once the index has caught up and raw items are taken.
	consuming atomic.Bool
	// claimTimeout is claimTimeout except in tests that play a crash.
	claimTimeout time.Duration
	// searches holds a token per WIRE_ENTRY search under way (findEntry).
	searches chan struct{}
}

// Consuming reports whether the worker takes raw items: false while it
// learns recent entries at start, so a health check does not take the
// warm-up for a stalled consumer.
func (w *Worker) Consuming() bool { return w.consuming.Load() }

// NewWorker binds a worker to the shared durable consumer. The topology
// must exist (bus.EnsureTopology). When cfg.Detector is nil and
// cfg.Languages names languages, it loads their n-gram model
// (NewNGramDetector: about 6 MiB and 0.2 s for the default list).
func NewWorker(ctx context.Context, cfg Config, js jetstream.JetStream, log *zap.Logger) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.Detector == nil && len(cfg.Languages) > 0 {
		det, err := NewNGramDetector(cfg.Languages)
		if err != nil {
			return nil, err
		}
		cfg.Detector = det
	}
	fp, err := js.KeyValue(ctx, bus.BucketFingerprint)
	if err != nil {
		return nil, fmt.Errorf("normalize: open %s: %w", bus.BucketFingerprint, err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, bus.StreamRaw, ConsumerConfig(cfg.RedeliveryBackoff))
	if err != nil {
		return nil, fmt.Errorf("normalize: consumer: %w", err)
	}
	return &Worker{
		cfg: cfg, js: js, fp: fp, cons: cons, log: log.Named(Stage),
		// the subject KV Create writes to; the fast path publishes there itself
		fpPrefix:     "$KV." + bus.BucketFingerprint + ".",
		near:         newNearIndex(cfg.NearDupSimilarity, cfg.NearDupWindow, cfg.NearDupMaxEntries),
		claimTimeout: claimTimeout,
		searches:     make(chan struct{}, maxSearches),
	}, nil
}

// Stats returns the worker's counters.
func (w *Worker) Stats() *Stats { return &w.stats }

// Run learns the near-duplicate window from WIRE_ENTRY, then consumes raw
// items until ctx ends, and finishes the items in hand before returning.
// Items are handled in arrival order up to the point of publishing; the
// fingerprint claim, the entry's PubAck and the raw item's ack are waited
// for concurrently, up to cfg.MaxInFlight items at a time, so that one
// item's round trips do not hold back the next.
func (w *Worker) Run(ctx context.Context) error {
	w.log.Info("normalizer starting: learning recent entries")
	learnCtx, stopLearning := context.WithCancel(ctx)
	learned := make(chan error, 1)
	caughtUp := make(chan struct{})
	go func() { learned <- w.learn(learnCtx, caughtUp) }()
	defer func() {
		stopLearning()
		if err := <-learned; err != nil {
			w.log.Warn("entry reader stopped", zap.Error(err))
		}
	}()
	select {
	case <-caughtUp:
	case err := <-learned:
		learned <- err // for the deferred read
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("normalize: learning recent entries: %w", err)
	case <-ctx.Done():
		return nil
	}
	w.log.Info("normalizer started", zap.Int("indexed", w.near.Len()))
	w.consuming.Store(true)
	defer w.consuming.Store(false)
	defer func() { w.log.Info("normalizer stopped", zap.Int64("entries", w.stats.Entries.Load())) }()

	// In-flight work finishes on a context that outlives ctx, so that a
	// shutdown does not abandon an item between publish and ack.
	work := context.WithoutCancel(ctx)
	slots := make(chan struct{}, w.cfg.MaxInFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	prev := closedTurn()
	return bus.Consume(ctx, w.cons, func(msg jetstream.Msg) {
		slots <- struct{}{}
		hctx, cancel := context.WithTimeout(work, handleTimeout)
		finish := w.handle(hctx, msg)
		if finish == nil {
			cancel()
			<-slots
			return
		}
		t := &turn{wait: prev, done: make(chan struct{})}
		prev = t.done
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			defer cancel()
			defer t.pass()
			finish(t)
		}()
	}, jetstream.PullMaxMessages(w.cfg.MaxInFlight))
}

// handle does the ordered part of an item's work: decode, normalize,
// near-duplicate lookup, and the start of the fingerprint claim. It
// returns the rest, which waits on the bus, or nil when the item is done.
func (w *Worker) handle(ctx context.Context, msg jetstream.Msg) func(*turn) {
	md, err := msg.Metadata()
	if err != nil {
		// not a JetStream message: nothing to record it against
		w.log.Error("message without metadata", zap.Error(err))
		_ = msg.Term()
		return nil
	}
	ref := provenance.RawRef{Stream: md.Stream, Seq: md.Sequence.Stream, MsgID: msg.Headers().Get(bus.HeaderMsgID)}
	var raw wire.RawItem
	if err := json.Unmarshal(msg.Data(), &raw); err != nil {
		w.deadLetter(ctx, msg, fmt.Errorf("normalize: raw item is not JSON: %w", err))
		return nil
	}
	if raw.ObservedAt.IsZero() {
		// the bus's own receipt time is the best observation left
		raw.ObservedAt = md.Timestamp
	}
	entry, sk, err := normalize(w.cfg, raw, ref)
	if err != nil {
		w.deadLetter(ctx, msg, err)
		return nil
	}
	if entry.Withdrawn {
		// The post is gone at its source: its entry is withdrawn, which is
		// news for the synthesizer, not a new text to fingerprint or index.
		w.stats.Withdrawals.Add(1)
		mark := w.startClaim(entry)
		return func(t *turn) { w.publish(ctx, msg, entry, mark, t) }
	}
	indexed := false // this delivery put the entry in the near-duplicate index
	if entry.RepostOf != "" {
		w.stats.Reposts.Add(1)
	} else {
		if id, ok := w.near.Match(&sk); ok && id != entry.ID {
			entry.DuplicateOf = id
			w.stats.NearDups.Add(1)
		} else {
			w.near.Add(entry.ID, &sk, entry.PublishedAt)
			indexed = true
		}
	}
	claim, err := w.js.PublishMsgAsync(&nats.Msg{
		Subject: w.fpPrefix + entry.Fingerprint.Exact,
		Data:    []byte(entry.ID),
	}, jetstream.WithExpectLastSequencePerSubject(0), jetstream.WithMsgTTL(w.cfg.FingerprintTTL))
	if err != nil {
		if indexed {
			w.near.Remove(entry.ID)
		}
		w.retry(msg, fmt.Errorf("normalize: claim fingerprint: %w", err))
		return nil
	}
	mark := w.startClaim(entry)
	return func(t *turn) { w.finish(ctx, msg, entry, indexed, claim, mark, t) }
}

// finish waits for the fingerprint claim, publishes the entry and acks the
// raw item after the entry's PubAck.
func (w *Worker) finish(ctx context.Context, msg jetstream.Msg, entry wire.Entry, indexed bool, claim, mark jetstream.PubAckFuture, t *turn) {
	holder, err := w.claimResult(ctx, entry, claim)
	if err != nil {
		if indexed {
			// Unsettled: items that matched it retry when they publish
			// (see publish), and its next delivery settles it.
			w.near.Fail(entry.ID)
		}
		w.retry(msg, err)
		return
	}
	if holder != "" {
		// The same text at the same URL is already an entry: one wire line,
		// not two. The copy stays in the index for its holder, which may
		// be older than the window: items looked up since may have matched
		// it, whether or not this claim had come back, and they name the
		// holder when they publish (publish, after this one's turn).
		w.near.Fold(entry.ID, holder)
		w.stats.Folded.Add(1)
		w.log.Debug("exact duplicate folded", zap.String("msg_id", entry.Raw.MsgID), zap.String("entry", holder))
		w.ack(msg)
		return
	}
	w.publish(ctx, msg, entry, mark, t)
}

// publish puts the entry on WIRE_ENTRY and acks the raw item after the
// PubAck; mark is the publication claim started in handle, if any.
func (w *Worker) publish(ctx context.Context, msg jetstream.Msg, entry wire.Entry, mark jetstream.PubAckFuture, t *turn) {
	data, err := json.Marshal(entry)
	if err != nil {
		w.giveUp(ctx, msg, entry, fmt.Errorf("normalize: encode entry: %w", err))
		return
	}
	out := nats.NewMsg(bus.EntrySubject(entry.Source.Kind, entry.Source.ID))
	out.Data = data
	out.Header.Set(bus.HeaderMsgID, bus.EntryMsgID(entry.Raw.MsgID))
	// The publication marker, not the duplicate window, keeps an entry
	// from going out twice (see published.go).
	state, rev, err := w.claimPublish(ctx, entry, mark, out.Subject, out.Header.Get(bus.HeaderMsgID))
	switch {
	case err != nil:
		w.retry(msg, err)
		return
	case state == published:
		w.stats.AlreadyPublished.Add(1)
		w.log.Debug("entry published before; raw item acked", zap.String("entry", entry.ID), zap.String("msg_id", entry.Raw.MsgID))
		w.ack(msg)
		return
	case state == claimInFlight:
		w.retry(msg, fmt.Errorf("normalize: entry %s is being published by another delivery", entry.ID))
		return
	}
	// Entries go out in the order their raw items came in, so the entry
	// stream — and every story built from it — is the same on every run.
	select {
	case <-t.wait:
	case <-ctx.Done():
		w.retry(msg, fmt.Errorf("normalize: waiting for the previous entry: %w", ctx.Err()))
		return
	}
	if entry.DuplicateOf != "" {
		// Every item before this one has had its turn, so a copy this one
		// matched is known by now to be folded or not (finish).
		holder, failed := w.near.Outcome(entry.DuplicateOf)
		if failed {
			w.retry(msg, fmt.Errorf("normalize: entry %s copies %s, whose fingerprint claim failed", entry.ID, entry.DuplicateOf))
			return
		}
		if holder != "" {
			entry.DuplicateOf = holder
			if data, err = json.Marshal(entry); err != nil {
				t.pass()
				w.giveUp(ctx, msg, entry, fmt.Errorf("normalize: encode entry: %w", err))
				return
			}
			out.Data = data
		}
	}
	pub, err := w.js.PublishMsgAsync(out)
	t.pass()
	var pa *jetstream.PubAck
	if err == nil {
		pa, err = waitPubAck(ctx, pub)
	}
	switch {
	case err == nil:
	case errors.Is(err, nats.ErrMaxPayload):
		w.giveUp(ctx, msg, entry, fmt.Errorf("normalize: entry of %d bytes is over the server's max payload: %w", len(data), err))
		return
	case lastDelivery(msg):
		w.giveUp(ctx, msg, entry, fmt.Errorf("normalize: publish entry failed on the last delivery: %w", err))
		return
	default:
		w.retry(msg, fmt.Errorf("normalize: publish entry: %w", err))
		return
	}
	// The marker is set after the ack is sent, not before: if it is lost,
	// a later copy finds the pending marker and the entry behind it on
	// WIRE_ENTRY, so the raw item need not wait for it.
	mark, merr := w.js.PublishMsgAsync(markerMsg(w.fpPrefix, markerKey(entry), pa.Sequence),
		jetstream.WithExpectLastSequencePerSubject(rev), jetstream.WithMsgTTL(w.cfg.FingerprintTTL))
	w.stats.Entries.Add(1)
	w.ack(msg)
	if merr == nil {
		merr = waitAck(ctx, mark)
	}
	if merr != nil {
		w.stats.MarkerErrors.Add(1)
		w.log.Warn("entry published but its marker not set; a later copy will look for it on the stream",
			zap.String("entry", entry.ID), zap.Error(merr))
	}
}

// turn orders the entries' publishes: an item publishes after wait is
// closed and closes done once its publish is sent (or it has none).
type turn struct {
	wait <-chan struct{}
	done chan struct{}
	once sync.Once
}

// pass hands the turn on; an item that publishes nothing still waits for
// its predecessor, so that no later entry overtakes an earlier one.
func (t *turn) pass() {
	t.once.Do(func() {
		<-t.wait
		close(t.done)
	})
}

func closedTurn() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// giveUp dead-letters an item whose entry will never be published and
// releases the fingerprint it claimed, so that another copy of the same
// post is not folded into an entry that does not exist.
func (w *Worker) giveUp(ctx context.Context, msg jetstream.Msg, entry wire.Entry, reason error) {
	if !entry.Withdrawn && entry.Fingerprint.Exact != "" {
		if kv, err := w.fp.Get(ctx, entry.Fingerprint.Exact); err == nil && string(kv.Value()) == entry.ID {
			if err := w.fp.Delete(ctx, entry.Fingerprint.Exact, jetstream.LastRevision(kv.Revision())); err != nil {
				w.log.Warn("could not release a fingerprint", zap.String("entry", entry.ID), zap.Error(err))
			}
		}
		w.near.Remove(entry.ID)
	}
	w.deadLetter(ctx, msg, reason)
}

func lastDelivery(msg jetstream.Msg) bool {
	md, err := msg.Metadata()
	return err == nil && md.NumDelivered >= maxDeliver
}

// claimResult reads the fingerprint claim: "" when this entry holds the
// fingerprint, the holder's id when another entry does. A claim that met
// an existing key goes through KV Create, which also takes over keys whose
// last record is a delete or TTL marker.
func (w *Worker) claimResult(ctx context.Context, e wire.Entry, claim jetstream.PubAckFuture) (string, error) {
	err := waitAck(ctx, claim)
	if err == nil {
		return "", nil
	}
	if !wrongLastSequence(err) {
		return "", fmt.Errorf("normalize: claim fingerprint: %w", err)
	}
	_, err = w.fp.Create(ctx, e.Fingerprint.Exact, []byte(e.ID), jetstream.KeyTTL(w.cfg.FingerprintTTL))
	if err == nil {
		return "", nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return "", fmt.Errorf("normalize: claim fingerprint: %w", err)
	}
	kv, err := w.fp.Get(ctx, e.Fingerprint.Exact)
	if err != nil {
		return "", fmt.Errorf("normalize: read fingerprint: %w", err)
	}
	if holder := string(kv.Value()); holder != e.ID {
		return holder, nil
	}
	return "", nil // a copy of our own entry: its publication marker decides
}

func waitAck(ctx context.Context, f jetstream.PubAckFuture) error {
	_, err := waitPubAck(ctx, f)
	return err
}

func waitPubAck(ctx context.Context, f jetstream.PubAckFuture) (*jetstream.PubAck, error) {
	select {
	case pa := <-f.Ok():
		return pa, nil
	case err := <-f.Err():
		return nil, err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (w *Worker) deadLetter(ctx context.Context, msg jetstream.Msg, reason error) {
	w.stats.DeadLettered.Add(1)
	w.log.Warn("dead-lettering raw item", zap.String("subject", msg.Subject()), zap.Error(reason))
	if err := bus.DeadLetter(ctx, w.js, Stage, msg, reason); err != nil {
		w.retry(msg, err)
	}
}

func (w *Worker) retry(msg jetstream.Msg, err error) {
	w.stats.Retried.Add(1)
	w.log.Warn("transient failure, will retry", zap.String("subject", msg.Subject()), zap.Error(err))
	if nerr := bus.Retry(msg, time.Second, 2*time.Minute); nerr != nil {
		w.log.Warn("nak failed", zap.Error(nerr))
	}
}

func (w *Worker) ack(msg jetstream.Msg) {
	if err := msg.Ack(); err != nil {
		w.log.Warn("ack failed; the item will be redelivered and deduplicated", zap.Error(err))
	}
}
