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
	"github.com/nats-io/nuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/wire"
)

// flushTimeout bounds one flush, from the first snapshot publish to the
// last PubAck; the stories stay dirty and the next tick tries again.
const flushTimeout = 30 * time.Second

// maxDeliver bounds the deliveries of one entry.
const maxDeliver = 10

// Consumer and priority group names of the synthesizer.
const (
	ConsumerName  = "synth"
	PriorityGroup = "synth"
	Stage         = "synth"
)

// ConsumerConfig is the synthesizer's durable pull consumer on WIRE_ENTRY;
// backoff is Config.RedeliveryBackoff. The pinned priority group makes one
// worker active; standbys take over when it stops pulling for PinnedTTL.
func ConsumerConfig(backoff []time.Duration) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:        ConsumerName,
		Description:    "synthesizer: entries to stories",
		FilterSubject:  bus.SubjectEntryAll,
		AckPolicy:      jetstream.AckExplicitPolicy,
		MaxDeliver:     maxDeliver,
		BackOff:        backoff,
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
	// StoriesFounded, StoriesMerged, StoriesStale and StoriesSplit count
	// the stories founded, merged away into another, gone stale and split
	// off another (see Config.SplitRatio) while the worker
	// placed live entries. What a rebuild from WIRE_ENTRY replays (at
	// start, after a fence) is not counted again: the worker that first
	// placed it counted it, or, for entries published while no worker ran,
	// no one does.
	StoriesFounded atomic.Int64
	StoriesMerged  atomic.Int64
	StoriesStale   atomic.Int64
	StoriesSplit   atomic.Int64
	// StoriesActive is how many stories can still take entries, after the
	// worker's last flush.
	StoriesActive atomic.Int64 `metric:"gauge"`
	// StoriesHeld and EntriesHeld are what the worker holds in memory
	// after its last flush: its stories (the active ones, and stale or
	// merged ones until their last snapshot is out and the merge pass has
	// run), and the entries of its active stories.
	StoriesHeld atomic.Int64 `metric:"gauge"`
	EntriesHeld atomic.Int64 `metric:"gauge"`
}

