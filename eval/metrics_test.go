package eval

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestPerfectAndSingletonClusterings(t *testing.T) {
	gold := []string{"a", "a", "b", "b", "b"}
	s := Score(gold, []string{"x", "x", "y", "y", "y"})
	if !near(s.BCubedF1, 1) || !near(s.PairwiseF1, 1) || !near(s.NMI, 1) {
		t.Errorf("perfect: %+v", s)
	}
	s = Score(gold, []string{"1", "2", "3", "4", "5"})
	// Singletons: BCubed precision 1, recall (2·½ + 3·⅓)/5 = 0.4; no predicted pairs.
	if !near(s.BCubedPrecision, 1) || !near(s.BCubedRecall, 0.4) || !near(s.PairwiseRecall, 0) {
		t.Errorf("singletons: %+v", s)
	}
}

func TestKnownMixedClustering(t *testing.T) {
	// gold {0,1,2} {3,4}; predicted {0,1} {2,3,4}
	s := Score([]string{"a", "a", "a", "b", "b"}, []string{"x", "x", "y", "y", "y"})
	// BCubed precision: items 0,1: 2/2; item 2: 1/3; items 3,4: 2/3 → (1+1+1/3+2/3+2/3)/5
	if want := (2 + 1.0/3 + 4.0/3) / 5; !near(s.BCubedPrecision, want) {
		t.Errorf("BCubed P = %v, want %v", s.BCubedPrecision, want)
	}
	// Pairs: gold 3+1 = 4, predicted 1+3 = 4, shared (0,1),(3,4) = 2.
	if !near(s.PairwisePrecision, 0.5) || !near(s.PairwiseRecall, 0.5) {
		t.Errorf("pairwise = %v / %v", s.PairwisePrecision, s.PairwiseRecall)
	}
	if s.NMI <= 0 || s.NMI >= 1 || s.Gold != 2 || s.Predicted != 2 {
		t.Errorf("NMI %v, counts %d/%d", s.NMI, s.Gold, s.Predicted)
	}
}
