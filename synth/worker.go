package synth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/wire"
)

// flushTimeout bounds one flush, from the first snapshot publish to the
// last PubAck; the stories stay dirty and the next tick tries again.
const flushTimeout = 30 * time.Second

// Consumer and priority group names of the synthesizer.
const (
	ConsumerName  = "synth"
	PriorityGroup = "synth"
	Stage         = "synth"
)

// ConsumerConfig is the synthesizer's durable pull consumer on WIRE_ENTRY.
// The pinned priority group makes one worker active; standbys take over
// when it stops pulling for PinnedTTL.
func ConsumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:        ConsumerName,
		Description:    "synthesizer: entries to stories",
		FilterSubject:  bus.SubjectEntryAll,
		AckPolicy:      jetstream.AckExplicitPolicy,
		MaxDeliver:     10,
		BackOff:        []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute},
		MaxAckPending:  20000,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		PriorityPolicy: jetstream.PriorityPolicyPinned,
		PriorityGroups: []string{PriorityGroup},
		PinnedTTL:      10 * time.Second,
	}
}

// Stats counts what a worker did.
type Stats struct {
	Entries      atomic.Int64
	Snapshots    atomic.Int64
	CaughtUp     atomic.Int64
	DeadLettered atomic.Int64
	Truncated    atomic.Int64
	// OrphanWithdrawals counts withdrawals of entries no active story
	// holds; they are acknowledged and change nothing.
	OrphanWithdrawals atomic.Int64
	// LateDuplicates counts entries whose id was placed before and whose
	// story is no longer active: acknowledged, no story changed.
	LateDuplicates atomic.Int64
	// Fenced counts the times another synthesizer had published a story
	// since this worker last did: the worker dropped its state (see fence).
	Fenced atomic.Int64
}

// Worker consumes WIRE_ENTRY and publishes story snapshots on WIRE_STORY.
type Worker struct {
	cfg  Config
	js   jetstream.JetStream
	cons jetstream.Consumer
	log  *zap.Logger
	// maxPayload is the largest snapshot the server takes.
	maxPayload int

	mu      sync.Mutex
	cl      *Clusterer
	applied uint64 // highest WIRE_ENTRY sequence given to the clusterer
	pending []pendingMsg
	// seqs holds the WIRE_STORY sequence of each story's last snapshot, as
	// this worker knows it: every snapshot is published on the condition
	// that it is still the subject's last (see fence). A story without
	// one is looked up before its first publish (learnVersion).
	seqs map[string]uint64
	// parked holds merged-away stories whose final snapshot is out but
	// which stay in memory until the next merge pass has run (see retire).
	parked []parkedStory
	// seen holds the ids of the entries placed, for late duplicates.
	seen  seenEntries
	stats Stats
}

// parkedStory is a merged-away story kept until the clusterer has made
// more than pass merge passes.
type parkedStory struct {
	id   string
	pass uint64
}

type pendingMsg struct {
	msg     jetstream.Msg
	entryID string
}

// flushTick is how often the worker looks for stories due a snapshot. It
// is short so that the first change to a quiet story goes out at once;
// SnapshotInterval still bounds how often any one story is published.
const flushTick = 5 * time.Millisecond

// NewWorker binds a worker to the synthesizer's durable consumer.
func NewWorker(ctx context.Context, cfg Config, nc *nats.Conn, js jetstream.JetStream, log *zap.Logger) (*Worker, error) {
	cl, err := NewClusterer(cfg)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, bus.StreamEntry, ConsumerConfig())
	if err != nil {
		return nil, fmt.Errorf("synth: consumer: %w", err)
	}
	return &Worker{
		cfg: cfg, js: js, cons: cons, log: log.Named(Stage), cl: cl,
		maxPayload: int(nc.MaxPayload()), seqs: make(map[string]uint64),
	}, nil
}

// Stats returns the worker's counters.
func (w *Worker) Stats() *Stats { return &w.stats }

