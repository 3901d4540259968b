package synth

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
)

// Model is a logistic model of whether an entry belongs to a candidate
// story: P(join) = σ(bias + Σ weight·feature). It replaces hand-chosen
// thresholds on one score, after Miranda et al. (EMNLP 2018), who decide
// a streaming clusterer's joins with a model trained on labelled pairs.
// The shipped weights are in model.json; `newswire train` fits new ones
// on a labelled stream (see Fit), and can add boosted trees to the
// log-odds (see trees.go).
type Model struct {
	// Features names each weight, so that a file made for another set
	// of features is refused rather than misread.
	Features []string  `json:"features"`
	Weights  []float64 `json:"weights"`
	Bias     float64   `json:"bias"`
	// Join and Merge are the decision thresholds on the join probability
	// for short and for long texts (blended by length like the weights):
	// an entry joins its most probable story at Join, a member votes for
	// a merge at Merge. Training picks them on the labelled streams.
	Join  [2]float64 `json:"join_threshold"`
	Merge [2]float64 `json:"merge_threshold"`
	// TrainedOn says where the weights came from; it is not read.
	TrainedOn []string `json:"trained_on,omitempty"`
	Examples  int      `json:"examples,omitempty"`
	// ShortTrees and LongTrees are boosted trees whose values add to the
	// log-odds of short and of long texts (see trees.go).
	ShortTrees []Tree `json:"short_trees,omitempty"`
	LongTrees  []Tree `json:"long_trees,omitempty"`
	w          features
	st, lt     []tree
	// nonMonotone is set when a tree can lower the log-odds as a member
	// feature rises: then no candidate is pruned by its bound.
	nonMonotone bool
}

//go:embed model.json
var defaultModel []byte

// ErrModel marks a model file that does not fit this build.
var ErrModel = errors.New("synth: model")

// DefaultModel returns the model shipped with the code.
func DefaultModel() Model {
	m, err := ParseModel(defaultModel)
	if err != nil {
		panic(err) // the embedded file is checked by TestDefaultModelLoads
	}
	return m
}

// LoadModel reads a model file written by `newswire train`.
func LoadModel(path string) (Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Model{}, fmt.Errorf("synth: model: %w", err)
	}
	return ParseModel(b)
}

// ParseModel decodes a model and checks that its features are this
// build's, in this build's order.
func ParseModel(b []byte) (Model, error) {
	var m Model
	if err := json.Unmarshal(b, &m); err != nil {
		return Model{}, fmt.Errorf("%w: %w", ErrModel, err)
	}
	if len(m.Features) != numFeatures || len(m.Weights) != numFeatures {
		return Model{}, fmt.Errorf("%w: %d features and %d weights, this build has %d features", ErrModel, len(m.Features), len(m.Weights), numFeatures)
	}
	for i, name := range m.Features {
		if name != featureNames[i] {
			return Model{}, fmt.Errorf("%w: feature %d is %q, this build's is %q", ErrModel, i, name, featureNames[i])
		}
		if math.IsNaN(m.Weights[i]) || math.IsInf(m.Weights[i], 0) {
			return Model{}, fmt.Errorf("%w: weight of %s is not a number", ErrModel, name)
		}
		m.w[i] = m.Weights[i]
	}
	for _, t := range [...]float64{m.Join[0], m.Join[1], m.Merge[0], m.Merge[1]} {
		if !(t > 0 && t <= 1) {
			return Model{}, fmt.Errorf("%w: thresholds must be within (0, 1]", ErrModel)
		}
	}
	var err error
	if m.st, err = compileTrees(m.ShortTrees); err != nil {
		return Model{}, err
	}
	if m.lt, err = compileTrees(m.LongTrees); err != nil {
		return Model{}, err
	}
	m.nonMonotone = !treesMonotone(m.st) || !treesMonotone(m.lt)
	return m, nil
}

