package reliability

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/newswire/newswire/bench"
	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/synth"
)

var flagClusterItems = flag.Int("cluster.items", 3000, "raw items per run of BenchmarkClusterScaleOut")

// BenchmarkClusterScaleOut is the scale-out of the split pipeline on the
// shipped three-node cluster (cluster.conf with accounts.conf, three
// nats-server processes on loopback, R3 streams, buckets and consumers):
// 1, 2 and 4 `newswire normalize` processes sharing the durable consumer,
// two `newswire synth` (one active, pinned), and collect and serve, each a
// process as its role's user, on a fresh cluster per run.
//
// The benchmark stands in for the collectors, as bench's BenchmarkPipeline
// does: it publishes the bundled data looped with fresh ids asynchronously,
// as the collect user. It times raw publish → every entry stored (the
// normalize consumer has delivered and had acked every raw item; the
// normalizer acks only after the entry's PubAck) and → every entry in a
// story snapshot the cluster holds (the same of the synth consumer; the
// synthesizer acks after the snapshot's PubAck). It reports the CPU each
// group of processes used, in cores, and the host's, from /proc: on this
// 2-core host that says where the time went.
//
// `make test` does not run it (no -bench); cmd/benchreport does.
func BenchmarkClusterScaleOut(b *testing.B) {
	items, err := bench.Corpus("../testdata/replay")
	if err != nil {
		b.Fatal(err)
	}
	for _, normalizers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("normalizers=%d", normalizers), func(b *testing.B) {
			n := *flagClusterItems
			p := startSplitPipeline(b, b.TempDir(), normalizers, false)
			nc, js := clusterClient(b, p.cl.urls, "collect")
			b.Cleanup(nc.Close)
			ctx := context.Background()

			before := p.cpu(b)
			start := time.Now()
			for i := range n {
				msg, err := bench.RawMsg(items, i)
				if err != nil {
					b.Fatal(err)
				}
				if err := bench.Publish(ctx, js, msg); err != nil {
					b.Fatal(err)
				}
			}
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(5 * time.Minute):
				b.Fatalf("%d raw publishes not acknowledged after 5 minutes", js.PublishAsyncPending())
			}
			published := time.Since(start)
			p.drained(b, bus.StreamRaw, normalize.ConsumerName)
			toEntry := time.Since(start)
			p.drained(b, bus.StreamEntry, synth.ConsumerName)
			toStory := time.Since(start)
			used := p.cpu(b).since(before, toStory)

			entries, err := streamMsgs(p.js, bus.StreamEntry)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(n)/published.Seconds(), "raw-published/s")
			b.ReportMetric(float64(n)/toEntry.Seconds(), "entry-items/s")
			b.ReportMetric(float64(n)/toStory.Seconds(), "items/s")
			b.ReportMetric(float64(entries), "entries")
			for _, g := range used {
				b.ReportMetric(g.cores, g.name+"-cores")
			}
		})
	}
}

// drained waits until the durable consumer of stream has delivered every
// message the stream holds now and had each acknowledged.
func (p *splitPipeline) drained(b *testing.B, stream, consumer string) {
	b.Helper()
	ctx := context.Background()
	s, err := p.js.Stream(ctx, stream)
	if err != nil {
		b.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		b.Fatal(err)
	}
	last := info.State.LastSeq
	cons, err := p.js.Consumer(ctx, stream, consumer)
	if err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		p.stopped(b)
		ci, err := cons.Info(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if ci.Delivered.Stream >= last && ci.NumPending == 0 && ci.NumAckPending == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s consumer %s not drained after 5 minutes: delivered %d of %d, %d unacknowledged",
				stream, consumer, ci.Delivered.Stream, last, ci.NumAckPending)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cpuGroups is the CPU time, in clock ticks, each group of processes and
// the host had used by one moment.
type cpuGroups struct {
	names []string
	ticks []float64
	host  float64 // every CPU's busy ticks (not idle, not waiting on I/O)
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on Linux.
const clockTicks = 100

func (p *splitPipeline) cpu(b *testing.B) cpuGroups {
	b.Helper()
	group := func(prefix string) (pids []int) {
		for _, q := range p.stages {
			if strings.HasPrefix(q.name, prefix) && q.starts > 0 && !q.exited() {
				pids = append(pids, q.cmd.Process.Pid)
			}
		}
		return pids
	}
	var servers []int
	for _, q := range p.cl.nodes {
		servers = append(servers, q.cmd.Process.Pid)
	}
	g := cpuGroups{names: []string{"servers", "normalizers", "synth", "serve", "bench"}}
	for _, pids := range [][]int{servers, group("normalize-"), group("synth-"), group("serve"), {os.Getpid()}} {
		var sum float64
		for _, pid := range pids {
			sum += procTicks(b, pid)
		}
		g.ticks = append(g.ticks, sum)
	}
	g.host = hostBusyTicks(b)
	return g
}

// groupCores is how many cores a group kept busy on average.
type groupCores struct {
	name  string
	cores float64
}

// since is the cores each group, and the host, used from before until now,
// over wall.
func (g cpuGroups) since(before cpuGroups, wall time.Duration) []groupCores {
	var out []groupCores
	for i, name := range g.names {
		out = append(out, groupCores{name, (g.ticks[i] - before.ticks[i]) / clockTicks / wall.Seconds()})
	}
	return append(out, groupCores{"host", (g.host - before.host) / clockTicks / wall.Seconds()})
}

// procTicks is a process's user and system time from /proc/<pid>/stat.
func procTicks(b *testing.B, pid int) float64 {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command name may hold spaces; the fields after it do not.
	_, rest, ok := strings.Cut(string(raw), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		b.Fatalf("/proc/%d/stat: %q", pid, raw)
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: %q", pid, raw)
	}
	return utime + stime
}

// hostBusyTicks is the first line of /proc/stat less idle and iowait.
func hostBusyTicks(b *testing.B) float64 {
	b.Helper()
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		b.Fatal(err)
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		b.Fatalf("/proc/stat: %q", line)
	}
	var busy float64
	for i, s := range f[1:] {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			b.Fatalf("/proc/stat: %q", line)
		}
		if i != 3 && i != 4 && i < 8 { // idle, iowait; guest time is in user already
			busy += v
		}
	}
	return busy
}
