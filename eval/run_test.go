package eval

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/newswire/newswire/ingest/replay"
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/synth"
	"github.com/newswire/newswire/wire"
)

// TestPipelineIsDeterministic runs the same labelled items twice through
// the real normalizer and synthesizer on fresh buses: the normalizer keeps
// the raw order on WIRE_ENTRY, so the stories, and every assignment, are
// the same.
func TestPipelineIsDeterministic(t *testing.T) {
	items, err := replay.ReadFile("../testdata/replay/uci-news-2014-03.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	items = items[:1500]
	ncfg := normalize.DefaultConfig()
	ncfg.Detector = normalize.ScriptDetector{} // the rows declare their language
	scfg := synth.DefaultConfig()
	scfg.MaxProvenance = 1 << 20
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var runs [2]*Result
	for i := range runs {
		runs[i], err = RunItems(ctx, items, Options{Normalize: ncfg, Synth: scfg, StoreDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(runs[0].Assignments, runs[1].Assignments) {
		diff := 0
		for i := range runs[0].Assignments {
			if runs[0].Assignments[i] != runs[1].Assignments[i] {
				diff++
			}
		}
		t.Errorf("%d of %d assignments differ between two runs", diff, len(items))
	}
	if runs[0].Unassigned != 0 || runs[0].Predicted < 5 {
		t.Errorf("run: %+v", runs[0].Scores)
	}
}

// TestDevSetsHoldTheirScores runs both bundled dev sets, in their own
// order and three interleaved orders, through the production normalizer
// and the clusterer, and holds the mean and the worst order to floors a
// little under what the shipped model scores (README.md, Evaluation), so
// that a change that loses quality fails here. The ECB+ BCubed floor is
// the target, 0.90 (with the split of two-event stories the shipped
// model's mean is 0.924, its worst order 0.914 BCubed, 0.885 pairwise;
// without it 0.902 and 0.887); the UCI floors are the issue's own bounds (0.90 for both
// means, 0.88 for every order; the shipped model scores 0.905, 0.916
// and 0.901).
func TestDevSetsHoldTheirScores(t *testing.T) {
	if testing.Short() {
		t.Skip("whole-file evaluation")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	floors := map[string]struct{ meanB, meanP, worst float64 }{
		"uci-news-2014-03.jsonl": {0.90, 0.90, 0.88},
		"ecbplus-dev.jsonl":      {0.90, 0.88, 0.87},
	}
	for _, path := range []string{"../testdata/replay/uci-news-2014-03.jsonl", "../testdata/replay/ecbplus-dev.jsonl"} {
		items, err := replay.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var sumB, sumP, worst float64 = 0, 0, 1
		vs := Orders(items)
		for _, v := range vs {
			st, err := Normalized(ctx, v.Items, normalize.DefaultConfig(), nil)
			if err != nil {
				t.Fatal(err)
			}
			s, err := st.Cluster(synth.DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s %-4s BCubed P %.4f R %.4f F1 %.4f  pairwise P %.4f R %.4f F1 %.4f  NMI %.4f  stories %d",
				filepath.Base(path), v.Name, s.BCubedPrecision, s.BCubedRecall, s.BCubedF1, s.PairwisePrecision, s.PairwiseRecall, s.PairwiseF1, s.NMI, s.Predicted)
			sumB += s.BCubedF1
			sumP += s.PairwiseF1
			worst = min(worst, s.BCubedF1, s.PairwiseF1)
		}
		n := float64(len(vs))
		f := floors[filepath.Base(path)]
		t.Logf("%s mean BCubed F1 %.4f pairwise F1 %.4f, worst %.4f", filepath.Base(path), sumB/n, sumP/n, worst)
		if sumB/n < f.meanB || sumP/n < f.meanP || worst < f.worst {
			t.Errorf("%s: mean BCubed F1 %.4f, pairwise F1 %.4f, worst order %.4f; floors %.2f, %.2f, %.2f",
				filepath.Base(path), sumB/n, sumP/n, worst, f.meanB, f.meanP, f.worst)
		}
	}
}

// TestNormalizerRepeatsItsDecisions runs the bundled Telegram posts twice
// through the real normalizer on fresh buses: the entries, and which ones
// are duplicates of which, must be the same, and every duplicate_of must
// name an entry of the stream. The posts hold reposted adverts (exact
// copies of posts older than the near-duplicate window, folded when their
// fingerprint claims come back): before the normalizer settled a match
// with such a copy in raw order, 2–5 of the 2,000 entries differed
// between two runs, and some named a folded copy.
func TestNormalizerRepeatsItsDecisions(t *testing.T) {
	items, err := replay.ReadFile("../testdata/replay/telegram-ru-news-sample.jsonl.gz")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var runs [2][]wire.Entry
	for k := range runs {
		st, err := Normalized(ctx, items, normalize.DefaultConfig(), nil)
		if err != nil {
			t.Fatal(err)
		}
		runs[k] = st.Entries
	}
	if len(runs[0]) != len(runs[1]) {
		t.Fatalf("%d entries, then %d", len(runs[0]), len(runs[1]))
	}
	ids := make(map[string]bool, len(runs[0]))
	for _, e := range runs[0] {
		ids[e.ID] = true
	}
	differ, dups := 0, 0
	for i, a := range runs[0] {
		b := runs[1][i]
		if a.ID != b.ID || a.DuplicateOf != b.DuplicateOf || a.RepostOf != b.RepostOf {
			differ++
			if differ <= 3 {
				t.Errorf("entry %d: %s duplicate_of %q, then %s duplicate_of %q", i, a.ID, a.DuplicateOf, b.ID, b.DuplicateOf)
			}
		}
		if a.DuplicateOf != "" {
			dups++
			if !ids[a.DuplicateOf] {
				t.Errorf("entry %s is a duplicate of %s, which is no entry", a.ID, a.DuplicateOf)
			}
		}
	}
	if differ > 0 {
		t.Errorf("%d of %d entries differ between two runs", differ, len(runs[0]))
	}
	if dups == 0 {
		t.Error("no duplicates at all: the check checked nothing")
	}
	t.Logf("%d entries, %d near-duplicates", len(runs[0]), dups)
}
