package eval

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/ingest/replay"
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/synth"
	"github.com/newswire/newswire/wire"
)

// Half keeps the items whose gold story falls in one half (0 or 1) of a
// split by a fixed hash of the label. Whole stories go one way, so that
// parameters tuned on one half can be checked on stories they never saw.
func Half(items []replay.Item, half int) []replay.Item {
	var out []replay.Item
	for _, it := range items {
		h := fnv.New32a()
		h.Write([]byte(it.Label))
		if int(h.Sum32()%2) == half {
			out = append(out, it)
		}
	}
	return out
}

// TimeOrdered returns the items sorted by published time, the file's order
// breaking ties. A labelled file that lists its rows story by story
// flatters a streaming clusterer; a live wire interleaves stories.
// Items whose time does not parse keep their place relative to each other
// at the end.
func TimeOrdered(items []replay.Item) []replay.Item {
	return byPublished(items, nil, func(a, b *timed) int { return a.at.Compare(b.at) })
}

// Interleaved returns the items ordered by the hour of their published
// time and, within an hour, by a hash of their id and seed. The UCI rows
// come grouped by story with crawl times seconds apart, so file order and
// time order both hand a streaming clusterer each story as one burst; a
// live wire mixes the stories of an hour. Different seeds give different
// mixes of the same hours, so a figure can be averaged over orders instead
// of tuned to one. Items whose time does not parse keep their place
// relative to each other at the end.
func Interleaved(items []replay.Item, seed uint32) []replay.Item {
	mix := func(it replay.Item) uint32 {
		h := fnv.New32a()
		fmt.Fprintf(h, "%d\x00%s", seed, it.ID)
		return h.Sum32()
	}
	return byPublished(items, mix, func(a, b *timed) int {
		if c := cmp.Compare(a.at.Unix()/3600, b.at.Unix()/3600); c != 0 {
			return c
		}
		return cmp.Compare(a.mix, b.mix)
	})
}

// timed is an item with its parsed published time and a mixing key.
type timed struct {
	it  replay.Item
	at  time.Time
	mix uint32
	ok  bool
}

// byPublished sorts items stably by compare over their published times
// (mix, when given, sets each item's mixing key); items whose time does
// not parse keep their place relative to each other at the end.
func byPublished(items []replay.Item, mix func(replay.Item) uint32, compare func(a, b *timed) int) []replay.Item {
	ts := make([]timed, len(items))
	for i, it := range items {
		at, err := normalize.ParseTime(it.PublishedAt)
		ts[i] = timed{it: it, at: at, ok: err == nil}
		if mix != nil {
			ts[i].mix = mix(it)
		}
	}
	slices.SortStableFunc(ts, func(a, b timed) int {
		switch {
		case a.ok != b.ok:
			if a.ok {
				return -1
			}
			return 1
		case !a.ok:
			return 0
		}
		return compare(&a, &b)
	})
	out := make([]replay.Item, len(ts))
	for i, t := range ts {
		out[i] = t.it
	}
	return out
}

// Stream is a labelled file after the production normalizer: the entries
// in the order the synthesizer would receive them, and for every item the
// entry that stands for it (its own, or the one exact dedupe folded it
// into). Clustering it in memory takes a fraction of a second, which is
// what parameter sweeps need; the figures to publish come from Run.
type Stream struct {
	Entries []wire.Entry
	Gold    []string // per item
	EntryOf []string // per item; empty when the item reached no entry
}

// Normalized runs items through the production normalizer on a fresh
// embedded bus and returns the resulting entry stream.
func Normalized(ctx context.Context, items []replay.Item, cfg normalize.Config, log *zap.Logger) (*Stream, error) {
	if log == nil {
		log = zap.NewNop()
	}
	b, err := openBus(ctx, "", log)
	if err != nil {
		return nil, err
	}
	defer b.close()
	js := b.js
	nw, err := normalize.NewWorker(ctx, cfg, js, log)
	if err != nil {
		return nil, err
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- nw.Run(wctx) }()
	observed := Arrivals(items, time.Now())
	err = publishAll(ctx, js, items, observed)
	if err == nil {
		err = waitNormalized(ctx, js, len(items))
	}
	stop()
	if werr := <-done; err == nil {
		err = werr
	}
	if err != nil {
		return nil, err
	}
	st := &Stream{Gold: make([]string, len(items)), EntryOf: make([]string, len(items))}
	if st.Entries, err = readEntries(ctx, js); err != nil {
		return nil, err
	}
	have := make(map[string]bool, len(st.Entries))
	for _, e := range st.Entries {
		have[e.ID] = true
	}
	fp, err := js.KeyValue(ctx, bus.BucketFingerprint)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	for i, it := range items {
		st.Gold[i] = it.Label
		raw := it.Raw(observed[i])
		id := normalize.EntryID(bus.RawMsgID(raw.Kind, raw.Source, raw.NativeID))
		if !have[id] {
			id = ""
			if e, err := normalize.Normalize(cfg, raw, wireRef(bus.RawMsgID(raw.Kind, raw.Source, raw.NativeID))); err == nil {
				if kv, err := fp.Get(ctx, e.Fingerprint.Exact); err == nil && have[string(kv.Value())] {
					id = string(kv.Value())
				}
			}
		}
		st.EntryOf[i] = id
	}
	return st, nil
}

func waitNormalized(ctx context.Context, js jetstream.JetStream, n int) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		cons, err := js.Consumer(ctx, bus.StreamRaw, normalize.ConsumerName)
		if err != nil {
			return fmt.Errorf("eval: consumer %s: %w", normalize.ConsumerName, err)
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return fmt.Errorf("eval: consumer %s: %w", normalize.ConsumerName, err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Stream >= uint64(n) {
			return nil
		}
	}
}

func readEntries(ctx context.Context, js jetstream.JetStream) ([]wire.Entry, error) {
	var out []wire.Entry
	err := drain(ctx, js, bus.StreamEntry, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{bus.SubjectEntryAll},
	}, 1000, "entries", func(data []byte) error {
		var e wire.Entry
		if err := json.Unmarshal(data, &e); err != nil {
			return fmt.Errorf("eval: decode entry: %w", err)
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// Cluster runs the stream through a fresh Clusterer, the worker's decision
// code without the bus, and scores the stories each item ended in.
func (st *Stream) Cluster(cfg synth.Config) (Scores, error) {
	pred, err := st.Assign(cfg)
	if err != nil {
		return Scores{}, err
	}
	return Score(st.Gold, pred), nil
}

// Assign runs the stream through a fresh Clusterer and returns, per item,
// the story it ended in (after merges and splits). Items that reached no
// entry get a singleton label of their own.
func (st *Stream) Assign(cfg synth.Config) ([]string, error) {
	c, err := synth.NewClusterer(cfg)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	storyOf := make(map[string]string, len(st.Entries))
	splits := c.Changes().Split
	for _, e := range st.Entries {
		if id := c.Add(e); id != "" {
			storyOf[e.ID] = id
		}
		// A split moves reports placed before to another story: every
		// entry an active story holds is looked up again (splits are
		// rare, and a story that went stale moves nothing after).
		if n := c.Changes().Split; n != splits {
			splits = n
			for id := range storyOf {
				if s, ok := c.StoryOf(id); ok {
					storyOf[id] = s
				}
			}
		}
	}
	pred := make([]string, len(st.Gold))
	for i, id := range st.EntryOf {
		s, ok := storyOf[id]
		if !ok {
			pred[i] = "unassigned:" + strconv.Itoa(i)
			continue
		}
		pred[i] = c.Survivor(s)
	}
	return pred, nil
}
