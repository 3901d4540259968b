// Package web serves the wire over HTTP: the latest entries, the latest
// stories and one story with its provenance, read from the bus alone.
package web

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/wire"
)

// Store mirrors the recent entries and the current state of every story,
// fed by ordered consumers on WIRE_ENTRY and WIRE_STORY.
type Store struct {
	maxEntries int
	maxStories int
	maxBytes   int64
	now        func() time.Time
	mu         sync.RWMutex
	entries    []heldEntry // ring, oldest first after wrap
	next       int
	seq        uint64 // sequence of the last entry added
	stories    map[string]*heldStory
	storyOf    map[string]string // entry id → the story that holds it
	bytes      int64             // sum of the held snapshots' sizes
	subs       map[chan Event]struct{}
	evicted    int64
	// events is the recent event log (entries and story summaries), so a
	// stream client resumes from either kind of event id.
	events    []Event
	eventNext int
	// index is the full-text index of the held entries; nil when it
	// could not be built, and then a text query is answered ErrNoIndex.
	index *entryIndex
}

// heldEntry is an entry and its place in the order the store got them,
// which entry cursors name.
type heldEntry struct {
	wire.Entry
	seq uint64
}

// heldStory is a snapshot and its size as JSON, which the byte cap counts.
type heldStory struct {
	wire.Story
	size int64
	// changed is when the store last got a new version of it: the story's
	// recent activity, whatever its news's own times.
	changed time.Time
}

// Event is one live update for stream subscribers: a new entry, or a
// story's new snapshot (without its provenance list).
type Event struct {
	Kind string // "entry" or "story"
	ID   string
	Data []byte // JSON
}

// DefaultMaxStories bounds the stories a Store holds in memory.
const DefaultMaxStories = 20000

// DefaultMaxStoryBytes bounds the bytes of the snapshots a Store holds: a
// count alone lets a few huge stories (provenance lists of thousands of
// entries) take any amount of memory.
const DefaultMaxStoryBytes = 256 << 20

// NewStore keeps the last maxEntries entries and the most recently
// updated stories, at most DefaultMaxStories of them and
// DefaultMaxStoryBytes of their snapshots.
func NewStore(maxEntries int) *Store { return NewBoundedStore(maxEntries, DefaultMaxStoryBytes) }

// NewBoundedStore is NewStore with a cap on the snapshots' bytes (their
// JSON size); zero or less means DefaultMaxStoryBytes.
func NewBoundedStore(maxEntries int, maxStoryBytes int64) *Store {
	if maxEntries <= 0 {
		maxEntries = 1000
	}
	if maxStoryBytes <= 0 {
		maxStoryBytes = DefaultMaxStoryBytes
	}
	index, _ := newEntryIndex() // fails only on a broken mapping, which the tests would catch
	return &Store{maxEntries: maxEntries, maxStories: DefaultMaxStories, maxBytes: maxStoryBytes, now: time.Now,
		stories: make(map[string]*heldStory), storyOf: make(map[string]string), subs: make(map[chan Event]struct{}),
		events: make([]Event, 0, 2*maxEntries), index: index}
}

// record keeps ev in the event log and sends it to the subscribers;
// s.mu must be held.
func (s *Store) record(ev Event) {
	if len(s.events) < cap(s.events) {
		s.events = append(s.events, ev)
	} else {
		s.events[s.eventNext] = ev
		s.eventNext = (s.eventNext + 1) % len(s.events)
	}
	s.notify(ev)
}

// EventsAfter returns the events the store logged after the one with id
// (an entry id, or a story event's "<story>:<version>"), oldest first; ok
// is false when id is not (or no longer) in the log.
func (s *Store) EventsAfter(id string) ([]Event, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := len(s.events)
	for i := n - 1; i >= 0; i-- {
		if s.events[(s.eventNext+i)%n].ID != id {
			continue
		}
		out := make([]Event, 0, n-1-i)
		for j := i + 1; j < n; j++ {
			out = append(out, s.events[(s.eventNext+j)%n])
		}
		return out, true
	}
	return nil, false
}

// StoryOf returns the id of the held story whose provenance lists the entry.
func (s *Store) StoryOf(entryID string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.storyOf[entryID]
	return id, ok
}

// StoreStats describes what a Store holds.
type StoreStats struct {
	Stories    int   `metric:"gauge"`
	StoryBytes int64 `metric:"gauge"`
	Evicted    int64 // stories dropped for the count or byte cap
	Indexed    int   `metric:"gauge"` // entries in the full-text index
	IndexErrs  int64 // entries the index refused (they are held, but not found by a text query)
}

// Stats returns what the store holds.
func (s *Store) Stats() StoreStats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := StoreStats{Stories: len(s.stories), StoryBytes: s.bytes, Evicted: s.evicted}
	if s.index != nil {
		s.index.mu.Lock()
		st.Indexed, st.IndexErrs = len(s.index.indexed), s.index.errors
		s.index.mu.Unlock()
	}
	return st
}

