package synth

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// conjunctionExamples are pairs that join only when the entry shares both
// the event's words and its names with a member: evidence that must come
// together, which a sum of weights cannot say.
func conjunctionExamples(rng *rand.Rand, n int, long float64) []Example {
	out := make([]Example, n)
	for i := range out {
		var f features
		f[featMember], f[featNamesMember] = rng.Float64(), rng.Float64()
		f[featCentroid] = rng.Float64()
		f.interact(long, 1, -1)
		out[i] = Example{X: f, Join: f[featMember]+f[numBase+featMember] > 0.5 && f[featNamesMember]+f[numBase+featNamesMember] > 0.5}
	}
	return out
}

func errorRate(m *Model, set []Example) float64 {
	wrong := 0
	for i := range set {
		if (m.probability(&set[i].X) >= 0.5) != set[i].Join {
			wrong++
		}
	}
	return float64(wrong) / float64(len(set))
}

// TestTreesLearnAConjunction: the trees fix what the logistic model gets
// wrong on a conjunction, for short and for long texts, and never lower
// the log-odds as a member feature rises (the bound that prunes
// candidates depends on it).
func TestTreesLearnAConjunction(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	short, long := conjunctionExamples(rng, 4000, 0), conjunctionExamples(rng, 2000, 1)
	linear, err := Fit([][]Example{short, long}, FitOptions{L2: 1e-3})
	if err != nil {
		t.Fatal(err)
	}
	opt := DefaultBoost()
	opt.Trees, opt.MinLeaf = 30, 20
	boosted, err := Fit([][]Example{short, long}, FitOptions{L2: 1e-3, Boost: opt})
	if err != nil {
		t.Fatal(err)
	}
	if len(boosted.ShortTrees) != opt.Trees || len(boosted.LongTrees) != opt.Trees {
		t.Fatalf("%d short and %d long trees, want %d of each", len(boosted.ShortTrees), len(boosted.LongTrees), opt.Trees)
	}
	testShort, testLong := conjunctionExamples(rng, 2000, 0), conjunctionExamples(rng, 2000, 1)
	for _, c := range []struct {
		name string
		set  []Example
	}{{"short", testShort}, {"long", testLong}} {
		lin, tr := errorRate(&linear, c.set), errorRate(&boosted, c.set)
		t.Logf("%s texts: %.3f wrong with the logistic model alone, %.3f with the trees", c.name, lin, tr)
		if tr > 0.03 || tr > lin/2 {
			t.Errorf("%s texts: the trees leave %.3f wrong (the logistic model alone %.3f)", c.name, tr, lin)
		}
	}
	if !boosted.monotone() {
		t.Fatal("the fitted trees can lower the log-odds as a member feature rises")
	}
	// Raise each member feature of random pairs: the log-odds never fall.
	for range 2000 {
		var f features
		for i := range numBase {
			f[i] = rng.Float64()
		}
		f.interact(rng.Float64(), 1, -1)
		for i := range numFeatures {
			if !monotoneFeature[i] {
				continue
			}
			g := f
			g[i] += rng.Float64()
			if boosted.logit(&g) < boosted.logit(&f)-1e-12 {
				t.Fatalf("raising %s from %v to %v lowers the log-odds", featureNames[i], f[i], g[i])
			}
		}
	}
	// The trees are part of the model file.
	boosted.Join, boosted.Merge = [2]float64{0.5, 0.5}, [2]float64{0.5, 0.5}
	b, err := json.Marshal(boosted)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseModel(b)
	if err != nil {
		t.Fatalf("the boosted model does not parse back: %v", err)
	}
	for i := range testLong {
		if p, q := boosted.probability(&testLong[i].X), back.probability(&testLong[i].X); p != q {
			t.Fatalf("example %d: probability %v, %v after the round trip", i, p, q)
		}
	}
	// Combine takes each kind's trees from its own model.
	m := Combine(linear, boosted)
	if len(m.ShortTrees) != 0 || len(m.LongTrees) != opt.Trees {
		t.Errorf("combined: %d short and %d long trees, want 0 and %d", len(m.ShortTrees), len(m.LongTrees), opt.Trees)
	}
	if got, want := errorRate(&m, testLong), errorRate(&boosted, testLong); got != want {
		t.Errorf("combined model: %.3f of long texts wrong, the boosted one %.3f", got, want)
	}
}