// Worker consumes WIRE_ENTRY and publishes story snapshots on WIRE_STORY.
type Worker struct {
	cfg  Config
	js   jetstream.JetStream
	cons jetstream.Consumer
	log  *zap.Logger
	// maxPayload is the largest snapshot the server takes.
	maxPayload int
	// fetchWait and fetchBatch are how long one fetch of a catch-up
	// waits for its batch and how many entries it asks for
	// (catchUpFetchWait and catchUpFetch; tests set others).
	fetchWait  time.Duration
	fetchBatch int

	mu      sync.Mutex
	cl      *Clusterer
	applied uint64 // highest WIRE_ENTRY sequence given to the clusterer
	pending []pendingMsg
	// seqs holds the WIRE_STORY sequence of each story's last snapshot, as
	// this worker knows it: every snapshot is published on the condition
	// that it is still the subject's last (see fence). A story without
	// one is looked up before its first publish (learnVersion).
	seqs map[string]uint64
	// behind is a story whose last snapshot came from a worker that had
	// placed more entries than this one (HeaderApplied): the flush fences.
	behind string
	// tail is the last WIRE_STORY sequence that this worker accounts for:
	// its own last snapshot, or the stream's end when it (re)built its
	// state. Every snapshot is published on the condition that the
	// stream's last message is the one before it (Nats-Expected-Last-
	// Sequence), so a snapshot anyone else stored since — a worker on the
	// other side of a partition, one that took the pin while this one
	// stalled — refuses this worker's next and fences it. tailState says
	// how tail is to be read before the next publish.
	tail      uint64
	tailState tailState
	// writer names this worker on its snapshots (HeaderWriter).
	writer string
	// flushing makes one flush at a time; a flush holds mu only while it
	// builds and sends snapshots and while it handles their PubAcks.
	flushing sync.Mutex
	// lookups holds the look-ups of last snapshots under way or done but
	// not yet taken, by story (see learnVersions); lookupSlots bounds how
	// many are in flight, and lookingUp counts their goroutines.
	lookups     map[string]*versionLookup
	lookupSlots chan struct{}
	lookingUp   sync.WaitGroup
	// lookupCtx, set by Run, ends the look-ups when the worker stops.
	lookupCtx context.Context
	// storyStream is WIRE_STORY, opened at the first look-up.
	streamMu    sync.Mutex
	storyStream jetstream.Stream
	// catchingUpTo is the sequence the last catch-up set out to reach;
	// above applied, it failed half-way and is resumed before anything
	// else. republish holds the stories it found changed above the ack
	// floor (see catchUp).
	catchingUpTo uint64
	republish    map[string]bool
	// parked holds merged-away stories whose final snapshot is out but
	// which stay in memory until the next merge pass has run (see retire).
	parked []parkedStory
	// seen holds the ids of the entries placed, for late duplicates.
	seen  seenEntries
	stats Stats
	// assignment observes the seconds from an entry's storing on
	// WIRE_ENTRY to its placing in a story, for live entries only.
	assignment prometheus.Histogram
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
	cons, err := js.CreateOrUpdateConsumer(ctx, bus.StreamEntry, ConsumerConfig(cfg.RedeliveryBackoff))
	if err != nil {
		return nil, fmt.Errorf("synth: consumer: %w", err)
	}
	return &Worker{
		cfg: cfg, js: js, cons: cons, log: log.Named(Stage), cl: cl,
		maxPayload: int(nc.MaxPayload()), seqs: make(map[string]uint64),
		writer:    nuid.Next(),
		fetchWait: catchUpFetchWait, fetchBatch: catchUpFetch,
		assignment: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "newswire", Subsystem: "synth", Name: "assignment_latency_seconds",
			Help: "seconds from an entry's storing on " + bus.StreamEntry + " to its placing in a story, " +
				"for entries placed live (not those a rebuild replays)",
			// 2 ms to 33 s: a worker keeping up places an entry
			// in milliseconds; one behind, in as long as its backlog takes.
			Buckets: prometheus.ExponentialBuckets(0.002, 2, 15),
		}),
	}, nil
}

// Collectors returns the worker's metrics that are not counters in Stats.
func (w *Worker) Collectors() []prometheus.Collector {
	return []prometheus.Collector{w.assignment}
}

// tailState says what a worker knows of WIRE_STORY's last sequence.
type tailState int

const (
	// tailAdopt: the worker's state was built from WIRE_ENTRY with no
	// snapshot of its own since (it started, or was fenced), so it takes
	// the stream's end as it finds it: whatever others published is
	// checked story by story (lastSnapshot, HeaderApplied) before it
	// publishes over it.
	tailAdopt tailState = iota
	// tailKnown: tail is the sequence of this worker's last snapshot.
	tailKnown
	// tailVerify: a publish's outcome is unknown (no PubAck: a timeout, a
	// lost connection, a partition). The stream's last message is read:
	// if this worker wrote it, nothing came between; otherwise another
	// worker published and this one is fenced.
	tailVerify
)

// HeaderWriter on a snapshot names the worker that published it, a random
// id for each worker made.
const HeaderWriter = "Newswire-Writer"

// learnTail reads WIRE_STORY's last sequence as tailState asks, and
// returns the story of the stream's last message when another worker
// wrote it since this worker's publish of unknown outcome: the caller
// fences.
func (w *Worker) learnTail(ctx context.Context) (string, error) {
	if w.tailState == tailKnown {
		return "", nil
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	stream, err := w.stream(ctx)
	if err != nil {
		return "", err
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return "", fmt.Errorf("synth: %s's last sequence: %w", bus.StreamStory, err)
	}
	last := info.State.LastSeq
	if w.tailState == tailVerify && last != w.tail && last != 0 {
		m, err := stream.GetMsg(ctx, last)
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			// Gone already (a story's history limit): read again.
			return "", fmt.Errorf("synth: %s's last message %d: gone while read", bus.StreamStory, last)
		case err != nil:
			return "", fmt.Errorf("synth: %s's last message %d: %w", bus.StreamStory, last, err)
		case m.Header.Get(HeaderWriter) != w.writer:
			return m.Subject, nil
		}
	}
	w.tail, w.tailState = last, tailKnown
	return "", nil
}

