package normalize

import (
	"sync"
	"time"
)

// nearIndex finds the earliest indexed entry whose MinHash sketch
// estimates a Jaccard similarity at or above a threshold. Locality-
// sensitive hashing keeps lookups sub-linear: every sketch is filed under
// one key per band, and only entries that share a band key are compared.
// The index keeps the entries of a sliding time window, at most maxEntries
// of them, so that its memory is bounded (about 1.4 KiB an entry,
// measured by BenchmarkNearIndexMemory).
type nearIndex struct {
	mu         sync.Mutex
	threshold  float64
	window     time.Duration
	maxEntries int
	buckets    map[uint64][]int64
	ids        map[string]int64
	items      []nearItem // ring in insertion order
	head       int        // index of the oldest live item
	base       int64      // insertion position of items[0]
	newest     time.Time
}

type nearItem struct {
	id     string
	sketch Sketch
	at     time.Time
	// holder, once set, is the entry this one turned out to be an exact
	// copy of (see Fold).
	holder string
	// failed is set while the entry's fingerprint claim has failed and
	// its next delivery has not settled it (see Fail).
	failed bool
}

func newNearIndex(threshold float64, window time.Duration, maxEntries int) *nearIndex {
	return &nearIndex{
		threshold: threshold, window: window, maxEntries: maxEntries,
		buckets: make(map[uint64][]int64), ids: make(map[string]int64),
	}
}

// Match returns the id of the earliest indexed entry similar to s.
func (ix *nearIndex) Match(s *Sketch) (string, bool) {
	keys := s.bandKeys()
	ix.mu.Lock()
	defer ix.mu.Unlock()
	best := int64(-1)
	for _, key := range keys {
		for _, pos := range ix.buckets[key] {
			if best >= 0 && pos >= best {
				continue
			}
			i := int(pos - ix.base)
			if i < ix.head || i >= len(ix.items) {
				continue
			}
			if ix.items[i].id != "" && !ix.items[i].failed && ix.items[i].sketch.Jaccard(s) >= ix.threshold {
				best = pos
			}
		}
	}
	if best < 0 {
		return "", false
	}
	it := &ix.items[int(best-ix.base)]
	if it.holder != "" {
		return it.holder, true // a folded copy stands for its holder
	}
	return it.id, true
}

// Add indexes an entry unless it is indexed already (a replica learns its
// own entries back from WIRE_ENTRY), then evicts what left the window.
// An entry published before the newest one by more than the window (a new
// feed's backlog, a stream of another era) is indexed too, behind the
// newer ones: eviction goes oldest first, so it stays until they go.
func (ix *nearIndex) Add(id string, s *Sketch, at time.Time) { ix.add(id, s, at, false) }

// Learn is Add for an entry read back from WIRE_ENTRY, which is left out
// when it was published before the newest indexed entry by more than the
// window: a replica reading its own entries back behind its index would
// otherwise put an entry it had evicted back in, where eviction would not
// reach it, and whether it did would depend on how far the reader lagged.
func (ix *nearIndex) Learn(id string, s *Sketch, at time.Time) { ix.add(id, s, at, true) }

func (ix *nearIndex) add(id string, s *Sketch, at time.Time, learned bool) {
	keys := s.bandKeys()
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if _, ok := ix.ids[id]; ok {
		if it := ix.item(id); it != nil {
			it.failed = false // its next delivery, settling it
		}
		return
	}
	if learned && ix.newest.Sub(at) > ix.window {
		return
	}
	pos := ix.base + int64(len(ix.items))
	ix.items = append(ix.items, nearItem{id: id, sketch: *s, at: at})
	ix.ids[id] = pos
	for _, key := range keys {
		ix.buckets[key] = append(ix.buckets[key], pos)
	}
	if at.After(ix.newest) {
		ix.newest = at
	}
	ix.evict()
}

// Remove forgets an entry that turned out not to be an original (an exact
// duplicate folded into another, or one whose publish failed). Its buckets
// are left to eviction; lookups skip it.
func (ix *nearIndex) Remove(id string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if it := ix.item(id); it != nil {
		it.id = ""
	}
	delete(ix.ids, id)
}

// item is id's live item, nil when id is not indexed; ix.mu is held.
func (ix *nearIndex) item(id string) *nearItem {
	pos, ok := ix.ids[id]
	if !ok {
		return nil
	}
	if i := int(pos - ix.base); i >= ix.head && i < len(ix.items) {
		return &ix.items[i]
	}
	return nil
}

// Fold records that id, indexed as an original, is an exact copy of
// holder, which may be older than the window. The copy stays in the index
// and stands for its holder: a match with it names the holder.
func (ix *nearIndex) Fold(id, holder string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if it := ix.item(id); it != nil {
		it.holder = holder
	}
}

// Fail records that id's fingerprint claim failed: until its next
// delivery adds it again, lookups pass it by, and Outcome tells an item
// that matched it before that it is unsettled.
func (ix *nearIndex) Fail(id string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if it := ix.item(id); it != nil {
		it.failed = true
	}
}

// Outcome is what became of an indexed entry that an item matched: the
// entry it was folded into (see Fold), or failed when its claim failed
// (see Fail); neither for an original, or an entry no longer indexed.
func (ix *nearIndex) Outcome(id string) (holder string, failed bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if it := ix.item(id); it != nil {
		return it.holder, it.failed
	}
	return "", false
}

// Len is the number of live entries.
func (ix *nearIndex) Len() int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return len(ix.items) - ix.head
}

func (ix *nearIndex) evict() {
	for ix.head < len(ix.items) {
		it := &ix.items[ix.head]
		if len(ix.items)-ix.head <= ix.maxEntries && ix.newest.Sub(it.at) <= ix.window {
			break
		}
		pos := ix.base + int64(ix.head)
		for _, key := range it.sketch.bandKeys() {
			list := ix.buckets[key]
			for k, p := range list {
				if p == pos {
					list = append(list[:k], list[k+1:]...)
					break
				}
			}
			if len(list) == 0 {
				delete(ix.buckets, key)
			} else {
				ix.buckets[key] = list
			}
		}
		if it.id != "" {
			delete(ix.ids, it.id)
		}
		ix.items[ix.head] = nearItem{}
		ix.head++
	}
	// Compact the ring when more than half of it is dead, so that memory
	// follows the live entries.
	if ix.head > 1024 && ix.head*2 > len(ix.items) {
		ix.base += int64(ix.head)
		ix.items = append([]nearItem(nil), ix.items[ix.head:]...)
		ix.head = 0
	}
}
