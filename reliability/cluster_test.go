package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/ingest/replay"
	"github.com/newswire/newswire/wire"
)

// The users of deploy/nats/accounts.conf, whose passwords the servers read
// from their environment (nats-server.service: /etc/nats/newswire.env).
var clusterRoles = []string{"admin", "collect", "normalize", "synth", "serve", "reader"}

// TestCluster brings up the shipped three-node cluster.conf (with
// accounts.conf) as three nats-server processes on loopback ports and runs
// the split pipeline on it as separate newswire processes — collect, two
// normalize, two synth, serve — each as its role's user, with R3 streams,
// buckets and consumers. Its subtests share the cluster and the stages:
//
//   - SplitPipeline: the first part of the replay, no fault: every raw item
//     becomes one entry and one story member, and serve answers for every
//     story at its last version.
//   - NodeLoss: the rest of the replay in chunks; while each chunk flows a
//     node is SIGKILLed — first one that leads neither WIRE_RAW nor
//     WIRE_ENTRY, then WIRE_RAW's leader (in the full version then
//     WIRE_ENTRY's leader, and the three again) — the next chunk goes
//     through the two others, and the node is started again on its store.
//     No stage stops; at the end nothing is lost or doubled, over all items.
//   - Partition: the nodes reach each other only through TCP proxies on
//     loopback (routeMesh); while a chunk flows, WIRE_RAW's leader is cut
//     off from the two others (it keeps running, and the stages connected
//     to it stay connected), the next chunk is handed over, the majority
//     side elects new leaders, and after a while the partition heals (in
//     the full version twice). At the end nothing is lost or doubled, and
//     no story history is damaged, over all items.
func TestCluster(t *testing.T) {
	plan := clusterPlan{clean: 80, underKills: 160, kills: []victim{nonLeader, rawLeader}, partitions: 1}
	if full() {
		plan = clusterPlan{clean: 1000, underKills: 2500, kills: []victim{nonLeader, rawLeader, entryLeader, nonLeader, rawLeader, entryLeader}, partitions: 2}
	}
	rig := startClusterRig(t, plan)
	ok := t.Run("SplitPipeline", func(t *testing.T) {
		rig.feed(t, 0)
		rig.idle(t)
		rig.check(t, nil)
	})
	if !ok {
		return
	}
	var killed []string
	ok = t.Run("NodeLoss", func(t *testing.T) {
		for ev, v := range plan.kills {
			killed = append(killed, rig.killUnderLoad(t, ev, v))
		}
		rig.feed(t, 1+2*len(plan.kills)) // and once all are back
		rig.idle(t)
		rig.check(t, killed)
	})
	if !ok {
		return
	}
	t.Run("Partition", func(t *testing.T) {
		var cut []string
		for ev := range plan.partitions {
			cut = append(cut, rig.partitionUnderLoad(t, ev, 2+2*len(plan.kills)+2*ev))
		}
		rig.feed(t, len(rig.chunks)-1) // and once all are together again
		rig.idle(t)
		t.Logf("partitioned: %v", cut)
		rig.check(t, killed)
	})
}

// victim says which node an event kills.
type victim int

const (
	nonLeader   victim = iota // a node that leads neither WIRE_RAW nor WIRE_ENTRY
	rawLeader                 // WIRE_RAW's leader
	entryLeader               // WIRE_ENTRY's leader
)

func (v victim) String() string {
	return [...]string{"a node leading neither WIRE_RAW nor WIRE_ENTRY", "WIRE_RAW's leader", "WIRE_ENTRY's leader"}[v]
}

// clusterPlan is how many items go through with no fault, and how many
// while nodes are killed, and which.
type clusterPlan struct {
	clean, underKills int
	kills             []victim
	partitions        int // nodes cut off and healed after the kills
}

