package normalize

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"go.uber.org/zap"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/wire"
)

// Publication markers make "one entry per entry id" hold beyond
// JetStream's duplicate window. Nats-Msg-Id dedupes an entry published
// twice within the window; a raw item that comes back later (a collector
// re-reading a page after a restart, a replay started again, a second
// collector of the same source) would otherwise give a second entry.
//
// For every entry it publishes, the normalizer keeps a marker in wire_fp
// under pub.<entry id> (pub.<entry id>.withdrawn for a withdrawal), with
// the fingerprints' TTL (fingerprint_ttl), so the promise lasts as long
// as the fingerprint does:
//
//   - "pending <raw seq>": created (first writer wins) before the
//     publish by the delivery of the raw message at <raw seq> on WIRE_RAW.
//     It says the entry may be on WIRE_ENTRY.
//   - "published <seq>": written after the PubAck, while the raw item's
//     ack goes out.
//
// What a copy of the raw item finds decides what happens:
//
//   - no marker: it creates "pending", publishes with Nats-Msg-Id
//     entry:<raw msg id>, writes "published", acks the raw item;
//   - "published": it acks without publishing;
//   - "pending" of another raw message, younger than claimTimeout:
//     another delivery is between its claim and its PubAck (a replica, or
//     this worker); the copy is retried later and finds "published" then;
//   - "pending" of the same raw message (a redelivery after a crash or a
//     failed publish), or of another one and older than claimTimeout:
//     whoever wrote it stopped between the claim and the marker update,
//     and nobody knows whether its publish reached the stream. The
//     delivery looks on WIRE_ENTRY, on the entry's subject from the
//     marker's time on, for a message with the entry's Nats-Msg-Id.
//     Found: it writes "published" and acks. Not found: it takes the
//     marker over (a compare-and-set on its revision, so one copy wins)
//     and publishes.
//
// The pending marker is sent together with the fingerprint claim, so its
// round trip overlaps that one; an item folded into another entry keeps
// its pending marker, which costs a later copy with other text a search.
//
// Crash points: before the claim, nothing happened; between claim and
// publish, the search finds nothing and the entry is published once;
// between PubAck and "published" (or "published" lost), the search finds
// the entry and it is not published again; after both, a redelivery
// finds "published". A publish lost in the client's buffer for longer
// than claimTimeout and then sent is still caught by the duplicate
// window, which is far longer.
const (
	markerPending   = "pending"
	markerPublished = "published"
	// claimTimeout is how old a pending marker must be before another
	// delivery treats its writer as gone: well past handleTimeout, which
	// bounds the work on one raw item from receipt to ack.
	claimTimeout = 2 * handleTimeout
	// clockSkew widens the search back from the marker's time, for
	// servers of a cluster whose clocks differ.
	clockSkew = time.Minute
	// maxSearches bounds the WIRE_ENTRY searches of one worker at a time
	// (see findEntry); searchIdle is how long the server keeps a search's
	// consumer once nobody reads it.
	maxSearches = 4
	searchIdle  = time.Minute
)

// markerKey is the wire_fp key of an entry's publication marker. Entry
// ids are "e" and hex digits, valid in a key as they are.
func markerKey(e wire.Entry) string {
	if e.Withdrawn {
		return "pub." + e.ID + ".withdrawn"
	}
	return "pub." + e.ID
}

// claimState is what a delivery learns from the publication marker.
type claimState int

const (
	claimed       claimState = iota // this delivery publishes
	published                       // the entry is on WIRE_ENTRY: ack only
	claimInFlight                   // another delivery is publishing: retry later
)

func pendingValue(e wire.Entry) string {
	return markerPending + " " + strconv.FormatUint(e.Raw.Seq, 10)
}

// startClaim sends the pending marker of a new entry without waiting, so
// that its round trip overlaps the fingerprint claim's; claimPublish reads
// the answer. It returns nil when the send failed at once, and
// claimPublish then claims the slow way.
func (w *Worker) startClaim(e wire.Entry) jetstream.PubAckFuture {
	f, err := w.js.PublishMsgAsync(&nats.Msg{Subject: w.fpPrefix + markerKey(e), Data: []byte(pendingValue(e))},
		jetstream.WithExpectLastSequencePerSubject(0), jetstream.WithMsgTTL(w.cfg.FingerprintTTL))
	if err != nil {
		return nil
	}
	return f
}

