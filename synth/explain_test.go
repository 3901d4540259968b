package synth

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/newswire/newswire/wire"
)

// The explainer writes one decision per entry and per merge, its terms
// add up to the probability it reports, and explaining changes nothing.
func TestExplainSaysWhyAndChangesNothing(t *testing.T) {
	stream := []wire.Entry{
		entry("e1", "x", "Hurricane Maria damages power grid in Puerto Rico", "", 0),
		entry("e2", "y", "Maria leaves island in the dark", "", 1),
		entry("e3", "z", "Hurricane Maria damages power grid in Puerto Rico", "", 2),
		entry("e4", "w", "Puerto Rico power grid crippled after hurricane Maria", "", 3),
		entry("e5", "v", "Tech company unveils new smartphone with folding screen", "", 4),
	}
	run := func(explain *bytes.Buffer) map[string]string {
		cfg := DefaultConfig()
		cfg.Threshold = 0.9
		cfg.MergePassInterval, cfg.MergeThreshold = time.Minute, 0.3
		if explain != nil {
			cfg.Explain = explain
		}
		c, err := NewClusterer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		background(c)
		if explain != nil {
			explain.Reset() // the background entries' decisions are not under test
		}
		got := make(map[string]string)
		for _, e := range stream {
			c.Add(e)
		}
		for _, e := range stream {
			got[e.ID] = c.Survivor(must(c.StoryOf(e.ID)))
		}
		if err := c.ExplainErr(); err != nil {
			t.Fatal(err)
		}
		return got
	}
	var out bytes.Buffer
	plain, explained := run(nil), run(&out)
	for id, s := range plain {
		if explained[id] != s {
			t.Errorf("%s is in %s when explained, %s when not", id, explained[id], s)
		}
	}

	var ds []Decision
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var d Decision
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		ds = append(ds, d)
	}
	kinds := make(map[string]int)
	placed := make(map[string]Decision)
	for _, d := range ds {
		kinds[d.Kind]++
		if d.Entry != "" {
			placed[d.Entry] = d
		}
	}
	if len(placed) != len(stream) || kinds["merge"] != 1 {
		t.Fatalf("decisions %v for %d entries, want one per entry and the one merge of e2's story", kinds, len(stream))
	}
	if d := placed["e1"]; d.Kind != "found" || d.Story != StoryID("e1") {
		t.Errorf("e1: %+v, want it to found its story", d)
	}
	j := placed["e3"]
	if j.Kind != "join" || j.Story != StoryID("e1") || len(j.Candidates) == 0 || j.Candidates[0].Story != j.Story {
		t.Fatalf("e3: %+v, want a join of e1's story, its first candidate", j)
	}
	top := j.Candidates[0]
	if top.P < j.Threshold || top.Headline != stream[0].Headline || top.Bounded {
		t.Errorf("e3's first candidate %+v: want p at least the threshold %v, e1's headline, members read", top, j.Threshold)
	}
	var z float64
	for _, v := range top.Terms {
		z += v
	}
	if p := 1 / (1 + math.Exp(-z)); math.Abs(p-top.P) > 1e-9 {
		t.Errorf("e3's terms %v sum to p %.12f, the decision says %.12f", top.Terms, p, top.P)
	}
	for _, d := range ds {
		if d.Kind == "merge" && (d.Story != StoryID("e1") || d.Merged != StoryID("e2")) {
			t.Errorf("merge %+v, want e2's story into e1's", d)
		}
	}
}

// A writer that fails stops the explaining, not the clustering.
func TestExplainWriteErrorIsKept(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Explain = failingWriter{}
	c, err := NewClusterer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := c.Add(entry("e1", "x", "Hurricane Maria damages power grid in Puerto Rico", "", 0))
	b := c.Add(entry("e2", "y", "Puerto Rico power grid crippled after hurricane Maria", "", 1))
	if a == "" || b == "" {
		t.Fatal("entries were not placed")
	}
	if !errors.Is(c.ExplainErr(), errFailing) {
		t.Errorf("ExplainErr() = %v, want the writer's error", c.ExplainErr())
	}
}

var errFailing = errors.New("disk full")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errFailing }