// natsCluster is deploy/nats/cluster.conf run as three nats-server
// processes: every node the same file, as on the hosts; only its name
// (environment, as nats-server.service sets it), its listen and route
// addresses (nats-server's own flags) and its store directory move.
type natsCluster struct {
	nodes []*proc
	urls  []string
	mesh  *routeMesh // the proxies the routes go through, when asked for
}

func startCluster(t testing.TB, dir, logDir string, proxied bool) *natsCluster {
	t.Helper()
	bin := upstreamServer(t)
	env := []string{"NATS_ROUTE_PASSWORD=pw-route", "NATS_SYSTEM_PASSWORD=pw-system"}
	for _, r := range clusterRoles {
		env = append(env, "NEWSWIRE_"+strings.ToUpper(r)+"_PASSWORD=pw-"+r)
	}
	var routes []string
	// Every port is chosen up front, the monitoring ones too: a port the
	// kernel hands out for "-m -1" may be one chosen here and released.
	ports := freePorts(t, 9)
	routePorts, clientPorts, monitorPorts := ports[:3], ports[3:6], ports[6:]
	for _, p := range routePorts {
		routes = append(routes, fmt.Sprintf("nats-route://route:pw-route@127.0.0.1:%d", p))
	}
	shipped, err := os.ReadFile("../deploy/nats/cluster.conf")
	if err != nil {
		t.Fatal(err)
	}
	accounts, err := os.ReadFile("../deploy/nats/accounts.conf")
	if err != nil {
		t.Fatal(err)
	}
	const store = "store_dir: /var/lib/nats/jetstream"
	if strings.Count(string(shipped), store) != 1 {
		t.Fatalf("cluster.conf: no single %q to move", store)
	}
	c := &natsCluster{}
	if proxied {
		c.mesh = newRouteMesh(t, routePorts)
	}
	for i := range 3 {
		name := fmt.Sprintf("nats-%d", i+1)
		port := clientPorts[i]
		// nats-server refuses a store_dir both in the file and as a flag:
		// the node's copy of the file has its own, and accounts.conf
		// beside it for the include.
		nodeDir := filepath.Join(dir, name)
		if err := os.MkdirAll(nodeDir, 0o750); err != nil {
			t.Fatal(err)
		}
		conf := strings.Replace(string(shipped), store, "store_dir: "+strconv.Quote(filepath.Join(nodeDir, "jetstream")), 1)
		if err := os.WriteFile(filepath.Join(nodeDir, "cluster.conf"), []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(nodeDir, "accounts.conf"), accounts, 0o600); err != nil {
			t.Fatal(err)
		}
		c.urls = append(c.urls, fmt.Sprintf("nats://127.0.0.1:%d", port))
		args := []string{"-c", filepath.Join(nodeDir, "cluster.conf"),
			"-a", "127.0.0.1", "-p", strconv.Itoa(port), "-m", strconv.Itoa(monitorPorts[i]),
			"--cluster", fmt.Sprintf("nats://route:pw-route@127.0.0.1:%d", routePorts[i])}
		if c.mesh != nil {
			args = append(args, "--routes", strings.Join(c.mesh.routes(i), ","), "--cluster_advertise", c.mesh.deadEnd.Addr().String())
		} else {
			args = append(args, "--routes", strings.Join(routes, ","))
		}
		c.nodes = append(c.nodes, &proc{name: name, bin: bin, logDir: logDir, owner: t,
			env: append([]string{"NATS_SERVER_NAME=" + name}, env...), args: args})
	}
	for _, n := range c.nodes {
		n.start(t)
	}
	for i := range c.nodes {
		c.waitUp(t, i)
	}
	return c
}

// waitUp waits until node i takes clients again.
func (c *natsCluster) waitUp(t testing.TB, i int) {
	t.Helper()
	waitFor(t, 60*time.Second, c.nodes[i].name+" ready", func() string {
		if c.nodes[i].exited() {
			t.Fatalf("%s exited: %v\n%s", c.nodes[i].name, c.nodes[i].err, c.nodes[i].lastLog())
		}
		nc, err := nats.Connect(c.urls[i], nats.UserInfo("admin", "pw-admin"))
		if err != nil {
			return err.Error()
		}
		nc.Close()
		return ""
	})
}