// Run consumes until ctx ends. Snapshots of changed stories go out every
// SnapshotInterval; entries are acknowledged only once the snapshot that
// holds them has its PubAck. On shutdown the last changes are flushed.
func (w *Worker) Run(ctx context.Context) error {
	w.log.Info("synthesizer started")
	work := context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	tickCtx, stopTick := context.WithCancel(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(flushTick)
		defer t.Stop()
		for {
			select {
			case <-tickCtx.Done():
				return
			case <-t.C:
				// A PubAck that never comes must not hold the worker's lock
				// (and with it every entry) forever.
				fctx, cancel := context.WithTimeout(work, flushTimeout)
				if err := w.flushDue(fctx); err != nil {
					w.log.Warn("snapshot flush failed; will retry", zap.Error(err))
				}
				cancel()
			}
		}
	}()
	err := bus.Consume(ctx, w.cons, func(msg jetstream.Msg) { w.handle(work, msg) },
		jetstream.PullPriorityGroup(PriorityGroup), jetstream.PullMaxMessages(512))
	stopTick()
	wg.Wait()
	fctx, cancel := context.WithTimeout(work, 30*time.Second)
	defer cancel()
	if ferr := w.Flush(fctx); ferr != nil {
		w.log.Warn("final flush failed; unacknowledged entries will be redelivered", zap.Error(ferr))
	}
	// Hand the pin over at once on a clean stop; a crashed worker's pin
	// lapses after PinnedTTL instead.
	if stream, serr := w.js.Stream(fctx, bus.StreamEntry); serr == nil {
		if uerr := stream.UnpinConsumer(fctx, ConsumerName, PriorityGroup); uerr != nil {
			w.log.Debug("unpin on stop failed; the pin lapses after its TTL", zap.Error(uerr))
		}
	}
	w.log.Info("synthesizer stopped", zap.Int64("entries", w.stats.Entries.Load()), zap.Int64("snapshots", w.stats.Snapshots.Load()))
	return err
}

func (w *Worker) handle(ctx context.Context, msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		_ = msg.Term()
		return
	}
	var e wire.Entry
	if err := json.Unmarshal(msg.Data(), &e); err != nil || e.ID == "" {
		if err == nil {
			err = errors.New("entry has no id")
		}
		w.stats.DeadLettered.Add(1)
		w.log.Warn("dead-lettering entry", zap.Uint64("seq", md.Sequence.Stream), zap.Error(err))
		if derr := bus.DeadLetter(ctx, w.js, Stage, msg, fmt.Errorf("synth: bad entry: %w", err)); derr != nil {
			_ = bus.Retry(msg, time.Second, time.Minute)
		}
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if seq := md.Sequence.Stream; seq <= w.applied {
		if _, held := w.cl.StoryOf(e.ID); !held {
			// A redelivery of an entry applied before whose story has gone
			// stale and out of memory since: its last snapshot holds it.
			// Adding it again would found a second story under its old id.
			if err := msg.Ack(); err != nil {
				w.log.Warn("ack failed; entry will be redelivered", zap.Error(err))
			}
			return
		}
	} else if seq > w.applied+1 {
		if err := w.catchUp(ctx, seq-1); err != nil {
			w.log.Warn("catch-up from WIRE_ENTRY failed; will retry", zap.Error(err))
			_ = bus.Retry(msg, time.Second, time.Minute)
			return
		}
	}
	if md.Sequence.Stream > w.applied {
		w.applied = md.Sequence.Stream
	}
	if w.lateDuplicate(e) {
		w.stats.LateDuplicates.Add(1)
		w.log.Info("late duplicate of an entry whose story is no longer active: acked, no story changed",
			zap.String("entry", e.ID), zap.Uint64("seq", md.Sequence.Stream))
		if err := msg.Ack(); err != nil {
			w.log.Warn("ack failed; entry will be redelivered", zap.Error(err))
		}
		return
	}
	// A redelivered entry the clusterer already holds changes nothing and
	// publishes nothing: its story went out when it was first applied.
	id := w.cl.Add(e)
	w.noteSeen(e)
	w.stats.Entries.Add(1)
	if id == "" {
		// A withdrawal of an entry whose story is gone from memory: no
		// snapshot carries it, so there is nothing to wait for.
		w.stats.OrphanWithdrawals.Add(1)
		w.log.Debug("withdrawal of an entry no active story holds", zap.String("entry", e.ID), zap.Uint64("seq", md.Sequence.Stream))
		if err := msg.Ack(); err != nil {
			w.log.Warn("ack failed; entry will be redelivered", zap.Error(err))
		}
		return
	}
	w.pending = append(w.pending, pendingMsg{msg, e.ID})
}

