package synth

import (
	"hash/fnv"
	"time"

	"github.com/newswire/newswire/bus"
)

// seenHorizon is how long the worker remembers an entry id, on the
// stream clock: as long as WIRE_ENTRY keeps entries, which is also what a
// restarted worker replays and so can know.
var seenHorizon = bus.DefaultTopology().EntryMaxAge

// seenEntries remembers every entry id the clusterer placed, so that a
// late copy of an entry whose story went stale — and left the index —
// is recognised: placed again it would found a one-member story, under
// its old story's id if it founded that one, whose snapshot would
// replace the story's last. The normalizer publishes an entry id once
// within fingerprint_ttl (see normalize/published.go); this covers what
// reaches the stream anyway: an entry past that horizon, or one written
// by something else.
//
// Ids are kept as 64-bit FNV-1a hashes with the stream time they were
// placed at (≈ 24 bytes an entry); two ids of one stream sharing a hash
// is a chance of about n²/2⁶⁵.
//
// The zero value is ready to use.
type seenEntries struct {
	at    map[uint64]int64
	prune schedule
}

func seenKey(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

func (s *seenEntries) has(id string) bool {
	_, ok := s.at[seenKey(id)]
	return ok
}

// add records id at the stream clock, and drops ids older than
// seenHorizon once an hour of stream time, so that a worker and a replay
// of the same stream forget the same ids at the same entries.
func (s *seenEntries) add(id string, clock time.Time) {
	if s.at == nil {
		s.at = make(map[uint64]int64)
	}
	// A redelivery keeps the first time, as a replay of the stream would.
	if k := seenKey(id); s.at[k] == 0 {
		s.at[k] = clock.Unix()
	}
	if s.prune.due(clock, time.Hour) {
		cut := clock.Add(-seenHorizon).Unix()
		for k, at := range s.at {
			if at < cut {
				delete(s.at, k)
			}
		}
	}
}