// Combine returns the model that decides short texts as short does and
// long texts as long does: short's short-text weights, bias and thresholds,
// long's long-text weights and thresholds. The weight of the longness
// feature absorbs the difference of the biases, so that a long text's
// log-odds are exactly long's; texts between blend the two as any model's do.
func Combine(short, long Model) Model {
	m := short
	m.Weights = slices.Clone(short.Weights)
	for i := numBase; i < 2*numBase; i++ {
		m.Weights[i] = long.Weights[i]
	}
	m.Weights[featLong] = long.Weights[featLong] + long.Bias - short.Bias
	for i, w := range m.Weights {
		m.w[i] = w
	}
	m.Join[1], m.Merge[1] = long.Join[1], long.Merge[1]
	m.LongTrees, m.lt = long.LongTrees, long.lt
	m.nonMonotone = !treesMonotone(m.st) || !treesMonotone(m.lt)
	return m
}

// logit is the model's log-odds for f.
func (m *Model) logit(f *features) float64 {
	z := m.Bias
	for i, w := range m.w {
		z += w * f[i]
	}
	if long := f[featLong]; m.st != nil || m.lt != nil {
		if long < 1 {
			z += (1 - long) * sumTrees(m.st, f)
		}
		if long > 0 {
			z += long * sumTrees(m.lt, f)
		}
	}
	return z
}

// blend is a threshold pair's value for a text of the given longness.
func (m *Model) blend(t [2]float64, long float64) float64 { return (1-long)*t[0] + long*t[1] }

// monotone reports whether the join probability can only rise with the
// member features at any length, so that their upper bounds bound it.
func (m *Model) monotone() bool {
	return !m.nonMonotone && m.w[featMember] >= 0 && m.w[numBase+featMember] >= 0 &&
		m.w[featNamesMember] >= 0 && m.w[numBase+featNamesMember] >= 0 &&
		m.w[featShared] >= 0 && m.w[numBase+featShared] >= 0
}

// probability is P(join) for f.
func (m *Model) probability(f *features) float64 { return sigmoid(m.logit(f)) }

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// Example is one (entry, candidate story) pair seen while clustering a
// labelled stream: its features, and whether the story is the entry's.
type Example struct {
	X    features
	Join bool
}

// FitOptions tune Fit.
type FitOptions struct {
	// L2 is the ridge penalty on standardised weights (the bias is free).
	L2 float64
	// Iterations bounds Newton's method; it converges in a handful.
	Iterations int
	// Boost adds trees to the logistic model (see trees.go).
	Boost BoostOptions
}

// Fit trains a model by L2-regularised logistic regression (Newton's
// method on standardised features). Each set of examples weighs the
// same in all, whatever its size: a small full-text set must count as
// much as a large headline set.
func Fit(sets [][]Example, opt FitOptions) (Model, error) {
	if opt.Iterations <= 0 {
		opt.Iterations = 50
	}
	if err := opt.Boost.Check(); err != nil {
		return Model{}, err
	}
	var n int
	var mean, sd features
	var total float64
	weight := make([]float64, len(sets))
	for k, set := range sets {
		if len(set) == 0 {
			continue
		}
		n += len(set)
		weight[k] = 1 / float64(len(set))
		for _, ex := range set {
			for i, x := range ex.X {
				mean[i] += weight[k] * x
			}
		}
		total++
	}
	if n == 0 {
		return Model{}, fmt.Errorf("%w: no examples to fit", ErrModel)
	}
	for i := range mean {
		mean[i] /= total
	}
	for k, set := range sets {
		for _, ex := range set {
			for i, x := range ex.X {
				sd[i] += weight[k] * (x - mean[i]) * (x - mean[i])
			}
		}
	}
	for i := range sd {
		sd[i] = math.Sqrt(sd[i] / total)
		if sd[i] < 1e-9 {
			sd[i] = 1 // a constant feature: its weight stays at zero
		}
	}
	const d = numFeatures + 1 // the bias is the last coordinate
	// The feature whose weight came out furthest against its known
	// direction is held at zero and the rest fitted again, until every
	// weight agrees (see featureSign): the active-set method for a fit
	// with sign constraints.
	var held [numFeatures]bool
	var beta [d]float64
	for {
		var err error
		if beta, err = newton(sets, weight, total, &mean, &sd, &held, opt); err != nil {
			return Model{}, err
		}
		worst, by := -1, 0.0
		for i := 0; i < featLong; i++ {
			if v := -beta[i] * float64(featureSign[i%numBase]); !held[i] && v > by {
				worst, by = i, v
			}
		}
		if worst < 0 {
			break
		}
		held[worst] = true
	}
	m := Model{Features: featureNames[:], Weights: make([]float64, numFeatures), Examples: n}
	m.Bias = beta[numFeatures]
	for i := 0; i < numFeatures; i++ {
		m.w[i] = beta[i] / sd[i]
		m.Weights[i] = m.w[i]
		m.Bias -= m.w[i] * mean[i]
	}
	if opt.Boost.Trees > 0 {
		boost(&m, sets, opt.Boost)
	}
	return m, nil
}

