package normalize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
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

// ConsumerConfig is the durable pull consumer on WIRE_RAW.
func ConsumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       ConsumerName,
		Description:   "normalizer: raw items to entries",
		FilterSubject: bus.SubjectRawAll,
		AckPolicy:     jetstream.AckExplicitPolicy,
		MaxDeliver:    8,
		// BackOff paces redeliveries after a missed ack (a crashed replica);
		// its first step is the ack wait. Explicit naks choose their own delay.
		BackOff:       []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute},
		MaxAckPending: 4096,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
}

// Stats counts what a worker did.
type Stats struct {
	Entries      atomic.Int64
	Folded       atomic.Int64
	NearDups     atomic.Int64
	DeadLettered atomic.Int64
	Retried      atomic.Int64
}

// Worker consumes WIRE_RAW and publishes entries on WIRE_ENTRY.
type Worker struct {
	cfg   Config
	js    jetstream.JetStream
	fp    jetstream.KeyValue
	cons  jetstream.Consumer
	near  *nearIndex
	log   *zap.Logger
	stats Stats
}

// NewWorker binds a worker to the shared durable consumer. The topology
// must exist (bus.EnsureTopology).
func NewWorker(ctx context.Context, cfg Config, js jetstream.JetStream, log *zap.Logger) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	fp, err := js.KeyValue(ctx, bus.BucketFingerprint)
	if err != nil {
		return nil, fmt.Errorf("normalize: open %s: %w", bus.BucketFingerprint, err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, bus.StreamRaw, ConsumerConfig())
	if err != nil {
		return nil, fmt.Errorf("normalize: consumer: %w", err)
	}
	return &Worker{
		cfg: cfg, js: js, fp: fp, cons: cons, log: log.Named(Stage),
		near: newNearIndex(cfg.NearDupDistance, cfg.NearDupWindow, cfg.NearDupMaxEntries),
	}, nil
}

// Stats returns the worker's counters.
func (w *Worker) Stats() *Stats { return &w.stats }

// Run consumes until ctx ends, then finishes the messages in hand.
func (w *Worker) Run(ctx context.Context) error {
	w.log.Info("normalizer started")
	defer w.log.Info("normalizer stopped", zap.Int64("entries", w.stats.Entries.Load()))
	// In-flight work finishes on a context that outlives ctx, so that a
	// shutdown does not abandon a message between publish and ack.
	work := context.WithoutCancel(ctx)
	return bus.Consume(ctx, w.cons, func(msg jetstream.Msg) {
		hctx, cancel := context.WithTimeout(work, 30*time.Second)
		defer cancel()
		w.handle(hctx, msg)
	}, jetstream.PullMaxMessages(256))
}

func (w *Worker) handle(ctx context.Context, msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		w.log.Error("message without metadata", zap.Error(err))
		_ = msg.Term()
		return
	}
	ref := provenance.RawRef{Stream: md.Stream, Seq: md.Sequence.Stream, MsgID: msg.Headers().Get(bus.HeaderMsgID)}
	var raw wire.RawItem
	if err := json.Unmarshal(msg.Data(), &raw); err != nil {
		w.deadLetter(ctx, msg, fmt.Errorf("normalize: raw item is not JSON: %w", err))
		return
	}
	entry, err := Normalize(w.cfg, raw, ref)
	if err != nil {
		w.deadLetter(ctx, msg, err)
		return
	}
	folded, err := w.claim(ctx, entry)
	if err != nil {
		w.retry(msg, err)
		return
	}
	if folded != "" {
		w.stats.Folded.Add(1)
		w.log.Debug("exact duplicate folded", zap.String("msg_id", ref.MsgID), zap.String("entry", folded))
		w.ack(msg)
		return
	}
	if entry.RepostOf == "" && entry.DuplicateOf == "" {
		h, _ := strconv.ParseUint(entry.Fingerprint.SimHash, 16, 64)
		if id, ok := w.near.Match(h); ok && id != entry.ID {
			entry.DuplicateOf = id
			w.stats.NearDups.Add(1)
		}
		if entry.DuplicateOf == "" {
			w.near.Add(entry.ID, h, entry.PublishedAt)
		}
	}
	if err := w.publish(ctx, entry); err != nil {
		w.retry(msg, err)
		return
	}
	w.stats.Entries.Add(1)
	w.ack(msg)
}

// claim records the entry's exact fingerprint in wire_fp; the first writer
// wins across replicas. It returns the id of the entry that holds the
// fingerprint when that is another entry.
func (w *Worker) claim(ctx context.Context, e wire.Entry) (string, error) {
	_, err := w.fp.Create(ctx, e.Fingerprint.Exact, []byte(e.ID), jetstream.KeyTTL(w.cfg.FingerprintTTL))
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
	return "", nil // a redelivery of our own entry: publish again, JetStream dedupes
}

func (w *Worker) publish(ctx context.Context, e wire.Entry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("normalize: encode entry: %w", err)
	}
	out := nats.NewMsg(bus.EntrySubject(e.Source.Kind, e.Source.ID))
	out.Data = data
	out.Header.Set(bus.HeaderMsgID, bus.EntryMsgID(e.Raw.MsgID))
	if _, err := w.js.PublishMsg(ctx, out); err != nil {
		return fmt.Errorf("normalize: publish entry: %w", err)
	}
	return nil
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
