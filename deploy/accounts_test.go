package deploy_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/ingest/replay"
	"github.com/newswire/newswire/metrics"
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/synth"
	"github.com/newswire/newswire/web"
)

var roles = []string{"admin", "collect", "normalize", "synth", "serve", "reader"}

// setPasswords gives every user of accounts.conf a password in the
// environment, as nats-server.service does from /etc/nats/newswire.env.
func setPasswords(t *testing.T) {
	for _, r := range roles {
		t.Setenv("NEWSWIRE_"+strings.ToUpper(r)+"_PASSWORD", "pw-"+r)
	}
	t.Setenv("NATS_SYSTEM_PASSWORD", "pw-system")
}

// startWithAccounts starts a real nats-server with the shipped accounts
// file and JetStream on a temp dir.
func startWithAccounts(t *testing.T) string {
	t.Helper()
	setPasswords(t)
	opts, err := server.ProcessConfigFile("nats/accounts.conf")
	if err != nil {
		t.Fatal(err)
	}
	opts.Host, opts.Port = "127.0.0.1", -1
	opts.JetStream, opts.StoreDir = true, t.TempDir()
	opts.ServerName = "accounts-test"
	opts.NoSigs = true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s.ClientURL()
}

// role is a connection as one user, with the permission errors the server
// sent it.
type role struct {
	name string
	nc   *nats.Conn
	js   jetstream.JetStream
	mu   sync.Mutex
	errs []string
	more chan struct{}
}

func connectAs(t *testing.T, url, user string) *role {
	t.Helper()
	r := &role{name: user, more: make(chan struct{}, 1)}
	nc, err := nats.Connect(url, nats.UserInfo(user, "pw-"+user), nats.Name(user),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			r.mu.Lock()
			r.errs = append(r.errs, err.Error())
			r.mu.Unlock()
			select {
			case r.more <- struct{}{}:
			default:
			}
		}))
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	r.nc, r.js = nc, js
	return r
}

