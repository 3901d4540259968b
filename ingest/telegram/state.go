package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/newswire/newswire/ingest"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/newswire/newswire/bus"
)

// StateStore is the part of the wire_source KV bucket the collector uses.
type StateStore interface {
	Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error)
	Put(ctx context.Context, key string, value []byte) (uint64, error)
}

// State is what the collector keeps per source in wire_source, under
// StateKey(source id). It survives restarts: the resolved peer (so
// @username is resolved once), the last message id taken (the min_id of
// the next poll), and the visible health counters.
type State struct {
	Username   string `json:"username"`
	ChannelID  int64  `json:"channel_id,omitempty"`
	AccessHash int64  `json:"access_hash,omitempty"`
	Title      string `json:"title,omitempty"`
	// LastID is the highest message id handed to the bus (or skipped on
	// purpose); the next poll asks for min_id = LastID.
	LastID int `json:"last_id"`
	// Gaps counts message ids that were missing from the history and could
	// not be fetched one by one either (deleted, or beyond a poll's limit);
	// Recovered counts missing ids that the second fetch did return.
	Gaps      int64 `json:"gaps"`
	Recovered int64 `json:"recovered"`
	// Health holds the fields every collector writes for operators
	// (errors, last poll and success, next poll, published); Failing is set
	// while the source cannot be read for a reason only its owner or the
	// operator can fix (private channel, unknown username).
	ingest.Health
	// Recent holds the ids of the latest published posts, oldest first, at
	// most the source's Recheck; they are asked for again now and then,
	// and a post found deleted is withdrawn and leaves the list, which is
	// what keeps a restart from withdrawing it twice. Rechecked is when
	// that was last done; Withdrawn counts the withdrawals published.
	Recent    []int     `json:"recent_ids,omitempty"`
	Rechecked time.Time `json:"last_recheck,omitzero"`
	Withdrawn int64     `json:"withdrawn"`
}

// remember adds a published id to Recent, keeping the newest limit ids.
func (st *State) remember(id, limit int) {
	if limit <= 0 || slices.Contains(st.Recent, id) {
		return
	}
	st.Recent = append(st.Recent, id)
	slices.Sort(st.Recent)
	if over := len(st.Recent) - limit; over > 0 {
		st.Recent = slices.Delete(st.Recent, 0, over)
	}
}

// forget removes a withdrawn id from Recent.
func (st *State) forget(id int) {
	st.Recent = slices.DeleteFunc(st.Recent, func(r int) bool { return r == id })
}

// StateKey is the wire_source key of a telegram source.
func StateKey(sourceID string) string { return "telegram." + bus.Token(sourceID) }

func loadState(ctx context.Context, kv StateStore, sourceID string) (State, error) {
	e, err := kv.Get(ctx, StateKey(sourceID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return State{}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("telegram: load state of %s: %w", sourceID, err)
	}
	var st State
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		return State{}, fmt.Errorf("telegram: state of %s is not valid JSON (delete key %s in %s to start over): %w", sourceID, StateKey(sourceID), bus.BucketSource, err)
	}
	return st, nil
}

func saveState(ctx context.Context, kv StateStore, sourceID string, st State) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("telegram: encode state: %w", err)
	}
	if _, err := kv.Put(ctx, StateKey(sourceID), data); err != nil {
		return fmt.Errorf("telegram: save state of %s: %w", sourceID, err)
	}
	return nil
}
