package synth

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/newswire/newswire/wire"
)

var update = flag.Bool("update", false, "rewrite the golden stories.json of every case in testdata/cases")

// TestCases feeds each testdata/cases/<name>/entries.jsonl (entries as the
// normalizer publishes them) through a clusterer in file order and
// compares the final snapshot of every story it made, merged and stale
// ones included, with stories.json. Run with -update to rewrite the
// goldens after a deliberate change, then read the diff.
func TestCases(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "cases", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no cases in testdata/cases")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			c := newTestClusterer(t)
			for _, e := range readCaseEntries(t, filepath.Join(dir, "entries.jsonl")) {
				c.Add(e)
			}
			stories := []wire.Story{}
			for _, id := range c.TakeDirty() {
				if st, ok := c.Snapshot(id); ok {
					stories = append(stories, st)
				}
			}
			got, err := json.MarshalIndent(stories, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join(dir, "stories.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("stories differ from %s (run with -update to accept, then review the diff):\n%s", golden, firstDifference(got, want))
			}
		})
	}
}

func readCaseEntries(t *testing.T, path string) []wire.Entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []wire.Entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		var e wire.Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s:%d: %v", path, line, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// firstDifference shows the lines around the first byte where got and
// want part.
func firstDifference(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(0, bytes.LastIndexByte(got[:i], '\n')+1)
	end := func(b []byte) int { return min(len(b), from+300) }
	return "got:  " + string(got[from:end(got)]) + "\nwant: " + string(want[from:end(want)])
}
