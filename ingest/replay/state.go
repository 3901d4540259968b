package replay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/ingest"
)

// StateStore is the part of the wire_source KV bucket the collector uses.
type StateStore interface {
	Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error)
	Put(ctx context.Context, key string, value []byte) (uint64, error)
}

// State is what the collector keeps per source in wire_source, under
// StateKey(source id), so that a restart neither publishes the file again
// nor loses the rest of it.
type State struct {
	Path string `json:"path"`
	// Head is the SHA-256 of the file's first HeadLen bytes (at most
	// headBytes) when it was first read: another file put at the same
	// path is read from its start, a file that grew (lines appended) from
	// where the last run stopped.
	Head    string `json:"head"`
	HeadLen int64  `json:"head_len"`
	// Line is the last line handed to the bus (or skipped as bad); the
	// next run starts after it.
	Line int `json:"line"`
	// Finished is when a run last read the file to its end (zero while
	// it has not): a source that publishes nothing more is done, not stuck.
	Finished time.Time `json:"finished,omitzero"`
	ingest.Health
}

// saveEvery is how many lines the collector reads between saves of its
// position. A crash re-reads at most this many lines; their raw items
// carry the same Nats-Msg-Id, and the normalizer's publication markers
// keep them from becoming second entries after the duplicate window.
const saveEvery = 256

// saveInterval is the longest the collector goes without saving a
// position that moved, so that its health (last poll, items published)
// is current within seconds on a paced replay, and is there from the
// first item rather than after the first saveEvery lines.
const saveInterval = 5 * time.Second

const headBytes = 64 << 10

// Kind is the source kind of replay sources in the configuration.
const Kind = "replay"

// StateKey is the wire_source key of a replay source.
func StateKey(sourceID string) string { return ingest.HealthKey(Kind, sourceID) }

// fileHead hashes the first n bytes of f (fewer if it is shorter) and
// rewinds it; it returns how many bytes it hashed.
func fileHead(f *os.File, n int64) (string, int64, error) {
	h := sha256.New()
	got, err := io.CopyN(h, f, n)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", 0, fmt.Errorf("replay: read %s: %w", f.Name(), err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", 0, fmt.Errorf("replay: rewind %s: %w", f.Name(), err)
	}
	return hex.EncodeToString(h.Sum(nil)), got, nil
}

// load returns the stored position of the file f, or a fresh state.
func (c *Collector) load(ctx context.Context, f *os.File) (State, error) {
	head, n, err := fileHead(f, headBytes)
	if err != nil {
		return State{}, err
	}
	fresh := State{Path: c.cfg.Path, Head: head, HeadLen: n}
	st, err := c.stored(ctx)
	if err != nil {
		fresh.Errors, fresh.LastError = 1, err.Error()
		return fresh, nil
	}
	if st == nil {
		return fresh, nil
	}
	same := false
	if st.Path == c.cfg.Path {
		sh, sn, err := fileHead(f, st.HeadLen)
		if err != nil {
			return State{}, err
		}
		same = sn == st.HeadLen && sh == st.Head
	}
	if !same {
		c.log.Warn("replay: the stored position is of another file; reading this one from its start",
			zap.String("file", c.cfg.Path), zap.String("stored_file", st.Path))
		fresh.Published = st.Published
		return fresh, nil
	}
	return *st, nil
}

// stored reads the stored state: nil when there is none (or no store). A
// state that cannot be read is logged, counted and returned as an error;
// the caller reads the file from its start rather than stopping: its
// items are on the bus with the same Nats-Msg-Ids, and the normalizer
// publishes no entry twice.
func (c *Collector) stored(ctx context.Context) (*State, error) {
	if c.kv == nil {
		return nil, nil
	}
	key := StateKey(c.cfg.ID)
	e, err := c.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	var st State
	if err == nil {
		if jerr := json.Unmarshal(e.Value(), &st); jerr != nil {
			err = fmt.Errorf("replay: state of %s is not valid JSON: %w", c.cfg.ID, jerr)
		}
	}
	if err != nil {
		c.stateErrors.Add(1)
		c.log.Error("replay: stored position unreadable; reading the file from its start",
			zap.String("key", key), zap.String("bucket", bus.BucketSource), zap.Error(err))
		return nil, err
	}
	return &st, nil
}

func (c *Collector) save(ctx context.Context, st *State) error {
	st.LastPoll = c.now().UTC()
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("replay: encode state: %w", err)
	}
	if _, err := c.kv.Put(ctx, StateKey(c.cfg.ID), data); err != nil {
		return fmt.Errorf("replay: save state of %s: %w", c.cfg.ID, err)
	}
	return nil
}
