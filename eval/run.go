package eval

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/ingest/replay"
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/synth"
	"github.com/newswire/newswire/wire"
)

// Options configure an evaluation run.
type Options struct {
	Normalize normalize.Config
	Synth     synth.Config
	// StoreDir holds the throwaway JetStream store; empty means a temp dir.
	StoreDir string
	Log      *zap.Logger
}

// Result is what an evaluation measured.
type Result struct {
	Scores
	Seconds     float64 `json:"seconds"`
	ItemsPerSec float64 `json:"items_per_second"`
	// Folded counts items that exact dedupe folded into an earlier entry.
	Folded int `json:"folded"`
	// Unassigned counts items that reached no story (dead-lettered input).
	Unassigned  int          `json:"unassigned"`
	Assignments []Assignment `json:"-"`
}

// Assignment is one line of the --assignments file.
type Assignment struct {
	ID    string `json:"id"`
	Story string `json:"story"`
}

// Run publishes the items of a labelled replay file as raw items on a fresh
// embedded bus, lets the production normalizer and synthesizer workers
// process them, and scores the stories they published against the labels.
func Run(ctx context.Context, path string, opts Options) (*Result, error) {
	items, err := replay.ReadFile(path)
	if err != nil {
		return nil, err
	}
	res, err := RunItems(ctx, items, opts)
	if err != nil {
		return nil, fmt.Errorf("eval: %s: %w", path, err)
	}
	return res, nil
}

// RunItems is Run on items already read, in the order given: the held-out
// and time-ordered reports feed subsets and reorderings of one file.
func RunItems(ctx context.Context, items []replay.Item, opts Options) (*Result, error) {
	gold := make([]string, len(items))
	for i, it := range items {
		if it.Label == "" {
			return nil, fmt.Errorf("eval: item %s has no label", it.ID)
		}
		gold[i] = it.Label
	}
	log := opts.Log
	if log == nil {
		log = zap.NewNop()
	}
	b, err := openBus(ctx, opts.StoreDir, log)
	if err != nil {
		return nil, err
	}
	defer b.close()
	nc, js := b.nc, b.js
	nw, err := normalize.NewWorker(ctx, opts.Normalize, js, log)
	if err != nil {
		return nil, err
	}
	sw, err := synth.NewWorker(ctx, opts.Synth, nc, js, log)
	if err != nil {
		return nil, err
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 2)
	go func() { done <- nw.Run(wctx) }()
	go func() { done <- sw.Run(wctx) }()

	start := time.Now()
	observed := Arrivals(items, start)
	if err := publishAll(ctx, js, items, observed); err != nil {
		stop()
		return nil, err
	}
	waitErr := waitIdle(ctx, js, sw, len(items))
	elapsed := time.Since(start)
	stop()
	for range 2 {
		if err := <-done; err != nil {
			return nil, err
		}
	}
	if waitErr != nil {
		return nil, waitErr
	}
	storyOf, err := readStories(ctx, js)
	if err != nil {
		return nil, err
	}
	fp, err := js.KeyValue(ctx, bus.BucketFingerprint)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	res := &Result{Seconds: elapsed.Seconds(), ItemsPerSec: float64(len(items)) / elapsed.Seconds()}
	pred := make([]string, len(items))
	for i, it := range items {
		raw := it.Raw(observed[i])
		msgID := bus.RawMsgID(raw.Kind, raw.Source, raw.NativeID)
		story, ok := storyOf[normalize.EntryID(msgID)]
		if !ok {
			// Exact dedupe folded it: the entry holding its fingerprint has the story.
			if e, err := normalize.Normalize(opts.Normalize, raw, wireRef(msgID)); err == nil {
				if kv, err := fp.Get(ctx, e.Fingerprint.Exact); err == nil {
					story, ok = storyOf[string(kv.Value())]
					if ok {
						res.Folded++
					}
				}
			}
		}
		if !ok {
			res.Unassigned++
			story = "unassigned:" + it.ID
		}
		pred[i] = story
		res.Assignments = append(res.Assignments, Assignment{ID: it.ID, Story: story})
	}
	res.Scores = Score(gold, pred)
	return res, nil
}

