package eval

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/newswire/newswire/ingest/replay"
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/synth"
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

// TestUCIFileMeetsTheTarget runs the bus path of `newswire eval` over the whole
// bundled UCI file and holds the clustering to the target:
// BCubed F1 and pairwise F1 at least 0.90 (0.900 / 0.907 when written;
// see README.md, Evaluation). The pipeline is deterministic, so a change
// that falls below it fails here rather than in a reader's eval.
func TestUCIFileMeetsTheTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("whole-file evaluation")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	scfg := synth.DefaultConfig()
	scfg.MaxProvenance = 1 << 20 // as the command sets it: every member in the snapshot
	res, err := Run(ctx, "../testdata/replay/uci-news-2014-03.jsonl", Options{Normalize: normalize.DefaultConfig(), Synth: scfg})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Scores
	t.Logf("BCubed P %.4f R %.4f F1 %.4f  pairwise P %.4f R %.4f F1 %.4f  NMI %.4f  stories %d",
		s.BCubedPrecision, s.BCubedRecall, s.BCubedF1, s.PairwisePrecision, s.PairwiseRecall, s.PairwiseF1, s.NMI, s.Predicted)
	if res.Unassigned != 0 {
		t.Errorf("%d items reached no story", res.Unassigned)
	}
	if s.BCubedF1 < 0.90 || s.PairwiseF1 < 0.90 {
		t.Errorf("BCubed F1 %.4f, pairwise F1 %.4f: below the 0.90 target", s.BCubedF1, s.PairwiseF1)
	}
}
