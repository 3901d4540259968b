package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrBenchmarkFailed is a benchmark that printed a failure.
var ErrBenchmarkFailed = errors.New("bench: a benchmark failed")

// Job is one `go test -bench` invocation of the suite.
type Job struct {
	// Pkg is the package path, e.g. ./bench.
	Pkg string
	// Bench is the -bench pattern.
	Bench string
	// Count is how many runs (-count).
	Count int
	// Args go to the test binary after -args.
	Args []string
	// Extra go flags, such as -cpuprofile.
	Extra []string
}

// Command is the job as a shell command line, for the report.
func (j Job) Command() string {
	parts := []string{"go", "test", "-run", "'^$'", "-bench", "'" + j.Bench + "'", "-benchtime=1x", "-count=" + strconv.Itoa(j.Count)}
	parts = append(parts, j.Extra...)
	parts = append(parts, j.Pkg)
	if len(j.Args) > 0 {
		parts = append(parts, "-args")
		parts = append(parts, j.Args...)
	}
	return strings.Join(parts, " ")
}

// Sample is one benchmark result line: a name and its metrics.
type Sample struct {
	Name    string
	Metrics map[string]float64
}

// Run runs the job with the go tool, copying its output to log, and
// returns the samples it printed.
func (j Job) Run(ctx context.Context, goTool string, log io.Writer) ([]Sample, error) {
	args := []string{"test", "-run", "^$", "-bench", j.Bench, "-benchtime=1x", "-count=" + strconv.Itoa(j.Count), "-timeout=30m"}
	args = append(args, j.Extra...)
	args = append(args, j.Pkg)
	if len(j.Args) > 0 {
		args = append(append(args, "-args"), j.Args...)
	}
	cmd := exec.CommandContext(ctx, goTool, args...)
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, log)
	cmd.Stderr = log
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("bench: %s: %w", j.Command(), err)
	}
	// A sub-benchmark that fails can leave go test's exit status 0 (seen
	// with b.Fatal in the cluster benchmark): its run would be missing
	// from the figures without a word.
	if bytes.Contains(out.Bytes(), []byte("--- FAIL")) {
		return nil, fmt.Errorf("bench: %s: %w", j.Command(), ErrBenchmarkFailed)
	}
	samples := Parse(&out)
	if len(samples) == 0 {
		return nil, fmt.Errorf("bench: %s printed no benchmark results", j.Command())
	}
	return samples, nil
}

// Parse reads `go test -bench` output and returns its result lines, in
// order. The GOMAXPROCS suffix (-2) is cut from the names.
func Parse(r io.Reader) []Sample {
	var out []Sample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		s := Sample{Name: name, Metrics: map[string]float64{}}
		for k := 2; k+1 < len(f); k += 2 {
			v, err := strconv.ParseFloat(f[k], 64)
			if err != nil {
				break
			}
			s.Metrics[f[k+1]] = v
		}
		out = append(out, s)
	}
	return out
}

// Figure is one metric of one benchmark over its runs.
type Figure struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Runs   []float64 `json:"runs"`
}

// Summarize turns samples into figures: benchmark name → metric → figure.
func Summarize(samples []Sample) map[string]map[string]Figure {
	runs := map[string]map[string][]float64{}
	for _, s := range samples {
		m := runs[s.Name]
		if m == nil {
			m = map[string][]float64{}
			runs[s.Name] = m
		}
		for k, v := range s.Metrics {
			m[k] = append(m[k], v)
		}
	}
	out := map[string]map[string]Figure{}
	for name, m := range runs {
		out[name] = map[string]Figure{}
		for k, vs := range m {
			out[name][k] = figure(vs)
		}
	}
	return out
}

func figure(vs []float64) Figure {
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Figure{Median: med, Min: s[0], Max: s[len(s)-1], Runs: vs}
}

// Machine is what the report says about the host.
type Machine struct {
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	TempDir    string `json:"temp_dir"`
	Filesystem string `json:"filesystem"`
	Device     string `json:"device"`
	DiskFree   string `json:"disk_free"`
	// SyncedWrites is how many 1 KiB write+fsync pairs a second the temp
	// dir's disk took: the floor of sync_interval: always.
	SyncedWrites float64   `json:"synced_writes_per_second"`
	LoadStart    string    `json:"load_average_start"`
	LoadEnd      string    `json:"load_average_end"`
	Started      time.Time `json:"started"`
	Seconds      float64   `json:"seconds"`
}

// LoadAverage reads /proc/loadavg's 1, 5 and 15 minute figures.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// CPUModel is the first model name in /proc/cpuinfo.
func CPUModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// Mount finds the file system that holds dir in /proc/mounts: its device
// and type.
func Mount(dir string) (device, fstype string) {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return "unknown", "unknown"
	}
	best := ""
	device, fstype = "unknown", "unknown"
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		mp := f[1]
		if (dir == mp || strings.HasPrefix(dir, strings.TrimSuffix(mp, "/")+"/")) && len(mp) >= len(best) {
			best, device, fstype = mp, f[0], f[2]
		}
	}
	return device, fstype
}

// SyncedWrites times n appends of 1 KiB, each followed by fsync, to a
// file in dir, and returns them per second (0 if the disk refused).
func SyncedWrites(dir string, n int) float64 {
	f, err := os.CreateTemp(dir, "benchreport-fsync-*")
	if err != nil {
		return 0
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 1024)
	start := time.Now()
	for range n {
		if _, err := f.Write(buf); err != nil {
			return 0
		}
		if err := f.Sync(); err != nil {
			return 0
		}
	}
	return float64(n) / time.Since(start).Seconds()
}
