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
	"github.com/newswire/newswire/wire"
)

// The users of deploy/nats/accounts.conf, whose passwords the servers read
// from their environment (nats-server.service: /etc/nats/newswire.env).
var clusterRoles = []string{"admin", "collect", "normalize", "synth", "serve", "reader"}

// TestClusterRunsTheSplitPipeline brings up the shipped three-node
// cluster.conf (with accounts.conf) as three nats-server processes on
// loopback ports and runs the split pipeline on it as separate newswire
// processes — collect, two normalize, two synth, serve — each as its
// role's user, with R3 streams: every raw item becomes one entry and one
// story member, and serve answers for every story.
func TestClusterRunsTheSplitPipeline(t *testing.T) {
	items := 120
	if full() {
		items = 1500
	}
	clusterRun(t, clusterPlan{items: items})
}

// TestClusterNodeLossLosesAndDoublesNothing does the same while the replay
// flows, and SIGKILLs nodes under it: first one that leads neither
// WIRE_RAW nor WIRE_ENTRY, then WIRE_RAW's leader (and in the full version
// WIRE_ENTRY's leader, then the same again). Each node stays down while
// the next chunk of the replay goes through the two others, and is
// started again on its store; nothing is lost or doubled.
func TestClusterNodeLossLosesAndDoublesNothing(t *testing.T) {
	plan := clusterPlan{items: 200, kills: []victim{nonLeader, rawLeader}}
	if full() {
		plan = clusterPlan{items: 3000, kills: []victim{nonLeader, rawLeader, entryLeader, nonLeader, rawLeader, entryLeader}}
	}
	clusterRun(t, plan)
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

type clusterPlan struct {
	items int
	kills []victim
}

// natsCluster is deploy/nats/cluster.conf run as three nats-server
// processes: every node the same file, as on the hosts; only its name
// (environment, as nats-server.service sets it), its listen and route
// addresses (nats-server's own flags) and its store directory move.
type natsCluster struct {
	nodes []*proc
	urls  []string
}

func startCluster(t *testing.T, dir, logDir string) *natsCluster {
	t.Helper()
	bin := upstreamServer(t)
	env := []string{"NATS_ROUTE_PASSWORD=pw-route", "NATS_SYSTEM_PASSWORD=pw-system"}
	for _, r := range clusterRoles {
		env = append(env, "NEWSWIRE_"+strings.ToUpper(r)+"_PASSWORD=pw-"+r)
	}
	var routes []string
	routePorts := []int{freePort(t), freePort(t), freePort(t)}
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
	for i := range 3 {
		name := fmt.Sprintf("nats-%d", i+1)
		port := freePort(t)
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
		c.nodes = append(c.nodes, &proc{name: name, bin: bin, logDir: logDir,
			env: append([]string{"NATS_SERVER_NAME=" + name}, env...),
			args: []string{"-c", filepath.Join(nodeDir, "cluster.conf"),
				"-a", "127.0.0.1", "-p", strconv.Itoa(port), "-m", "-1",
				"--cluster", fmt.Sprintf("nats://route:pw-route@127.0.0.1:%d", routePorts[i]),
				"--routes", strings.Join(routes, ",")}})
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
func (c *natsCluster) waitUp(t *testing.T, i int) {
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
func clusterClient(t *testing.T, urls []string, user string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(strings.Join(urls, ","), nats.UserInfo(user, "pw-"+user), nats.MaxReconnects(-1), nats.ReconnectWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
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

func clusterRun(t *testing.T, plan clusterPlan) {
	began := time.Now()
	newswire, _ := binaries(t)
	dir := t.TempDir()
	logDir := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logDir, 0o750); err != nil {
		t.Fatal(err)
	}
	all, items := replaySlice(t, dir, plan.items)
	lines, err := os.ReadFile(all)
	if err != nil {
		t.Fatal(err)
	}
	// One chunk to start with, and for each kill one that flows while the
	// node goes down and one while it is down.
	chunks := splitLines(string(lines), 1+2*len(plan.kills))
	feed := filepath.Join(dir, "feed.jsonl")
	if err := os.WriteFile(feed, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	cl := startCluster(t, dir, logDir)
	nc, js := clusterClient(t, cl.urls, "admin")
	defer nc.Close()

	// Every stage's configuration names all three nodes, its own user and
	// R3; the admin creates the topology first, as the README says.
	apiPort := freePort(t)
	config := func(role, name string) string {
		path := filepath.Join(dir, name+".yaml")
		quoted := make([]string, len(cl.urls))
		for i, u := range cl.urls {
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
synth:
  snapshot_interval: 50ms
  max_provenance: 100000
sources:
  - {id: telegram-ru, kind: replay, path: %s}
`, filepath.Join(dir, name), strings.Join(quoted, ", "), role, role, apiPort, feed)), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	admin := config("admin", "admin")
	waitFor(t, 2*time.Minute, "a JetStream meta leader", func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := js.AccountInfo(ctx); err != nil {
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

	var stages []*proc
	stage := func(role, name string) *proc {
		p := &proc{name: name, bin: newswire, args: []string{role, "--config", config(role, name)}, logDir: logDir}
		stages = append(stages, p)
		return p
	}
	collect := stage("collect", "collect")
	for _, name := range []string{"normalize-1", "normalize-2"} {
		stage("normalize", name)
	}
	for _, name := range []string{"synth-1", "synth-2"} {
		stage("synth", name)
	}
	stage("serve", "serve")
	for _, p := range stages {
		if p != collect {
			p.start(t)
		}
	}
	defer func() {
		for _, p := range stages {
			p.stop()
		}
	}()
	waitFor(t, time.Minute, "R3 streams, buckets and consumers", func() string { return replicated(js) })

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

	// No stage may stop on its own: losing a node is the clients' to ride
	// out by reconnecting to the others.
	stopped := func() {
		for _, p := range stages {
			if p.exited() {
				t.Logf("streams: %s", replicated(js))
				t.Fatalf("%s stopped on its own: %v\n%s", p.name, p.err, p.lastLog())
			}
		}
	}
	next := 0
	// feedNext hands the collector the next chunk (it reads its file to the
	// end, then idles, so it is started again from its stored position) and
	// waits until the chunk flows: WIRE_RAW and WIRE_ENTRY grow.
	feedNext := func() {
		raw, _ := streamMsgs(js, bus.StreamRaw)
		entries, _ := streamMsgs(js, bus.StreamEntry)
		f, err := os.OpenFile(feed, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(chunks[next]); err != nil {
			t.Fatal(err)
		}
		f.Close()
		next++
		if collect.starts > 0 {
			collect.stop()
		}
		collect.start(t)
		waitFor(t, 2*time.Minute, fmt.Sprintf("chunk %d flowing", next), func() string {
			stopped()
			r, err := streamMsgs(js, bus.StreamRaw)
			if err != nil {
				return err.Error()
			}
			e, err := streamMsgs(js, bus.StreamEntry)
			if err != nil {
				return err.Error()
			}
			if r <= raw || e <= entries {
				return fmt.Sprintf("WIRE_RAW %d (was %d), WIRE_ENTRY %d (was %d)", r, raw, e, entries)
			}
			return ""
		})
	}

	feedNext()
	var killed []string
	for ev, v := range plan.kills {
		waitFor(t, 2*time.Minute, "every replica current before a kill", func() string { stopped(); return replicated(js) })
		raw, err := leaderOf(js, bus.StreamRaw)
		if err != nil {
			t.Fatal(err)
		}
		entry, err := leaderOf(js, bus.StreamEntry)
		if err != nil {
			t.Fatal(err)
		}
		name := raw
		switch v {
		case nonLeader:
			for _, n := range cl.nodes {
				if n.name != raw && n.name != entry {
					name = n.name
					break
				}
			}
		case entryLeader:
			name = entry
		}
		i := cl.node(name)
		if i < 0 {
			t.Fatalf("leader %q is none of the nodes", name)
		}
		feedNext()
		cl.nodes[i].kill()
		killed = append(killed, name)
		t.Logf("event %d: SIGKILLed %s, %s (WIRE_RAW led by %s, WIRE_ENTRY by %s)", ev+1, name, v, raw, entry)
		// The pipeline goes on with two nodes.
		feedNext()
		if v != nonLeader {
			waitFor(t, time.Minute, "a new WIRE_RAW leader", func() string {
				l, err := leaderOf(js, bus.StreamRaw)
				if err != nil {
					return err.Error()
				}
				if l == name {
					return "still " + name
				}
				return ""
			})
		}
		cl.nodes[i].start(t)
		cl.waitUp(t, i)
	}

	waitFor(t, 10*time.Minute, "pipeline idle", func() string {
		stopped()
		n, err := streamMsgs(js, bus.StreamRaw)
		if err != nil {
			return err.Error()
		}
		if int(n) < len(items) {
			return fmt.Sprintf("WIRE_RAW holds %d of %d items", n, len(items))
		}
		if why := pending(js); why != "" {
			return why
		}
		if why := replicated(js); why != "" {
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

	// serve followed every story through it all: its API answers each
	// story at its last version.
	last := map[string]int64{}
	for _, m := range readAll(t, js, bus.StreamStory) {
		var st wire.Story
		decode(t, m.Data, &st)
		if st.MergedInto == "" {
			last[st.ID] = st.Version
		} else {
			delete(last, st.ID)
		}
	}
	api := fmt.Sprintf("http://127.0.0.1:%d/api/v1/stories", apiPort)
	waitFor(t, time.Minute, "serve answering every story at its last version", func() string {
		stopped()
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

	for _, p := range stages {
		p.stop()
	}
	stopWatch()
	<-watchDone
	if why := replicated(js); why != "" {
		t.Errorf("after the run: %s", why)
	}
	lost, doubled, folded := checkExactlyOnce(t, js, items)
	mu.Lock()
	defer mu.Unlock()
	checkHistories(t, history)
	reconnects := 0
	for _, p := range stages {
		reconnects += countInLogs(t, logDir, p.name, "nats reconnected")
	}
	t.Logf("%d items replayed through 3 nodes (R3), %d nodes SIGKILLed %v: %d lost, %d doubled (%d folded by exact dedupe); %d stories (%d served), %d snapshots watched; %d stage reconnects; %s",
		len(items), len(killed), killed, lost, doubled, folded, len(history), len(last), watched, reconnects, time.Since(began).Round(time.Second))
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