// Stats returns the worker's counters.
func (w *Worker) Stats() *Stats { return &w.stats }

// Run consumes until ctx ends. Snapshots of changed stories go out every
// SnapshotInterval; entries are acknowledged only once the snapshot that
// holds them has its PubAck. On shutdown the last changes are flushed.
func (w *Worker) Run(ctx context.Context) error {
	w.log.Info("synthesizer started")
	work := context.WithoutCancel(ctx)
	lookupCtx, stopLookups := context.WithCancel(work)
	w.mu.Lock()
	w.lookupCtx = lookupCtx
	w.mu.Unlock()
	defer func() {
		stopLookups()
		w.lookingUp.Wait()
	}()
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
	if seq := md.Sequence.Stream; seq > w.applied+1 || w.catchingUpTo > w.applied {
		// Catch up to the stream's end, not only to this entry: the
		// worker before this one may have published stories from entries
		// up to there (and merged or closed them), and a worker rebuilt
		// only to here would publish those stories' older states after
		// the newer ones. The entries between come again as redeliveries,
		// which change nothing and are acked once their stories are out.
		// A catch-up that failed half-way is finished before anything
		// else: the entries after it are no more live than those it
		// replayed, and an entry it replayed is not acked before the
		// story it changed is published again.
		upTo := max(seq-1, w.catchingUpTo)
		if last, err := w.lastEntrySeq(ctx); err == nil {
			upTo = max(upTo, last)
		} else {
			w.log.Debug("WIRE_ENTRY's last sequence not read; catching up to this entry", zap.Error(err))
		}
		if err := w.catchUp(ctx, upTo); err != nil {
			w.log.Warn("catch-up from WIRE_ENTRY failed; will retry", zap.Error(err))
			_ = bus.Retry(msg, time.Second, time.Minute)
			return
		}
	} else if seq <= w.applied {
		if _, held := w.cl.StoryOf(e.ID); !held {
			// A redelivery of an entry applied before whose story has gone
			// stale and out of memory since: its last snapshot holds it.
			// Adding it again would found a second story under its old id.
			if err := msg.Ack(); err != nil {
				w.log.Warn("ack failed; entry will be redelivered", zap.Error(err))
			}
			return
		}
	}
	// An entry at or below applied was placed before: by this worker, or
	// by the catch-up just run, which replays it with the history.
	live := md.Sequence.Stream > w.applied
	if live {
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
	before := w.cl.Changes()
	id := w.cl.Add(e)
	if live && id != "" && !e.Withdrawn {
		w.assignment.Observe(max(0, time.Since(md.Timestamp).Seconds()))
	}
	w.noteChanges(before)
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
	// A story this worker has not published yet needs its last snapshot
	// from WIRE_STORY before its first publish: ask now, so that the
	// answer is in by the time the snapshot is due.
	w.lookUpVersion(id)
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
	w.catchingUpTo = max(w.catchingUpTo, upTo)
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
	// The stories to republish are kept across attempts: a catch-up that
	// fails half-way is retried from where it got to, and the stories its
	// first part changed above the ack floor still need their snapshots
	// (the redeliveries of those entries change nothing and are acked
	// once their stories are out).
	if w.republish == nil {
		w.republish = make(map[string]bool)
	}
	republish := w.republish
	// Another worker handled the entries of the gap and may have
	// published any story since this worker last did: what it knew of
	// the stories' last snapshots is read again before each publish.
	clear(w.seqs)
	clear(w.lookups)
	w.tailState = tailAdopt
	oc, err := bus.OrderedFetcher(ctx, w.js, bus.StreamEntry, cfg)
	if err != nil {
		return fmt.Errorf("synth: catch-up consumer: %w", err)
	}
	n := 0
	defer func() { w.stats.CaughtUp.Add(int64(n)) }()
	for w.applied < upTo {
		// No more than the range holds: a fetch for more would wait out
		// its MaxWait for messages that are not there yet.
		batch, err := oc.Fetch(int(min(uint64(w.fetchBatch), upTo-w.applied)), jetstream.FetchMaxWait(w.fetchWait))
		if err != nil {
			return fmt.Errorf("synth: catch-up fetch: %w", err)
		}
		got, past := 0, false
		for m := range batch.Messages() {
			got++
			md, err := m.Metadata()
			if err != nil || past {
				continue
			}
			if md.Sequence.Stream > upTo {
				past = true // the range's last messages are gone
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
		if past {
			break
		}
		if got == 0 {
			// An empty fetch is not the end of the range: while a
			// cluster elects a leader, or a connection is down, a fetch
			// waits out its MaxWait with messages still to come. Taken
			// for the end, it would skip them — this worker would decide
			// on a history missing entries the others placed, and ack
			// their redeliveries unplaced. Only the stream says whether
			// anything is left.
			more, err := w.entryAfter(ctx, w.applied, upTo)
			if err != nil {
				return fmt.Errorf("synth: catch-up stalled at sequence %d of %d: %w", w.applied, upTo, err)
			}
			if more {
				return fmt.Errorf("synth: catch-up stalled at sequence %d of %d: no messages within %s", w.applied, upTo, w.fetchWait)
			}
			break // the rest of the range was deleted or aged out
		}
	}
	w.applied = max(w.applied, upTo)
	// The other stories' snapshots were published by whoever handled the entries.
	w.cl.TakeDirty()
	for id := range republish {
		w.cl.dirty[id] = true
	}
	w.republish = nil
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
func (w *Worker) Flush(ctx context.Context) error { return w.flush(ctx, true) }

func (w *Worker) flushDue(ctx context.Context) error { return w.flush(ctx, false) }

// published is what a flush sent for one story.
type published struct {
	id string
	f  jetstream.PubAckFuture
}

// noteHeld updates the gauges of what the worker holds. The caller
// holds w.mu.
func (w *Worker) noteHeld() {
	w.stats.StoriesActive.Store(int64(w.cl.Active()))
	w.stats.StoriesHeld.Store(int64(len(w.cl.stories)))
	w.stats.EntriesHeld.Store(int64(len(w.cl.byEntry)))
}

// noteChanges counts the story changes the clusterer made since before.
// The caller holds w.mu.
func (w *Worker) noteChanges(before StoryChanges) {
	after := w.cl.Changes()
	w.stats.StoriesFounded.Add(after.Founded - before.Founded)
	w.stats.StoriesMerged.Add(after.Merged - before.Merged)
	w.stats.StoriesStale.Add(after.Stale - before.Stale)
	w.stats.StoriesSplit.Add(after.Split - before.Split)
}

// flush publishes the stories due a snapshot (all changed stories when
// all is set), then acknowledges the entries whose stories are out.
//
// The worker's lock is held while snapshots are built and sent, not
// while their PubAcks come back: entries keep being placed meanwhile.
// An entry placed during the wait leaves its story changed again, so it,
// and every entry of that story, waits for the story's next snapshot
// before it is acknowledged (see Unpublished). Flushes run one at a
// time, so a story's next snapshot goes out after its last one's PubAck
// gave the sequence it is published on the condition of (see fence).
func (w *Worker) flush(ctx context.Context, all bool) error {
	w.flushing.Lock()
	defer w.flushing.Unlock()
	w.mu.Lock()
	sent, stale, err := w.publishDue(ctx, all)
	if err == nil && len(sent) == 0 && len(w.pending) == 0 && w.behind == "" {
		w.mu.Unlock()
		return nil
	}
	w.mu.Unlock()
	// Every future is read, so that each stored snapshot's sequence is
	// known before any error returns; a story whose outcome is unknown
	// is looked up again before its next publish.
	type outcome struct {
		ack *jetstream.PubAck
		err error
	}
	outcomes := make([]outcome, len(sent))
	for k, p := range sent {
		select {
		case ack := <-p.f.Ok():
			outcomes[k].ack = ack
		case perr := <-p.f.Err():
			outcomes[k].err = perr
		case <-ctx.Done():
			outcomes[k].err = fmt.Errorf("synth: waiting for snapshot acks: %w", ctx.Err())
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	defer w.noteHeld()
	var failed error
	fenced := ""
	unknown := false // a snapshot after the last one stored may be stored or not
	for k, p := range sent {
		switch o := outcomes[k]; {
		case o.ack != nil && o.ack.Duplicate:
			// Another worker stored this story's version already.
			fenced = p.id
			delete(w.seqs, p.id)
		case o.ack != nil:
			w.seqs[p.id] = o.ack.Sequence
			w.tail, unknown = max(w.tail, o.ack.Sequence), false
			w.stats.Snapshots.Add(1)
		case wrongLastSequence(o.err):
			delete(w.seqs, p.id)
			fenced = p.id
		default:
			delete(w.seqs, p.id)
			unknown = true
			if failed == nil {
				failed = fmt.Errorf("synth: snapshot of %s not stored: %w", p.id, o.err)
			}
		}
	}
	if unknown {
		w.tailState = tailVerify
	}
	if fenced == "" {
		fenced = w.behind
	}
	w.behind = ""
	if fenced != "" {
		w.fence(fenced)
		return fmt.Errorf("synth: another synthesizer published story %s since this worker last did; state dropped, rebuilding from %s", fenced, bus.StreamEntry)
	}
	if failed != nil {
		for _, p := range sent {
			w.cl.dirty[p.id] = true
		}
		return errors.Join(err, failed)
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
	return err
}

// publishDue builds and sends the snapshots of the stories due one, each
// on the condition that the story's last message on WIRE_STORY is the one
// this worker published or read, and returns what it sent and the
// stories that went out stale or merged. A story whose last snapshot is
// still being looked up (see learnVersions) stays changed for a later
// flush, unless all is set: then the flush waits for the look-up. Stories
// it could not send stay changed; err says why. The caller holds w.mu.
func (w *Worker) publishDue(ctx context.Context, all bool) (sent []published, stale []string, err error) {
	every := w.cfg.SnapshotInterval
	if all {
		every = 0
	}
	now := time.Now()
	due := w.cl.TakeDue(now, every)
	w.lookUpVersions(w.cl.dirty) // changed stories not yet due: their look-ups start now
	ids, err := w.learnVersions(ctx, due, all)
	if len(ids) > 0 {
		foreign, terr := w.learnTail(ctx)
		if terr != nil || foreign != "" {
			// Nothing goes out until the stream's end is known; another
			// worker's snapshot there fences this one (see flush).
			for _, id := range ids {
				w.cl.dirty[id] = true
			}
			if foreign != "" {
				w.behind = foreign
			}
			return nil, nil, errors.Join(err, terr)
		}
	}
	sent = make([]published, 0, len(ids))
	sizes := make([]int, len(ids))
	for k, id := range ids {
		st, ok := w.cl.Snapshot(id)
		if !ok {
			continue
		}
		data, eerr := w.encode(&st)
		sizes[k] = len(data)
		if eerr == nil {
			msg := nats.NewMsg(bus.StorySubject(id))
			msg.Data = data
			msg.Header.Set(bus.HeaderMsgID, "story:"+id+":"+strconv.FormatInt(st.Version, 10))
			msg.Header.Set(HeaderApplied, strconv.FormatUint(w.applied, 10))
			msg.Header.Set(HeaderWriter, w.writer)
			var f jetstream.PubAckFuture
			if f, eerr = w.js.PublishMsgAsync(msg, jetstream.WithExpectLastSequencePerSubject(w.seqs[id]),
				jetstream.WithExpectLastSequence(w.tail+uint64(len(sent)))); eerr == nil {
				sent = append(sent, published{id, f})
				if st.Status != wire.StatusDeveloping {
					stale = append(stale, id)
				}
				continue
			}
			eerr = fmt.Errorf("synth: publish snapshot: %w", eerr)
		}
		// This story and the ones after it stay changed for the next flush.
		for _, id := range ids[k:] {
			w.cl.dirty[id] = true
		}
		ids = ids[:k]
		err = errors.Join(err, eerr)
		break
	}
	for k, id := range ids {
		w.cl.MarkPublished(id, now, sizes[k])
	}
	return sent, stale, err
}

// versionLookups bounds the look-ups of last snapshots in flight at once,
// and heldLookups those started and not yet taken by a flush (each has a
// goroutine until it is done): a restart that republishes thousands of
// stories starts them a few thousand at a time.
const (
	versionLookups = 64
	heldLookups    = 4096
)

// versionLookup is the version and stream sequence of a story's last
// snapshot on WIRE_STORY (zero for none), read in the background; done is
// closed when they or err are set.
type versionLookup struct {
	done    chan struct{}
	v       int64
	seq     uint64
	applied uint64 // HeaderApplied of the snapshot
	err     error
}

// lookUpVersions starts reading the last snapshot of each story in ids
// that this worker has not published or read before and is not reading
// already. The caller holds w.mu.
func (w *Worker) lookUpVersions(ids map[string]bool) {
	for id := range ids {
		w.lookUpVersion(id)
	}
}

// lookUpVersion starts the look-up of a story's last snapshot unless the
// worker knows it or one is under way, and returns the look-up; nil when
// the worker knows it or holds heldLookups look-ups already.
func (w *Worker) lookUpVersion(id string) *versionLookup {
	if _, ok := w.seqs[id]; ok {
		return nil
	}
	if lk := w.lookups[id]; lk != nil {
		return lk
	}
	if len(w.lookups) >= heldLookups {
		return nil
	}
	if w.lookups == nil {
		w.lookups = make(map[string]*versionLookup)
	}
	if w.lookupSlots == nil {
		w.lookupSlots = make(chan struct{}, versionLookups)
	}
	if w.lookupCtx == nil {
		w.lookupCtx = context.Background()
	}
	lk := &versionLookup{done: make(chan struct{})}
	w.lookups[id] = lk
	w.lookingUp.Add(1)
	go func() {
		defer w.lookingUp.Done()
		defer close(lk.done)
		w.lookupSlots <- struct{}{}
		defer func() { <-w.lookupSlots }()
		lk.v, lk.seq, lk.applied, lk.err = w.lastSnapshot(w.lookupCtx, id)
	}()
	return lk
}

// learnVersions makes sure the worker knows the version and sequence of
// the last snapshot on WIRE_STORY of each story in ids before it publishes
// one, so that versions keep rising across restarts and fail-overs and
// each publish is conditional on the story's last message (see fence).
// It returns the stories it knows; the others stay changed, their
// look-ups under way. A look-up is a request-reply to the server: made one
// after another with the worker's lock held, as they were, a burst of new
// stories (unrelated reports found one each) held every entry back for
// seconds; in the background, they overlap with each other and with the
// placing of entries. With all set it waits for the look-ups instead.
func (w *Worker) learnVersions(ctx context.Context, ids []string, all bool) ([]string, error) {
	ready := ids[:0:0]
	var errs []error
	for _, id := range ids {
		if _, ok := w.seqs[id]; ok {
			ready = append(ready, id)
			continue
		}
		lk := w.lookUpVersion(id)
		if lk == nil {
			// Too many look-ups held: this one starts on a later tick,
			// or now and in line when every change must go out.
			if !all {
				w.cl.dirty[id] = true
				continue
			}
			lk = &versionLookup{done: make(chan struct{})}
			lk.v, lk.seq, lk.applied, lk.err = w.lastSnapshot(ctx, id)
			close(lk.done)
			w.lookups[id] = lk
		}
		if all {
			select {
			case <-lk.done:
			case <-ctx.Done():
			}
		}
		select {
		case <-lk.done:
		default:
			w.cl.dirty[id] = true
			continue
		}
		delete(w.lookups, id)
		if lk.err != nil {
			w.cl.dirty[id] = true
			errs = append(errs, lk.err)
			continue
		}
		if lk.applied > w.applied {
			// The worker that published it had placed more entries than
			// this one: this worker's state is behind (see fence).
			w.cl.dirty[id] = true
			w.behind = id
			continue
		}
		w.cl.SetVersion(id, lk.v)
		w.seqs[id] = lk.seq
		ready = append(ready, id)
	}
	if all && ctx.Err() != nil {
		errs = append(errs, fmt.Errorf("synth: waiting for snapshot versions: %w", ctx.Err()))
	}
	return ready, errors.Join(errs...)
}

// lastSnapshot is the version and stream sequence of the story's last
// snapshot on WIRE_STORY, zeros when it has none.
func (w *Worker) lastSnapshot(ctx context.Context, id string) (version int64, seq, applied uint64, err error) {
	// One request must not wait long while a cluster elects the stream's
	// leader: the story stays changed and is looked up again.
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	stream, err := w.stream(ctx)
	if err != nil {
		return 0, 0, 0, err
	}
	m, err := stream.GetLastMsgForSubject(ctx, bus.StorySubject(id))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return 0, 0, 0, nil
	case err != nil:
		return 0, 0, 0, fmt.Errorf("synth: last snapshot of %s: %w", id, err)
	}
	applied, _ = strconv.ParseUint(m.Header.Get(HeaderApplied), 10, 64)
	var prev struct {
		Version int64 `json:"version"`
	}
	if json.Unmarshal(m.Data, &prev) != nil {
		return 0, m.Sequence, applied, nil
	}
	return prev.Version, m.Sequence, applied, nil
}

// stream opens WIRE_STORY once.
func (w *Worker) stream(ctx context.Context) (jetstream.Stream, error) {
	w.streamMu.Lock()
	defer w.streamMu.Unlock()
	if w.storyStream == nil {
		stream, err := w.js.Stream(ctx, bus.StreamStory)
		if err != nil {
			return nil, fmt.Errorf("synth: open %s: %w", bus.StreamStory, err)
		}
		w.storyStream = stream
	}
	return w.storyStream, nil
}

// HeaderApplied on a snapshot is the highest WIRE_ENTRY sequence the
// worker that published it had placed. A worker that reads a story's last
// snapshot before publishing it and finds a higher one than its own is
// behind the worker that published it — it took the pin back after a
// stall, or woke up after losing it — and is fenced instead of publishing
// an older state over a newer one.
const HeaderApplied = "Newswire-Applied-Seq"

// lastEntrySeq is the sequence of WIRE_ENTRY's last message.
func (w *Worker) lastEntrySeq(ctx context.Context) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	stream, err := w.js.Stream(ctx, bus.StreamEntry)
	if err != nil {
		return 0, err
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.LastSeq, nil
}

// entryAfter reports whether WIRE_ENTRY holds an entry after sequence
// from and no later than upTo. The stream is made without allow_direct,
// so the stream's leader answers, not a follower that may lag behind.
func (w *Worker) entryAfter(ctx context.Context, from, upTo uint64) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	stream, err := w.js.Stream(ctx, bus.StreamEntry)
	if err != nil {
		return false, err
	}
	m, err := stream.GetMsg(ctx, from+1, jetstream.WithGetMsgSubject(bus.SubjectEntryAll))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return m.Sequence <= upTo, nil
}

// catchUpFetchWait is how long one fetch of a catch-up waits for its
// batch, and catchUpFetch how many entries it asks for.
const (
	catchUpFetchWait = 2 * time.Second
	catchUpFetch     = 1000
)

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
	w.catchingUpTo, w.republish = 0, nil
	w.seqs = make(map[string]uint64)
	w.tailState = tailAdopt
	w.lookups = nil // look-ups still under way end in objects no one reads
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
