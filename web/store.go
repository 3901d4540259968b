// Package web serves the wire over HTTP: the latest entries, the latest
// stories and one story with its provenance, read from the bus alone.
package web

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"

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
	mu         sync.RWMutex
	entries    []wire.Entry // ring, oldest first after wrap
	next       int
	stories    map[string]*heldStory
	bytes      int64 // sum of the held snapshots' sizes
	subs       map[chan Event]struct{}
	evicted    int64
}

// heldStory is a snapshot and its size as JSON, which the byte cap counts.
type heldStory struct {
	wire.Story
	size int64
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
	return &Store{maxEntries: maxEntries, maxStories: DefaultMaxStories, maxBytes: maxStoryBytes,
		stories: make(map[string]*heldStory), subs: make(map[chan Event]struct{})}
}

// StoreStats describes what a Store holds.
type StoreStats struct {
	Stories    int
	StoryBytes int64
	Evicted    int64 // stories dropped for the count or byte cap
}

// Stats returns what the store holds.
func (s *Store) Stats() StoreStats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return StoreStats{Stories: len(s.stories), StoryBytes: s.bytes, Evicted: s.evicted}
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

// EntriesAfter returns the entries the store holds after the one with id,
// oldest first; ok is false when id is not (or no longer) held.
func (s *Store) EntriesAfter(id string) ([]wire.Entry, bool) {
	all := s.Entries(s.maxEntries)
	for i, e := range all { // newest first
		if e.ID == id {
			out := make([]wire.Entry, 0, i)
			for j := i - 1; j >= 0; j-- {
				out = append(out, all[j])
			}
			return out, true
		}
	}
	return nil, false
}

// AddEntry records an entry.
func (s *Store) AddEntry(e wire.Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.entries) < s.maxEntries {
		s.entries = append(s.entries, e)
	} else {
		s.entries[s.next] = e
		s.next = (s.next + 1) % s.maxEntries
	}
	if len(s.subs) > 0 {
		data, _ := json.Marshal(e)
		s.notify(Event{Kind: "entry", ID: e.ID, Data: data})
	}
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
	}
	s.stories[st.ID] = &heldStory{Story: st, size: size}
	s.bytes += size
	if len(s.stories) > s.maxStories || s.bytes > s.maxBytes {
		s.evictStories(st.ID)
	}
	if len(s.subs) > 0 {
		summary := st
		summary.Provenance = nil
		data, _ := json.Marshal(summary)
		s.notify(Event{Kind: "story", ID: fmt.Sprintf("%s:%d", st.ID, st.Version), Data: data})
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
		out = append(out, s.entries[idx])
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