// catchUp feeds the clusterer the entries between the last one it saw and
// upTo, which another worker (or this one before a restart) already
// handled. It is how a restarted or newly pinned worker rebuilds its
// state; those stories' snapshots are already published.
//
// A worker with no state replays WIRE_ENTRY from its first message, not
// from some time before now: the clusterer's decisions depend on
// everything it saw (document frequencies, which stories are still
// active and how far they reach back, when the merge passes fell), so
// only the whole stream rebuilds the state of a worker that never
// stopped, and with it the same ids and assignments from here on. The
// cost is replaying up to the stream's MaxAge of entries at start-up
// (see synth/README.md).
func (w *Worker) catchUp(ctx context.Context, upTo uint64) error {
	began := time.Now()
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{bus.SubjectEntryAll}}
	if w.applied == 0 {
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	} else {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, w.applied+1
	}
	// Entries at or below the ack floor are in published snapshots; those
	// above it may have died with the previous worker before their
	// snapshot went out, so their stories are published again.
	info, err := w.cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("synth: catch-up: consumer info: %w", err)
	}
	ackFloor := info.AckFloor.Stream
	republish := make(map[string]bool)
	oc, err := w.js.OrderedConsumer(ctx, bus.StreamEntry, cfg)
	if err != nil {
		return fmt.Errorf("synth: catch-up consumer: %w", err)
	}
	n := 0
	for w.applied < upTo {
		// No more than the range holds: a fetch for more would wait out
		// its MaxWait for messages that are not there yet.
		batch, err := oc.Fetch(int(min(1000, upTo-w.applied)), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return fmt.Errorf("synth: catch-up fetch: %w", err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			md, err := m.Metadata()
			if err != nil || md.Sequence.Stream > upTo {
				continue
			}
			var e wire.Entry
			if json.Unmarshal(m.Data(), &e) == nil && e.ID != "" {
				w.replay(e, md.Sequence.Stream > ackFloor, republish)
				n++
			}
			w.applied = md.Sequence.Stream
		}
		if batch.Error() != nil && !errors.Is(batch.Error(), nats.ErrTimeout) {
			return fmt.Errorf("synth: catch-up: %w", batch.Error())
		}
		if got == 0 {
			break // the range is exhausted (deleted or aged-out messages)
		}
	}
	w.applied = max(w.applied, upTo)
	// The other stories' snapshots were published by whoever handled the entries.
	w.cl.TakeDirty()
	for id := range republish {
		w.cl.dirty[id] = true
	}
	w.stats.CaughtUp.Add(int64(n))
	if n > 0 {
		stories, entries := w.cl.Len()
		w.log.Info("rebuilt state from WIRE_ENTRY", zap.Int("entries", n), zap.Uint64("up_to_seq", upTo),
			zap.Duration("took", time.Since(began)), zap.Int("stories_held", stories), zap.Int("entries_held", entries),
			zap.Int("republish", len(republish)))
	}
	return nil
}

// replay gives the clusterer one entry that a worker before this one
// already handled. Every story it changes is noted for republishing when
// the entry is above the ack floor (its snapshot may never have gone
// out); otherwise the change is published already, and a story it left
// stale or merged away is dropped from memory as the worker that
// published it did, so that a replay of weeks holds only what is active.
func (w *Worker) replay(e wire.Entry, aboveAckFloor bool, republish map[string]bool) {
	if w.lateDuplicate(e) {
		return // the worker that handled it skipped it too
	}
	w.cl.Add(e)
	w.noteSeen(e)
	for id := range w.cl.dirty {
		switch {
		case aboveAckFloor:
			republish[id] = true
		case !republish[id]:
			w.retire(id)
		}
	}
	clear(w.cl.dirty)
	w.releaseParked()
}

// lateDuplicate reports whether e is a copy of an entry placed before
// whose story has gone stale or been forgotten since. Placing it again
// would found a one-member story, under the old story's id when it was
// the founder, replacing that story's last snapshot. An entry an active
// story holds is not one: the clusterer takes it as a no-op, and its
// delivery is acked once that story's snapshot is out. Withdrawals of
// placed entries are what they are for.
func (w *Worker) lateDuplicate(e wire.Entry) bool {
	if e.Withdrawn || !w.seen.has(e.ID) {
		return false
	}
	_, held := w.cl.StoryOf(e.ID)
	return !held
}

func (w *Worker) noteSeen(e wire.Entry) {
	if !e.Withdrawn {
		w.seen.add(e.ID, w.cl.clock)
	}
}