// claimPublish decides whether this delivery publishes the entry. When
// it returns claimed, rev is the revision of the pending marker it holds.
// started is the claim startClaim sent, if any: it succeeds for an entry
// id never seen; otherwise the marker is read.
func (w *Worker) claimPublish(ctx context.Context, e wire.Entry, started jetstream.PubAckFuture, subject, msgID string) (claimState, uint64, error) {
	key := markerKey(e)
	mine := pendingValue(e)
	if started != nil {
		pa, err := waitPubAck(ctx, started)
		if err == nil {
			return claimed, pa.Sequence, nil
		}
		if !wrongLastSequence(err) {
			return 0, 0, fmt.Errorf("normalize: claim publication of %s: %w", e.ID, err)
		}
	}
	// KV Create also takes over a key whose last record is a delete or
	// TTL marker, which the bare claim above does not.
	rev, err := w.fp.Create(ctx, key, []byte(mine), jetstream.KeyTTL(w.cfg.FingerprintTTL))
	if err == nil {
		return claimed, rev, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return 0, 0, fmt.Errorf("normalize: claim publication of %s: %w", e.ID, err)
	}
	kv, err := w.fp.Get(ctx, key)
	if err != nil {
		// ErrKeyNotFound: it expired in between; the retry claims it.
		return 0, 0, fmt.Errorf("normalize: read publication marker of %s: %w", e.ID, err)
	}
	value := string(kv.Value())
	if strings.HasPrefix(value, markerPublished) {
		return published, 0, nil
	}
	if !strings.HasPrefix(value, markerPending) {
		return 0, 0, fmt.Errorf("normalize: publication marker %s holds %q, neither %q nor %q", key, value, markerPending, markerPublished)
	}
	if value != mine && time.Since(kv.Created()) < w.claimTimeout {
		return claimInFlight, 0, nil
	}
	seq, found, err := w.findEntry(ctx, subject, msgID, kv.Created().Add(-clockSkew))
	if err != nil {
		return 0, 0, err
	}
	if found {
		w.stats.Recovered.Add(1)
		if err := w.markPublished(ctx, key, kv.Revision(), seq); err != nil {
			return 0, 0, err
		}
		return published, 0, nil
	}
	// Nobody published it: take the claim over. Of two copies doing this
	// at once, the revision lets one through.
	rev, err = w.putMarker(ctx, key, mine, kv.Revision())
	if err != nil {
		return 0, 0, fmt.Errorf("normalize: take over the publication of %s: %w", e.ID, err)
	}
	return claimed, rev, nil
}

// markPublished records that the entry is on WIRE_ENTRY at seq.
func (w *Worker) markPublished(ctx context.Context, key string, rev, seq uint64) error {
	if _, err := w.putMarker(ctx, key, publishedValue(seq), rev); err != nil {
		return fmt.Errorf("normalize: mark %s published: %w", key, err)
	}
	return nil
}

func publishedValue(seq uint64) string { return markerPublished + " " + strconv.FormatUint(seq, 10) }

// markerMsg is the KV record that sets a marker to published at seq.
func markerMsg(prefix, key string, seq uint64) *nats.Msg {
	return &nats.Msg{Subject: prefix + key, Data: []byte(publishedValue(seq))}
}

// putMarker replaces the marker at revision rev. It writes the KV record
// itself because KV Update takes no TTL, and the marker must keep one.
func (w *Worker) putMarker(ctx context.Context, key, value string, rev uint64) (uint64, error) {
	pa, err := w.js.PublishMsg(ctx, &nats.Msg{Subject: w.fpPrefix + key, Data: []byte(value)},
		jetstream.WithExpectLastSequencePerSubject(rev), jetstream.WithMsgTTL(w.cfg.FingerprintTTL))
	if err != nil {
		return 0, err
	}
	return pa.Sequence, nil
}