func (c *natsCluster) node(name string) int {
	for i, n := range c.nodes {
		if n.name == name {
			return i
		}
	}
	return -1
}

// clusterClient connects as user to every node's URL; it reconnects to
// whichever node is up.
func clusterClient(t testing.TB, urls []string, user string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	return connect(t, strings.Join(urls, ","), nats.UserInfo(user, "pw-"+user))
}

// replicated says which stream or consumer is not yet led with both its
// followers current, or "" when all are: then any one node may go.
func replicated(js jetstream.JetStream) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	check := func(what string, ci *jetstream.ClusterInfo) string {
		if ci == nil || ci.Leader == "" {
			return what + ": no leader"
		}
		if len(ci.Replicas) != 2 {
			return fmt.Sprintf("%s: %d followers", what, len(ci.Replicas))
		}
		for _, p := range ci.Replicas {
			if !p.Current || p.Offline {
				return fmt.Sprintf("%s: follower %s current %v, offline %v", what, p.Name, p.Current, p.Offline)
			}
		}
		return ""
	}
	for _, name := range []string{bus.StreamRaw, bus.StreamEntry, bus.StreamStory, bus.StreamDLQ, "KV_" + bus.BucketFingerprint, "KV_" + bus.BucketSource} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			return fmt.Sprintf("%s: %v", name, err)
		}
		info := s.CachedInfo()
		if info.Config.Replicas != 3 {
			return fmt.Sprintf("%s: %d replicas configured", name, info.Config.Replicas)
		}
		if why := check(name, info.Cluster); why != "" {
			return why
		}
	}
	for _, c := range []struct{ stream, name string }{{bus.StreamRaw, "normalize"}, {bus.StreamEntry, "synth"}} {
		cons, err := js.Consumer(ctx, c.stream, c.name)
		if err != nil {
			return fmt.Sprintf("consumer %s: %v", c.name, err)
		}
		if why := check("consumer "+c.name, cons.CachedInfo().Cluster); why != "" {
			return why
		}
	}
	return ""
}

// leaderOf is the server name of a stream's leader.
func leaderOf(js jetstream.JetStream, stream string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return "", err
	}
	ci := s.CachedInfo().Cluster
	if ci == nil || ci.Leader == "" {
		return "", fmt.Errorf("%s has no leader", stream)
	}
	return ci.Leader, nil
}

// splitPipeline is the shipped cluster and the split pipeline's newswire
// processes on it — collect, the normalizers, two synth, serve — each as
// its role's user, with R3 streams, buckets and consumers, and an admin
// connection to all three nodes.
type splitPipeline struct {
	cl      *natsCluster
	nc      *nats.Conn
	js      jetstream.JetStream
	stages  []*proc
	collect *proc // not started here: its replay file (feedTo) starts empty
	logDir  string
	feedTo  string
	apiPort int
}