// retire drops a story that is no longer active from memory once its
// last snapshot is out. A merged-away story stays until the next merge
// pass has run: the pass may hold it in its queue, and follows it to its
// survivor, so dropping it earlier would make the pass's decisions hang
// on when snapshots happened to be flushed, and a worker would decide
// otherwise than a replay of the same stream.
func (w *Worker) retire(id string) {
	s, ok := w.cl.stories[id]
	if !ok || s.active {
		return
	}
	if s.mergedInto != "" && w.cfg.MergePassInterval > 0 {
		w.parked = append(w.parked, parkedStory{id, w.cl.passes})
		return
	}
	w.cl.Forget(id)
	delete(w.seqs, id)
}

// releaseParked forgets the parked stories whose next merge pass has run.
// They are parked in the order of the passes they wait for.
func (w *Worker) releaseParked() {
	n := 0
	for n < len(w.parked) && w.parked[n].pass < w.cl.passes {
		w.cl.Forget(w.parked[n].id)
		delete(w.seqs, w.parked[n].id)
		n++
	}
	if n > 0 {
		w.parked = append(w.parked[:0], w.parked[n:]...)
	}
}

// Flush publishes a snapshot of every story changed since the last flush,
// waits for their PubAcks, then acknowledges the entries they hold.
func (w *Worker) Flush(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flush(ctx, true)
}

func (w *Worker) flushDue(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flush(ctx, false)
}

// flush publishes the stories due a snapshot (all changed stories when
// all is set), then acknowledges the entries whose stories are out.
func (w *Worker) flush(ctx context.Context, all bool) error {
	every := w.cfg.SnapshotInterval
	if all {
		every = 0
	}
	now := time.Now()
	ids := w.cl.TakeDue(now, every)
	if len(ids) == 0 && len(w.pending) == 0 {
		return nil
	}
	type inFlight struct {
		id string
		f  jetstream.PubAckFuture
	}
	futures := make([]inFlight, 0, len(ids))
	var stale []string
	fail := func(err error) error {
		for _, id := range ids {
			w.cl.dirty[id] = true
		}
		return err
	}
	for _, id := range ids {
		if err := w.learnVersion(ctx, id); err != nil {
			return fail(err)
		}
		st, ok := w.cl.Snapshot(id)
		if !ok {
			continue
		}
		data, err := w.encode(&st)
		if err != nil {
			return fail(err)
		}
		msg := nats.NewMsg(bus.StorySubject(id))
		msg.Data = data
		msg.Header.Set(bus.HeaderMsgID, "story:"+id+":"+strconv.FormatInt(st.Version, 10))
		f, err := w.js.PublishMsgAsync(msg, jetstream.WithExpectLastSequencePerSubject(w.seqs[id]))
		if err != nil {
			return fail(fmt.Errorf("synth: publish snapshot: %w", err))
		}
		futures = append(futures, inFlight{id, f})
		if st.Status != wire.StatusDeveloping {
			stale = append(stale, id)
		}
	}
	for _, id := range ids {
		w.cl.MarkPublished(id, now)
	}
	// Every future is read, so that each stored snapshot's sequence is
	// known before any error returns; a story whose outcome is unknown
	// is looked up again before its next publish.
	var failed error
	fenced := ""
	for _, p := range futures {
		select {
		case ack := <-p.f.Ok():
			if ack.Duplicate {
				// Another worker stored this story's version already.
				fenced = p.id
				delete(w.seqs, p.id)
				continue
			}
			w.seqs[p.id] = ack.Sequence
			w.stats.Snapshots.Add(1)
		case err := <-p.f.Err():
			delete(w.seqs, p.id)
			if wrongLastSequence(err) {
				fenced = p.id
			} else if failed == nil {
				failed = fmt.Errorf("synth: snapshot of %s not stored: %w", p.id, err)
			}
		case <-ctx.Done():
			delete(w.seqs, p.id)
			if failed == nil {
				failed = fmt.Errorf("synth: waiting for snapshot acks: %w", ctx.Err())
			}
		}
	}
	if fenced != "" {
		w.fence(fenced)
		return fmt.Errorf("synth: another synthesizer published story %s since this worker last did; state dropped, rebuilding from %s", fenced, bus.StreamEntry)
	}
	if failed != nil {
		return fail(failed)
	}
	keep := w.pending[:0]
	for _, p := range w.pending {
		if w.cl.Unpublished(p.entryID) {
			keep = append(keep, p)
			continue
		}
		if err := p.msg.Ack(); err != nil {
			w.log.Warn("ack failed; entry will be redelivered", zap.Error(err))
		}
	}
	clear(w.pending[len(keep):])
	w.pending = keep
	for _, id := range stale {
		w.retire(id)
	}
	w.releaseParked()
	return nil
}

