package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

func (r *Report) writeRest(w io.Writer, b *strings.Builder, p func(string, ...any)) error {
	// Latency.
	p("## Latency\n\n")
	p("Command: `%s`\n\n", r.command("BenchmarkLatency"))
	p("Raw items of the same looped data offered open-loop at a fixed rate (item i is due at start + i/rate whatever happened to the ones before) to the pipeline on an embedded server, with nats-server's default sync at 500 and 2,000 items/s and with `sync_interval: always` (as shipped) at 500 items/s. An offered rate above what the pipeline or the disk carries on this host measures queueing: latency then grows with the length of the run, and the achieved rate column shows it. Latency is from just before the raw publish to the moment the benchmark's subscriber sees the entry on `wire.entry.>`, and to the first story snapshot on `wire.story.>` whose provenance holds the item. The first second is a warm-up and not counted. The ceiling round trip is a 1 KiB publish → pull-consumer delivery on the same server at the same rate, measured in the same run before the pipeline starts. The synthesizer coalesces each story's snapshots to one per `snapshot_interval` (50 ms), which sets a floor under the story figures.\n\n")
	p("| sync | offered | achieved items/s | raw → entry p50 / p99 / p999 ms | raw → snapshot p50 / p99 / p999 ms | ceiling p50 / p99 / p999 ms | samples |\n|---|---|---|---|---|---|---|\n")
	for _, c := range latencyCases {
		name := "BenchmarkLatency/sync=" + c.sync + "/rate=" + c.rate
		if _, ok := r.Figures[name]; !ok {
			continue
		}
		tri := func(prefix string) string {
			return fmt.Sprintf("%s / %s / %s", r.span(name, prefix+"-p50-ms"), r.span(name, prefix+"-p99-ms"), r.span(name, prefix+"-p999-ms"))
		}
		p("| %s | %s/s | %s | %s | %s | %s | %s |\n", c.sync, c.rate, r.span(name, "offered-items/s"), tri("entry"), tri("story"), tri("ceiling"), r.span(name, "story-samples"))
	}
	p("\n")

	// Growth.
	p("## Growth\n\n")
	p("Commands: `%s` and `%s`\n\n", r.command("BenchmarkClusterGrowth"), r.command("BenchmarkNearIndexGrowth"))
	p("**Synthesizer clusterer** (one goroutine, the synthetic busy-wire stream of synth/bench_test.go: a new story every tenth entry, words Zipf-skewed): fill to the size, then time 20,000 more entries.\n\n")
	p("| active entries | entries/s at that size | heap per active entry, bytes | heap, MiB | fill rate, entries/s |\n|---|---|---|---|---|\n")
	sizes := []string{"10k", "100k", "1000k"}
	for _, s := range sizes {
		name := "BenchmarkClusterGrowth/active=" + s
		if _, ok := r.Figures[name]; !ok {
			p("| %s | not measured in this run (see below) | | | |\n", s)
			continue
		}
		p("| %s | %s | %s | %s | %s |\n", s, r.span(name, "entries/s"), r.span(name, "heap-B/active-entry"), r.span(name, "heap-MiB"), r.span(name, "fill-entries/s"))
	}
	p("\n%s\n\n", r.growthVerdict("BenchmarkClusterGrowth/active=", "entries/s", "heap-B/active-entry", sizes))
	p("Why: memory is the entries' term vectors, the stories' centroids and the term → story postings, all proportional to what is active, so it grows linearly. The work per entry is bounded: retrieval walks at most 128 postings per term (`maxPostings`) and scores at most `candidates` stories, so the cost per entry does not grow with the active set except through cache misses on a bigger heap and the garbage collector's marking of it.\n\n")
	p("**Normalizer near-duplicate index** (MinHash sketches with LSH bands; distinct synthetic texts): fill to the size, then 20,000 lookups, each followed by an insert when it finds no match.\n\n")
	p("| live entries | lookups/s at that size | bytes per entry | heap, MiB |\n|---|---|---|---|\n")
	for _, s := range sizes {
		name := "BenchmarkNearIndexGrowth/entries=" + s
		if _, ok := r.Figures[name]; !ok {
			p("| %s | not measured in this run | | |\n", s)
			continue
		}
		p("| %s | %s | %s | %s |\n", s, r.span(name, "lookups/s"), r.span(name, "bytes/entry"), r.span(name, "heap-MiB"))
	}
	p("\n%s\n\n", r.growthVerdict("BenchmarkNearIndexGrowth/entries=", "lookups/s", "bytes/entry", sizes))
	p("Why: each entry is one sketch, one id and one position in a bucket list per band, so memory is linear. A lookup reads the bucket of each band key and compares only the entries filed there; with texts that do not repeat, buckets stay short at any size. Real wires repeat phrases (boilerplate, datelines), which lengthens some buckets; the index caps itself at `near_dup_max_entries` (200,000 shipped) and a time window, and eviction scans a bucket list to remove a position, which grows with a bucket's length, not with the index.\n\n")

	// Scale-out.
	p("## Scale-out\n\n")
	p("Command: `%s` (cases normalizers=1, 2, 4 with the default sync). The extra normalizers are **in-process workers**, each on its own NATS connection and sharing the one durable consumer, not separate processes; on this 2-core host separate processes would compete for the same two cores.\n\n", r.command("BenchmarkPipeline"))
	p("| normalizers | pipeline items/s | ratio to the ceiling of the same run |\n|---|---|---|\n")
	for _, n := range []string{"1", "2", "4"} {
		name := "BenchmarkPipeline/sync=default/normalizers=" + n
		if _, ok := r.Figures[name]; !ok {
			continue
		}
		p("| %s | %s | %s |\n", n, r.span(name, "items/s"), r.span(name, "ratio"))
	}
	p("\n")
	r.clusterTable(p)
	p("%s\n\n", r.scaleVerdict())

	r.headroom(p)

	if r.Profile != nil {
		p("## Profile of the end-to-end run\n\n")
		p("Command: `%s` (one more run, not counted in the figures above), then `go tool pprof -top`. The profile covers the whole test process: the embedded nats-server, the normalizer, the synthesizer and the benchmark's publisher.\n\n", r.Profile.Command)
		p("CPU, by flat time:\n\n```\n%s\n```\n\nCPU, cumulative, newswire code only:\n\n```\n%s\n```\n\nAllocated bytes, cumulative, newswire code only:\n\n```\n%s\n```\n\n", r.Profile.CPU, r.Profile.CPUCum, r.Profile.Alloc)
	}

	if r.Changes != "" {
		p("## Changes the profile led to\n\n%s\n\n", strings.TrimSpace(r.Changes))
	}
	p("## Not measured\n\n")
	for _, s := range r.Skipped {
		p("- %s\n", s)
	}
	p("\n## Runs\n\n| command | seconds |\n|---|---|\n")
	for _, j := range r.Jobs {
		p("| `%s` | %.0f |\n", cell(j.Command), j.Seconds)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// growthVerdict compares the per-item rate and the memory per item from
// the smallest size to the largest measured one.
func (r *Report) growthVerdict(prefix, rate, perEntry string, sizes []string) string {
	var got []string
	for _, s := range sizes {
		if _, ok := r.Figures[prefix+s]; ok {
			got = append(got, s)
		}
	}
	if len(got) < 2 {
		return "Too few sizes measured in this run to say how it grows."
	}
	first, last := got[0], got[len(got)-1]
	r0, r1 := r.median(prefix+first, rate), r.median(prefix+last, rate)
	m0, m1 := r.median(prefix+first, perEntry), r.median(prefix+last, perEntry)
	drop := r1 / r0
	mem := m1 / m0
	var b strings.Builder
	fmt.Fprintf(&b, "From %s to %s the rate per item went to %.2f× and the memory per entry to %.2f×. ", first, last, drop, mem)
	switch {
	case mem <= 1.3:
		b.WriteString("Memory grows linearly with the active set. ")
	default:
		b.WriteString("Memory per entry grows with the active set: worse than linear. ")
	}
	switch {
	case drop >= 0.67:
		b.WriteString("The cost per item stays roughly flat, so total work is linear in the items.")
	case drop >= 0.33:
		b.WriteString("The cost per item rises by less than the size ratio: mildly worse than linear (on a loaded host part of the difference is noise; compare min–max).")
	default:
		b.WriteString("The cost per item rises markedly with size: worse than linear.")
	}
	return b.String()
}

func (r *Report) scaleVerdict() string {
	one := r.median("BenchmarkPipeline/sync=default/normalizers=1", "items/s")
	best, bestN := one, "1"
	for _, n := range []string{"2", "4"} {
		if v := r.median("BenchmarkPipeline/sync=default/normalizers="+n, "items/s"); v > best {
			best, bestN = v, n
		}
	}
	if math.IsNaN(one) {
		return "The single-server case was not measured in this run. " + r.clusterVerdict()
	}
	return fmt.Sprintf("On one embedded server the best case is %s normalizer(s), %.2f× one. On two cores the normalizers, the synthesizer and the nats-server already share all the CPU there is, so more normalizer workers can only overlap more round trips, not add compute. There the next bottleneck is the synthesizer: it is one active worker by design (a pinned priority group), and in the profile below its clustering and snapshot building are the largest newswire costs.\n\n", bestN, best/one) + r.clusterVerdict()
}

// clusterScaleOut names reliability's cluster benchmark, with the number
// of normalizer processes to follow.
const clusterScaleOut = "BenchmarkClusterScaleOut/normalizers="

// clusterGroups are the processes whose CPU the cluster benchmark reports,
// as its metrics name them (<group>-cores) and as the report does.
var clusterGroups = []struct{ metric, label string }{
	{"servers", "the three nats-servers"}, {"normalizers", "the normalizers"}, {"synth", "the two synth processes"},
	{"serve", "serve"}, {"bench", "the benchmark's publisher"},
}

func (r *Report) clusterTable(p func(string, ...any)) {
	p("**The split stages on the 3-node loopback cluster.** Command: `%s`. Each run brings up a fresh cluster: the shipped `deploy/nats/cluster.conf` and `accounts.conf` as three nats-server processes (nats-server's own main, at the version go.mod pins) on loopback ports of this one host, `sync_interval: always` as shipped, R3 streams, buckets and consumers. On it run, as separate `newswire` processes each with its role's user, k `normalize` sharing the durable consumer, two `synth` (one active: the pinned priority group) and `serve`. The benchmark stands in for the collectors as on the single server: it publishes the same looped data asynchronously, as the `collect` user. Raw → entry stops the clock when the normalize consumer has delivered every raw item and had each acked (the normalizer acks after the entry's PubAck); raw → story snapshot when the synth consumer has done the same for every entry (the synthesizer acks after the snapshot's PubAck). CPU is each group's user and system time from `/proc` over the run (publish to the last snapshot), in cores kept busy; host is the busy time of every core, including other work on this shared host.\n\n", r.command("BenchmarkClusterScaleOut"))
	p("| normalizer processes | raw → entry items/s | raw → story snapshot items/s | CPU, cores: servers / normalizers / synth / serve / benchmark | host busy, cores |\n|---|---|---|---|---|\n")
	measured := false
	for _, n := range []string{"1", "2", "4"} {
		name := clusterScaleOut + n
		if _, ok := r.Figures[name]; !ok {
			continue
		}
		measured = true
		var cores []string
		for _, g := range clusterGroups {
			cores = append(cores, num(r.median(name, g.metric+"-cores")))
		}
		p("| %s | %s | %s | %s | %s |\n", n, r.span(name, "entry-items/s"), r.span(name, "items/s"), strings.Join(cores, " / "), r.span(name, "host-cores"))
	}
	if !measured {
		p("| | not measured in this run | | | |\n")
	}
	p("\n")
}

// clusterVerdict compares the cluster's figures with the single server's
// and names the largest user of the CPU, from the one-normalizer runs.
func (r *Report) clusterVerdict() string {
	one := clusterScaleOut + "1"
	rate := r.median(one, "items/s")
	if math.IsNaN(rate) {
		return "The 3-node cluster case was not measured in this run."
	}
	var b strings.Builder
	best, bestN := rate, "1"
	var rates []string
	for _, n := range []string{"1", "2", "4"} {
		v := r.median(clusterScaleOut+n, "items/s")
		rates = append(rates, num(v))
		if v > best {
			best, bestN = v, n
		}
	}
	fmt.Fprintf(&b, "On the 3-node cluster 1, 2 and 4 normalizer processes carried %s items/s (medians) to the story snapshot", strings.Join(rates, ", "))
	if best/rate < 1.1 {
		b.WriteString(": no gain from more normalizers, within the spread of the runs")
	} else {
		fmt.Fprintf(&b, ": the best case is %s, %.2f× one", bestN, best/rate)
	}
	if single := r.median(pipelineDefault, "items/s"); !math.IsNaN(single) {
		fmt.Fprintf(&b, "; with one normalizer the split pipeline on R3 carried %.2f× the single embedded server with the default sync", rate/single)
		if always := r.median(pipelineAlways, "items/s"); !math.IsNaN(always) {
			fmt.Fprintf(&b, " and %.2f× it with `sync_interval: always`, the cluster's setting (likely because a clustered stream's Raft log takes many messages per write and fsync; not measured separately here)", rate/always)
		}
	}
	b.WriteString(". ")
	host := r.median(one, "host-cores")
	top, topCores, total := "", 0.0, 0.0
	var shares []string
	for _, g := range clusterGroups {
		c := r.median(one, g.metric+"-cores")
		if math.IsNaN(c) {
			continue
		}
		total += c
		shares = append(shares, fmt.Sprintf("%s %.2f cores (%.2f ms of CPU per item)", g.label, c, c/rate*1000))
		if c > topCores {
			top, topCores = g.metric, c
		}
	}
	fmt.Fprintf(&b, "With one normalizer the host was busy on %.2f of its %d cores", host, r.Machine.Cores)
	if host >= 0.9*float64(r.Machine.Cores) {
		b.WriteString(", so CPU, not the disk, is the limit")
	}
	fmt.Fprintf(&b, ": %s; the remaining %.2f cores are work not charged to these processes: the kernel's, and other work on this shared host. ", strings.Join(shares, ", "), math.Max(0, host-total))
	b.WriteString("More normalizer processes add no CPU to a 2-core host; each adds its own connection, pulls and acks for the servers to handle")
	if best/rate < 1.1 {
		b.WriteString(", which is why throughput does not rise with them. ")
	} else {
		b.WriteString(": more of them overlap more round trips, and that is all they can add. ")
	}
	if serve, synth := r.median(one, "serve-cores"), r.median(one, "synth-cores"); serve > synth {
		b.WriteString("Serve, which reads every snapshot into its view, used more CPU than the synthesizer that writes them. ")
	}
	if top == "servers" {
		b.WriteString("The next bottleneck is the servers' R3 replication: every stored message (raw item, entry, fingerprint claim and markers, snapshot) is written by three replicas and acknowledged only after a Raft round trip to a follower, and the three servers take the largest share of the pipeline's CPU. On three hosts that work spreads over three machines; after it, the synthesizer is the stage that adding processes cannot scale, since one synth is active by design.")
	} else {
		fmt.Fprintf(&b, "The next bottleneck is %s, the largest user of the CPU here; the servers' R3 replication (every stored message written by three replicas after a Raft round trip) comes after it.", clusterLabel(top))
	}
	return b.String()
}

func clusterLabel(metric string) string {
	for _, g := range clusterGroups {
		if g.metric == metric {
			return g.label
		}
	}
	return metric
}

func (r *Report) headroom(p func(string, ...any)) {
	p("## Headroom\n\n")
	rate := r.median(pipelineAlways, "items/s")
	if math.IsNaN(rate) {
		p("Not measured in this run.\n\n")
		return
	}
	perDay := rate * 86400
	p("The shipped setting (`sync_interval: always`) carried %s items/s end to end in this run, on a host whose load average was %s at the start: %s items a day if it ran flat out. A desk should plan on half of that, to absorb bursts (a breaking story multiplies the posting rate for an hour) and the catch-up after a restart: about %s items a day.\n\n",
		num(rate), r.Machine.LoadStart, num(perDay), num(perDay/2))
	p("What that carries, at posting rates assumed here (not measured): a busy news RSS feed posts about 100 items a day, a Telegram news channel about 50 posts, a social account of a newsroom or reporter about 20 posts. Half the measured capacity is then about %s feeds, or %s channels, or %s accounts, or any mix of the same total. ",
		num(perDay/2/100), num(perDay/2/50), num(perDay/2/20))
	p("For scale, the world's online news is of the order of a few million articles a day (a rough outside estimate, not measured here); one 2-core host at half the measured rate takes %s%% of three million a day.\n\n", num(perDay/2/3e6*100))
	if lat := r.median("BenchmarkLatency/sync=default/rate=500", "story-p99-ms"); !math.IsNaN(lat) {
		p("Latency: 500 items/s offered is already far above the %s items/s that 100,000 sources at 50 posts a day average; at that rate the p99 from raw publish to story snapshot was %s ms in this run. ", num(100000*50/86400.0), num(lat))
		if tp := r.median(pipelineDefault, "items/s"); tp < 500 {
			p("That offered rate is above the %s items/s the pipeline carried with the default sync in this run, so the figure is mostly time spent queued: latency at a rate the host carries (a desk's average) is the ceiling round trip plus the stages' own work and the 50 ms snapshot coalescing, and this run did not measure it at such a rate.", num(tp))
		}
		p("\n\n")
	}
}

// targets explains a ratio target that was not met, from the profile.
func (r *Report) targets(p func(string, ...any)) {
	v := r.median(pipelineDefault, "ratio")
	if math.IsNaN(v) || v >= 0.20 {
		return
	}
	p("**Why the default-sync target is not met.** The issue's bound of about 0.25 counts bus operations: each item costs the bus at least three stored messages, a KV create and two consumer round trips. With `sync_interval: always` every write waits for an fsync, the disk sets both the ceiling and the pipeline, and the ratio lands near that bound. With the default sync a JetStream write costs the server only CPU, so the ceiling is high and the pipeline's own CPU per item decides: decoding, normalizing, clustering and building snapshots, plus the server's work for the item's five or six bus operations, all on the same two cores (shared with other work during this run).")
	if r.Profile != nil {
		total := profileTotal(r.Profile.CPU)
		items := r.median(pipelineDefault, "entries")
		synth := profileCum(r.Profile.CPUCum, "synth.(*Worker).handle") + profileCum(r.Profile.CPUCum, "synth.(*Worker).flush")
		norm := profileCum(r.Profile.CPUCum, "normalize.(*Worker).Run")
		if total > 0 && items > 0 {
			p(" The profiled run below used %.2f s of CPU for %s items and the ceiling loop before them: %.2f ms of CPU per item at most. Of the CPU, the synthesizer (placing entries and building snapshots) took %.0f%%, the normalizer's worker %.0f%%; the rest is the embedded nats-server, JSON, the garbage collector and system calls.",
				total, num(items), total/items*1000, synth/total*100, norm/total*100)
		}
	}
	p(" Reaching 0.20 at this ceiling would take the whole per-item cost down %.1f times, and no single cost in the profile is that large a share, so the target stands as not met.\n\n", 0.20/v)
}

// profileTotal reads "Total samples = 6.62s" from pprof's header.
func profileTotal(top string) float64 {
	_, rest, ok := strings.Cut(top, "Total samples = ")
	if !ok {
		return 0
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return 0
	}
	return seconds(f[0])
}

// profileCum is the cumulative time of the first line naming fn.
func profileCum(top, fn string) float64 {
	for _, line := range strings.Split(top, "\n") {
		f := strings.Fields(line)
		if len(f) >= 6 && strings.HasSuffix(f[5], fn) {
			return seconds(f[3])
		}
	}
	return 0
}

// seconds parses pprof's durations: 6.62s, 450ms.
func seconds(s string) float64 {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0
	}
	return d.Seconds()
}
