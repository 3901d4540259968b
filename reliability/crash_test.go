package reliability

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/ingest/replay"
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/wire"
)

// chaosSeed seeds the kill points; NEWSWIRE_CHAOS_SEED replays a run.
func chaosSeed(t *testing.T) uint64 {
	seed := uint64(13)
	if s := os.Getenv("NEWSWIRE_CHAOS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("NEWSWIRE_CHAOS_SEED: %v", err)
		}
		seed = n
	}
	t.Logf("chaos seed %d (NEWSWIRE_CHAOS_SEED=%d replays it)", seed, seed)
	return seed
}

// TestWorkersKilledLoseAndDoubleNothing replays the bundled Telegram posts
// through the real binary's stages, one process each, while the normalizer
// and the synthesizer are SIGKILLed at seeded random points and started
// again. The file is handed to the collector in chunks, and the collector
// is SIGKILLed and restarted at each, so it resumes from its stored
// position.
func TestWorkersKilledLoseAndDoubleNothing(t *testing.T) {
	items, events := 300, 8
	if full() {
		items, events = 4000, 12
	}
	chaos(t, chaosConfig{items: items, events: events})
}

// TestServerKilledLosesNoAcknowledgedItem does the same while the
// nats-server process itself (sync_interval: always) is SIGKILLed and
// restarted on its store at some of the events.
func TestServerKilledLosesNoAcknowledgedItem(t *testing.T) {
	items, events := 300, 8
	if full() {
		items, events = 3000, 12
	}
	chaos(t, chaosConfig{items: items, events: events, killServer: true})
}

type chaosConfig struct {
	items, events int
	killServer    bool
}

// snapshot is what the story watcher keeps of one snapshot.
type snapshot struct {
	seq        uint64
	version    int64
	members    map[string]bool
	mergedInto string
}