// newton fits the logistic weights on standardised features by Newton's
// method with the ridge penalty; held features keep a zero weight.
func newton(sets [][]Example, weight []float64, total float64, mean, sd *features, held *[numFeatures]bool, opt FitOptions) ([numFeatures + 1]float64, error) {
	const d = numFeatures + 1
	var beta [d]float64
	for iter := 0; iter < opt.Iterations; iter++ {
		var grad [d]float64
		var hess [d][d]float64
		for k, set := range sets {
			for _, ex := range set {
				var z [d]float64
				for i, x := range ex.X {
					if !held[i] {
						z[i] = (x - mean[i]) / sd[i]
					}
				}
				z[numFeatures] = 1
				var eta float64
				for i := range z {
					eta += beta[i] * z[i]
				}
				p := sigmoid(eta)
				y := 0.0
				if ex.Join {
					y = 1
				}
				w := weight[k] / total
				for i := range z {
					grad[i] += w * (p - y) * z[i]
					for j := range z {
						hess[i][j] += w * p * (1 - p) * z[i] * z[j]
					}
				}
			}
		}
		for i := 0; i < numFeatures; i++ {
			grad[i] += opt.L2 * beta[i]
			hess[i][i] += opt.L2
			if held[i] {
				hess[i][i] = 1 // z is zero: the weight stays where it is, at zero
			}
		}
		step, ok := solve(hess, grad)
		if !ok {
			return beta, fmt.Errorf("%w: the examples do not determine the weights", ErrModel)
		}
		var moved float64
		for i := range beta {
			beta[i] -= step[i]
			moved = max(moved, math.Abs(step[i]))
		}
		if moved < 1e-10 {
			break
		}
	}
	return beta, nil
}

// solve returns x with a·x = b by Gaussian elimination with partial
// pivoting, or false for a singular a.
func solve(a [numFeatures + 1][numFeatures + 1]float64, b [numFeatures + 1]float64) ([numFeatures + 1]float64, bool) {
	const d = numFeatures + 1
	for col := 0; col < d; col++ {
		piv := col
		for r := col + 1; r < d; r++ {
			if math.Abs(a[r][col]) > math.Abs(a[piv][col]) {
				piv = r
			}
		}
		if math.Abs(a[piv][col]) < 1e-12 {
			return b, false
		}
		a[col], a[piv] = a[piv], a[col]
		b[col], b[piv] = b[piv], b[col]
		for r := col + 1; r < d; r++ {
			f := a[r][col] / a[col][col]
			for c := col; c < d; c++ {
				a[r][c] -= f * a[col][c]
			}
			b[r] -= f * b[col]
		}
	}
	var x [d]float64
	for r := d - 1; r >= 0; r-- {
		v := b[r]
		for c := r + 1; c < d; c++ {
			v -= a[r][c] * x[c]
		}
		x[r] = v / a[r][r]
	}
	return x, true
}
