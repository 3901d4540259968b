package normalize

import (
	"sync"
	"time"
)

// nearIndex finds earlier entries whose SimHash lies within a Hamming
// distance of a new one. With a distance d ≤ 3 the 64 bits are split into
// four 16-bit bands; two hashes within distance 3 agree exactly on at least
// one band (pigeonhole), so a lookup probes four buckets instead of scanning.
// The index keeps entries of a sliding time window and at most maxEntries.
type nearIndex struct {
	mu         sync.Mutex
	distance   int
	window     time.Duration
	maxEntries int
	bands      [4]map[uint16][]int32
	items      []nearItem // ring in insertion order
	head       int        // index of the oldest live item
	base       int32      // position of items[0] in the insertion sequence
}

type nearItem struct {
	id   string
	hash uint64
	at   time.Time
}

func newNearIndex(distance int, window time.Duration, maxEntries int) *nearIndex {
	ix := &nearIndex{distance: distance, window: window, maxEntries: maxEntries}
	for i := range ix.bands {
		ix.bands[i] = make(map[uint16][]int32)
	}
	return ix
}

// Match returns the id of the earliest indexed entry within the distance of h.
func (ix *nearIndex) Match(h uint64) (string, bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	best := int32(-1)
	for b := 0; b < 4; b++ {
		key := uint16(h >> (16 * uint(b)))
		for _, pos := range ix.bands[b][key] {
			i := int(pos - ix.base)
			if i < ix.head || i >= len(ix.items) {
				continue
			}
			if Hamming(ix.items[i].hash, h) <= ix.distance && (best < 0 || pos < best) {
				best = pos
			}
		}
	}
	if best < 0 {
		return "", false
	}
	return ix.items[int(best-ix.base)].id, true
}

// Add indexes an entry and evicts entries that left the window.
func (ix *nearIndex) Add(id string, h uint64, at time.Time) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	pos := ix.base + int32(len(ix.items))
	ix.items = append(ix.items, nearItem{id: id, hash: h, at: at})
	for b := 0; b < 4; b++ {
		key := uint16(h >> (16 * uint(b)))
		ix.bands[b][key] = append(ix.bands[b][key], pos)
	}
	ix.evict(at)
}

func (ix *nearIndex) evict(now time.Time) {
	for ix.head < len(ix.items) {
		it := ix.items[ix.head]
		if len(ix.items)-ix.head <= ix.maxEntries && now.Sub(it.at) <= ix.window {
			break
		}
		pos := ix.base + int32(ix.head)
		for b := 0; b < 4; b++ {
			key := uint16(it.hash >> (16 * uint(b)))
			list := ix.bands[b][key]
			for k, p := range list {
				if p == pos {
					list = append(list[:k], list[k+1:]...)
					break
				}
			}
			if len(list) == 0 {
				delete(ix.bands[b], key)
			} else {
				ix.bands[b][key] = list
			}
		}
		ix.items[ix.head] = nearItem{}
		ix.head++
	}
	// Compact the ring when more than half of it is dead.
	if ix.head > 1024 && ix.head*2 > len(ix.items) {
		ix.base += int32(ix.head)
		ix.items = append([]nearItem(nil), ix.items[ix.head:]...)
		ix.head = 0
	}
}
