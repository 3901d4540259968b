package synth

import (
	"fmt"
	"math"
	"slices"
)

// The logistic model adds its evidence: a shared name raises the odds of
// a join by the same amount whether or not the event's own words are
// shared too, so a story about one person gathers every report that names
// them (synth/README.md, "How the feeds' Trump story grows"). Small
// regression trees, boosted on the logistic model's log-odds, can say
// "shared names count when the words agree": each tree splits on a few
// features and adds a value to the log-odds, fitted to what the linear
// part got wrong (gradient boosting, Friedman 2001, with the second-order
// leaf values of Chen and Guestrin, KDD 2016).
//
// There are two sets of trees, as there are two sets of weights: the
// short-text trees' sum counts 1 − long of the log-odds, the long-text
// trees' sum long of it, so that Combine can take each kind's trees from
// the round that served that kind best.
//
// The trees are fitted never to lower the log-odds as a member feature
// rises (monotone constraints in the manner of LightGBM's basic method:
// a split on such a feature must give its left side no more than its
// right, and each side is bounded by their mean from then on), so that an
// upper bound on the member features still bounds the join probability
// and the members of a story that cannot reach the threshold are not read.

// Tree is one regression tree. Its nodes are in preorder: a split's left
// child is the node after it, its right child the node at Right.
type Tree struct {
	Nodes []TreeNode `json:"nodes"`
}

// TreeNode is a split (Feature set: an entry whose feature is below Below
// goes left) or a leaf (Feature empty: Value is added to the log-odds).
type TreeNode struct {
	Feature string  `json:"feature,omitempty"`
	Below   float64 `json:"below,omitempty"`
	Right   int     `json:"right,omitempty"`
	Value   float64 `json:"value,omitempty"`
}

// node is a TreeNode as the clusterer reads it: the feature by index
// (−1 for a leaf).
type node struct {
	f     int
	right int32
	below float64
	value float64
}

type tree []node

func (t tree) eval(x *features) float64 {
	i := 0
	for {
		n := &t[i]
		if n.f < 0 {
			return n.value
		}
		if x[n.f] < n.below {
			i++
		} else {
			i = int(n.right)
		}
	}
}

// compile checks a tree read from a file and turns it into nodes: every
// feature must be this build's, every split's children must come after
// it in order, and every number must be finite.
func compileTree(t Tree) (tree, error) {
	if len(t.Nodes) == 0 {
		return nil, fmt.Errorf("%w: a tree with no nodes", ErrModel)
	}
	index := make(map[string]int, numFeatures)
	for i, name := range featureNames {
		index[name] = i
	}
	out := make(tree, len(t.Nodes))
	for i, n := range t.Nodes {
		if math.IsNaN(n.Value) || math.IsInf(n.Value, 0) || math.IsNaN(n.Below) || math.IsInf(n.Below, 0) {
			return nil, fmt.Errorf("%w: tree node %d holds a number that is not finite", ErrModel, i)
		}
		if n.Feature == "" {
			out[i] = node{f: -1, value: n.Value}
			continue
		}
		f, ok := index[n.Feature]
		if !ok {
			return nil, fmt.Errorf("%w: tree node %d splits on %q, which this build does not have", ErrModel, i, n.Feature)
		}
		if n.Right <= i+1 || n.Right >= len(t.Nodes) {
			return nil, fmt.Errorf("%w: tree node %d has its right child at %d", ErrModel, i, n.Right)
		}
		out[i] = node{f: f, right: int32(n.Right), below: n.Below}
	}
	if end, ok := out.walk(0); !ok || end != len(out) {
		return nil, fmt.Errorf("%w: a tree's nodes are not in preorder", ErrModel)
	}
	return out, nil
}

// walk checks the subtree at i and returns the node after it; ok is false
// when a split's left subtree does not end where its right one begins.
func (t tree) walk(i int) (next int, ok bool) {
	if i >= len(t) {
		return i, false
	}
	if t[i].f < 0 {
		return i + 1, true
	}
	end, ok := t.walk(i + 1)
	if !ok || end != int(t[i].right) {
		return 0, false
	}
	return t.walk(end)
}

// monotoneFeature marks the features whose upper bounds prune candidates:
// a tree must never lower the log-odds as one of them rises.
var monotoneFeature = func() (m [numFeatures]bool) {
	for _, f := range [...]int{featMember, featNamesMember, featShared} {
		m[f], m[numBase+f] = true, true
	}
	return m
}()

// monotone reports whether the tree's value can only rise with each
// monotone feature: under every split on one, no leaf on the left is
// above a leaf on the right. It returns the subtree's least and greatest
// leaf too.
func (t tree) monotone(i int) (lo, hi float64, end int, ok bool) {
	if t[i].f < 0 {
		return t[i].value, t[i].value, i + 1, true
	}
	llo, lhi, mid, ok := t.monotone(i + 1)
	if !ok {
		return 0, 0, 0, false
	}
	rlo, rhi, end, ok := t.monotone(mid)
	if !ok || (monotoneFeature[t[i].f] && lhi > rlo) {
		return 0, 0, 0, false
	}
	return min(llo, rlo), max(lhi, rhi), end, true
}

