package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// Report is everything one `make bench` measured, as bench.json holds it.
type Report struct {
	Command string                       `json:"command"`
	Machine Machine                      `json:"machine"`
	Runs    int                          `json:"runs"`
	Jobs    []JobRecord                  `json:"jobs"`
	Figures map[string]map[string]Figure `json:"figures"`
	// Profile holds pprof's top lists of the profiled end-to-end run.
	Profile *Profile `json:"profile,omitempty"`
	// Changes is the hand-written record of the changes the profile led
	// to, with the commands that measured them (bench/changes.md).
	Changes string `json:"changes,omitempty"`
	// Skipped says what this run did not measure, and why.
	Skipped []string `json:"skipped,omitempty"`
}

// JobRecord is one go test invocation and how long it took.
type JobRecord struct {
	Command string  `json:"command"`
	Seconds float64 `json:"seconds"`
}

// Profile is the CPU and allocation profile of one end-to-end run.
type Profile struct {
	Command string `json:"command"`
	CPU     string `json:"cpu_top"`
	CPUCum  string `json:"cpu_cumulative_newswire"`
	Alloc   string `json:"alloc_cumulative_newswire"`
}

var latencyCases = []struct{ sync, rate string }{{"default", "500"}, {"default", "2000"}, {"always", "500"}}

// Names of the benchmarks the report reads.
const (
	pipelineDefault = "BenchmarkPipeline/sync=default/normalizers=1"
	pipelineAlways  = "BenchmarkPipeline/sync=always/normalizers=1"
)

func (r *Report) fig(name, metric string) (Figure, bool) {
	f, ok := r.Figures[name][metric]
	return f, ok
}

// span is "median (min–max)" of a figure, or "not measured".
func (r *Report) span(name, metric string) string {
	f, ok := r.fig(name, metric)
	if !ok {
		return "not measured"
	}
	if len(f.Runs) == 1 {
		return num(f.Median) + " (one run)"
	}
	return fmt.Sprintf("%s (%s–%s)", num(f.Median), num(f.Min), num(f.Max))
}

// num prints a figure with thousands separators, or two decimals under 10.
func num(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "n/a"
	case math.Abs(v) < 1:
		return fmt.Sprintf("%.3f", v)
	case math.Abs(v) < 10:
		return fmt.Sprintf("%.2f", v)
	case math.Abs(v) < 1000:
		return fmt.Sprintf("%.0f", v)
	}
	s := fmt.Sprintf("%.0f", math.Abs(v))
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (r *Report) median(name, metric string) float64 {
	f, ok := r.fig(name, metric)
	if !ok {
		return math.NaN()
	}
	return f.Median
}

func verdict(v, target float64) string {
	switch {
	case math.IsNaN(v):
		return "not measured"
	case v >= target:
		return "met"
	default:
		return "**not met**"
	}
}