func chaos(t *testing.T, cc chaosConfig) {
	newswire, natsserver := binaries(t)
	rng := rand.New(rand.NewPCG(chaosSeed(t), 0))
	dir := t.TempDir()
	logDir := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logDir, 0o750); err != nil {
		t.Fatal(err)
	}
	all, items := replaySlice(t, dir, cc.items)
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = bus.RawMsgID(it.Kind, it.Source, it.ID)
	}
	lines, err := os.ReadFile(all)
	if err != nil {
		t.Fatal(err)
	}
	chunks := splitLines(string(lines), cc.events+1)
	feed := filepath.Join(dir, "feed.jsonl")
	if err := os.WriteFile(feed, []byte(chunks[0]), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	cfg := filepath.Join(dir, "newswire.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
log: {level: warn, format: json}
nats:
  urls: [%s]
normalize:
  %s
synth:
  snapshot_interval: 50ms
  max_provenance: 100000
  %s
sources:
  - {id: telegram-ru, kind: replay, path: %s}
`, dir, url, testBackoff, testBackoff, feed)), 0o600); err != nil {
		t.Fatal(err)
	}
	server := &proc{name: "natsserver", bin: natsserver, args: []string{"-data", dir, "-port", strconv.Itoa(port), "-sync", "always"}, logDir: logDir}
	// The token is created before the server starts, so that the test's
	// client and every stage read the same one.
	tokenOf(t, dir)
	startServer(t, server, url, dir)
	defer server.stop()
	nc, js := client(t, url, dir)
	defer nc.Close()

	stage := func(name string) *proc {
		return &proc{name: name, bin: newswire, args: []string{name, "--config", cfg}, logDir: logDir}
	}
	workers := map[string]*proc{"collect": stage("collect"), "normalize": stage("normalize"), "synth": stage("synth")}
	for _, p := range workers {
		p.start(t)
	}
	defer func() {
		for _, p := range workers {
			p.stop()
		}
	}()
	// A failure says what the stages last logged (warnings and errors).
	t.Cleanup(func() {
		if t.Failed() {
			for name, p := range workers {
				t.Logf("%s, end of its last log:\n%s", name, p.lastLog())
			}
		}
	})

	var mu sync.Mutex
	history := map[string][]snapshot{}
	var watched uint64
	wctx, stopWatch := context.WithCancel(context.Background())
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		watchStories(wctx, js, func(seq uint64, st wire.Story) {
			mu.Lock()
			defer mu.Unlock()
			members := map[string]bool{}
			for _, r := range st.Provenance {
				members[r.EntryID] = true
			}
			history[st.ID] = append(history[st.ID], snapshot{seq: seq, version: st.Version, members: members, mergedInto: st.MergedInto})
		}, func(seq uint64) {
			mu.Lock()
			watched = seq
			mu.Unlock()
		})
	}()
	defer func() { stopWatch(); <-watchDone }()

	// supervise restarts a stage that stopped on its own, as systemd
	// would; with the server up all along none may stop.
	unexpected := 0
	supervise := func() {
		for name, p := range workers {
			if p.exited() {
				unexpected++
				if !cc.killServer {
					t.Errorf("%s stopped on its own: %v\n%s", name, p.err, p.lastLog())
				}
				p.start(t)
			}
		}
	}
	// Each event hands the collector the next chunk of the file and
	// kills a worker or both (and the collector) a moment later, while the
	// chunk goes through them.
	workerKills, serverKills, busyKills := 0, 0, 0
	for ev := 1; ev <= cc.events; ev++ {
		f, err := os.OpenFile(feed, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(chunks[ev]); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if workers["collect"].exited() {
			workers["collect"].start(t)
		}
		time.Sleep(time.Duration(100+rng.IntN(900)) * time.Millisecond)
		supervise()
		victims := []string{"normalize", "synth"}
		switch rng.IntN(3) {
		case 0:
			victims = victims[:1]
		case 1:
			victims = victims[1:]
		}
		for _, v := range victims {
			if busy(js, v) {
				busyKills++
			}
			workers[v].kill()
			workerKills++
		}
		workers["collect"].kill()
		if cc.killServer && (ev%3 == 1 || rng.IntN(3) == 0) {
			before, err := streamMsgs(js, bus.StreamRaw)
			if err != nil {
				t.Fatalf("before server kill %d: %v", serverKills+1, err)
			}
			server.kill()
			serverKills++
			time.Sleep(time.Duration(rng.IntN(1000)) * time.Millisecond)
			startServer(t, server, url, dir)
			var after uint64
			waitFor(t, 60*time.Second, "WIRE_RAW after a server restart", func() string {
				after, err = streamMsgs(js, bus.StreamRaw)
				if err != nil {
					return err.Error()
				}
				return ""
			})
			if after < before {
				t.Errorf("server kill %d: WIRE_RAW held %d acknowledged messages before, %d after the restart", serverKills, before, after)
			}
		}
		for _, v := range victims {
			workers[v].start(t)
		}
	}
	workers["collect"].start(t)
	t.Logf("%d events: %d worker kills (%d with work in hand), %d collector kills, %d server kills, %d stages stopped on their own",
		cc.events, workerKills, busyKills, cc.events, serverKills, unexpected)

	// Done when every item is on WIRE_RAW, both consumers are idle and the
	// watcher has read every snapshot.
	// An item a killed worker held is redelivered after the consumer's
	// BackOff (testBackoff).
	waitFor(t, idleBound(js), "pipeline idle", func() string {
		supervise()
		n, err := streamMsgs(js, bus.StreamRaw)
		if err != nil {
			return err.Error()
		}
		if int(n) < len(ids) {
			return fmt.Sprintf("WIRE_RAW holds %d of %d items", n, len(ids))
		}
		if why := pending(js); why != "" {
			return why
		}
		s, err := js.Stream(context.Background(), bus.StreamStory)
		if err != nil {
			return err.Error()
		}
		info, err := s.Info(context.Background())
		if err != nil {
			return err.Error()
		}
		mu.Lock()
		defer mu.Unlock()
		if watched < info.State.LastSeq {
			return fmt.Sprintf("watcher at snapshot %d of %d", watched, info.State.LastSeq)
		}
		return ""
	})
	for _, p := range workers {
		p.stop()
	}
	stopWatch()
	<-watchDone

	lost, doubled, folded := checkExactlyOnce(t, js, items)
	mu.Lock()
	defer mu.Unlock()
	checkHistories(t, history)
	t.Logf("%d items replayed: %d lost, %d doubled (%d folded by exact dedupe into an earlier item's entry); %d stories, %d snapshots watched",
		len(ids), lost, doubled, folded, len(history), watched)
}

// busy reports whether the stage's consumer has work pending or in hand.
func busy(js jetstream.JetStream, stage string) bool {
	stream := map[string]string{"normalize": bus.StreamRaw, "synth": bus.StreamEntry}[stage]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cons, err := js.Consumer(ctx, stream, stage)
	if err != nil {
		return false
	}
	info, err := cons.Info(ctx)
	return err == nil && (info.NumPending > 0 || info.NumAckPending > 0)
}

// splitLines cuts text into n pieces at line ends.
func splitLines(text string, n int) []string {
	ls := strings.SplitAfter(text, "\n")
	if ls[len(ls)-1] == "" {
		ls = ls[:len(ls)-1]
	}
	out := make([]string, n)
	for i, l := range ls {
		out[i*n/len(ls)] += l
	}
	return out
}

// watchStories reads WIRE_STORY message by message as it grows, across
// server restarts, until ctx ends.
func watchStories(ctx context.Context, js jetstream.JetStream, fn func(uint64, wire.Story), at func(uint64)) {
	next := uint64(1)
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		s, err := js.Stream(rctx, bus.StreamStory)
		var last uint64
		if err == nil {
			var info *jetstream.StreamInfo
			if info, err = s.Info(rctx); err == nil {
				last = info.State.LastSeq
			}
		}
		for err == nil && next <= last {
			var m *jetstream.RawStreamMsg
			m, err = s.GetMsg(rctx, next)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				err = nil // replaced by a later snapshot of its story before it was read
			} else if err == nil {
				var st wire.Story
				if jerr := jsonUnmarshal(m.Data, &st); jerr == nil {
					fn(next, st)
				}
			}
			if err == nil {
				at(next)
				next++
			}
		}
		cancel()
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// checkExactlyOnce checks that every item has one raw message and one
// entry — or, when its text and canonical URL are an earlier item's (the
// same post under two ids), that it was folded into that item's entry —
// and every entry is in exactly one story's last snapshot, which agrees
// with the entries; it returns the items lost, doubled and folded.
func checkExactlyOnce(t *testing.T, js jetstream.JetStream, items []replay.Item) (lost, doubled, folded int) {
	t.Helper()
	perRaw := map[string]int{}
	for _, m := range readAll(t, js, bus.StreamRaw) {
		perRaw[m.Header.Get(bus.HeaderMsgID)]++
	}
	entries := map[string]int{}
	perItem := map[string]int{}
	byURL := map[string][]wire.Entry{}
	for _, m := range readAll(t, js, bus.StreamEntry) {
		var e wire.Entry
		decode(t, m.Data, &e)
		entries[e.ID]++
		perItem[e.Raw.MsgID]++
		byURL[e.URL] = append(byURL[e.URL], e)
	}
	isFolded := func(it replay.Item, id string) bool {
		for _, e := range byURL[normalize.CanonicalURL(it.URL)] {
			if e.Raw.MsgID != id && it.Title != "" && e.Headline == it.Title {
				return true
			}
		}
		return false
	}
	for _, it := range items {
		id := bus.RawMsgID(it.Kind, it.Source, it.ID)
		switch {
		case perRaw[id] == 1 && perItem[id] == 0 && isFolded(it, id):
			folded++
		case perRaw[id] == 0 || perItem[id] == 0:
			lost++
			t.Errorf("item %s: %d raw messages, %d entries", id, perRaw[id], perItem[id])
		case perRaw[id] > 1 || perItem[id] > 1:
			doubled++
			t.Errorf("item %s: %d raw messages, %d entries", id, perRaw[id], perItem[id])
		}
	}
	if len(perRaw) != len(items) || len(entries) != len(items)-folded {
		t.Errorf("%d raw message ids and %d entry ids for %d items (%d folded)", len(perRaw), len(entries), len(items), folded)
	}
	for id, n := range entries {
		if n != 1 {
			t.Errorf("entry %s published %d times", id, n)
		}
	}
	last := map[string]wire.Story{}
	for _, m := range readAll(t, js, bus.StreamStory) {
		var st wire.Story
		decode(t, m.Data, &st)
		last[st.ID] = st
	}
	inStories := map[string]int{}
	for _, st := range last {
		if st.MergedInto != "" {
			continue
		}
		if st.Truncated > 0 {
			t.Fatalf("story %s is truncated; the check needs whole provenance lists", st.ID)
		}
		if st.Counts.Entries != len(st.Provenance) {
			t.Errorf("story %s counts %d entries and lists %d", st.ID, st.Counts.Entries, len(st.Provenance))
		}
		for _, r := range st.Provenance {
			inStories[r.EntryID]++
			if entries[r.EntryID] == 0 {
				t.Errorf("story %s holds %s, which is no entry", st.ID, r.EntryID)
			}
		}
	}
	for id := range entries {
		if inStories[id] != 1 {
			t.Errorf("entry %s is in %d stories, want 1", id, inStories[id])
		}
	}
	return lost, doubled, folded
}

// checkHistories checks every story's snapshots in stream order: the
// version rises, no member is lost, and nothing follows a snapshot that
// says the story was merged away (which would be a refounding).
func checkHistories(t *testing.T, history map[string][]snapshot) {
	t.Helper()
	for id, snaps := range history {
		for i := 1; i < len(snaps); i++ {
			prev, cur := snaps[i-1], snaps[i]
			if cur.version <= prev.version {
				t.Errorf("story %s: snapshot %d has version %d after version %d (refounded?)", id, cur.seq, cur.version, prev.version)
			}
			if prev.mergedInto != "" && cur.mergedInto != prev.mergedInto {
				// The same final snapshot again (a worker that rebuilt
				// republishes what unacknowledged entries touched) says
				// nothing new; anything else after a merge would.
				t.Errorf("story %s: snapshot %d (merged into %q) after it was merged into %s", id, cur.seq, cur.mergedInto, prev.mergedInto)
			}
			if cur.mergedInto != "" {
				continue
			}
			for m := range prev.members {
				if !cur.members[m] {
					t.Errorf("story %s: snapshot %d (version %d) lost member %s", id, cur.seq, cur.version, m)
					break
				}
			}
		}
	}
}
