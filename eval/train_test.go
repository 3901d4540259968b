package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/newswire/newswire/ingest/replay"
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/synth"
)

// TestTrainWithTreesHoldsOutHalves trains a model with trees on parts of
// both dev sets through the real normalizer: each file is also streamed
// as two halves of its stories in all four orders (the thresholds are
// chosen on the half a model was not fitted on), the model holds trees
// for both kinds of text, and the file written parses back as a model.
func TestTrainWithTreesHoldsOutHalves(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the dev sets")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := t.TempDir()
	var files []string
	for _, c := range []struct {
		path string
		n    int
	}{{"../testdata/replay/uci-news-2014-03.jsonl", 300}, {"../testdata/replay/ecbplus-dev.jsonl", 80}} {
		items, err := replay.ReadFile(c.path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(filepath.Join(dir, filepath.Base(c.path)))
		if err != nil {
			t.Fatal(err)
		}
		enc := json.NewEncoder(f)
		for _, it := range items[:c.n] {
			if err := enc.Encode(it); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		files = append(files, f.Name())
	}
	var mu sync.Mutex
	var streamed []string
	ncfg := normalize.DefaultConfig()
	ncfg.Detector = normalize.ScriptDetector{} // the rows declare their language
	opt := TrainOptions{
		Normalize: ncfg,
		Synth:     synth.DefaultConfig(),
		Fit:       synth.FitOptions{L2: 1e-3, Boost: synth.BoostOptions{Trees: 5, Depth: 2, Rate: 0.1, MinLeaf: 30, Lambda: 10}},
		Rounds:    0,
		Stream: func(ctx context.Context, file string, v Variant) (*Stream, error) {
			mu.Lock()
			streamed = append(streamed, filepath.Base(file)+" "+v.Name)
			mu.Unlock()
			return Normalized(ctx, v.Items, ncfg, nil)
		},
	}
	m, err := Train(ctx, files, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		for _, part := range []string{"", "half0-", "half1-"} {
			for _, order := range []string{"file", "mix1", "mix2", "mix3"} {
				if want := filepath.Base(f) + " " + part + order; !slices.Contains(streamed, want) {
					t.Errorf("training never streamed %q; it streamed %q", want, streamed)
				}
			}
		}
	}
	if len(m.ShortTrees) == 0 || len(m.LongTrees) == 0 {
		t.Errorf("the model holds %d short-text and %d long-text trees, want some of each", len(m.ShortTrees), len(m.LongTrees))
	}
	for k := range 2 {
		if !slices.Contains(joinGrid, m.Join[k]) || !slices.Contains(mergeGrid, m.Merge[k]) {
			t.Errorf("thresholds join %v merge %v are not on the grids", m.Join, m.Merge)
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := synth.ParseModel(b)
	if err != nil {
		t.Fatalf("the trained model does not parse: %v", err)
	}
	if fmt.Sprint(back.Join, back.Merge) != fmt.Sprint(m.Join, m.Merge) || len(back.LongTrees) != len(m.LongTrees) {
		t.Errorf("the model read back differs: %v %v, %d long trees", back.Join, back.Merge, len(back.LongTrees))
	}
}