// WriteMarkdown writes BENCHMARKS.md.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	m := r.Machine
	p("# newswire benchmarks\n\n")
	p("Written by `%s` on %s in %.0f s (%d runs of each figure unless it says otherwise; each figure is the median with min–max). Every figure below was printed by the `go test` command named with it in this run; `bench.json` holds each run's value.\n\n",
		r.Command, m.Started.UTC().Format("2006-01-02 15:04 UTC"), m.Seconds, r.Runs)
	p("| machine | |\n|---|---|\n")
	p("| CPU | %s, %d cores (GOMAXPROCS %d) |\n| Go | %s, %s |\n", m.CPU, m.Cores, m.GOMAXPROCS, m.GoVersion, m.OS)
	p("| JetStream store | temp dir %s on %s (%s), %s free; %s synced 1 KiB writes/s (write + fsync, one at a time) at the start |\n", m.TempDir, m.Device, m.Filesystem, m.DiskFree, num(m.SyncedWrites))
	p("| load average (1, 5, 15 min) | %s at start, %s at end |\n\n", m.LoadStart, m.LoadEnd)
	p("The host is shared: a load average above the core count means other work took CPU during the run. Ratios to the bus's ceiling are measured on the same server in the same run, so they are the figures to compare across runs; absolute rates move with the load.\n\n")

	// Headline.
	p("## Headline\n\n")
	p("| figure | sync default | sync always (shipped) |\n|---|---|---|\n")
	p("| bus ceiling, msgs/s | %s | %s |\n", r.span(pipelineDefault, "ceiling-msgs/s"), r.span(pipelineAlways, "ceiling-msgs/s"))
	p("| pipeline, items/s raw publish → story snapshot | %s | %s |\n", r.span(pipelineDefault, "items/s"), r.span(pipelineAlways, "items/s"))
	p("| ratio pipeline ÷ ceiling | %s — target ≥ 0.20: %s | %s — target ≥ 0.15: %s |\n\n",
		r.span(pipelineDefault, "ratio"), verdict(r.median(pipelineDefault, "ratio"), 0.20),
		r.span(pipelineAlways, "ratio"), verdict(r.median(pipelineAlways, "ratio"), 0.15))
	r.latencyTable(p)
	r.targets(p)

	// Ceiling and end to end.
	p("## Ceiling and end to end\n\n")
	p("Command: `%s`\n\n", r.command("BenchmarkPipeline"))
	p("Per run, one embedded nats-server (JetStream file store in a fresh temp dir, the design's topology) first carries the **ceiling**: 1 KiB messages, each with a `Nats-Msg-Id`, published asynchronously into a file stream with a duplicate window while a durable pull consumer takes and acks them, timed from the first publish until the server holds nothing unacknowledged. Then the **pipeline** on the same server: the real normalizer (production config, n-gram language detection loaded) and synthesizer (production config and model) run while the benchmark publishes raw items asynchronously; the clock stops when every raw item is handled and the synthesizer has acknowledged every entry, which it does only after the story snapshot holding it has its PubAck. The items are the bundled real data (`testdata/replay`: 6,366 UCI headlines, 2,000 Russian Telegram posts, 496 ECB+ articles, interleaved) looped for volume: every pass after the first gives each item a fresh id and URL, so exact dedupe lets it through and the normalizer marks it a near-duplicate of the first pass, as a syndicated copy. Each item costs the normalizer four writes (fingerprint claim, pending publication marker, entry, published marker) and an ack, and the synthesizer a snapshot write (coalesced per story) and an ack, against the ceiling's one write and one ack per message.\n\n")
	p("| sync | normalizers | ceiling msgs/s | pipeline items/s | ratio | snapshots written |\n|---|---|---|---|---|---|\n")
	for _, c := range []struct{ sync, n string }{{"default", "1"}, {"always", "1"}, {"default", "2"}, {"default", "4"}} {
		name := "BenchmarkPipeline/sync=" + c.sync + "/normalizers=" + c.n
		if _, ok := r.Figures[name]; !ok {
			continue
		}
		p("| %s | %s | %s | %s | %s | %s |\n", c.sync, c.n, r.span(name, "ceiling-msgs/s"), r.span(name, "items/s"), r.span(name, "ratio"), r.span(name, "snapshots"))
	}
	p("\n")
	return r.writeRest(w, &b, p)
}

func (r *Report) latencyTable(p func(string, ...any)) {
	p("| latency, ms (p50 / p99 / p999) | raw → entry | raw → story snapshot | ceiling round trip |\n|---|---|---|---|\n")
	for _, c := range latencyCases {
		name := "BenchmarkLatency/sync=" + c.sync + "/rate=" + c.rate
		if _, ok := r.Figures[name]; !ok {
			continue
		}
		tri := func(prefix string) string {
			return fmt.Sprintf("%s / %s / %s", num(r.median(name, prefix+"-p50-ms")), num(r.median(name, prefix+"-p99-ms")), num(r.median(name, prefix+"-p999-ms")))
		}
		p("| %s items/s offered, sync %s | %s | %s | %s |\n", c.rate, c.sync, tri("entry"), tri("story"), tri("ceiling"))
	}
	p("\n")
}

// command is the command of the job whose -bench pattern starts with
// the benchmark's name (without "Benchmark").
func (r *Report) command(bench string) string {
	for _, j := range r.Jobs {
		if strings.Contains(j.Command, "-bench '"+strings.TrimPrefix(bench, "Benchmark")) {
			return j.Command
		}
	}
	return "not run"
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