// refused publishes on subject and waits for the server's permissions
// violation for it.
func (r *role) refused(t *testing.T, subject string) {
	t.Helper()
	if err := r.nc.Publish(subject, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	r.waitViolation(t, fmt.Sprintf("Publish to %q", subject))
}

// refusedSub subscribes to subject and waits for the server's refusal.
func (r *role) refusedSub(t *testing.T, subject string) {
	t.Helper()
	sub, err := r.nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	r.waitViolation(t, fmt.Sprintf("Subscription to %q", subject))
}

func (r *role) waitViolation(t *testing.T, what string) {
	t.Helper()
	_ = r.nc.Flush()
	deadline := time.After(30 * time.Second)
	for {
		r.mu.Lock()
		for _, e := range r.errs {
			if strings.Contains(e, "Permissions Violation") && strings.Contains(e, what) {
				r.mu.Unlock()
				return
			}
		}
		r.mu.Unlock()
		select {
		case <-r.more:
		case <-deadline:
			t.Fatalf("%s: no permissions violation for %s (errors: %v)", r.name, what, r.errs)
		}
	}
}

// noViolations fails if the server refused the role anything it did.
func (r *role) noViolations(t *testing.T) {
	t.Helper()
	_ = r.nc.Flush()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.errs {
		if strings.Contains(e, "Permissions Violation") {
			t.Errorf("%s was refused part of its job: %s", r.name, e)
		}
	}
}

// watchSourceHealth does what every stage's /metrics does: watch wire_source.
func (r *role) watchSourceHealth(t *testing.T, ctx context.Context) {
	t.Helper()
	kv, err := r.js.KeyValue(ctx, bus.BucketSource)
	if err != nil {
		t.Fatalf("%s: open wire_source: %v", r.name, err)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		t.Fatalf("%s: watch wire_source: %v", r.name, err)
	}
	defer w.Stop()
	for {
		select {
		case e := <-w.Updates():
			if e == nil { // every current value has been seen
				return
			}
		case <-ctx.Done():
			t.Fatalf("%s: watching wire_source: %v", r.name, ctx.Err())
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func msgs(t *testing.T, js jetstream.JetStream, stream string) uint64 {
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().State.Msgs
}

func drained(js jetstream.JetStream, stream, consumer string) bool {
	c, err := js.Consumer(context.Background(), stream, consumer)
	if err != nil {
		return false
	}
	ci := c.CachedInfo()
	return ci.NumPending == 0 && ci.NumAckPending == 0 && ci.Delivered.Stream > 0
}

// TestAccountsGiveEachRoleItsJobAndNothingElse loads deploy/nats/accounts.conf
// into a real server and runs each stage's real code as its user: every
// role does its job without a single refusal, and is refused the subjects
// of the others.
func TestAccountsGiveEachRoleItsJobAndNothingElse(t *testing.T) {
	url := startWithAccounts(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	as := map[string]*role{}
	for _, r := range roles {
		as[r] = connectAs(t, url, r)
	}
	stop := runPipeline(t, ctx, as, bus.DefaultTopology())
	defer stop() // stopping twice is harmless

	// Each stage's /metrics reads storage, streams and its consumer.
	for r, cons := range map[string][]metrics.ConsumerRef{
		"collect": nil, "serve": nil,
		"normalize": {{Stream: bus.StreamRaw, Name: normalize.ConsumerName}},
		"synth":     {{Stream: bus.StreamEntry, Name: synth.ConsumerName}},
	} {
		reg := prometheus.NewRegistry()
		reg.MustRegister(metrics.NewJetStream(as[r].js, []string{bus.StreamRaw, bus.StreamEntry, bus.StreamStory, bus.StreamDLQ}, cons, 0, nil))
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "newswire_jetstream_up" && mf.GetMetric()[0].GetGauge().GetValue() != 1 {
				t.Errorf("%s cannot read what its /metrics reports", r)
			}
			if mf.GetName() == "newswire_jetstream_store_limit_bytes" && mf.GetMetric()[0].GetGauge().GetValue() != 90<<30 {
				t.Errorf("%s: store limit %v, want the account's 90GB (90 GiB: NATS sizes are binary)", r, mf.GetMetric()[0].GetGauge().GetValue())
			}
		}
	}

	// The stages stop as on SIGTERM (the synthesizer unpins itself).
	stop()
	for _, r := range roles {
		as[r].noViolations(t)
	}

	// What each role must not do.
	others := map[string][]string{
		"collect":   {"wire.entry.rss.x", "wire.story.x", "wire.dlq.normalize", "$KV.wire_fp.x", "$JS.API.CONSUMER.CREATE.WIRE_RAW.spy", "$JS.API.STREAM.DELETE.WIRE_RAW", "$JS.API.STREAM.UPDATE.WIRE_RAW"},
		"normalize": {"wire.raw.rss.x", "wire.story.x", "wire.dlq.synth", "$KV.wire_source.x", "$JS.API.CONSUMER.CREATE.WIRE_ENTRY.synth", "$JS.API.STREAM.PURGE.WIRE_ENTRY"},
		"synth":     {"wire.raw.rss.x", "wire.entry.rss.x", "$KV.wire_fp.x", "$KV.wire_source.x", "$JS.ACK.WIRE_RAW.normalize.1.1.1.1.1.1", "$JS.API.STREAM.DELETE.WIRE_STORY"},
		"serve":     {"wire.raw.rss.x", "wire.entry.rss.x", "wire.story.x", "wire.dlq.x", "$KV.wire_source.x", "$JS.API.CONSUMER.CREATE.WIRE_ENTRY.synth", "$JS.API.CONSUMER.DELETE.WIRE_RAW.normalize"},
		"reader":    {"wire.raw.rss.x", "wire.entry.rss.x", "wire.story.x", "wire.dlq.x", "$KV.wire_source.x", "$KV.wire_fp.x", "$JS.API.CONSUMER.CREATE.WIRE_RAW.spy", "$JS.API.CONSUMER.CREATE.KV_wire_source.spy", "$JS.API.CONSUMER.CREATE.WIRE_ENTRY.synth", "$JS.API.STREAM.INFO.WIRE_RAW"},
	}
	for r, subjects := range others {
		for _, s := range subjects {
			as[r].refused(t, s)
		}
	}
	as["reader"].refusedSub(t, bus.SubjectRawAll)
	as["collect"].refusedSub(t, bus.SubjectEntryAll)
}

// runPipeline runs every role's real code as its user against the server
// at the roles' connections: the admin creates the topology, each stage
// checks it and watches wire_source, a collector publishes 40 real items,
// the normalizer, synthesizer and API store take them, and a reader reads
// a story. It returns once the stories are out; stop stops the stages as
// SIGTERM would.
func runPipeline(t *testing.T, ctx context.Context, as map[string]*role, topo bus.Topology) (stop func()) {
	t.Helper()
	admin := as["admin"]
	if err := bus.EnsureTopology(ctx, admin.js, topo); err != nil {
		t.Fatalf("admin creates the topology: %v", err)
	}
	for _, r := range []string{"collect", "normalize", "synth", "serve"} { // the stages; a reader is not one
		if err := bus.EnsureTopology(ctx, as[r].js, topo); err != nil {
			t.Fatalf("%s checks the topology: %v", r, err)
		}
		as[r].watchSourceHealth(t, ctx)
	}

	// collect: a real collector publishes raw items and keeps its position
	// in wire_source.
	data, err := os.ReadFile("../testdata/replay/uci-news-2014-03.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	slice := filepath.Join(t.TempDir(), "slice.jsonl")
	if err := os.WriteFile(slice, []byte(strings.Join(strings.SplitN(string(data), "\n", n+1)[:n], "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	col := as["collect"]
	kv, err := col.js.KeyValue(ctx, bus.BucketSource)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := replay.New(replay.Config{ID: "uci", Path: slice}, ingest.NewJetStreamPublisher(col.js), kv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Run(ctx); err != nil {
		t.Fatalf("collector: %v", err)
	}
	if got := msgs(t, admin.js, bus.StreamRaw); got != n {
		t.Fatalf("WIRE_RAW holds %d items, want %d", got, n)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stored := 0
	for range keys.Keys() {
		stored++
	}
	if stored == 0 {
		t.Fatal("the collector stored no position in wire_source")
	}

	// normalize and synth: the real workers, each as its user.
	var wg sync.WaitGroup
	wctx, cancel := context.WithCancel(ctx)
	stop = func() { cancel(); wg.Wait() }
	defer func() {
		if t.Failed() {
			stop()
		}
	}()
	nw, err := normalize.NewWorker(ctx, normalize.DefaultConfig(), as["normalize"].js, nil)
	if err != nil {
		t.Fatalf("normalizer: %v", err)
	}
	sw, err := synth.NewWorker(ctx, synth.DefaultConfig(), as["synth"].nc, as["synth"].js, nil)
	if err != nil {
		t.Fatalf("synthesizer: %v", err)
	}
	store := web.NewStore(100)
	for name, run := range map[string]func(context.Context) error{
		"normalize": nw.Run, "synth": sw.Run,
		"serve": func(ctx context.Context) error { return store.Follow(ctx, as["serve"].js, nil) },
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(wctx); err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("%s: %v", name, err)
			}
		}()
	}
	waitFor(t, "the normalizer to take every raw item", func() bool { return drained(admin.js, bus.StreamRaw, normalize.ConsumerName) })
	waitFor(t, "the synthesizer to take every entry", func() bool { return drained(admin.js, bus.StreamEntry, synth.ConsumerName) })
	if got := msgs(t, admin.js, bus.StreamEntry); got == 0 {
		t.Fatal("no entries")
	}
	waitFor(t, "story snapshots", func() bool { return msgs(t, admin.js, bus.StreamStory) > 0 })
	waitFor(t, "serve to hold stories", func() bool { return len(store.Stories(10, "")) > 0 })

	// reader: stories through an ephemeral consumer, entries by subscription.
	rd := as["reader"]
	oc, err := rd.js.OrderedConsumer(ctx, bus.StreamStory, jetstream.OrderedConsumerConfig{FilterSubjects: []string{bus.SubjectStoryAll}, DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy})
	if err != nil {
		t.Fatalf("reader: story consumer: %v", err)
	}
	if m, err := oc.Next(jetstream.FetchMaxWait(30 * time.Second)); err != nil || !strings.Contains(string(m.Data()), `"newswire.story/1"`) {
		t.Fatalf("reader: read a story: %v", err)
	}
	sub, err := rd.nc.SubscribeSync(bus.SubjectEntryAll)
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	return stop
}