// Subscribe returns a channel of live events and a function that ends the
// subscription. A subscriber that falls more than buf events behind is
// dropped (its channel is closed) rather than slowing the store down; an
// SSE client then reconnects with Last-Event-ID.
func (s *Store) Subscribe(buf int) (<-chan Event, func()) {
	ch := make(chan Event, buf)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.subs[ch]; ok {
			delete(s.subs, ch)
			close(ch)
		}
	}
}

// notify sends ev to every subscriber, and drops (closes) one whose
// buffer is full; s.mu must be held.
func (s *Store) notify(ev Event) {
	for ch := range s.subs {
		select {
		case ch <- ev:
		default:
			delete(s.subs, ch)
			close(ch)
		}
	}
}

// AddEntry records an entry, and indexes its text.
func (s *Store) AddEntry(e wire.Entry) {
	data, _ := json.Marshal(e)
	s.mu.Lock()
	s.seq++
	he := heldEntry{Entry: e, seq: s.seq}
	var old heldEntry
	if len(s.entries) < s.maxEntries {
		s.entries = append(s.entries, he)
	} else {
		old = s.entries[s.next]
		s.entries[s.next] = he
		s.next = (s.next + 1) % s.maxEntries
	}
	s.record(Event{Kind: "entry", ID: e.ID, Data: data})
	if s.index == nil {
		s.mu.Unlock()
		return
	}
	// Indexing takes a millisecond or two; readers of the store need not
	// wait for it. Taking the index's lock before letting go of the
	// store's keeps the index's changes in the store's order, so that an
	// entry is never indexed after the drop that should remove it.
	s.index.mu.Lock()
	s.mu.Unlock()
	defer s.index.mu.Unlock()
	if old.seq != 0 {
		s.index.drop(old.ID, old.seq)
	}
	s.index.add(e, he.seq)
}

// PutStory records a snapshot unless a newer one is held.
func (s *Store) PutStory(st wire.Story) {
	data, err := json.Marshal(st)
	size := int64(len(data))
	if err != nil {
		size = 0
	}
	s.putStory(st, size)
}

// putStory records a snapshot of size bytes (its JSON on the bus).
func (s *Store) putStory(st wire.Story, size int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, had := s.stories[st.ID]
	if had && old.Version > st.Version {
		return
	}
	if had {
		s.bytes -= old.size
		s.forget(old)
	}
	s.stories[st.ID] = &heldStory{Story: st, size: size, changed: s.now().Round(0)}
	s.bytes += size
	if st.Status != wire.StatusMerged {
		for _, r := range st.Provenance {
			s.storyOf[r.EntryID] = st.ID
		}
	}
	if len(s.stories) > s.maxStories || s.bytes > s.maxBytes {
		s.evictStories(st.ID)
	}
	summary := st
	summary.Provenance = nil
	data, _ := json.Marshal(summary)
	s.record(Event{Kind: "story", ID: fmt.Sprintf("%s:%d", st.ID, st.Version), Data: data})
}

// forget drops the entry → story links of a snapshot that is replaced or
// evicted; s.mu must be held.
func (s *Store) forget(st *heldStory) {
	for _, r := range st.Provenance {
		if s.storyOf[r.EntryID] == st.ID {
			delete(s.storyOf, r.EntryID)
		}
	}
}

// Entries returns up to limit entries, newest observed first.
func (s *Store) Entries(limit int) []wire.Entry {
	s.mu.RLock()
	n := len(s.entries)
	out := make([]wire.Entry, 0, min(limit, n))
	for i := 0; i < n && len(out) < limit; i++ {
		idx := (s.next - 1 - i + 2*n) % n
		if n < s.maxEntries {
			idx = n - 1 - i
		}
		out = append(out, s.entries[idx].Entry)
	}
	s.mu.RUnlock()
	return out
}

// evictStories drops the stories updated longest ago until a tenth of
// the count or byte cap that was passed is free again, so that a
// long-running server holds a bounded number and size; keep (the story
// just put) stays. s.mu must be held. The bus keeps every story's
// snapshots (WIRE_STORY), so nothing is lost.
func (s *Store) evictStories(keep string) {
	all := make([]*heldStory, 0, len(s.stories))
	for _, st := range s.stories {
		all = append(all, st)
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].LastUpdated.Equal(all[j].LastUpdated) {
			return all[i].LastUpdated.Before(all[j].LastUpdated)
		}
		return all[i].ID < all[j].ID
	})
	countTo, bytesTo := len(s.stories), s.bytes
	if len(s.stories) > s.maxStories {
		countTo = s.maxStories * 9 / 10
	}
	if s.bytes > s.maxBytes {
		bytesTo = s.maxBytes * 9 / 10
	}
	for _, st := range all {
		if len(s.stories) <= countTo && s.bytes <= bytesTo {
			break
		}
		if st.ID == keep {
			continue
		}
		delete(s.stories, st.ID)
		s.forget(st)
		s.bytes -= st.size
		s.evicted++
	}
}

