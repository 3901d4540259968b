package eval

import (
	"context"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/newswire/newswire/ingest/replay"
	"github.com/newswire/newswire/synth"
)

// The dev-set report scores both labelled dev files in four orders each
// and prints the mean and the worst order:
//
//	go test ./eval -run TestDevSets -v -dev /tmp/devcache [-train model.json] [-sweep FILE]
var (
	devCache = flag.String("dev", "", "directory for the dev sets' normalized streams; runs TestDevSets")
	trainOut = flag.String("train", "", "fit the model on the dev sets first and write it here")
	showMix  = flag.Bool("show", false, "print the predicted stories that mix gold stories (file order)")
	rounds   = flag.Int("rounds", 0, "training rounds on the model's own decisions")
	trainOn  = flag.String("train-on", "", "comma-separated indexes of the dev files to fit on (default all)")
)

var devFiles = []string{"../testdata/replay/uci-news-2014-03.jsonl", "../testdata/replay/ecbplus-dev.jsonl"}

func devStream(ctx context.Context, path string, v Variant) (*Stream, error) {
	name := strings.TrimSuffix(filepath.Base(path), ".jsonl") + "-" + v.Name + ".json"
	return cachedNormalized(ctx, filepath.Join(*devCache, name), v.Items)
}

func TestDevSets(t *testing.T) {
	if *devCache == "" {
		t.Skip("no -dev directory")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if err := os.MkdirAll(*devCache, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, params := range sweepConfigs(t) {
		cfg := configOf(t, params)
		cfg.MaxProvenance = 1 << 20
		if *trainOut != "" {
			files := devFiles
			if *trainOn != "" {
				files = nil
				for _, k := range strings.Split(*trainOn, ",") {
					n, _ := strconv.Atoi(k)
					files = append(files, devFiles[n])
				}
			}
			m, err := Train(ctx, files, TrainOptions{Synth: cfg, Rounds: *rounds, Fit: synth.FitOptions{L2: 1e-3}, Stream: devStream, Log: func(msg string, kv ...any) { t.Log(append([]any{msg}, kv...)...) }})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.MarshalIndent(m, "", "  ")
			if err := os.WriteFile(*trainOut, append(b, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("model: %s", b)
			cfg.Model = &m
		}
		var line []string
		for _, path := range devFiles {
			items, err := replay.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var sumB, sumP, worstB, worstP float64 = 0, 0, 1, 1
			for _, v := range Orders(items) {
				st, err := devStream(ctx, path, v)
				if err != nil {
					t.Fatal(err)
				}
				pred, err := st.Assign(cfg)
				if err != nil {
					t.Fatal(err)
				}
				s := Score(st.Gold, pred)
				if *showMix && v.Name == "file" {
					showMixed(t, st, pred)
				}
				if *sweep == "" {
					t.Logf("%-22s %-5s gold %3d pred %4d  BCubed P %.3f R %.3f F1 %.3f  pairwise P %.3f R %.3f F1 %.3f  NMI %.3f",
						filepath.Base(path), v.Name, s.Gold, s.Predicted, s.BCubedPrecision, s.BCubedRecall, s.BCubedF1,
						s.PairwisePrecision, s.PairwiseRecall, s.PairwiseF1, s.NMI)
				}
				sumB += s.BCubedF1
				sumP += s.PairwiseF1
				worstB, worstP = math.Min(worstB, s.BCubedF1), math.Min(worstP, s.PairwiseF1)
			}
			line = append(line, strings.TrimSuffix(filepath.Base(path), ".jsonl")+" mean "+f3(sumB/4)+"/"+f3(sumP/4)+" worst "+f3(worstB)+"/"+f3(worstP))
		}
		t.Logf("%-40s %s", strings.Join(params, " "), strings.Join(line, "   "))
	}
}

func f3(x float64) string { return strconv.FormatFloat(x, 'f', 3, 64) }

func showMixed(t *testing.T, st *Stream, pred []string) {
	comp := map[string]map[string]int{}
	for i, p := range pred {
		if comp[p] == nil {
			comp[p] = map[string]int{}
		}
		comp[p][st.Gold[i]]++
	}
	for p, m := range comp {
		if len(m) > 1 {
			t.Logf("mixed %s: %v", p, m)
		}
	}
}