// findEntry looks on WIRE_ENTRY, on subject from since on, for the
// message with Nats-Msg-Id msgID. It reads headers only, and stops at
// the subject's last message as it was when the search began.
//
// A search reads through a consumer of its own, which it deletes when it
// is done. At most maxSearches run at once: after a crash every item the
// dead worker held comes back with a pending marker, and one consumer per
// item would run into the server's limit of consumers per stream (1,000
// by default). A consumer the server refuses, like any failure here, is
// returned before ctx ends, and the item is retried.
func (w *Worker) findEntry(ctx context.Context, subject, msgID string, since time.Time) (uint64, bool, error) {
	stream, err := w.js.Stream(ctx, bus.StreamEntry)
	if err != nil {
		return 0, false, fmt.Errorf("normalize: open %s: %w", bus.StreamEntry, err)
	}
	last, err := stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("normalize: last entry on %s: %w", subject, err)
	}
	if last.Header.Get(bus.HeaderMsgID) == msgID {
		return last.Sequence, true, nil
	}
	select {
	case w.searches <- struct{}{}:
		defer func() { <-w.searches }()
	case <-ctx.Done():
		return 0, false, fmt.Errorf("normalize: waiting to search %s: %w", bus.StreamEntry, ctx.Err())
	}
	name := "normalize_search_" + nuid.Next()
	cons, err := stream.CreateConsumer(ctx, jetstream.ConsumerConfig{
		Name:          name,
		Description:   "normalizer: looks for an entry a crashed delivery may have published",
		FilterSubject: subject,
		DeliverPolicy: jetstream.DeliverByStartTimePolicy,
		OptStartTime:  &since,
		AckPolicy:     jetstream.AckNonePolicy,
		HeadersOnly:   true,
		MemoryStorage: true,
		Replicas:      1,
		// the server removes it if this process dies during the search
		InactiveThreshold: searchIdle,
	})
	if err != nil {
		return 0, false, fmt.Errorf("normalize: search %s: %w", bus.StreamEntry, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := stream.DeleteConsumer(dctx, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			w.log.Warn("could not delete a search consumer; the server removes it when idle",
				zap.String("consumer", name), zap.Duration("idle", searchIdle), zap.Error(err))
		}
	}()
	// left is what the consumer still holds: at first its count, then
	// each message's own NumPending.
	left := cons.CachedInfo().NumPending
	if left == 0 {
		return 0, false, nil // nothing on the subject since then: aged out
	}
	for {
		wait := 2 * time.Second
		if dl, ok := ctx.Deadline(); ok {
			wait = min(wait, time.Until(dl))
		}
		if wait < 100*time.Millisecond {
			return 0, false, fmt.Errorf("normalize: search %s: %w", bus.StreamEntry, context.DeadlineExceeded)
		}
		// A fetch returns once it has its batch: asking for no more than
		// the consumer holds spares waiting out the wait for the rest.
		batch, err := cons.Fetch(int(min(256, left)), jetstream.FetchMaxWait(wait))
		if err != nil {
			return 0, false, fmt.Errorf("normalize: search %s: %w", bus.StreamEntry, err)
		}
		// The batch is read to its end even after a hit: a fetch left
		// half-read keeps its goroutine waiting.
		got, seq, found, end := 0, uint64(0), false, false
		for m := range batch.Messages() {
			got++
			md, err := m.Metadata()
			if err != nil || found || end {
				continue
			}
			if m.Headers().Get(bus.HeaderMsgID) == msgID {
				seq, found = md.Sequence.Stream, true
			}
			end, left = md.Sequence.Stream >= last.Sequence, md.NumPending
		}
		if found {
			return seq, true, nil
		}
		if berr := batch.Error(); berr != nil && !errors.Is(berr, nats.ErrTimeout) {
			return 0, false, fmt.Errorf("normalize: search %s: %w", bus.StreamEntry, berr)
		}
		if end || left == 0 {
			return 0, false, nil // read up to the subject's last message
		}
		if got == 0 {
			// Not "not found": an answer that did not come in time must
			// not let the entry be published a second time.
			return 0, false, fmt.Errorf("normalize: search %s: no messages within %s", bus.StreamEntry, wait)
		}
	}
}

// wrongLastSequence reports whether a publish was refused because the
// subject's last sequence was not the expected one: the key exists.
func wrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
