package rss

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/ingest"
)

// State is one feed's collector state, kept in the wire_source KV bucket
// under StateKey(feed id) so that a restarted collector, or another one
// taking over, resumes where this one stopped.
type State struct {
	Source string `json:"source"`
	// ConfiguredURL is the URL the configuration gave; when the operator
	// changes it, the stored URL and validators are dropped.
	ConfiguredURL string `json:"configured_url"`
	// URL is what is polled: ConfiguredURL, or where a permanent redirect led.
	URL          string    `json:"url"`
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"last_modified,omitempty"`
	NextPoll     time.Time `json:"next_poll"`
	LastPoll     time.Time `json:"last_poll,omitzero"`
	// Polls counts the feed's polls, whatever their outcome (ingest.Health's field).
	Polls       int64     `json:"polls"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastStatus  int       `json:"last_status,omitempty"`
	// Errors counts consecutive failed polls; zero when the last one worked.
	Errors      int       `json:"errors"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// IntervalSeconds is the wait the scheduler chose after the last poll.
	IntervalSeconds int64 `json:"interval_seconds,omitempty"`
	Items           int   `json:"items"`
	// CharsetGuessed names the character set the last document was read
	// in when it declared none and was not UTF-8 (ingest.Health's field).
	CharsetGuessed string `json:"charset_guessed,omitempty"`
	Published      int64  `json:"published"`
	// Freshness learns how often the feed has something new (ingest.Health's fields).
	ingest.Freshness
	// Seen is the seen-window: "key" or "key:hash" of the identities
	// published lately, oldest first.
	Seen   []string     `json:"seen,omitempty"`
	WebSub *WebSubState `json:"websub,omitempty"`
}

// WebSubState is a feed's WebSub subscription.
type WebSubState struct {
	Hub   string `json:"hub"`
	Topic string `json:"topic"`
	// SecretNonce, with the collector's WebSub key, derives the secret the
	// hub signs with (websub.secret); the secret itself is not stored, so
	// whoever can read wire_source cannot forge deliveries.
	SecretNonce string `json:"secret_nonce,omitempty"`
	// Verified is set once the hub confirmed the subscription.
	Verified   bool      `json:"verified"`
	LeaseUntil time.Time `json:"lease_until,omitzero"`
	Requested  time.Time `json:"requested,omitzero"`
	Pushes     int64     `json:"pushes,omitempty"`
	// Error is why the last subscription request failed (a refused hub
	// address among others); empty once one succeeded.
	Error string `json:"error,omitempty"`
}

// StateKey is the wire_source key of a feed's state.
func StateKey(feedID string) string { return "rss." + bus.Token(feedID) }

// ErrNoState is returned by LoadState for a feed never polled.
var ErrNoState = errors.New("rss: no state stored for this feed")

// errBadState wraps a stored state that does not decode.
var errBadState = errors.New("rss: stored state unreadable")

// stateKV is what the collector needs of the wire_source bucket.
type stateKV interface {
	Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error)
	Put(ctx context.Context, key string, value []byte) (uint64, error)
}

// LoadState reads one feed's state.
func LoadState(ctx context.Context, kv stateKV, feedID string) (*State, error) {
	e, err := kv.Get(ctx, StateKey(feedID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, ErrNoState
	}
	if err != nil {
		return nil, fmt.Errorf("rss: load state of %s: %w", feedID, err)
	}
	var st State
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errBadState, feedID, err)
	}
	return &st, nil
}

func saveState(ctx context.Context, kv stateKV, feedID string, st *State) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("rss: encode state of %s: %w", feedID, err)
	}
	if _, err := kv.Put(ctx, StateKey(feedID), data); err != nil {
		return fmt.Errorf("rss: save state of %s: %w", feedID, err)
	}
	return nil
}

// seenWindow is the in-memory form of State.Seen.
type seenWindow struct {
	order []string
	// hash maps a key to its content hash ("" when not recorded).
	hash map[string]string
}

func newSeenWindow(entries []string) *seenWindow {
	w := &seenWindow{hash: make(map[string]string, len(entries))}
	for _, e := range entries {
		key, h := e, ""
		if i := indexByte(e, ':'); i >= 0 {
			key, h = e[:i], e[i+1:]
		}
		if _, dup := w.hash[key]; !dup {
			w.order = append(w.order, key)
		}
		w.hash[key] = h
	}
	return w
}

func (w *seenWindow) has(key string) bool {
	_, ok := w.hash[key]
	return ok
}

func (w *seenWindow) add(key, hash string) {
	if _, ok := w.hash[key]; !ok {
		w.order = append(w.order, key)
	}
	w.hash[key] = hash
}

// entries returns the newest limit entries for storage.
func (w *seenWindow) entries(limit int) []string {
	order := w.order
	if len(order) > limit {
		for _, k := range order[:len(order)-limit] {
			delete(w.hash, k)
		}
		order = order[len(order)-limit:]
		w.order = order
	}
	out := make([]string, len(order))
	for i, k := range order {
		if h := w.hash[k]; h != "" {
			out[i] = k + ":" + h
		} else {
			out[i] = k
		}
	}
	return out
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}