// Arrivals are the times the evaluation's simulated wire observes the
// items: each when it was published, as a live collector would, so that
// the synthesizer's stream clock (which makes quiet stories stale and
// decays term frequencies) runs on the stream's own time however fast the
// file is read. Read in a moment, a stream of months would otherwise keep
// every story active and count its words as if all were written at once.
// An item without a readable time, or with one after start (nothing was
// published after the file was read: such a time is wrong, and it would
// push the clock ahead and make every story stale), arrives 1 ms after the
// one before it; items before the first readable time arrive in the
// milliseconds just before it. A file without any readable time arrives
// from start on.
func Arrivals(items []replay.Item, start time.Time) []time.Time {
	out := make([]time.Time, len(items))
	known := make([]bool, len(items))
	first := -1
	for i, it := range items {
		if t, err := normalize.ParseTime(it.PublishedAt); err == nil && !t.After(start) {
			out[i], known[i] = t, true
			if first < 0 {
				first = i
			}
		}
	}
	prev := start.Add(-time.Millisecond)
	if first >= 0 {
		prev = out[first].Add(-time.Duration(first+1) * time.Millisecond)
	}
	for i := range out {
		if !known[i] {
			out[i] = prev.Add(time.Millisecond)
		}
		prev = out[i]
	}
	return out
}

func publishAll(ctx context.Context, js jetstream.JetStream, items []replay.Item, observed []time.Time) error {
	for i, it := range items {
		msg, err := ingest.RawMsg(it.Raw(observed[i]))
		if err != nil {
			return fmt.Errorf("eval: item %s: %w", it.ID, err)
		}
		_, err = js.PublishMsgAsync(msg)
		for tries := 0; errors.Is(err, jetstream.ErrTooManyStalledMsgs) && tries < 100; tries++ {
			// A slow disk or a busy core let the acks fall behind: wait
			// for them rather than fail the run.
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
			_, err = js.PublishMsgAsync(msg)
		}
		if err != nil {
			return fmt.Errorf("eval: publish: %w", err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// evalBus is a throwaway embedded server with the design's topology.
type evalBus struct {
	emb     *bus.Embedded
	nc      *nats.Conn
	js      jetstream.JetStream
	tempDir string
}

// openBus starts an embedded server on dir (a new temp dir when empty,
// removed by close) and creates the topology.
func openBus(ctx context.Context, dir string, log *zap.Logger) (*evalBus, error) {
	b := &evalBus{}
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "newswire-eval-*"); err != nil {
			return nil, fmt.Errorf("eval: temp dir: %w", err)
		}
		b.tempDir = dir
	}
	// A token known only to this process: the server listens on
	// loopback for the run's length, and no other process may write to it.
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		b.close()
		return nil, fmt.Errorf("eval: token: %w", err)
	}
	token := hex.EncodeToString(raw)
	emb, err := bus.StartEmbedded(bus.EmbeddedConfig{
		StoreDir: dir, Port: -1, MaxMemory: 512 << 20, MaxStore: 8 << 30, MaxPayload: 8 << 20, Token: token,
	}, log)
	if err != nil {
		b.close()
		return nil, err
	}
	b.emb = emb
	if b.nc, err = nats.Connect(emb.ClientURL(), nats.Token(token)); err != nil {
		b.close()
		return nil, fmt.Errorf("eval: connect: %w", err)
	}
	if b.js, err = jetstream.New(b.nc, jetstream.WithPublishAsyncMaxPending(4096)); err != nil {
		b.close()
		return nil, fmt.Errorf("eval: jetstream: %w", err)
	}
	if err := bus.EnsureTopology(ctx, b.js, bus.DefaultTopology()); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (b *evalBus) close() {
	if b.nc != nil {
		b.nc.Close()
	}
	if b.emb != nil {
		b.emb.Shutdown()
	}
	if b.tempDir != "" {
		os.RemoveAll(b.tempDir)
	}
}

// waitIdle returns once both consumers have nothing pending and the
// synthesizer has flushed every snapshot.
func waitIdle(ctx context.Context, js jetstream.JetStream, sw *synth.Worker, n int) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		idle := true
		for _, c := range []struct{ stream, name string }{{bus.StreamRaw, normalize.ConsumerName}, {bus.StreamEntry, synth.ConsumerName}} {
			cons, err := js.Consumer(ctx, c.stream, c.name)
			if err != nil {
				return fmt.Errorf("eval: consumer %s: %w", c.name, err)
			}
			info, err := cons.Info(ctx)
			if err != nil {
				return fmt.Errorf("eval: consumer %s: %w", c.name, err)
			}
			if info.NumPending > 0 || info.NumAckPending > 0 || info.NumRedelivered > 0 {
				idle = false
			}
			if c.stream == bus.StreamRaw && info.Delivered.Stream < uint64(n) {
				idle = false
			}
		}
		if idle && sw.Idle() {
			return nil
		}
	}
}

