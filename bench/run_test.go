package bench

import (
	"strings"
	"testing"
)

func TestParseAndSummarize(t *testing.T) {
	out := `goos: linux
BenchmarkPipeline/sync=default/normalizers=1-2   	       1	9071907066 ns/op	      7446 ceiling-msgs/s	       418.6 items/s	         0.05622 ratio
BenchmarkPipeline/sync=default/normalizers=1-2   	       1	9071907066 ns/op	      8000 ceiling-msgs/s	       400 items/s	         0.05 ratio
BenchmarkPipeline/sync=default/normalizers=1-2   	       1	9071907066 ns/op	      9000 ceiling-msgs/s	       500 items/s	         0.0555 ratio
BenchmarkNearIndexGrowth/entries=10k   	       1	1256566238 ns/op	      1620 bytes/entry
--- FAIL: BenchmarkX
PASS
`
	s := Parse(strings.NewReader(out))
	if len(s) != 4 {
		t.Fatalf("parsed %d samples, want 4", len(s))
	}
	f := Summarize(s)
	got := f["BenchmarkPipeline/sync=default/normalizers=1"]["items/s"]
	if got.Median != 418.6 || got.Min != 400 || got.Max != 500 || len(got.Runs) != 3 {
		t.Errorf("items/s = %+v", got)
	}
	if f["BenchmarkNearIndexGrowth/entries=10k"]["bytes/entry"].Median != 1620 {
		t.Errorf("name without a GOMAXPROCS suffix not kept: %v", f)
	}
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{1234567: "1,234,567", 0.2134: "0.213", 5.5: "5.50", 999: "999"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestWriteMarkdown(t *testing.T) {
	out := `BenchmarkPipeline/sync=default/normalizers=1-2  1  9 ns/op  7446 ceiling-msgs/s  418.6 items/s  0.056 ratio  1215 snapshots
BenchmarkPipeline/sync=always/normalizers=1-2  1  9 ns/op  400 ceiling-msgs/s  100 items/s  0.25 ratio  1215 snapshots
BenchmarkPipeline/sync=default/normalizers=2-2  1  9 ns/op  7000 ceiling-msgs/s  450 items/s  0.064 ratio  1215 snapshots
BenchmarkLatency/sync=default/rate=500-2  1  9 ns/op  0.4 ceiling-p50-ms  3 ceiling-p99-ms  6 ceiling-p999-ms  10 entry-p50-ms  20 entry-p99-ms  30 entry-p999-ms  40 story-p50-ms  90 story-p99-ms  120 story-p999-ms  500 offered-items/s  2000 story-samples
BenchmarkClusterGrowth/active=10k-2  1  9 ns/op  5000 entries/s  2400 heap-B/active-entry  23 heap-MiB  5000 fill-entries/s
BenchmarkClusterGrowth/active=100k-2  1  9 ns/op  4000 entries/s  2300 heap-B/active-entry  230 heap-MiB  4000 fill-entries/s
BenchmarkNearIndexGrowth/entries=10k-2  1  9 ns/op  20000 lookups/s  1600 bytes/entry  15 heap-MiB
BenchmarkClusterScaleOut/normalizers=1-2  1  9 ns/op  1100 entry-items/s  800 items/s  0.8 servers-cores  0.2 normalizers-cores  0.3 synth-cores  0.3 serve-cores  0.04 bench-cores  1.98 host-cores
BenchmarkClusterScaleOut/normalizers=2-2  1  9 ns/op  1000 entry-items/s  700 items/s  0.7 servers-cores  0.2 normalizers-cores  0.3 synth-cores  0.3 serve-cores  0.04 bench-cores  1.98 host-cores
`
	r := &Report{Command: "make bench", Runs: 1, Machine: Machine{Cores: 2}, Figures: Summarize(Parse(strings.NewReader(out))),
		Jobs: []JobRecord{{Command: "go test -run '^$' -bench 'Pipeline' ./bench", Seconds: 1}}, Skipped: []string{"nothing"}}
	var b strings.Builder
	if err := r.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{"| ratio pipeline ÷ ceiling | 0.056 (one run) — target ≥ 0.20: **not met** | 0.250 (one run) — target ≥ 0.15: met |",
		"Memory grows linearly", "## Headroom", "| 2 | 450 (one run) |",
		"| 1 | 1,100 (one run) | 800 (one run) | 0.800 / 0.200 / 0.300 / 0.300 / 0.040 | 1.98 (one run) |",
		"1, 2 and 4 normalizer processes carried 800, 700, n/a items/s", "no gain from more normalizers", "The next bottleneck is the servers' R3 replication"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "%!") {
		t.Errorf("formatting error in report:\n%s", md)
	}
}