// Stories returns up to limit stories, most recently updated first,
// without their provenance lists. An empty status means every status but merged.
func (s *Store) Stories(limit int, status string) []wire.Story {
	s.mu.RLock()
	all := make([]wire.Story, 0, len(s.stories))
	for _, st := range s.stories {
		if status == "" && st.Status == wire.StatusMerged || status != "" && st.Status != status {
			continue
		}
		c := st.Story
		c.Provenance = nil
		all = append(all, c)
	}
	s.mu.RUnlock()
	sort.Slice(all, func(i, j int) bool {
		if !all[i].LastUpdated.Equal(all[j].LastUpdated) {
			return all[i].LastUpdated.After(all[j].LastUpdated)
		}
		return all[i].ID < all[j].ID
	})
	if len(all) > limit {
		all = all[:limit]
	}
	return all
}

// Story returns one story's latest snapshot.
func (s *Store) Story(id string) (wire.Story, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.stories[id]
	if !ok {
		return wire.Story{}, false
	}
	return st.Story, true
}

// Follow feeds the store from the bus until ctx ends: the last maxEntries
// entries and then new ones, the last snapshot of every story and then updates.
func (s *Store) Follow(ctx context.Context, js jetstream.JetStream, log *zap.Logger) error {
	if log == nil {
		log = zap.NewNop()
	}
	stream, err := js.Stream(ctx, bus.StreamEntry)
	if err != nil {
		return fmt.Errorf("web: open %s: %w", bus.StreamEntry, err)
	}
	start := uint64(1)
	if last := stream.CachedInfo().State.LastSeq; last > uint64(s.maxEntries) {
		start = last - uint64(s.maxEntries) + 1
	}
	entries, err := js.OrderedConsumer(ctx, bus.StreamEntry, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{bus.SubjectEntryAll},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    start,
	})
	if err != nil {
		return fmt.Errorf("web: follow entries: %w", err)
	}
	stories, err := js.OrderedConsumer(ctx, bus.StreamStory, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{bus.SubjectStoryAll},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return fmt.Errorf("web: follow stories: %w", err)
	}
	ecc, err := entries.Consume(func(m jetstream.Msg) {
		var e wire.Entry
		if err := json.Unmarshal(m.Data(), &e); err != nil {
			log.Warn("web: skipping undecodable entry", zap.String("subject", m.Subject()), zap.Error(err))
			return
		}
		s.AddEntry(e)
	})
	if err != nil {
		return fmt.Errorf("web: consume entries: %w", err)
	}
	defer ecc.Stop()
	scc, err := stories.Consume(func(m jetstream.Msg) {
		var st wire.Story
		if err := json.Unmarshal(m.Data(), &st); err != nil {
			log.Warn("web: skipping undecodable story", zap.String("subject", m.Subject()), zap.Error(err))
			return
		}
		s.putStory(st, int64(len(m.Data())))
	})
	if err != nil {
		return fmt.Errorf("web: consume stories: %w", err)
	}
	defer scc.Stop()
	<-ctx.Done()
	return nil
}

// Len returns how many entries the store holds.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.entries)
}

// RecentEntryEvents returns the n latest entries as events, oldest first.
func (s *Store) RecentEntryEvents(n int) []Event {
	recent := s.Entries(n)
	out := make([]Event, 0, len(recent))
	for i := len(recent) - 1; i >= 0; i-- {
		data, err := json.Marshal(recent[i])
		if err != nil {
			continue
		}
		out = append(out, Event{Kind: "entry", ID: recent[i].ID, Data: data})
	}
	return out
}

// Kinds lists the source kinds of the held entries, for the wire page's filter.
func (s *Store) Kinds() []string {
	s.mu.RLock()
	seen := map[string]bool{}
	for _, e := range s.entries {
		seen[e.Source.Kind] = true
	}
	s.mu.RUnlock()
	out := make([]string, 0, len(seen))
	for k := range seen {
		if k != "" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// LoadStories reads the latest snapshot of every story on the bus into the
// store and returns when it has them all (for commands that print the
// stories once, without following the bus).
func (s *Store) LoadStories(ctx context.Context, js jetstream.JetStream) error {
	stream, err := js.Stream(ctx, bus.StreamStory)
	if err != nil {
		return fmt.Errorf("web: open %s: %w", bus.StreamStory, err)
	}
	if stream.CachedInfo().State.Msgs == 0 {
		return nil
	}
	oc, err := bus.OrderedFetcher(ctx, js, bus.StreamStory, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{bus.SubjectStoryAll},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return fmt.Errorf("web: read stories: %w", err)
	}
	for {
		batch, err := oc.Fetch(512, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return fmt.Errorf("web: read stories: %w", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var st wire.Story
			if err := json.Unmarshal(m.Data(), &st); err != nil {
				continue // a reader skips what it cannot decode; the synthesizer's schema tests keep it rare
			}
			s.putStory(st, int64(len(m.Data())))
			if md, err := m.Metadata(); err == nil && md.NumPending == 0 {
				return nil
			}
		}
		if err := batch.Error(); err != nil {
			return fmt.Errorf("web: read stories: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("web: read stories: no answer from %s within 5s", bus.StreamStory)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}
