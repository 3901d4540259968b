// Package eval scores story clustering against gold labels: it runs a
// labelled replay file through the real normalizer and synthesizer on an
// embedded bus and computes BCubed, pairwise and NMI scores.
package eval

import "math"

// Scores are the clustering metrics of one run.
type Scores struct {
	BCubedPrecision   float64 `json:"bcubed_precision"`
	BCubedRecall      float64 `json:"bcubed_recall"`
	BCubedF1          float64 `json:"bcubed_f1"`
	PairwisePrecision float64 `json:"pairwise_precision"`
	PairwiseRecall    float64 `json:"pairwise_recall"`
	PairwiseF1        float64 `json:"pairwise_f1"`
	// NMI is normalised by the arithmetic mean of the two entropies
	// (scikit-learn's default).
	NMI       float64 `json:"nmi"`
	Items     int     `json:"items"`
	Gold      int     `json:"gold_stories"`
	Predicted int     `json:"predicted_stories"`
}

// Score compares predicted clusters with gold labels; both slices are
// indexed by item.
func Score(gold, pred []string) Scores {
	n := len(gold)
	s := Scores{Items: n}
	if n == 0 || len(pred) != n {
		return s
	}
	type pair struct{ g, p string }
	joint := make(map[pair]int)
	gsize := make(map[string]int)
	psize := make(map[string]int)
	for i := range gold {
		joint[pair{gold[i], pred[i]}]++
		gsize[gold[i]]++
		psize[pred[i]]++
	}
	s.Gold, s.Predicted = len(gsize), len(psize)
	// BCubed: every item in a cell (g, p) of size c has precision c/|p| and recall c/|g|.
	var bp, br float64
	var tp, goldPairs, predPairs float64
	for k, c := range joint {
		fc := float64(c)
		bp += fc * fc / float64(psize[k.p])
		br += fc * fc / float64(gsize[k.g])
		tp += fc * (fc - 1) / 2
	}
	s.BCubedPrecision = bp / float64(n)
	s.BCubedRecall = br / float64(n)
	s.BCubedF1 = f1(s.BCubedPrecision, s.BCubedRecall)
	for _, c := range gsize {
		goldPairs += float64(c) * float64(c-1) / 2
	}
	for _, c := range psize {
		predPairs += float64(c) * float64(c-1) / 2
	}
	s.PairwisePrecision = ratio(tp, predPairs)
	s.PairwiseRecall = ratio(tp, goldPairs)
	s.PairwiseF1 = f1(s.PairwisePrecision, s.PairwiseRecall)
	fn := float64(n)
	var mi, hg, hp float64
	for k, c := range joint {
		pxy := float64(c) / fn
		mi += pxy * math.Log(pxy/(float64(gsize[k.g])/fn*float64(psize[k.p])/fn))
	}
	for _, c := range gsize {
		p := float64(c) / fn
		hg -= p * math.Log(p)
	}
	for _, c := range psize {
		p := float64(c) / fn
		hp -= p * math.Log(p)
	}
	switch {
	case hg+hp == 0:
		s.NMI = 1
	default:
		s.NMI = mi / ((hg + hp) / 2)
	}
	return s
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 1 // no pairs predicted (or none in gold): nothing was wrong
	}
	return a / b
}

func f1(p, r float64) float64 {
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}
