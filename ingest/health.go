package ingest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/newswire/newswire/bus"
)

// Health is the part of a collector's per-source state that operators
// read. Every collector keeps its state in the wire_source bucket under
// HealthKey(kind, source) and writes at least these fields with these
// JSON names, so that `newswire sources` and /metrics can show the health
// of any source without knowing its collector.
type Health struct {
	// Errors counts failed polls (consecutive or total, as the collector's
	// README says); zero means the last poll worked for rss.
	Errors    int64  `json:"errors"`
	LastError string `json:"last_error,omitempty"`
	// Failing marks a source that cannot be read for a reason only its
	// owner or the operator can fix (private channel, no public preview).
	Failing     bool      `json:"failing,omitempty"`
	LastPoll    time.Time `json:"last_poll,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	NextPoll    time.Time `json:"next_poll,omitzero"`
	// Polls counts the times the collector asked the source for news: a
	// poll of a feed, page, channel or timeline, or a stream's connection,
	// whatever its outcome.
	Polls int64 `json:"polls"`
	// Published counts items the bus stored as new.
	Published int64 `json:"published"`
	// CharsetGuessed names the character set the collector read the last
	// document in because it declared none and was not UTF-8; its text may
	// be wrong in places (empty when the document was declared or UTF-8).
	CharsetGuessed string `json:"charset_guessed,omitempty"`
	// Freshness is the source's learned cadence of new items; see Quiet.
	Freshness
}

// HealthKey is the wire_source key of a source's collector state.
func HealthKey(kind, sourceID string) string { return bus.Token(kind) + "." + bus.Token(sourceID) }

// ReadHealth reads the common health fields out of a stored state.
func ReadHealth(data []byte) (Health, error) {
	var h Health
	if err := json.Unmarshal(data, &h); err != nil {
		return Health{}, fmt.Errorf("ingest: source state: %w", err)
	}
	return h, nil
}
