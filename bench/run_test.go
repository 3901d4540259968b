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