func startSplitPipeline(t testing.TB, dir string, normalizers int, proxied bool) *splitPipeline {
	t.Helper()
	newswire, _ := binaries(t)
	r := &splitPipeline{}
	// The processes' logs outlive a failed run, for its report.
	var err error
	if r.logDir, err = os.MkdirTemp("", "newswire-cluster-logs-"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs of the processes kept in %s", r.logDir)
			return
		}
		os.RemoveAll(r.logDir)
	})
	r.feedTo = filepath.Join(dir, "feed.jsonl")
	if err := os.WriteFile(r.feedTo, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	r.cl = startCluster(t, dir, r.logDir, proxied)
	r.nc, r.js = clusterClient(t, r.cl.urls, "admin")
	t.Cleanup(r.nc.Close)

	// Every stage's configuration names all three nodes, its own user and
	// R3; the admin creates the topology first, as the README says.
	r.apiPort = freePort(t)
	config := func(role, name string) string {
		path := filepath.Join(dir, name+".yaml")
		quoted := make([]string, len(r.cl.urls))
		for i, u := range r.cl.urls {
			quoted[i] = strconv.Quote(u)
		}
		if err := os.WriteFile(path, []byte(fmt.Sprintf(`data_dir: %s
log: {level: info, format: json}
nats:
  urls: [%s]
  user: %s
  password: pw-%s
  replicas: 3
http: {listen: "127.0.0.1:%d"}
normalize:
  %s
synth:
  snapshot_interval: 50ms
  max_provenance: 100000
  %s
sources:
  - {id: telegram-ru, kind: replay, path: %s}
`, filepath.Join(dir, name), strings.Join(quoted, ", "), role, role, r.apiPort, testBackoff, testBackoff, r.feedTo)), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	admin := config("admin", "admin")
	waitFor(t, 2*time.Minute, "a JetStream meta leader", func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := r.js.AccountInfo(ctx); err != nil {
			return err.Error()
		}
		return ""
	})
	waitFor(t, 2*time.Minute, "newswire topology as admin", func() string {
		out, err := exec.Command(newswire, "topology", "--config", admin).CombinedOutput()
		if err != nil {
			return fmt.Sprintf("%v: %s", err, out)
		}
		return ""
	})

	stage := func(role, name string) *proc {
		p := &proc{name: name, bin: newswire, args: []string{role, "--config", config(role, name)}, logDir: r.logDir, owner: t}
		r.stages = append(r.stages, p)
		return p
	}
	r.collect = stage("collect", "collect")
	for i := range normalizers {
		stage("normalize", fmt.Sprintf("normalize-%d", i+1))
	}
	for _, name := range []string{"synth-1", "synth-2"} {
		stage("synth", name)
	}
	stage("serve", "serve")
	for _, p := range r.stages {
		if p != r.collect {
			p.start(t)
		}
	}
	t.Cleanup(func() {
		for _, p := range r.stages {
			p.stop()
		}
	})
	waitFor(t, time.Minute, "R3 streams, buckets and consumers", func() string { return replicated(r.js) })
	return r
}

// clusterRig is the split pipeline and the test's view of it: a watcher
// of every story snapshot, and the replay fed to the collector.
type clusterRig struct {
	*splitPipeline
	began time.Time
	items []replay.Item
	// chunks of the replay file: the clean part, then two for each kill
	// (one flows as the node goes, one while it is down), one once all are
	// back, two for each partition, and a last one.
	chunks []string
	fed    int // items handed to the collector so far

	mu      sync.Mutex
	history map[string][]snapshot
	watched uint64
}

func startClusterRig(t *testing.T, plan clusterPlan) *clusterRig {
	t.Helper()
	r := &clusterRig{began: time.Now(), history: map[string][]snapshot{}}
	dir := t.TempDir()
	all, items := replaySlice(t, dir, plan.clean+plan.underKills)
	r.items = items
	text, err := os.ReadFile(all)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(text), "\n")
	// After the clean part: two chunks for each kill, one once all are
	// back, two for each partition, and a last one.
	r.chunks = append([]string{strings.Join(lines[:plan.clean], "")}, splitLines(strings.Join(lines[plan.clean:], ""), 2*len(plan.kills)+2*plan.partitions+2)...)
	r.splitPipeline = startSplitPipeline(t, dir, 2, true)

	wctx, stopWatch := context.WithCancel(context.Background())
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		watchStories(wctx, r.js, func(seq uint64, st wire.Story) {
			r.mu.Lock()
			defer r.mu.Unlock()
			members := map[string]bool{}
			for _, m := range st.Provenance {
				members[m.EntryID] = true
			}
			r.history[st.ID] = append(r.history[st.ID], snapshot{seq: seq, version: st.Version, members: members, mergedInto: st.MergedInto})
		}, func(seq uint64) {
			r.mu.Lock()
			r.watched = seq
			r.mu.Unlock()
		})
	}()
	t.Cleanup(func() { stopWatch(); <-watchDone })
	return r
}