// TestParseModelRefusesBadTrees: a model file whose trees name a feature
// this build lacks, point a child backwards, hold a number that is not
// finite or are not in preorder is refused with ErrModel; a tree that can
// lower the log-odds as a member feature rises is read, and then no
// candidate is pruned by its bound.
func TestParseModelRefusesBadTrees(t *testing.T) {
	base := DefaultModel()
	split := func(feature string, right int) TreeNode {
		return TreeNode{Feature: feature, Below: 0.5, Right: right}
	}
	leaf := func(v float64) TreeNode { return TreeNode{Value: v} }
	for _, c := range []struct {
		name  string
		nodes []TreeNode
		want  string
	}{
		{"unknown feature", []TreeNode{split("short.mood", 2), leaf(0), leaf(1)}, "does not have"},
		{"child backwards", []TreeNode{split("short.member_cosine", 0), leaf(0), leaf(1)}, "right child"},
		{"right child missing", []TreeNode{split("short.member_cosine", 3), leaf(0), leaf(1)}, "right child"},
		{"not preorder", []TreeNode{split("short.member_cosine", 2), split("short.time_gap", 3), leaf(1), leaf(2), leaf(3)}, "preorder"},
		{"no nodes", nil, "no nodes"},
	} {
		m := base
		m.ShortTrees = []Tree{{Nodes: c.nodes}}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseModel(b); !errors.Is(err, ErrModel) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an ErrModel saying %q", c.name, err, c.want)
		}
	}
	b, err := json.Marshal(base)
	if err != nil {
		t.Fatal(err)
	}
	nan := strings.Replace(string(b), `"bias":`, `"long_trees":[{"nodes":[{"value":1e999}]}],"bias":`, 1)
	if _, err := ParseModel([]byte(nan)); !errors.Is(err, ErrModel) {
		t.Errorf("a leaf of 1e999: %v, want an ErrModel", err)
	}
	m := base
	m.LongTrees = []Tree{{Nodes: []TreeNode{split("long.member_cosine", 2), leaf(1), leaf(-1)}}}
	b, err = json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseModel(b)
	if err != nil {
		t.Fatalf("a tree falling with member_cosine: %v, want it read", err)
	}
	if back.monotone() {
		t.Error("a tree falling with member_cosine counts as monotone: its bound would prune wrongly")
	}
}

// TestFitRefusesBoostWithoutSettings: asking for trees with a zero rate,
// depth or penalty is an ErrModel, not a model of zero or non-finite
// leaves.
func TestFitRefusesBoostWithoutSettings(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	set := conjunctionExamples(rng, 200, 0)
	for _, opt := range []BoostOptions{
		{Trees: 5},
		{Trees: 5, Depth: 2, Rate: 0.1, MinLeaf: 10},             // no lambda
		{Trees: 5, Depth: 2, Rate: 1.5, MinLeaf: 10, Lambda: 1},  // rate above 1
		{Trees: -1, Depth: 2, Rate: 0.1, MinLeaf: 10, Lambda: 1}, // negative count
	} {
		if _, err := Fit([][]Example{set}, FitOptions{L2: 1e-3, Boost: opt}); !errors.Is(err, ErrModel) {
			t.Errorf("boost %+v: %v, want an ErrModel", opt, err)
		}
	}
	if _, err := Fit([][]Example{set}, FitOptions{L2: 1e-3, Boost: BoostOptions{Trees: 2, Depth: 1, Rate: 0.1, MinLeaf: 10, Lambda: 1}}); err != nil {
		t.Errorf("a complete setting: %v", err)
	}
}
