// Command benchreport runs newswire's benchmark suite several times and
// writes BENCHMARKS.md and bench.json: machine facts, and for each figure
// the median of the runs with min–max. `make bench` runs it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/newswire/newswire/bench"
)

func main() {
	runs := flag.Int("runs", 3, "runs of each benchmark (the report gives median and min–max)")
	items := flag.Int("items", 5000, "raw items per throughput run")
	clusterItems := flag.Int("cluster-items", 3000, "raw items per run of the 3-node cluster's scale-out (each run also starts a cluster: about 8 s)")
	seconds := flag.Float64("seconds", 3, "seconds of offered load per latency run")
	growth := flag.String("growth", "100k", "largest growth size: 10k, 100k or 1m (1m runs once, takes minutes and about 2 GB)")
	profile := flag.Bool("profile", true, "profile one more end-to-end run (CPU and allocations)")
	quick := flag.Bool("quick", false, "one run each, small sizes: a smoke test of the report, not figures to quote")
	out := flag.String("out", ".", "directory for BENCHMARKS.md and bench.json")
	goTool := flag.String("go", "go", "the go command")
	render := flag.String("render", "", "write BENCHMARKS.md again from this bench.json, measuring nothing")
	flag.Parse()
	if *render != "" {
		if err := rerender(*render, *out); err != nil {
			fmt.Fprintln(os.Stderr, "benchreport:", err)
			os.Exit(1)
		}
		return
	}
	if *quick {
		*runs, *items, *clusterItems, *seconds, *growth = 1, 3000, 1000, 2, "10k"
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *goTool, *runs, *items, *clusterItems, *seconds, *growth, *profile, *out, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, goTool string, runs, items, clusterItems int, seconds float64, growth string, profile bool, out string, args []string) error {
	started := time.Now()
	tmp := os.TempDir()
	dev, fstype := bench.Mount(tmp)
	goVersion, err := exec.CommandContext(ctx, goTool, "env", "GOVERSION").Output()
	if err != nil {
		return fmt.Errorf("go env: %w", err)
	}
	rep := &bench.Report{
		Command: "make bench BENCHFLAGS='" + strings.Join(args, " ") + "'",
		Runs:    runs,
		Machine: bench.Machine{
			CPU: bench.CPUModel(), Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
			GoVersion: strings.TrimSpace(string(goVersion)), OS: runtime.GOOS + "/" + runtime.GOARCH,
			TempDir: tmp, Device: dev, Filesystem: fstype, DiskFree: diskFree(tmp),
			LoadStart: bench.LoadAverage(), Started: started, SyncedWrites: bench.SyncedWrites(tmp, 300),
		},
	}
	if len(args) == 0 {
		rep.Command = "make bench"
	}
	sizes := map[string]string{"10k": "10k", "100k": "(10k|100k)", "1m": "(10k|100k)"}[growth]
	if sizes == "" {
		return fmt.Errorf("-growth must be 10k, 100k or 1m, not %q", growth)
	}
	itemsArg := "-bench.items=" + strconv.Itoa(items)
	secondsArg := "-bench.seconds=" + strconv.FormatFloat(seconds, 'f', -1, 64)
	jobs := []bench.Job{
		{Pkg: "./bench", Bench: "Pipeline", Count: runs, Args: []string{itemsArg}},
		{Pkg: "./bench", Bench: "Latency", Count: runs, Args: []string{secondsArg}},
		{Pkg: "./synth", Bench: "ClusterGrowth/active=" + sizes + "$", Count: runs},
		{Pkg: "./normalize", Bench: "NearIndexGrowth/entries=" + sizes + "$", Count: runs},
		{Pkg: "./reliability", Bench: "ClusterScaleOut", Count: runs, Args: []string{"-cluster.items=" + strconv.Itoa(clusterItems)}},
	}
	if growth == "1m" {
		// A million entries take minutes to fill: one run each.
		jobs = append(jobs,
			bench.Job{Pkg: "./synth", Bench: "ClusterGrowth/active=1000k$", Count: 1},
			bench.Job{Pkg: "./normalize", Bench: "NearIndexGrowth/entries=1000k$", Count: 1})
	} else {
		rep.Skipped = append(rep.Skipped, "Growth at 1M active entries: left out of the default `make bench` to keep it under 15 minutes on this host (the clusterer fills at the rate in the table, so a million entries take minutes, and hold about 2 GB). `go run ./cmd/benchreport -growth 1m` measures it.")
	}
	rep.Skipped = append(rep.Skipped,
		"Scale-out with separate normalizer processes on one embedded server: the single-server workers are in-process, each on its own connection (the 3-node cluster figures are separate processes).")
	var samples []bench.Sample
	for _, j := range jobs {
		fmt.Fprintf(os.Stderr, "== %s\n", j.Command())
		t := time.Now()
		s, err := j.Run(ctx, goTool, os.Stderr)
		if err != nil {
			return err
		}
		samples = append(samples, s...)
		rep.Jobs = append(rep.Jobs, bench.JobRecord{Command: j.Command(), Seconds: time.Since(t).Seconds()})
	}
	rep.Figures = bench.Summarize(samples)
	if b, err := os.ReadFile("bench/changes.md"); err == nil {
		rep.Changes = string(b)
	}
	if profile {
		p, err := profileRun(ctx, goTool, itemsArg, rep)
		if err != nil {
			return err
		}
		rep.Profile = p
	}
	rep.Machine.LoadEnd = bench.LoadAverage()
	rep.Machine.Seconds = time.Since(started).Seconds()
	return write(out, rep)
}

// profileRun runs the end-to-end benchmark once more with CPU and memory
// profiles and returns pprof's top lists.
func profileRun(ctx context.Context, goTool, itemsArg string, rep *bench.Report) (*bench.Profile, error) {
	dir, err := os.MkdirTemp("", "benchreport-*")
	if err != nil {
		return nil, fmt.Errorf("profile dir: %w", err)
	}
	defer os.RemoveAll(dir)
	bin, cpu, mem := filepath.Join(dir, "bench.test"), filepath.Join(dir, "cpu.prof"), filepath.Join(dir, "mem.prof")
	j := bench.Job{Pkg: "./bench", Bench: "Pipeline/sync=default/normalizers=1$", Count: 1, Args: []string{itemsArg},
		Extra: []string{"-cpuprofile", cpu, "-memprofile", mem, "-o", bin}}
	fmt.Fprintf(os.Stderr, "== %s\n", j.Command())
	t := time.Now()
	if _, err := j.Run(ctx, goTool, os.Stderr); err != nil {
		return nil, err
	}
	rep.Jobs = append(rep.Jobs, bench.JobRecord{Command: j.Command(), Seconds: time.Since(t).Seconds()})
	top := func(args ...string) (string, error) {
		a := append([]string{"tool", "pprof", "-top"}, args...)
		b, err := exec.CommandContext(ctx, goTool, a...).Output()
		if err != nil {
			return "", fmt.Errorf("pprof %s: %w", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	p := &bench.Profile{Command: j.Command()}
	if p.CPU, err = top("-nodecount=25", bin, cpu); err != nil {
		return nil, err
	}
	if p.CPUCum, err = top("-cum", "-show=github.com/newswire", "-nodecount=25", bin, cpu); err != nil {
		return nil, err
	}
	if p.Alloc, err = top("-cum", "-sample_index=alloc_space", "-show=github.com/newswire", "-nodecount=20", bin, mem); err != nil {
		return nil, err
	}
	return p, nil
}

func diskFree(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%.0f GiB", float64(st.Bavail)*float64(st.Bsize)/(1<<30))
}

func write(dir string, rep *bench.Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("output dir: %w", err)
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode bench.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bench.json"), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("write bench.json: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, "BENCHMARKS.md"))
	if err != nil {
		return fmt.Errorf("write BENCHMARKS.md: %w", err)
	}
	if err := rep.WriteMarkdown(f); err != nil {
		f.Close()
		return fmt.Errorf("write BENCHMARKS.md: %w", err)
	}
	return f.Close()
}

// rerender rewrites the report from a bench.json, for a change of wording.
func rerender(path, dir string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	var rep bench.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return write(dir, &rep)
}