// stopped fails the test if a stage stopped on its own: losing a node is
// the clients' to ride out by reconnecting to the others.
func (r *splitPipeline) stopped(t testing.TB) {
	t.Helper()
	for _, p := range r.stages {
		if p.exited() {
			t.Logf("streams: %s", replicated(r.js))
			t.Fatalf("%s stopped on its own: %v\n%s", p.name, p.err, p.lastLog())
		}
	}
}

// feed hands the collector chunk i (it reads its file to the end, then
// idles, so it is started again and resumes from its stored position) and
// waits until the chunk flows: WIRE_RAW and WIRE_ENTRY grow.
func (r *clusterRig) feed(t *testing.T, i int) {
	t.Helper()
	raw, _ := streamMsgs(r.js, bus.StreamRaw)
	entries, _ := streamMsgs(r.js, bus.StreamEntry)
	r.handOver(t, i)
	waitFor(t, 2*time.Minute, fmt.Sprintf("chunk %d flowing", i), func() string {
		r.stopped(t)
		rn, err := streamMsgs(r.js, bus.StreamRaw)
		if err != nil {
			return err.Error()
		}
		en, err := streamMsgs(r.js, bus.StreamEntry)
		if err != nil {
			return err.Error()
		}
		if rn <= raw || en <= entries {
			return fmt.Sprintf("WIRE_RAW %d (was %d), WIRE_ENTRY %d (was %d)", rn, raw, en, entries)
		}
		return ""
	})
}