// learnVersion reads the version of a story's last snapshot from
// WIRE_STORY the first time this worker publishes it, so that versions keep
// rising across restarts and fail-overs.
func (w *Worker) learnVersion(ctx context.Context, id string) error {
	if _, ok := w.seqs[id]; ok {
		return nil
	}
	// One request must not hold the worker's lock for the whole flush
	// while a cluster elects the stream's leader.
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	stream, err := w.js.Stream(ctx, bus.StreamStory)
	if err != nil {
		return fmt.Errorf("synth: open %s: %w", bus.StreamStory, err)
	}
	m, err := stream.GetLastMsgForSubject(ctx, bus.StorySubject(id))
	var seq uint64
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
	case err != nil:
		return fmt.Errorf("synth: last snapshot of %s: %w", id, err)
	default:
		var prev struct {
			Version int64 `json:"version"`
		}
		if json.Unmarshal(m.Data, &prev) == nil {
			w.cl.SetVersion(id, prev.Version)
		}
		seq = m.Sequence
	}
	w.seqs[id] = seq
	return nil
}

// lookupTimeout bounds one look-up of a story's last snapshot.
const lookupTimeout = 5 * time.Second

// fence drops everything the worker holds after WIRE_STORY refused one of
// its snapshots because another synthesizer had published that story
// since this worker last did. Only one worker holds the consumer's pin,
// but a worker that stalled (a flush waiting out a leader election) can
// wake after its pin moved to a standby, which rebuilt from WIRE_ENTRY
// and published since; the stalled worker's snapshots would replace
// newer ones and drop their members. Every snapshot is therefore
// published on the condition that the story's last message is still the
// one this worker published or read (Nats-Expected-Last-Subject-Sequence).
// When it is not, this worker's state is behind, so it is dropped: the
// entries awaiting acks are handed back (Nak) to whichever worker holds
// the pin, and should that be this one, it rebuilds from WIRE_ENTRY as a
// fresh worker does and publishes the stories the unacknowledged entries
// touched, each after reading its last snapshot.
func (w *Worker) fence(id string) {
	w.stats.Fenced.Add(1)
	w.log.Warn("another synthesizer published a story since this worker last did; dropping state to rebuild from "+bus.StreamEntry,
		zap.String("story", id), zap.Int("pending_entries", len(w.pending)))
	cl, err := NewClusterer(w.cfg)
	if err != nil { // not reached: the config was accepted when the worker was made
		w.log.Error("cannot make a fresh clusterer; keeping the old state", zap.Error(err))
		return
	}
	for _, p := range w.pending {
		if err := p.msg.Nak(); err != nil {
			w.log.Debug("nak failed; the entry is redelivered after its ack wait", zap.Error(err))
		}
	}
	w.cl, w.applied, w.pending, w.parked = cl, 0, nil, nil
	w.seqs = make(map[string]uint64)
	w.seen = seenEntries{}
}

// wrongLastSequence reports whether err is JetStream refusing a publish
// whose expected last subject sequence is not the subject's last
// (10071; replicated streams answer 10164).
func wrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// encode marshals a snapshot, halving its provenance list until it fits
// under the server's max payload; Truncated counts the records left out.
func (w *Worker) encode(st *wire.Story) ([]byte, error) {
	for {
		data, err := json.Marshal(st)
		if err != nil {
			return nil, fmt.Errorf("synth: encode snapshot: %w", err)
		}
		limit := w.maxPayload - 1024 // room for headers
		if len(data) <= limit || len(st.Provenance) <= 1 {
			return data, nil
		}
		keep := len(st.Provenance) / 2
		st.Truncated += len(st.Provenance) - keep
		st.Provenance = st.Provenance[:keep]
		w.stats.Truncated.Add(1)
		w.log.Warn("story snapshot over max payload; provenance list truncated",
			zap.String("story", st.ID), zap.Int("kept", keep), zap.Int("truncated", st.Truncated))
	}
}

// Idle reports whether every entry handed to the worker has been flushed.
func (w *Worker) Idle() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending) == 0 && len(w.cl.dirty) == 0
}