func (t tree) export() Tree {
	out := Tree{Nodes: make([]TreeNode, len(t))}
	for i, n := range t {
		if n.f < 0 {
			out.Nodes[i] = TreeNode{Value: n.value}
		} else {
			out.Nodes[i] = TreeNode{Feature: featureNames[n.f], Below: n.below, Right: int(n.right)}
		}
	}
	return out
}

// sumTrees is the sum of the trees' values for x.
func sumTrees(ts []tree, x *features) float64 {
	var z float64
	for _, t := range ts {
		z += t.eval(x)
	}
	return z
}

// BoostOptions tune the trees Fit adds to the logistic model.
type BoostOptions struct {
	// Trees is the number of trees for each kind of text; 0 fits the
	// logistic model alone.
	Trees int
	// Depth bounds a tree's splits from root to leaf.
	Depth int
	// Rate shrinks each tree's values (the learning rate).
	Rate float64
	// MinLeaf is the fewest examples a leaf may hold.
	MinLeaf int
	// Lambda is the ridge penalty on leaf values, in examples: the
	// examples' weights sum to their number.
	Lambda float64
}

// DefaultBoost are the options `newswire train` uses: no trees unless
// --trees asks for them (the shipped model has none; synth/README.md,
// "Boosted trees"), and when it does, the settings that held up best on
// held-out halves of the dev sets.
func DefaultBoost() BoostOptions {
	return BoostOptions{Trees: 0, Depth: 2, Rate: 0.1, MinLeaf: 1000, Lambda: 10}
}

// maxBins bounds the values a feature's splits choose among.
const maxBins = 64

// booster holds the examples while trees are fitted to them.
type booster struct {
	opt  BoostOptions
	x    []*features
	y    []float64
	w    []float64 // weight, summing to the number of examples
	z    []float64 // log-odds so far
	bins []uint8   // example i's bin of feature f at i*numFeatures+f
	cuts [numFeatures][]float64
	g, h []float64 // this tree's gradients and hessians
	mult []float64 // this tree's share of the log-odds per example
	hist [numFeatures][maxBins]struct {
		g, h float64
		n    int
	}
}

// Check reports options Fit cannot boost with.
func (o BoostOptions) Check() error {
	if o.Trees < 0 || (o.Trees > 0 && (o.Depth < 1 || !(o.Rate > 0 && o.Rate <= 1) || o.MinLeaf < 1 || !(o.Lambda > 0))) {
		return fmt.Errorf("%w: boosting needs trees ≥ 0, and with trees depth ≥ 1, a rate within (0, 1], min leaf ≥ 1 and lambda > 0 (have trees %d, depth %d, rate %v, min leaf %d, lambda %v)", ErrModel, o.Trees, o.Depth, o.Rate, o.MinLeaf, o.Lambda)
	}
	return nil
}

// boost fits opt.Trees trees of each kind to the examples on top of m's
// log-odds, each set weighing the same in all as in Fit. A kind with
// fewer than 2·MinLeaf examples gets no trees.
func boost(m *Model, sets [][]Example, opt BoostOptions) {
	var b booster
	b.opt = opt
	var n int
	for _, set := range sets {
		n += len(set)
	}
	var nonEmpty float64
	for _, set := range sets {
		if len(set) > 0 {
			nonEmpty++
		}
	}
	for _, set := range sets {
		for i := range set {
			ex := &set[i]
			b.x = append(b.x, &ex.X)
			y := 0.0
			if ex.Join {
				y = 1
			}
			b.y = append(b.y, y)
			b.w = append(b.w, float64(n)/(nonEmpty*float64(len(set))))
			b.z = append(b.z, m.logit(&ex.X))
		}
	}
	b.bin()
	b.g, b.h, b.mult = make([]float64, n), make([]float64, n), make([]float64, n)
	idx := make([]int32, 0, n)
	for range opt.Trees {
		for kind := range 2 {
			idx = idx[:0]
			for i, x := range b.x {
				l := x[featLong]
				mu := l
				if kind == 0 {
					mu = 1 - l
				}
				b.mult[i] = mu
				if mu <= 0 {
					continue
				}
				p := sigmoid(b.z[i])
				b.g[i] = b.w[i] * (p - b.y[i]) * mu
				b.h[i] = b.w[i] * p * (1 - p) * mu * mu
				idx = append(idx, int32(i))
			}
			if len(idx) < 2*opt.MinLeaf {
				continue
			}
			var t tree
			b.grow(&t, idx, 0, math.Inf(-1), math.Inf(1))
			for _, i := range idx {
				b.z[i] += b.mult[i] * t.eval(b.x[i])
			}
			if kind == 0 {
				m.st = append(m.st, t)
			} else {
				m.lt = append(m.lt, t)
			}
		}
	}
	m.ShortTrees, m.LongTrees = exportTrees(m.st), exportTrees(m.lt)
	m.nonMonotone = !treesMonotone(m.st) || !treesMonotone(m.lt)
}