// handOver appends chunk i to the collector's file and starts it again.
func (r *clusterRig) handOver(t *testing.T, i int) {
	t.Helper()
	f, err := os.OpenFile(r.feedTo, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(r.chunks[i]); err != nil {
		t.Fatal(err)
	}
	f.Close()
	r.fed += strings.Count(r.chunks[i], "\n")
	if r.collect.starts > 0 {
		r.collect.stop()
	}
	r.collect.start(t)
}

// killUnderLoad is event ev: once every replica is current, it hands the
// collector the next chunk, SIGKILLs the victim while the chunk flows,
// hands over the one after (which goes through the two other nodes), and
// starts the node again on its store. It returns the node's name.
func (r *clusterRig) killUnderLoad(t *testing.T, ev int, v victim) string {
	t.Helper()
	waitFor(t, 2*time.Minute, "every replica current before a kill", func() string { r.stopped(t); return replicated(r.js) })
	raw, err := leaderOf(r.js, bus.StreamRaw)
	if err != nil {
		t.Fatal(err)
	}
	entry, err := leaderOf(r.js, bus.StreamEntry)
	if err != nil {
		t.Fatal(err)
	}
	name := raw
	switch v {
	case nonLeader:
		for _, n := range r.cl.nodes {
			if n.name != raw && n.name != entry {
				name = n.name
				break
			}
		}
	case entryLeader:
		name = entry
	}
	i := r.cl.node(name)
	if i < 0 {
		t.Fatalf("leader %q is none of the nodes", name)
	}
	r.feed(t, 1+2*ev)
	held, _ := streamMsgs(r.js, bus.StreamRaw)
	made, _ := streamMsgs(r.js, bus.StreamEntry)
	r.cl.nodes[i].kill()
	t.Logf("event %d: SIGKILLed %s, %s (WIRE_RAW led by %s, WIRE_ENTRY by %s), as WIRE_RAW held %d of the %d items fed and WIRE_ENTRY %d entries",
		ev+1, name, v, raw, entry, held, r.fed, made)
	r.feed(t, 2+2*ev)
	if v != nonLeader {
		waitFor(t, time.Minute, "a new leader", func() string {
			l, err := leaderOf(r.js, map[victim]string{rawLeader: bus.StreamRaw, entryLeader: bus.StreamEntry}[v])
			if err != nil {
				return err.Error()
			}
			if l == name {
				return "still " + name
			}
			return ""
		})
	}
	r.cl.nodes[i].start(t)
	r.cl.waitUp(t, i)
	return name
}

// idle waits until every item fed is on WIRE_RAW, both consumers are idle,
// every replica is current and the watcher has read every snapshot. An
// item in flight to a stage on a killed node comes back after the
// consumer's BackOff (testBackoff).
func (r *clusterRig) idle(t *testing.T) {
	t.Helper()
	waitFor(t, idleBound(r.js), "pipeline idle", func() string {
		r.stopped(t)
		n, err := streamMsgs(r.js, bus.StreamRaw)
		if err != nil {
			return err.Error()
		}
		if int(n) < r.fed {
			return fmt.Sprintf("WIRE_RAW holds %d of %d items", n, r.fed)
		}
		if why := pending(r.js); why != "" {
			return why
		}
		if why := replicated(r.js); why != "" {
			return why
		}
		s, err := r.js.Stream(context.Background(), bus.StreamStory)
		if err != nil {
			return err.Error()
		}
		info, err := s.Info(context.Background())
		if err != nil {
			return err.Error()
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.watched < info.State.LastSeq {
			return fmt.Sprintf("watcher at snapshot %d of %d", r.watched, info.State.LastSeq)
		}
		return ""
	})
}

// check checks exactly-once over the items fed so far, the snapshots'
// histories, and that serve answers every story at its last version.
func (r *clusterRig) check(t *testing.T, killed []string) {
	t.Helper()
	last := map[string]int64{}
	for _, m := range readAll(t, r.js, bus.StreamStory) {
		var st wire.Story
		decode(t, m.Data, &st)
		if st.MergedInto == "" {
			last[st.ID] = st.Version
		} else {
			delete(last, st.ID)
		}
	}
	api := fmt.Sprintf("http://127.0.0.1:%d/api/v1/stories", r.apiPort)
	waitFor(t, time.Minute, "serve answering every story at its last version", func() string {
		r.stopped(t)
		for id, version := range last {
			var st wire.Story
			if why := getJSON(api+"/"+id, &st); why != "" {
				return why
			}
			if st.Version != version {
				return fmt.Sprintf("story %s: version %d, want %d", id, st.Version, version)
			}
		}
		var page struct{ Stories []json.RawMessage }
		if why := getJSON(api+"?limit=10", &page); why != "" {
			return why
		}
		if len(page.Stories) == 0 && len(last) > 0 {
			return "no stories listed"
		}
		return ""
	})
	lost, doubled, folded := checkExactlyOnce(t, r.js, r.items[:r.fed])
	r.mu.Lock()
	checkHistories(t, r.history)
	stories, watched := len(r.history), r.watched
	r.mu.Unlock()
	reconnects := 0
	for _, p := range r.stages {
		reconnects += countInLogs(t, r.logDir, p.name, "nats reconnected")
	}
	t.Logf("%d items replayed through 3 nodes (R3), %d nodes SIGKILLed %v: %d lost, %d doubled (%d folded by exact dedupe); %d stories (%d served), %d snapshots watched; %d stage reconnects; %s since the start",
		r.fed, len(killed), killed, lost, doubled, folded, stories, len(last), watched, reconnects, time.Since(r.began).Round(time.Second))
}

// getJSON GETs url and decodes its JSON body into v; it says what went
// wrong, or "".
func getJSON(url string, v any) string {
	resp, err := http.Get(url) //nolint:gosec,noctx // a loopback test server
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Sprintf("GET %s: %v", url, err)
	}
	return ""
}

// countInLogs counts the lines with s in every log of the process name.
func countInLogs(t *testing.T, logDir, name, s string) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(logDir, name+".*.log"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n += strings.Count(string(b), s)
	}
	return n
}