// readStories maps every entry to its story from the last snapshot of each
// story, following merges to the surviving story.
func readStories(ctx context.Context, js jetstream.JetStream) (map[string]string, error) {
	merged := make(map[string]string)
	storyOf := make(map[string]string)
	err := drain(ctx, js, bus.StreamStory, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{bus.SubjectStoryAll},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	}, 500, "stories", func(data []byte) error {
		var st wire.Story
		if err := json.Unmarshal(data, &st); err != nil {
			return fmt.Errorf("eval: decode story: %w", err)
		}
		if st.Truncated > 0 {
			return fmt.Errorf("eval: story %s has a truncated provenance list; raise synth.max_provenance", st.ID)
		}
		if st.MergedInto != "" {
			merged[st.ID] = st.MergedInto
		}
		for _, r := range st.Provenance {
			storyOf[r.EntryID] = st.ID
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for e, s := range storyOf {
		for hops := 0; merged[s] != "" && hops < 64; hops++ {
			s = merged[s]
		}
		storyOf[e] = s
	}
	return storyOf, nil
}

// drain reads a stream through an ordered consumer in batches of batch
// messages, handing each message's data to handle, until the consumer
// has nothing pending. what names the messages in errors. A fetch that
// brings nothing ends the read only when the stream holds nothing: with
// messages left it is a stall, and a score over part of the stories
// would be wrong without saying so.
func drain(ctx context.Context, js jetstream.JetStream, stream string, cfg jetstream.OrderedConsumerConfig, batch int, what string, handle func([]byte) error) error {
	oc, err := bus.OrderedFetcher(ctx, js, stream, cfg)
	if err != nil {
		return fmt.Errorf("eval: read %s: %w", what, err)
	}
	read := 0
	for {
		msgs, err := oc.Fetch(batch, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return fmt.Errorf("eval: read %s: %w", what, err)
		}
		got := 0
		var pending uint64
		for m := range msgs.Messages() {
			got++
			if err := handle(m.Data()); err != nil {
				return err
			}
			if md, err := m.Metadata(); err == nil {
				pending = md.NumPending
			}
		}
		if err := msgs.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, io.EOF) {
			return fmt.Errorf("eval: read %s: %w", what, err)
		}
		read += got
		if got > 0 && pending == 0 {
			return nil
		}
		if got == 0 {
			if read == 0 {
				st, err := js.Stream(ctx, stream)
				if err != nil {
					return fmt.Errorf("eval: read %s: %w", what, err)
				}
				if st.CachedInfo().State.Msgs == 0 {
					return nil
				}
			}
			return fmt.Errorf("eval: read %s: no messages within 1s after %d, with more on %s", what, read, stream)
		}
	}
}

func wireRef(msgID string) provenance.RawRef { return provenance.RawRef{MsgID: msgID} }