func compileTrees(ts []Tree) ([]tree, error) {
	var out []tree
	for _, t := range ts {
		c, err := compileTree(t)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func exportTrees(ts []tree) []Tree {
	out := make([]Tree, len(ts))
	for i, t := range ts {
		out[i] = t.export()
	}
	return out
}

func treesMonotone(ts []tree) bool {
	for _, t := range ts {
		if _, _, _, ok := t.monotone(0); !ok {
			return false
		}
	}
	return true
}

// bin places each example's features in bins: for each feature, the
// cuts are quantiles of its non-zero values, so that the long-text
// copies, zero for every headline, still get their own cuts, and zero
// is a bin of its own.
func (b *booster) bin() {
	n := len(b.x)
	b.bins = make([]uint8, n*numFeatures)
	vals := make([]float64, 0, n)
	for f := range numFeatures {
		vals = vals[:0]
		for _, x := range b.x {
			if x[f] != 0 {
				vals = append(vals, x[f])
			}
		}
		slices.Sort(vals)
		var cuts []float64
		for k := range maxBins - 1 {
			if len(vals) == 0 {
				break
			}
			v := vals[k*len(vals)/(maxBins-1)]
			if len(cuts) == 0 || v > cuts[len(cuts)-1] {
				cuts = append(cuts, v)
			}
		}
		b.cuts[f] = cuts
		for i, x := range b.x {
			// The bin is the number of cuts at or below the value, so
			// that bin ≤ k is exactly value < cuts[k].
			k, found := slices.BinarySearch(cuts, x[f])
			if found {
				k++
			}
			b.bins[i*numFeatures+f] = uint8(k)
		}
	}
}

// leaf is the penalised Newton step for gradient sum g and hessian sum h.
func (b *booster) leaf(g, h float64) float64 { return -g / (h + b.opt.Lambda) }

func clamp(v, lo, hi float64) float64 { return min(hi, max(lo, v)) }

// grow appends the subtree fitted to the examples idx to t; its values
// are kept within [lo, hi] (see the monotone constraints above).
func (b *booster) grow(t *tree, idx []int32, depth int, lo, hi float64) {
	var G, H float64
	for _, i := range idx {
		G += b.g[i]
		H += b.h[i]
	}
	value := clamp(b.leaf(G, H), lo, hi)
	at := len(*t)
	*t = append(*t, node{f: -1, value: b.opt.Rate * value})
	if depth == b.opt.Depth || len(idx) < 2*b.opt.MinLeaf {
		return
	}
	for f := range numFeatures {
		clear(b.hist[f][:len(b.cuts[f])+1])
	}
	for _, i := range idx {
		row := b.bins[int(i)*numFeatures : int(i+1)*numFeatures]
		g, h := b.g[i], b.h[i]
		for f, k := range row {
			c := &b.hist[f][k]
			c.g += g
			c.h += h
			c.n++
		}
	}
	parent := G * G / (H + b.opt.Lambda)
	bestGain, bestF, bestK := 1e-12, -1, 0
	var bestL, bestR float64
	for f := range numFeatures {
		var gl, hl float64
		var nl int
		for k := range len(b.cuts[f]) {
			c := b.hist[f][k]
			gl, hl, nl = gl+c.g, hl+c.h, nl+c.n
			if nl < b.opt.MinLeaf {
				continue
			}
			if len(idx)-nl < b.opt.MinLeaf {
				break
			}
			gr, hr := G-gl, H-hl
			vl, vr := clamp(b.leaf(gl, hl), lo, hi), clamp(b.leaf(gr, hr), lo, hi)
			if monotoneFeature[f] && vl > vr {
				continue
			}
			gain := gl*gl/(hl+b.opt.Lambda) + gr*gr/(hr+b.opt.Lambda) - parent
			if gain > bestGain {
				bestGain, bestF, bestK, bestL, bestR = gain, f, k, vl, vr
			}
		}
	}
	if bestF < 0 {
		return
	}
	// Partition idx: the left child's examples first.
	split := 0
	for j, i := range idx {
		if int(b.bins[int(i)*numFeatures+bestF]) <= bestK {
			idx[split], idx[j] = idx[j], idx[split]
			split++
		}
	}
	llo, lhi, rlo, rhi := lo, hi, lo, hi
	if monotoneFeature[bestF] {
		mid := (bestL + bestR) / 2
		lhi, rlo = mid, mid
	}
	(*t)[at] = node{f: bestF, below: b.cuts[bestF][bestK]}
	b.grow(t, idx[:split], depth+1, llo, lhi)
	(*t)[at].right = int32(len(*t))
	b.grow(t, idx[split:], depth+1, rlo, rhi)
}
